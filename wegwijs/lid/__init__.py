"""Language identification (LID) for Wegwijs: a small fastText model and its tools.

Modules:
    data: builds labelled training and held-out text from FLORES-200, the project's
        NLU examples (``nlu_data/<lang>/``), its texts (``languages/<lang>/``) and
        CLDR names from ``babel``.
    train: trains and quantizes the fastText model (``models/lid/lid.bin``).
    detector: :class:`~wegwijs.lid.detector.LanguageDetector`, ``detect(text)``.
    report: held-out accuracy per language, confusion matrix, speed.
    cli: ``wegwijs detect-language``, ``wegwijs build-lid``, ``wegwijs lid-report``.

Nothing here imports Rasa, so the CLI and the action server stay light.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root: the folder holding ``wegwijs/``, ``data/``, ``models/``.
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Default model file, relative to the repository root.
DEFAULT_MODEL_RELPATH = Path("models") / "lid" / "lid.bin"

#: Environment variable that overrides the model path (used by the CLI).
MODEL_ENV = "WEGWIJS_LID_MODEL"

#: Code returned for text without any letters (empty, emoji, numbers only).
UNDETERMINED = "und"

#: FLORES-200 file stem → Wegwijs language code (docs/design.md, "Languages").
FLORES_CODES: dict[str, str] = {
    "nld_Latn": "nl",
    "eng_Latn": "en",
    "arb_Arab": "ar",
    "tir_Ethi": "ti",
    "amh_Ethi": "am",
    "pes_Arab": "fa",
    "prs_Arab": "prs",
    "tur_Latn": "tr",
    "som_Latn": "so",
    "pbt_Arab": "ps",
    "ckb_Arab": "ckb",
    "kmr_Latn": "kmr",
    "fra_Latn": "fr",
    "ukr_Cyrl": "uk",
    "rus_Cyrl": "ru",
}

#: Every language the model knows, in design.md order.
LANGUAGES: tuple[str, ...] = tuple(FLORES_CODES.values())

#: Writing system of each language (ISO 15924), used to filter training text.
SCRIPTS: dict[str, str] = {
    "nl": "Latn",
    "en": "Latn",
    "ar": "Arab",
    "ti": "Ethi",
    "am": "Ethi",
    "fa": "Arab",
    "prs": "Arab",
    "tr": "Latn",
    "so": "Latn",
    "ps": "Arab",
    "ckb": "Arab",
    "kmr": "Latn",
    "fr": "Latn",
    "uk": "Cyrl",
    "ru": "Cyrl",
}


def default_model_path() -> Path:
    """The model file the CLI uses: ``$WEGWIJS_LID_MODEL`` or ``<repo>/models/lid/lid.bin``.

    A relative ``WEGWIJS_LID_MODEL`` is taken relative to the current directory.

    Returns:
        Absolute path (the file may not exist).
    """
    env = os.environ.get(MODEL_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    return REPO_ROOT / DEFAULT_MODEL_RELPATH
