"""wegwijs.lid: data building, normalisation, rules, training, CLI, and the real model's accuracy.

Tests marked ``lid_model`` use the real model: ``$WEGWIJS_LID_MODEL`` as it is, or
``models/lid/lid.bin`` brought up to date with ``build_lid()`` (skipped in seconds when
``lid.json`` says it matches the code and data; a rebuild takes about a minute).

The accuracy targets (issue 3) are asserted on held-out text only (FLORES sentences and
NLU examples the model was not trained on, see ``wegwijs lid-report``):

* ≥ 97 % per language on chat-length text of 3+ words, for nl, en, ar, ti and every
  language of ``languages/registry.yml`` (``supported`` and ``in_progress``) or planned
  (fa+prs merged, tr, so, am, ps) as soon as its ``nlu_data/<lang>/`` exists; a
  supported language without NLU data fails;
* Tigrinya → Amharic and Amharic → Tigrinya ≤ 2 % each on 3+ word text;
* Arabizi recognised as ``ar``, without false positives on Latin-script languages;
* non-Latin chat with Dutch words stays in its own language.
"""

from __future__ import annotations

import io
import json
import os
import sys
from argparse import Namespace
from collections import Counter
from pathlib import Path

import pytest
import yaml

from wegwijs.lid import FLORES_CODES, LANGUAGES, MODEL_ENV, REPO_ROOT, SCRIPTS, default_model_path
from wegwijs.lid import augment as lid_augment
from wegwijs.lid import cli as lid_cli
from wegwijs.lid import data as lid_data
from wegwijs.lid import report as lid_report
from wegwijs.lid import samples as lid_samples
from wegwijs.lid.detector import (
    LanguageDetector,
    arabizi_score,
    dari_persian_markers,
    dominant_script,
    normalise,
    word_script,
)
from wegwijs.lid.train import build_lid, file_sha256, metadata_path, train_small

