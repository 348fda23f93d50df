"""Content: every language folder validates, is at parity, and the generated responses are current."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from wegwijs.content.bidi import FSI, PDI, isolate_ltr_runs, strip_isolates
from wegwijs.content.compile import build, parity_problems
from wegwijs.content.loader import LANGUAGES_DIR, load_all, load_language, load_registry
from wegwijs.content.schema import ContentError

REGISTRY = load_registry()
FORBIDDEN = re.compile(r"opvoed(steun|hulp|ondersteuning)|parenting support", re.IGNORECASE)


@pytest.fixture(scope="module")
def packs():
    return load_all()


def test_every_supported_language_loads(packs) -> None:
    assert set(packs) == set(REGISTRY.supported)


def test_languages_are_at_parity(packs) -> None:
    assert parity_problems(packs, REGISTRY) == []


def test_review_status_is_declared(packs) -> None:
    for code, pack in packs.items():
        assert pack.meta.review in ("native-reviewed", "unreviewed"), code
        if pack.meta.review == "unreviewed":
            assert pack.meta.review_note.strip(), f"{code}: say who wrote it and that nobody reviewed it"


def test_no_reply_says_opvoedsteun(packs) -> None:
    for code, pack in packs.items():
        texts = [r.text for r in pack.responses.values()] + [t for g in pack.tips.values() for ts in g.values() for t in ts]
        bad = [t for t in texts if FORBIDDEN.search(t)]
        assert not bad, f"{code}: {bad[:2]}"


def test_emergency_numbers_in_every_language(packs) -> None:
    for code, pack in packs.items():
        text = strip_isolates(pack.responses["utter_urgent_help"].text)
        for number in ("112", "0800-2000", "113", "0800-0113"):
            assert number in text, f"{code}: utter_urgent_help lacks {number}"


def test_rtl_numbers_are_isolated(packs) -> None:
    for code, pack in packs.items():
        if pack.meta.direction != "rtl":
            continue
        text = pack.responses["utter_urgent_help"].text
        for number in ("112", "0800-2000", "0800-0113"):
            at = text.index(number)
            opened, closed = text.rfind(FSI, 0, at), text.rfind(PDI, 0, at)
            assert opened > closed, f"{code}: {number} is not inside a bidi isolate"


def test_generated_responses_are_up_to_date() -> None:
    assert build(check=True), "bot/generated/responses.yml is stale: run `wegwijs build-content`"


def test_bidi_isolation_is_idempotent_and_keeps_text() -> None:
    src = "اتصل بـ Veilig Thuis على 0800-2000 أو {reference}."
    once = isolate_ltr_runs(src)
    assert once == isolate_ltr_runs(once)
    assert strip_isolates(once) == src
    assert f"{FSI}Veilig Thuis{PDI}" in once and f"{FSI}0800-2000{PDI}" in once and f"{FSI}{{reference}}{PDI}" in once


# --- one fixture per failure: a broken copy of the English folder -----------------------


def _broken_copy(tmp_path: Path, file: str, mutate) -> Path:
    shutil.copytree(LANGUAGES_DIR / "en", tmp_path / "en")
    path = tmp_path / "en" / file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_button_title_too_long_names_file_key_and_length(tmp_path: Path) -> None:
    def mutate(d):
        d["responses"]["utter_ask_consent"]["buttons"][0]["title"] = "x" * 25

    with pytest.raises(ContentError) as e:
        load_language("en", _broken_copy(tmp_path, "responses.yml", mutate))
    assert e.value.file == "responses.yml" and "utter_ask_consent" in e.value.key and "25" in e.value.msg


def test_four_buttons_are_refused(tmp_path: Path) -> None:
    def mutate(d):
        d["responses"]["utter_ask_consent"]["buttons"] *= 2

    with pytest.raises(ContentError, match="WhatsApp allows 3"):
        load_language("en", _broken_copy(tmp_path, "responses.yml", mutate))


def test_topic_title_too_long(tmp_path: Path) -> None:
    def mutate(d):
        d["topics"]["school"] = "S" * 30

    with pytest.raises(ContentError) as e:
        load_language("en", _broken_copy(tmp_path, "topics.yml", mutate))
    assert e.value.file == "topics.yml" and "30" in e.value.msg


def test_missing_file(tmp_path: Path) -> None:
    shutil.copytree(LANGUAGES_DIR / "en", tmp_path / "en")
    (tmp_path / "en" / "safety.yml").unlink()
    with pytest.raises(ContentError, match="safety.yml"):
        load_language("en", tmp_path)


def test_invalid_yaml(tmp_path: Path) -> None:
    shutil.copytree(LANGUAGES_DIR / "en", tmp_path / "en")
    (tmp_path / "en" / "topics.yml").write_text("topics: [unclosed", encoding="utf-8")
    with pytest.raises(ContentError, match="not valid YAML"):
        load_language("en", tmp_path)


def test_parity_finds_a_missing_placeholder(packs) -> None:
    broken = dict(packs)
    nl = packs["nl"].copy(deep=True)
    nl.responses["utter_referral_done"].text = "Dank je."
    broken["nl"] = nl
    problems = parity_problems(broken, REGISTRY)
    assert any("nl" in p and "utter_referral_done" in p and "placeholders" in p for p in problems)


# --- "what do you know about me?" (issue 10): texts and examples in every language --------

#: The responses of action_show_my_data (wegwijs.privacy): intro, one per fact, delete hint, none.
MY_DATA_KEYS = {
    "utter_my_data_intro": set(), "utter_my_data_none": set(), "utter_my_data_delete_hint": set(),
    "utter_my_data_language": {"language_name"}, "utter_my_data_consent_yes": set(),
    "utter_my_data_consent_handoff": set(), "utter_my_data_consent_no": set(),
    "utter_my_data_consent_time": {"when"}, "utter_my_data_children": {"ages"}, "utter_my_data_pregnant": set(),
    "utter_my_data_municipality": {"municipality"}, "utter_my_data_topics": {"topics"},
    "utter_my_data_own_words": set(), "utter_my_data_person": {"person_label"}, "utter_my_data_channel": {"channel"},
    "utter_my_data_times": {"times"}, "utter_my_data_gender": {"gender"}, "utter_my_data_setting": {"setting"},
    "utter_my_data_interpreter": {"interpreter"}, "utter_my_data_referral_sent": {"reference"},
    "utter_my_data_referral_held": {"reference"},
}


def _examples(lang: str, intent: str) -> list[str]:
    out: list[str] = []
    for path in sorted((LANGUAGES_DIR.parent / "nlu_data" / lang).glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if item.get("intent") == intent:
                out += [l.strip()[2:].strip() for l in str(item.get("examples") or "").splitlines() if l.strip().startswith("- ")]
    return out


def test_every_language_says_what_is_stored(packs) -> None:
    for code, pack in packs.items():
        for key, placeholders in MY_DATA_KEYS.items():
            assert key in pack.responses, f"{code}: {key}"
            assert pack.responses[key].placeholders() == placeholders, f"{code}: {key}"
        # how to delete it is said, with the language's delete word (as utter_consent_yes says it)
        for key in ("utter_my_data_none", "utter_my_data_delete_hint"):
            text = strip_isolates(pack.responses[key].text)
            assert any(w in text for w in ("delete", "verwijder", "sil", "احذف", "حذف")), f"{code}: {key}"


@pytest.mark.parametrize("lang", REGISTRY.supported)
def test_every_language_has_ask_my_data_examples_of_its_own(lang: str) -> None:
    mine = _examples(lang, "ask_my_data")
    assert 25 <= len(mine) <= 40, f"{lang}: {len(mine)} ask_my_data examples"
    assert (LANGUAGES_DIR.parent / "nlu_data" / lang / "nlu_privacy.yml").is_file()
    assert len(set(mine)) == len(mine), f"{lang}: duplicate examples"
    # asking to see is not asking to delete: no example of both intents
    assert not set(mine) & set(_examples(lang, "delete_my_data")), lang


def test_the_rules_answer_ask_my_data_in_every_form_and_resume_it() -> None:
    rules = yaml.safe_load((LANGUAGES_DIR.parent / "bot" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    found = {}
    for rule in rules:
        steps = rule["steps"]
        if steps and steps[0].get("intent") == "ask_my_data":
            loop = next((c["active_loop"] for c in rule.get("condition") or [] if "active_loop" in c), None)
            found[loop if not rule.get("conversation_start") else "start"] = [s.get("action") for s in steps[1:] if "action" in s]
    assert found["intake_form"] == ["action_show_my_data", "intake_form"]
    assert found["contact_form"] == ["action_show_my_data", "contact_form"]
    assert found[None] == ["action_show_my_data"]
    assert found["start"] == ["intake_form"]  # the welcome's privacy text says what would be stored
