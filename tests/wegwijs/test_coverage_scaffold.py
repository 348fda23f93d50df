"""`wegwijs coverage` and `wegwijs add-language` on a copy of the content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from wegwijs.content.loader import LANGUAGES_DIR, load_language, load_registry
from wegwijs.coverage import domain_intents, language_coverage, nlu_counts
from wegwijs.scaffold import MARK, ScaffoldError, add_language


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    langs = tmp_path / "languages"
    shutil.copytree(LANGUAGES_DIR, langs, ignore=shutil.ignore_patterns("fa", "prs", "tr", "so", "am", "ps"))
    nlu = tmp_path / "nlu_data"
    shutil.copytree(LANGUAGES_DIR.parent / "nlu_data" / "en", nlu / "en")  # every file: ask_my_data is in nlu_privacy.yml
    return langs, nlu


def test_english_is_complete(tree) -> None:
    langs, nlu = tree
    reg = load_registry(langs)
    ref = load_language("en", langs)
    cov = language_coverage("en", "supported", reg, ref, domain_intents(), langs, nlu)
    assert cov.intents_ok == cov.intents_total == len(domain_intents()) == 30
    assert cov.tips_ok == cov.tips_total and cov.responses_ok == cov.responses_total
    assert cov.gaps == []


def test_add_language_scaffolds_every_key_marked_untranslated(tree) -> None:
    langs, nlu = tree
    add_language("ckb", name="کوردی", english_name="Central Kurdish", dutch_name="Sorani",
                 direction="rtl", spacy_lang="xx", languages_dir=langs, nlu_dir=nlu)
    reg = load_registry(langs)
    assert "ckb" in reg.in_progress and "ckb" not in reg.supported
    pack = load_language("ckb", langs)  # validates against the schema
    ref = load_language("en", langs)
    assert set(pack.responses) == set(ref.responses)
    assert all(r.text.startswith(("\u2068" + MARK, MARK)) or MARK in r.text for r in pack.responses.values())
    assert pack.meta.review == "untranslated"
    assert set(nlu_counts("ckb", nlu)) == set(domain_intents()) and sum(nlu_counts("ckb", nlu).values()) == 0
    cov = language_coverage("ckb", "in progress", reg, ref, domain_intents(), langs, nlu)
    assert cov.intents_ok == 0 and cov.responses_ok == 0 and cov.tips_ok == 0 and cov.gaps
    # the registry keeps its comments
    assert "# Topic ids" in (langs / "registry.yml").read_text(encoding="utf-8")


def test_add_language_refuses_existing_or_bad_codes(tree) -> None:
    langs, nlu = tree
    with pytest.raises(ScaffoldError):
        add_language("nl", name="x", english_name="x", dutch_name="x", languages_dir=langs, nlu_dir=nlu)
    with pytest.raises(ScaffoldError):
        add_language("Kurdish", name="x", english_name="x", dutch_name="x", languages_dir=langs, nlu_dir=nlu)


def test_a_thin_intent_is_a_gap(tree) -> None:
    langs, nlu = tree
    for path in (nlu / "en").glob("*.yml"):  # "thanks" has examples in more than one file
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data["nlu"]:
            if item.get("intent") == "thanks":
                item["examples"] = "- thanks\n- thank you\n" if path.name == "nlu.yml" else ""
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cov = language_coverage("en", "supported", load_registry(langs), load_language("en", langs), domain_intents(), langs, nlu)
    assert cov.intents_ok == 29 and any("thanks" in g for g in cov.gaps)