FLORES = REPO_ROOT / "data" / "lid" / "flores200"


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deterministic small model (nl, en, ar, ti, am) for detector and CLI tests."""
    return train_small(tmp_path_factory.mktemp("lid") / "small.bin")


@pytest.fixture(scope="module")
def detector(small_model: Path) -> LanguageDetector:
    return LanguageDetector.load(small_model)


@pytest.fixture
def mini_root(tmp_path: Path) -> Path:
    """A repository root with 60 FLORES lines per language and a little project data."""
    flores = tmp_path / "data" / "lid" / "flores200"
    flores.mkdir(parents=True)
    for stem in FLORES_CODES:
        lines = (FLORES / f"{stem}.txt").read_text(encoding="utf-8").splitlines()[:60]
        (flores / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    nlu = tmp_path / "nlu_data"
    (nlu / "nl").mkdir(parents=True)
    (nlu / "nl" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hoi\n    - goedemorgen allemaal\n'
        "    - menu\n    - ik woon in [Tilburg](municipality)\n- synonym: x\n  examples: |\n    - niet dit\n",
        encoding="utf-8",
    )
    (nlu / "ar").mkdir()
    (nlu / "ar" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - مرحبا\n    - menu\n    - human\n',
        encoding="utf-8",
    )
    (nlu / "xy").mkdir()  # a language FLORES does not have
    (nlu / "xy" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - zorblax quim\n', encoding="utf-8"
    )
    content = tmp_path / "languages" / "nl"
    content.mkdir(parents=True)
    (content / "responses.yml").write_text(
        "responses:\n  utter_greet_back:\n    text: Hallo {name}, fijn dat je er weer bent!\n"
        "    buttons:\n      - {title: Ja, payload: /affirm}\n",
        encoding="utf-8",
    )
    (content / "meta.yml").write_text("code: nl\nname: Nederlands\nenglish_name: Dutch\ndirection: ltr\n")
    return tmp_path


@pytest.fixture(scope="session")
def built_model() -> Path:
    """The real model: ``$WEGWIJS_LID_MODEL`` as it is (built when missing), else
    ``models/lid/lid.bin`` brought up to date with the current code and data."""
    path = default_model_path()
    if os.environ.get(MODEL_ENV, "").strip():
        if not path.is_file():
            build_lid(output=path)
    else:
        build_lid(output=path)  # no-op when lid.json matches the data and parameters
    return path


@pytest.fixture(scope="session")
def real_dataset() -> lid_data.Dataset:
    return lid_data.build_dataset(REPO_ROOT)


@pytest.fixture(scope="session")
def real_detector(built_model: Path) -> LanguageDetector:
    return LanguageDetector.load(built_model)


@pytest.fixture(scope="session")
def real_sets(real_dataset: lid_data.Dataset) -> dict[str, list[lid_data.Example]]:
    return lid_report.evaluation_sets(real_dataset)


@pytest.fixture(scope="session")
def real_evaluations(
    real_detector: LanguageDetector, real_sets: dict[str, list[lid_data.Example]]
) -> dict[str, lid_report.Evaluation]:
    """Every held-out evaluation of the report, by name ("3+ words", "chat 3+", ...)."""
    return {name: lid_report.evaluate(real_detector, examples, name) for name, examples in real_sets.items()}


# ------------------------------------------------------------------ data


def test_flores_split_is_deterministic_and_aligned_across_languages() -> None:
    train, held = lid_data.read_flores(REPO_ROOT)
    train_again, held_again = lid_data.read_flores(REPO_ROOT)

    assert held == held_again and train == train_again
    per_language = Counter(e.label for e in held)
    assert set(per_language) == set(LANGUAGES)
    assert len(set(per_language.values())) == 1  # same line numbers held out everywhere
    share = len(held) / (len(held) + len(train))
    assert 0.15 < share < 0.25
    assert not {e.text for e in held} & {e.text for e in train}


def test_held_out_split_uses_a_stable_hash() -> None:
    assert lid_data.stable_hash("flores:0") == lid_data.stable_hash("flores:0")
    assert sum(lid_data.is_held_out(f"k{i}") for i in range(10_000)) in range(1800, 2200)


def test_windows_are_short_and_deterministic() -> None:
    example = lid_data.Example("Een twee drie vier vijf zes zeven acht negen tien", "nl", "flores")

    got = lid_data.windows(example)

    assert got == lid_data.windows(example)
    assert sorted(len(w.text.split()) for w in got) == sorted(lid_data.WINDOW_SIZES)
    assert all(w.source == "flores+window" and w.label == "nl" for w in got)


@pytest.mark.parametrize(
    "text, label, informative",
    [
        ("menu", "ar", False),  # English command word filed under Arabic
        ("human please", "ar", False),  # Latin script under an Arabic-script language
        ("ok", "nl", False),
        ("gemeente", "tr", False),  # Dutch institution name
        ("مرحبا", "ar", True),
        ("ሰላም", "ti", True),
        ("hoi allemaal", "nl", True),
        ("👍", "en", False),
        ("zorblax", "xy", True),  # unknown language: no script rule
        ("ኣብ gemeente Amersfoort እየ ዘለኹ", "ti", True),  # words count, not letters
        ("ابني في school ما بدو", "ar", True),
        ("سلام wegwijs", "ar", True),
        ("hallo ik woon in Amersfoort ሰላም", "ti", False),
    ],
)
def test_informative_filter(text: str, label: str, informative: bool) -> None:
    assert lid_data.is_informative(text, label) is informative


def test_dataset_uses_every_language_folder(mini_root: Path) -> None:
    dataset = lid_data.build_dataset(mini_root, include_cldr=False)

    labels = set(dataset.labels())
    assert set(LANGUAGES) <= labels and "xy" in labels
    texts = {(e.text, e.label) for e in dataset.train + dataset.held_out_nlu}
    assert ("ik woon in Tilburg", "nl") in texts  # entity markup removed
    assert not any("[" in e.text for e in dataset.train + dataset.held_out_nlu if e.source.startswith("nlu"))
    assert not any(e.text in ("menu", "human") for e in dataset.train + dataset.held_out_nlu)
    content = [e for e in dataset.train if e.source == "content"]
    assert any("fijn dat je er weer bent" in e.text for e in content)
    assert not any("{name}" in e.text or e.text.startswith("/") or e.text == "Dutch" for e in content)
    assert dataset.held_out_flores and all(e.source == "flores" for e in dataset.held_out_flores)


def test_nlu_examples_are_split_by_hash(mini_root: Path) -> None:
    train, held = lid_data.read_nlu(mini_root)

    assert {e.text for e in train} | {e.text for e in held} >= {"hoi", "goedemorgen allemaal", "مرحبا"}
    assert "niet dit" not in {e.text for e in train + held}  # synonyms are not examples
    assert lid_data.read_nlu(mini_root) == (train, held)


def test_cldr_strings_are_in_each_language() -> None:
    examples = lid_data.read_cldr(["ti", "prs", "zz"])

    tigrinya = {e.text for e in examples if e.label == "ti"}
    assert "ሰኑይ" in tigrinya  # Monday
    assert all(e.label in ("ti", "prs") for e in examples)
    assert len([e for e in examples if e.label == "prs"]) < len(tigrinya)  # Dari: own strings only


@pytest.mark.parametrize(
    "text, label, borrowed",
    [
        ("verwijder mijn gegevens", "en", True),  # Dutch filed under English
        ("dank je wel", "so", True),
        ("my son goes to school", "en", False),
        ("wiilkayga school ayuu aadaa", "so", False),
        ("want to die", "en", False),
        ("ابني في school", "ar", False),  # other scripts are never affected
    ],
)
def test_dutch_or_english_text_filed_under_another_language(text: str, label: str, borrowed: bool) -> None:
    vocab = lid_data.flores_vocabularies(lid_data.read_flores(REPO_ROOT)[0])

    assert lid_data.is_borrowed(text, label, vocab) is borrowed


def test_noisy_windows_are_deterministic_and_keep_the_language() -> None:
    example = lid_data.Example("ወደይ ናብ ቤት ትምህርቲ ይኸይድ እዩ ግን ሎሚ ሓሚሙ ኣሎ", "ti", "flores")

    got = lid_data.noisy_windows(example, dutch=1.0)

    assert got == lid_data.noisy_windows(example, dutch=1.0)
    assert got and all(w.label == "ti" and w.source == "flores+noisy" for w in got)
    assert all(lid_data.is_informative(w.text, "ti") for w in got)  # Dutch never outnumbers
    assert any(word in lid_augment.DUTCH_CHAT_WORDS for w in got for word in w.text.split())


def test_chat_noise_variants() -> None:
    import random

    assert lid_augment.strip_marks("çocuğum okula gitmiyor, ışık") == "cocugum okula gitmiyor, isik"
    assert lid_augment.strip_marks("ወደይ ابني") == "ወደይ ابني"
    rng = random.Random(1)
    assert lid_augment.keyboard_variant("ګډ ېښ", "ps", random.Random(0)) in ("ګډ ېښ", "گد یش")
    assert lid_augment.keyboard_variant("أنا مريضة", "ar", rng) == "انا مريضه"
    inserted = lid_augment.insert_dutch("ابني مريض جدا", random.Random(3), 2).split()
    assert len(inserted) == 5 and sum(w in lid_augment.DUTCH_CHAT_WORDS for w in inserted) >= 2


def test_dataset_has_noisy_and_mixed_training_text(mini_root: Path) -> None:
    dataset = lid_data.build_dataset(mini_root, include_cldr=False)

    sources = Counter(e.source for e in dataset.train)
    assert sources["flores+noisy"] > 0 and sources["flores+window"] > 0
    mixed = [
        e
        for e in dataset.train
        if e.label == "ti" and any(word in lid_augment.DUTCH_CHAT_WORDS for word in e.text.split())
    ]
    assert mixed  # Tigrinya training text with Dutch words in it


# ------------------------------------------------------------------ normalisation and detector


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hoi!\nHoe gaat het?", "hoi hoe gaat het"),
        ("Kijk op https://wegwijs.nl of mail info@wegwijs.nl", "kijk op of mail"),
        ("Ik heb 2 kinderen van 3 en 7", "ik heb kinderen van en"),
        ("👍👍 OK 😀", "ok"),
        ("l’école d'Amsterdam", "l'école d'amsterdam"),
        ("ma'aan 'quoted'", "ma'aan quoted"),
        ("رقم \u2068112\u2069 مهم", "رقم مهم"),
        ("می‌خواهم", "می\u200cخواهم"),  # Persian ZWNJ kept
        ("", ""),
        ("🙏 112 !!", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Mijn zoon gaat naar school en hij is vaak ziek", "nl"),
        ("My son goes to school and he is often sick", "en"),
        ("ابني يذهب إلى المدرسة وهو مريض", "ar"),
        ("ወደይ ናብ ቤት ትምህርቲ ይኸይድ እዩ፣ ሓሚሙ ኣሎ", "ti"),
        ("ልጄ ትምህርት ቤት ይሄዳል፣ ታሟል", "am"),
        ("kifak ibni 3ando 7arara", "ar"),  # Arabizi
        ("shu 3am ta3mel ya habibi", "ar"),
    ],
)
def test_detect(detector: LanguageDetector, text: str, lang: str) -> None:
    code, confidence = detector.detect(text)

    assert code == lang
    assert 0.5 <= confidence <= 1.0


@pytest.mark.parametrize("text", ["", "   ", "👍", "😀 🙏", "112", "3 + 7 = 10", "https://wegwijs.nl", "\n"])
def test_no_letters_is_undetermined(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) == ("und", 0.0)


@pytest.mark.parametrize(
    "text", ["mijn 6jarige zoon is ziek en blijft thuis", "I have 2 kids, 3 and 7", "covid19 test op school", "mp3"]
)
def test_digits_in_normal_text_are_not_arabizi(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text)[0] != "ar"


def test_detect_top_is_sorted(detector: LanguageDetector) -> None:
    top = detector.detect_top("ሰላም ከመይ ኣለኹም", k=3)

    assert [code for code, _ in top] == ["ti", "am"]  # only Ge'ez-script languages are candidates
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)


@pytest.mark.parametrize(
    "text, script",
    [
        ("ኣብ gemeente Amersfoort እየ ዘለኹ", "Ethi"),  # 3 of 5 words Ge'ez
        ("ابني في school ما بدو", "Arab"),
        ("ik woon in Amersfoort en mijn naam is محمد", "Latn"),  # 1 of 9
        ("мій син school", "Cyrl"),
        ("hallo", "Latn"),
        ("你好 hallo", "other"),
        ("", None),
    ],
)
def test_dominant_script(text: str, script: str | None) -> None:
    assert dominant_script(normalise(text)) == script


def test_word_script() -> None:
    assert word_script("school") == "Latn"
    assert word_script("ماډلapollo") == "Latn"  # majority of letters
    assert word_script("ሰላም") == "Ethi"
    assert word_script("123") is None


def test_mixed_script_messages_keep_their_language(detector: LanguageDetector) -> None:
    assert detector.detect("ኣብ gemeente Amersfoort እየ ዘለኹ")[0] == "ti"
    assert detector.detect("ابني في school ما بدو")[0] == "ar"
    assert detector.detect("huisarts ክረክብ ደልየ")[0] in ("ti", "am")
    top = detector.detect_top("ابني في school ما بدو", k=-1)
    assert {code for code, _ in top} <= {"ar"} and abs(sum(p for _, p in top) - 1) < 1e-6


def test_script_rule_can_be_switched_off(small_model: Path) -> None:
    plain = LanguageDetector.load(small_model, by_script=False)

    assert {code for code, _ in plain.detect_top("ابني في school ما بدو", k=-1)} == set(plain.labels)


@pytest.mark.parametrize("text", lid_samples.ARABIZI)
def test_arabizi_samples_score(text: str) -> None:
    assert arabizi_score(text) >= 0.5, text


@pytest.mark.parametrize("text, lang", lid_samples.LATIN_NOT_ARABIZI)
def test_latin_chat_is_not_arabizi(text: str, lang: str) -> None:
    assert arabizi_score(text) < 0.5, text


@pytest.mark.parametrize(
    "text, dari, persian",
    [
        ("بچیم مریض است باید داکتر ببرمش", 2, 0),
        ("من نمی‌دونم چیکار کنم", 0, 2),  # ZWNJ ignored
        ("طفلم به مکتب نمیره", 2, 0),
        ("دخترم مدرسه نمیره", 0, 1),
        ("شفاخانه یا بیمارستان", 1, 1),
        ("سلام", 0, 0),
    ],
)
def test_dari_persian_markers(text: str, dari: int, persian: int) -> None:
    assert dari_persian_markers(normalise(text)) == (dari, persian)


def test_missing_model_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        LanguageDetector.load(tmp_path / "nope.bin")


# ------------------------------------------------------------------ training


def test_build_lid_skips_when_up_to_date(mini_root: Path) -> None:
    output = mini_root / "models" / "lid" / "lid.bin"
    fast = {"epoch": 2, "dim": 8, "bucket": 20_000, "thread": 1}

    first = build_lid(mini_root, params=fast, include_cldr=False)
    second = build_lid(mini_root, params=fast, include_cldr=False)
    forced = build_lid(mini_root, params=fast, include_cldr=False, force=True)

    assert first.built and not second.built and forced.built
    assert first.path == output and output.is_file()
    meta = json.loads(metadata_path(output).read_text(encoding="utf-8"))
    assert meta["sha256"] == file_sha256(output)
    assert meta["data_hash"] == first.metadata["data_hash"]
    assert "xy" in meta["labels"] and meta["size_bytes"] < 30_000_000


def test_build_lid_rebuilds_when_data_or_file_changes(mini_root: Path) -> None:
    fast = {"epoch": 2, "dim": 8, "bucket": 20_000, "thread": 1}
    first = build_lid(mini_root, params=fast, include_cldr=False)

    (mini_root / "nlu_data" / "nl" / "more.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: thanks\n  examples: |\n    - dank je wel voor de hulp\n', encoding="utf-8"
    )
    after_data = build_lid(mini_root, params=fast, include_cldr=False)
    with first.path.open("ab") as handle:
        handle.write(b"\0")
    after_tamper = build_lid(mini_root, params=fast, include_cldr=False)

    assert after_data.built and after_data.metadata["data_hash"] != first.metadata["data_hash"]
    assert after_tamper.built


# ------------------------------------------------------------------ CLI


def run_cli(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    if monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8"))
    return lid_cli.main(argv)


def test_detect_language_argument(small_model: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WEGWIJS_LID_MODEL", str(small_model))

    code = run_cli(["detect-language", "ابني مريض جدا"])

    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert list(result) == ["code", "confidence"] and result["code"] == "ar"


def test_detect_language_stdin_one_object_per_line(small_model: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WEGWIJS_LID_MODEL", str(small_model))

    code = run_cli(["detect-language"], "waar is de huisarts\n\nሰላም ከመይ ኣለኹም\n👍\n", monkeypatch)

    assert code == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["code"] for r in results] == ["nl", "und", "ti", "und"]
    assert results[1] == {"code": "und", "confidence": 0.0}


def test_detect_language_missing_model(tmp_path: Path, monkeypatch, capsys) -> None:
    missing = tmp_path / "none" / "lid.bin"
    monkeypatch.setenv("WEGWIJS_LID_MODEL", str(missing))

    code = run_cli(["detect-language", "hallo"])

    assert code == lid_cli.EXIT_NO_MODEL == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "wegwijs build-lid" in err


def test_add_parsers_registers_the_commands() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    lid_cli.add_parsers(parser.add_subparsers(dest="command"))

    args = parser.parse_args(["detect-language", "salam"])
    assert args.func is lid_cli.cmd_detect_language and args.text == "salam"
    assert parser.parse_args(["build-lid", "--force"]).func is lid_cli.cmd_build_lid
    assert parser.parse_args(["lid-report", "--json"]).func is lid_cli.cmd_lid_report


def test_build_lid_command_reports_json(mini_root: Path, monkeypatch, capsys) -> None:
    output = mini_root / "out" / "lid.bin"
    import wegwijs.lid.train as train_module

    real = train_module.build_lid
    monkeypatch.setattr(
        train_module,
        "build_lid",
        lambda **kw: real(mini_root, params={"epoch": 1, "dim": 8, "bucket": 10_000, "thread": 1}, **kw),
    )

    code = lid_cli.cmd_build_lid(Namespace(output=str(output), force=False, no_cldr=True))

    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["built"] is True and summary["path"] == str(output) and output.is_file()


# ------------------------------------------------------------------ the real model


@pytest.mark.lid_model
@pytest.mark.parametrize("lang", ["nl", "en", "ar", "ti"])
def test_full_sentence_accuracy_of_supported_languages(
    built_model: Path, real_dataset: lid_data.Dataset, lang: str
) -> None:
    detector = LanguageDetector.load(built_model)
    held = [e for e in real_dataset.held_out_flores if e.label == lang]

    evaluation = lid_report.evaluate(detector, held, "full")

    assert len(held) >= 150
    assert evaluation.accuracy(lang) >= 0.95, evaluation.as_dict()["confusion"][lang]


@pytest.mark.lid_model
def test_tigrinya_amharic_confusion_is_reported(built_model: Path, real_dataset: lid_data.Dataset, capsys) -> None:
    result = lid_report.run(built_model, dataset=real_dataset)

    with capsys.disabled():
        print("\n" + lid_report.format_report(result))
    full = result["ti_am"]["full"]
    assert full["ti"] and full["am"]
    assert (full["ti→am"] + full["am→ti"]) / (full["ti"] + full["am"]) < 0.05
    assert set(result["ti_am"]) >= {"full", "3 words", "1-2 words"}


@pytest.mark.lid_model
def test_detect_is_fast(built_model: Path, real_dataset: lid_data.Dataset) -> None:
    detector = LanguageDetector.load(built_model)
    texts = [e.text for e in real_dataset.held_out_flores[:300]]

    assert lid_report.time_detect(detector, texts, repeat=1) < 2000  # µs per call, generous for CI


@pytest.mark.lid_model
def test_model_file_is_small(built_model: Path) -> None:
    assert built_model.stat().st_size < 30_000_000


# ------------------------------------------------------------------ targets (issue 3) on held-out text

#: Languages always asserted (supported since the start).
CORE_LANGUAGES = ("nl", "en", "ar", "ti")
#: Languages being added; asserted as soon as their nlu_data folder exists.
PLANNED_LANGUAGES = ("fa+prs", "tr", "so", "am", "ps")
#: Minimum accuracy per evaluation set for the chat-length target. "3+ words" pools
#: all 3+ word sets; "3 words" (sentence starts, often names: "Peter Costello de") and
#: the synthetic noisy sets get a lower floor so that one kind of text cannot collapse.
CHAT_LENGTH_TARGETS = {
    "3+ words": 0.97,
    "3-6 words": 0.97,
    "chat 3+": 0.97,
    "3 words": 0.94,
    "noisy 3-6": 0.94,
    "+dutch": 0.94,
}


def _registry() -> dict:
    data = yaml.safe_load((REPO_ROOT / "languages" / "registry.yml").read_text(encoding="utf-8")) or {}
    return {"supported": list(data.get("supported") or []), "in_progress": list(data.get("in_progress") or [])}


def _group(code: str) -> str:
    return "fa+prs" if code in ("fa", "prs") else code


def _members(group: str) -> tuple[str, ...]:
    return ("fa", "prs") if group == "fa+prs" else (group,)


def _checked_languages() -> list[str]:
    registry = _registry()
    found = [*CORE_LANGUAGES, *map(_group, registry["supported"] + registry["in_progress"]), *PLANNED_LANGUAGES]
    return list(dict.fromkeys(found))


def _has_nlu_data(code: str) -> bool:
    folder = REPO_ROOT / "nlu_data" / code
    return any(lid_data._nlu_texts(lid_data._load_yaml(p)) for p in sorted(folder.glob("*.y*ml")))


def _accuracy(evaluation: lid_report.Evaluation, group: str) -> float:
    members = _members(group)
    return evaluation.merged_accuracy(members) if len(members) > 1 else evaluation.accuracy(group)


@pytest.mark.lid_model
@pytest.mark.parametrize("group", _checked_languages())
def test_chat_length_accuracy_per_language(
    group: str, real_evaluations: dict[str, lid_report.Evaluation]
) -> None:
    """≥ 97 % on held-out 3+ word text (fa and prs merged), once the language has NLU data."""
    members = _members(group)
    supported = [m for m in members if m in _registry()["supported"] or m in CORE_LANGUAGES]
    with_data = [m for m in members if _has_nlu_data(m)]
    if not with_data:
        if supported:
            pytest.fail(f"{group} is supported (languages/registry.yml) but nlu_data/{members[0]}/ has no NLU examples")
        pytest.skip(f"{group}: no nlu_data/{'/, nlu_data/'.join(members)}/ yet; asserted as soon as it exists")

    failures = {}
    for name, target in CHAT_LENGTH_TARGETS.items():
        evaluation = real_evaluations.get(name)
        if evaluation is None or not sum(evaluation.total[m] for m in members):
            continue
        if name == "chat 3+" and sum(evaluation.total[m] for m in members) < 20:
            continue  # too few held-out chat examples yet to judge alone (still in "3+ words")
        accuracy = _accuracy(evaluation, group)
        if accuracy < target:
            failures[name] = (round(accuracy, 4), target, {m: evaluation.as_dict()["confusion"].get(m) for m in members})
    assert sum(real_evaluations["3+ words"].total[m] for m in members) >= 150
    assert not failures, failures


#: Tigrinya ↔ Amharic: the target (≤ 2 % each way) on all 3+ word text together (about
#: 870 texts per language); each part alone (about 200 texts, one text = 0.5 %) may
#: not exceed 3 %.
TI_AM_LIMITS = {"3+ words": 0.02, "3-6 words": 0.03, "noisy 3-6": 0.03, "+dutch": 0.03, "chat 3+": 0.03}


@pytest.mark.lid_model
@pytest.mark.parametrize("name", list(TI_AM_LIMITS))
def test_tigrinya_amharic_confusion(name: str, real_evaluations: dict[str, lid_report.Evaluation]) -> None:
    evaluation = real_evaluations.get(name)
    if evaluation is None:
        pytest.skip(f"no {name!r} evaluation (no held-out NLU examples)")
    for gold, wrong in (("ti", "am"), ("am", "ti")):
        if evaluation.total[gold] < 20:
            continue  # e.g. no Amharic chat examples yet; the FLORES sets always have both
        rate = evaluation.confusion[(gold, wrong)] / evaluation.total[gold]
        assert rate <= TI_AM_LIMITS[name], (
            f"{name}: {gold}→{wrong} {evaluation.confusion[(gold, wrong)]}/{evaluation.total[gold]}"
        )
    assert real_evaluations["3+ words"].total["ti"] >= 500 and real_evaluations["3+ words"].total["am"] >= 500


@pytest.mark.lid_model
def test_persian_and_dari_reported_separately_and_merged(
    built_model: Path, real_dataset: lid_data.Dataset, capsys
) -> None:
    result = lid_report.run(built_model, dataset=real_dataset)

    with capsys.disabled():
        print("\n" + lid_report.format_report(result))
    text = lid_report.format_report(result)
    assert "Persian (fa) / Dari (prs)" in text and "fa+prs" in text
    pooled = result["fa_prs"]["3+ words"]
    assert pooled["fa"] is not None and pooled["prs"] is not None
    assert pooled["fa+prs"] >= 0.97
    # Telling them apart is best effort; on held-out chat it must still be far above chance.
    chat = result["fa_prs"].get("chat")
    if chat and chat["fa"] is not None and chat["prs"] is not None:
        assert chat["fa"] >= 0.7 and chat["prs"] >= 0.7, chat


@pytest.mark.lid_model
@pytest.mark.parametrize("text, lang", lid_samples.DARI_PERSIAN)
def test_dari_and_persian_vocabulary(real_detector: LanguageDetector, text: str, lang: str) -> None:
    assert real_detector.detect(text)[0] == lang


@pytest.mark.lid_model
@pytest.mark.parametrize("text", lid_samples.ARABIZI)
def test_arabizi_is_arabic(real_detector: LanguageDetector, text: str) -> None:
    code, confidence = real_detector.detect(text)

    assert code == "ar" and confidence >= 0.6


@pytest.mark.lid_model
@pytest.mark.parametrize("text, lang", lid_samples.LATIN_NOT_ARABIZI)
def test_latin_chat_is_not_taken_for_arabizi(real_detector: LanguageDetector, text: str, lang: str) -> None:
    assert real_detector.detect(text)[0] != "ar"


@pytest.mark.lid_model
def test_no_arabizi_false_positives_on_held_out_latin_text(
    real_detector: LanguageDetector, real_sets: dict[str, list[lid_data.Example]]
) -> None:
    checks = lid_report.rule_checks(real_detector, real_sets)
    false_positives = checks["arabizi_false_positives"]

    assert false_positives["total"] > 3000
    assert false_positives["ar"] <= false_positives["total"] * 0.001, false_positives["examples"]


@pytest.mark.lid_model
@pytest.mark.parametrize("text, lang", lid_samples.MIXED_SCRIPT)
def test_non_latin_chat_with_dutch_words(real_detector: LanguageDetector, text: str, lang: str) -> None:
    code = real_detector.detect(text)[0]

    assert code != "nl"
    assert code == lang or {code, lang} <= {"fa", "prs"}


@pytest.mark.lid_model
def test_held_out_non_latin_text_with_dutch_words_stays_in_its_script(
    real_evaluations: dict[str, lid_report.Evaluation]
) -> None:
    evaluation = real_evaluations["+dutch"]
    non_latin = [label for label in evaluation.total if SCRIPTS.get(label, "Latn") != "Latn"]
    total = sum(evaluation.total[label] for label in non_latin)
    latin = sum(
        n
        for (gold, predicted), n in evaluation.confusion.items()
        if gold in non_latin and SCRIPTS.get(predicted) == "Latn"
    )

    assert total >= 1000
    assert latin <= total * 0.01, {k: v for k, v in evaluation.confusion.items() if k[0] in non_latin and k[0] != k[1]}
