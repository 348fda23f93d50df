"""wegwijs.lid: data building, normalisation, training, CLI, and the real model's accuracy.

Tests marked ``lid_model`` use the built ``models/lid/lid.bin``; the ``built_model``
fixture builds it with ``build_lid()`` when it is missing (≈20 s).
"""

from __future__ import annotations

import io
import json
import sys
from argparse import Namespace
from collections import Counter
from pathlib import Path

import pytest

from wegwijs.lid import FLORES_CODES, LANGUAGES, REPO_ROOT, default_model_path
from wegwijs.lid import cli as lid_cli
from wegwijs.lid import data as lid_data
from wegwijs.lid import report as lid_report
from wegwijs.lid.detector import LanguageDetector, normalise
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
    """The real model (``models/lid/lid.bin`` or ``$WEGWIJS_LID_MODEL``); built when missing."""
    path = default_model_path()
    if not path.is_file():
        build_lid(output=path)
    return path


@pytest.fixture(scope="session")
def real_dataset() -> lid_data.Dataset:
    return lid_data.build_dataset(REPO_ROOT)


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

    assert len(top) == 3 and top[0][0] == "ti"
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)


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
