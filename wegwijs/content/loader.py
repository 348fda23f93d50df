"""Load and validate the language folders (``languages/<lang>/*.yml``).

The only way code reads parent-facing text. Files per language: ``meta.yml``,
``responses.yml`` (``responses:`` and ``labels:``), ``topics.yml``, ``tips.yml``,
``safety.yml``, ``parsing.yml``; ``languages/registry.yml`` lists what is supported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from wegwijs.content.bidi import isolate_ltr_runs
from wegwijs.content.schema import ContentError, LanguagePack, Registry

#: Repository root (the folder holding ``languages/``).
REPO_ROOT = Path(__file__).resolve().parents[2]
LANGUAGES_DIR = REPO_ROOT / "languages"

LANGUAGE_FILES = ("meta.yml", "responses.yml", "topics.yml", "tips.yml", "safety.yml", "parsing.yml")


def _read_yaml(lang: str, path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ContentError(lang, path.name, "-", f"file missing: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ContentError(lang, path.name, "-", f"not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ContentError(lang, path.name, "-", "top level must be a mapping")
    return data


def load_registry(languages_dir: Path = LANGUAGES_DIR) -> Registry:
    """Read ``registry.yml``.

    Raises:
        ContentError: the file is missing or invalid.
    """
    data = _read_yaml("*", Path(languages_dir) / "registry.yml")
    try:
        return Registry(**data)
    except ValidationError as e:
        raise ContentError("*", "registry.yml", "-", str(e)) from e


def _rtl_fix(obj: Any) -> Any:
    if isinstance(obj, str):
        return isolate_ltr_runs(obj)
    if isinstance(obj, list):
        return [_rtl_fix(x) for x in obj]
    if isinstance(obj, dict):
        return {k: (v if k == "payload" else _rtl_fix(v)) for k, v in obj.items()}
    return obj


def load_language(code: str, languages_dir: Path = LANGUAGES_DIR) -> LanguagePack:
    """Load one language folder into a validated :class:`LanguagePack`.

    Right-to-left languages get their left-to-right runs (Latin words, numbers,
    placeholders) wrapped in Unicode isolates (see :mod:`wegwijs.content.bidi`).

    Args:
        code: language code, the folder name (``"ti"``).
        languages_dir: the ``languages/`` folder.

    Raises:
        ContentError: a file is missing, not YAML, or breaks the schema; the
            message names the file and key.
    """
    folder = Path(languages_dir) / code
    if not folder.is_dir():
        raise ContentError(code, "-", "-", f"no language folder {folder}")
    raw = {name: _read_yaml(code, folder / name) for name in LANGUAGE_FILES}
    rtl = raw["meta.yml"].get("direction") == "rtl"
    fix = _rtl_fix if rtl else (lambda x: x)
    parts = {
        "meta": raw["meta.yml"],
        "responses": fix(raw["responses.yml"].get("responses") or {}),
        "labels": fix(raw["responses.yml"].get("labels") or {}),
        "topics": raw["topics.yml"].get("topics") or {},
        "tips": fix(raw["tips.yml"].get("tips") or {}),
        "safety": raw["safety.yml"].get("categories") or {},
        "parsing": raw["parsing.yml"],
    }
    try:
        pack = LanguagePack(**parts)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        file = {
            "meta": "meta.yml", "responses": "responses.yml", "labels": "responses.yml",
            "topics": "topics.yml", "tips": "tips.yml", "safety": "safety.yml", "parsing": "parsing.yml",
        }.get(str(err["loc"][0]), "?")
        raise ContentError(code, file, loc, err["msg"]) from e
    if pack.meta.code != code:
        raise ContentError(code, "meta.yml", "code", f"is {pack.meta.code!r}, folder is {code!r}")
    return pack


def load_all(languages_dir: Path = LANGUAGES_DIR, codes: list[str] | None = None) -> dict[str, LanguagePack]:
    """Load every supported language (or ``codes``) into ``{code: LanguagePack}``.

    Raises:
        ContentError: the first problem found.
    """
    registry = load_registry(languages_dir)
    return {c: load_language(c, languages_dir) for c in (codes or registry.supported)}
