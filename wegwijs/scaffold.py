"""``wegwijs add-language <code>``: scaffold a new language folder from the reference language.

Writes ``languages/<code>/`` with every key of the reference language (English), each
text marked ``UNTRANSLATED:`` (button and topic titles, which have length limits, keep
the English words; ``meta.yml`` says ``review: untranslated``), an ``nlu_data/<code>/nlu.yml``
with every intent of the reference folder's files, the English examples as comments, and registers it under
``in_progress`` in ``languages/registry.yml``. The next ``wegwijs build`` retrains the
language-ID model with whatever examples the folder has by then.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from wegwijs.content.loader import LANGUAGES_DIR, REPO_ROOT, load_registry
from wegwijs.coverage import NLU_DIR

MARK = "UNTRANSLATED: "
_CODE = re.compile(r"^[a-z]{2,3}$")
_HEADER = (
    "# Scaffolded by `wegwijs add-language` from languages/{ref}/{file}.\n"
    "# Translate every text marked UNTRANSLATED (keep {{placeholders}} and payloads as they are),\n"
    "# then set review in meta.yml. `wegwijs coverage` shows what is left.\n"
)


class ScaffoldError(ValueError):
    """The language code is invalid, or its folder already exists."""


def _mark(obj: Any, key: str = "") -> Any:
    if isinstance(obj, str):
        if key in ("payload",):
            return obj
        return obj if obj.startswith(MARK) else MARK + obj
    if isinstance(obj, list):
        return [_mark(x, key) for x in obj]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "buttons":  # titles are ≤ 20 characters: keep the English title
                out[k] = v
            else:
                out[k] = _mark(v, k)
        return out
    return obj


def _dump(path: Path, ref: str, data: dict) -> None:
    path.write_text(
        _HEADER.format(ref=ref, file=path.name) + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000),
        encoding="utf-8",
    )


def add_language(
    code: str, *, name: str, english_name: str, dutch_name: str, direction: str = "ltr",
    spacy_lang: str = "xx", languages_dir: Path = LANGUAGES_DIR, nlu_dir: Path = NLU_DIR,
) -> list[Path]:
    """Create the folders of a new language and register it as in progress.

    Args:
        code: ISO 639-1 code, or ISO 639-3 when there is none (``"ckb"``).
        name: the language's own name in its own script (language menu).
        english_name, dutch_name: names for maintainers and the Dutch summary.
        direction: ``"ltr"`` or ``"rtl"``.
        spacy_lang: code for ``spacy.blank()`` (``"xx"`` when spaCy has no rules).

    Returns:
        The files written.

    Raises:
        ScaffoldError: bad code or direction, or the language folder exists.
    """
    if not _CODE.match(code):
        raise ScaffoldError(f"language code must be 2-3 lower-case letters (ISO 639), not {code!r}")
    if direction not in ("ltr", "rtl"):
        raise ScaffoldError(f"direction must be ltr or rtl, not {direction!r}")
    registry = load_registry(languages_dir)
    ref = registry.reference
    target = Path(languages_dir) / code
    if target.exists() or (Path(nlu_dir) / code).exists():
        raise ScaffoldError(f"languages/{code}/ or nlu_data/{code}/ already exists")
    source = Path(languages_dir) / ref
    target.mkdir(parents=True)
    written: list[Path] = []
    meta = {
        "code": code, "name": name, "english_name": english_name, "dutch_name": dutch_name,
        "direction": direction, "spacy_lang": spacy_lang, "review": "untranslated",
        "review_note": "Scaffolded from English; nothing translated yet.",
    }
    _dump(target / "meta.yml", ref, meta)
    written.append(target / "meta.yml")
    for file in ("responses.yml", "tips.yml"):
        data = yaml.safe_load((source / file).read_text(encoding="utf-8"))
        _dump(target / file, ref, _mark(data))
        written.append(target / file)
    topics = yaml.safe_load((source / "topics.yml").read_text(encoding="utf-8"))
    _dump(target / "topics.yml", ref, topics)  # ≤ 24 characters: English titles until translated
    written.append(target / "topics.yml")
    safety = yaml.safe_load((source / "safety.yml").read_text(encoding="utf-8"))
    _dump(target / "safety.yml", ref, {"categories": {c: {"keywords": [], "misspellings": []} for c in safety["categories"]}})
    written.append(target / "safety.yml")
    _dump(target / "parsing.yml", ref, {"number_words": {}, "months_words": [], "pregnancy_words": [], "answer_words": {}})
    written.append(target / "parsing.yml")
    # NLU data: every intent of every reference file (nlu.yml first; ask_my_data lives in
    # nlu_privacy.yml), the first reference examples as comments to translate
    lines = ['version: "3.1"', "# Scaffolded by `wegwijs add-language`: write at least 15 examples per intent,",
             "# as parents type them (the English examples are there as a guide only).", "nlu:"]
    seen: set[str] = set()
    for path in sorted((Path(nlu_dir) / ref).glob("*.yml")):
        ref_nlu = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in ref_nlu.get("nlu", []) or []:
            if "intent" not in item or item["intent"] in seen:
                continue
            seen.add(item["intent"])
            lines.append(f"- intent: {item['intent']}")
            lines.append('  examples: ""')
            for ex in str(item.get("examples") or "").splitlines()[:5]:
                if ex.strip():
                    lines.append(f"  #   {ex.strip()}")
    nlu_target = Path(nlu_dir) / code
    nlu_target.mkdir(parents=True)
    (nlu_target / "nlu.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(nlu_target / "nlu.yml")
    register_in_progress(code, languages_dir / "registry.yml")
    return written


def register_in_progress(code: str, registry_file: Path) -> None:
    """Add ``code`` to ``in_progress`` in registry.yml, keeping its comments."""
    text = registry_file.read_text(encoding="utf-8")
    m = re.search(r"^in_progress:\s*\[(.*?)\]\s*$", text, flags=re.M)
    if not m:
        raise ScaffoldError(f"{registry_file}: no 'in_progress: [...]' line")
    codes = [c.strip() for c in m.group(1).split(",") if c.strip()]
    if code not in codes:
        codes.append(code)
    text = text[: m.start()] + f"in_progress: [{', '.join(codes)}]" + text[m.end():]
    registry_file.write_text(text, encoding="utf-8")
