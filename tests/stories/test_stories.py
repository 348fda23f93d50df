"""Rasa test stories per language (`rasa test core`), run once on the trained model.

Each language folder tests/stories/<lang>/ holds: the happy path to a referral, an
urgent message mid-conversation, a language switch and skipped intake questions; the
interruption paths (tests/stories/interruptions.py) are added for every language at test time.
A story fails when Rasa predicts another intent or action than the story says.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.stories.interruptions import write_stories
from wegwijs.build import RASA_MODEL, rasa_bin, rasa_env
from wegwijs.content.loader import REPO_ROOT, load_registry

STORIES = Path(__file__).resolve().parent
LANGS = load_registry().supported


@pytest.fixture(scope="module")
def story_results(tmp_path_factory) -> dict[str, list[str]]:
    """Run `rasa test core` over every language's stories; return failed story names per language."""
    assert RASA_MODEL.is_file(), "no Rasa model: run scripts/install.sh (wegwijs build)"
    out = tmp_path_factory.mktemp("story-results")
    stories = tmp_path_factory.mktemp("stories")  # only the supported languages' stories
    for lang in LANGS:
        shutil.copytree(STORIES / lang, stories / lang)
        write_stories(lang, stories / lang)  # interruption paths, from the language's NLU examples
    proc = subprocess.run(
        [rasa_bin(), "test", "core", "--model", str(RASA_MODEL), "--stories", str(stories),
         "--out", str(out), "--no-plot"],
        cwd=REPO_ROOT, env=rasa_env(), capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed_file = out / "failed_test_stories.yml"
    failed: dict[str, list[str]] = {lang: [] for lang in LANGS}
    text = failed_file.read_text(encoding="utf-8") if failed_file.is_file() else ""
    data = yaml.safe_load(text) or {} if text.strip() and "None of the test stories failed" not in text else {}
    for story in (data.get("stories") or []):
        m = re.search(r"\((\w+)\)", story.get("story", ""))
        failed.setdefault(m.group(1) if m else "?", []).append(story.get("story"))
    failed["_raw"] = [text]
    return failed


def test_every_language_has_the_four_story_files() -> None:
    for lang in LANGS:
        names = sorted(p.name for p in (STORIES / lang).glob("test_*.yml"))
        assert names == ["test_happy_path.yml", "test_language_switch.yml", "test_skip_intake.yml", "test_urgent.yml"], lang


@pytest.mark.parametrize("lang", LANGS)
def test_stories_pass(story_results: dict[str, list[str]], lang: str) -> None:
    assert story_results[lang] == [], story_results["_raw"][0][:4000]
