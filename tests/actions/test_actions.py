"""Custom actions: events and response keys (never rendered text)."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback
from actions.handoff import ActionCreateReferral, ActionUrgentHelp, ValidateContactForm
from actions.intake import ActionAfterIntake, ActionRememberTopic, ValidateIntakeForm
from actions.language import ActionLanguageMenu, ActionSetLanguage
from actions.privacy import ActionDeleteMyData
from tests.actions.conftest import make_tracker
from actions.common import store
from wegwijs import bootstrap
from wegwijs.referrals import service


def _slots(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _keys(d: CollectingDispatcher) -> list:
    return [m.get("response") for m in d.messages]


async def test_set_language_first_message_and_sticky() -> None:
    d = CollectingDispatcher()
    t = make_tracker("مرحبا كيف حالكم اليوم", slots={"language": None}, language={"code": "ar", "confidence": 0.99})
    assert _slots(await ActionSetLanguage().run(d, t, {})) == {"language": "ar", "language_name": "العربية"}
    t = make_tracker("ok", slots={"language": "ar", "language_name": "العربية"}, language={"code": "en", "confidence": 0.99})
    assert _slots(await ActionSetLanguage().run(d, t, {})) == {}


async def test_language_menu_offers_every_language_in_its_own_script() -> None:
    d = CollectingDispatcher()
    await ActionLanguageMenu().run(d, make_tracker("taal", "change_language"), {})
    titles = [b["title"] for b in d.messages[0]["buttons"]]
    assert d.messages[0]["response"] == "utter_ask_language_choice"
    assert "العربية" in titles and "Nederlands" in titles and "ትግርኛ" in titles
    assert len(titles) == len(store().registry.supported) <= 10  # a WhatsApp list holds 10 rows


async def test_ages_are_parsed_and_unreadable_answer_is_asked_again_once() -> None:
    v = ValidateIntakeForm()
    d = CollectingDispatcher()
    t = make_tracker("3 and 8", "inform")
    assert await v.validate_children_ages("3 and 8", d, t, {}) == {
        "children_ages": [3, 8], "pregnant": False, "ages_attempts": 0.0}
    t = make_tracker("hmm", "inform")
    first = await v.validate_children_ages("hmm", d, t, {})
    assert first["children_ages"] is None and _keys(d) == ["utter_ages_not_understood"]
    t = make_tracker("hmm", "inform", slots={"ages_attempts": 1.0})
    assert (await v.validate_children_ages("hmm", d, t, {}))["children_ages"] == []  # skipped, no nagging


async def test_skip_and_gemeente() -> None:
    v = ValidateIntakeForm()
    d = CollectingDispatcher()
    assert (await v.validate_children_ages("/deny", d, make_tracker("/deny", "deny"), {}))["children_ages"] == []
    got = await v.validate_municipality("we live in den haag", d, make_tracker("we live in den haag", "inform"), {})
    assert got == {"municipality": "'s-Gravenhage"}
    got = await v.validate_municipality("/deny", d, make_tracker("/deny", "deny"), {})
    assert got == {"municipality": "skipped"}


async def test_topic_is_remembered_with_the_parents_words() -> None:
    events = await ActionRememberTopic().run(
        CollectingDispatcher(), make_tracker("my son skips school", "topic_school"), {})
    slots = _slots(events)
    assert slots["topic"] == "school" and slots["topics"] == ["school"]
    assert slots["concern_text"] == [{"text": "my son skips school", "lang": "en"}]


async def test_tips_for_the_childrens_age_then_the_offer_of_a_person() -> None:
    d = CollectingDispatcher()
    t = make_tracker("ok", "affirm", slots={"topic": "school", "children_ages": [7]})
    slots = _slots(await ActionAfterIntake().run(d, t, {}))
    assert _keys(d) == ["utter_tips_intro", None, "utter_ask_want_person"]
    assert d.messages[0]["age_label"] and d.messages[1]["text"].startswith("• ")
    assert slots == {"topic": None, "offered_person": True, "intake_done": True}


async def test_without_a_topic_the_menu_is_shown() -> None:
    d = CollectingDispatcher()
    await ActionAfterIntake().run(d, make_tracker("ok", "affirm"), {})
    assert _keys(d) == ["utter_topic_menu"]
    assert 1 <= len(d.messages[0]["buttons"]) <= 10
    assert all(b["payload"].startswith("/topic_") for b in d.messages[0]["buttons"])


async def test_contact_form_asks_storage_consent_only_without_intake_consent() -> None:
    v = ValidateContactForm()
    d = CollectingDispatcher()
    base = ["person_type", "handoff_consent", "contact_channel", "contact_times"]
    assert await v.required_slots(base, d, make_tracker(slots={"consent": "yes"}), {}) == ["person_type", "contact_channel", "contact_times"]
    assert await v.required_slots(base, d, make_tracker(slots={"consent": "no"}), {}) == base
    assert await v.required_slots(base, d, make_tracker(slots={"handoff_consent": False}), {}) == ["person_type", "handoff_consent"]


async def test_referral_is_stored_with_dutch_summary(db) -> None:
    d = CollectingDispatcher()
    slots = {
        "language": "ar", "consent": "yes", "consent_at": "2026-11-29T09:00:00+00:00",
        "children_ages": [4, 9], "municipality": "Utrecht", "topics": ["school"],
        "concern_text": [{"text": "ابني ما بدو يروح عالمدرسة", "lang": "ar"}],
        "person_type": "sleutelpersoon", "contact_channel": "whatsapp", "contact_times": "ochtend",
        "contact_gender": "woman", "contact_setting": "individual", "interpreter": False,
    }
    events = await ActionCreateReferral().run(d, make_tracker("لا", "deny", slots=slots, sender_id="p-ar"), {})
    assert _keys(d) == ["utter_referral_done"]
    ref = _slots(events)["referral_reference"]
    out = service.get_referral(bootstrap.get_session_factory(), ref, actor="test")
    assert out.children_ages == [4, 9] and out.topics == ["school"] and out.language == "ar"
    assert out.urgency == "normal" and out.contact_gender == "woman" and out.interpreter_needed is False
    assert "4" in out.summary_nl and "9" in out.summary_nl and "ابني" in out.summary_nl


async def test_no_consent_stores_nothing(db) -> None:
    d = CollectingDispatcher()
    t = make_tracker("nee", "deny", slots={"consent": "no", "handoff_consent": False, "person_type": "either"}, sender_id="p-x")
    await ActionCreateReferral().run(d, t, {})
    assert _keys(d) == ["utter_referral_not_stored"]
    assert service.list_referrals(bootstrap.get_session_factory(), actor="test") == []


async def test_urgent_help_gives_numbers_first_and_stores_an_urgent_referral(db) -> None:
    d = CollectingDispatcher()
    t = make_tracker("ሰብኣየይ ይወቕዓኒ", "urgent_help", slots={"language": "ti"},
                     safety={"category": "violence_at_home", "keyword": "ይወቕዓኒ", "lang": "ti"}, sender_id="p-ti")
    events = await ActionUrgentHelp().run(d, t, {})
    assert _keys(d) == ["utter_urgent_help", "utter_urgent_referral"]
    out = service.get_referral(bootstrap.get_session_factory(), _slots(events)["referral_reference"], actor="test")
    assert out.urgency == "urgent" and out.urgency_reason == "violence_at_home" and out.language == "ti"
    assert out.concern_text[0].text == "ሰብኣየይ ይወቕዓኒ"


async def test_urgent_help_still_gives_numbers_when_the_database_is_down(tmp_path) -> None:
    from wegwijs.settings import Settings

    bootstrap.bootstrap({"settings": Settings(database_url="postgresql://nobody@127.0.0.1:1/none")})
    try:
        d = CollectingDispatcher()
        await ActionUrgentHelp().run(d, make_tracker("help", "urgent_help"), {})
        assert _keys(d) == ["utter_urgent_help", "utter_referral_failed"]
    finally:
        bootstrap.reset()


async def test_delete_my_data_removes_referrals_and_keeps_language(db) -> None:
    d = CollectingDispatcher()
    await ActionUrgentHelp().run(CollectingDispatcher(), make_tracker("help", "urgent_help", sender_id="p-del"), {})
    events = await ActionDeleteMyData().run(
        d, make_tracker("delete", "delete_my_data", slots={"language": "nl", "language_name": "Nederlands"}, sender_id="p-del"), {})
    assert _keys(d) == ["utter_data_deleted"]
    assert events[0]["event"] == "reset_slots" and _slots(events) == {"language": "nl", "language_name": "Nederlands"}
    assert service.list_referrals(bootstrap.get_session_factory(), actor="test") == []


@pytest.mark.parametrize("count, key, offered", [(0, "utter_not_understood", False), (1, "utter_offer_human_after_fallback", True)])
async def test_second_misunderstanding_offers_a_person(count, key, offered) -> None:
    d = CollectingDispatcher()
    events = await ActionFallback().run(d, make_tracker("xyz", "nlu_fallback", slots={"fallback_count": float(count)}), {})
    assert _keys(d) == [key] and _slots(events)["offered_person"] is offered


@pytest.mark.parametrize(
    "slot, typed, expected",
    [
        ("contact_gender", "امرأة", "woman"),
        ("contact_gender", "liever een vrouw", "woman"),
        ("contact_setting", "لوحدي", "individual"),
        ("contact_setting", "በይነይ ይሓይሽ", "individual"),
        ("contact_channel", "واتساب", "whatsapp"),
        ("contact_channel", "bel me maar", "phone"),
        ("contact_channel", "ብተሌፎን", "phone"),
    ],
)
async def test_typed_answers_become_button_values(slot, typed, expected) -> None:
    v = ValidateContactForm()
    got = await getattr(v, f"validate_{slot}")(typed, CollectingDispatcher(), make_tracker(typed, "inform"), {})
    assert got == {slot: expected}


async def test_unrecognised_typed_answer_is_kept_in_the_parents_words() -> None:
    v = ValidateContactForm()
    got = await v.validate_contact_channel("via mijn buurvrouw", CollectingDispatcher(), make_tracker("x", "inform"), {})
    assert got == {"contact_channel": "via mijn buurvrouw"}


async def test_typed_agreement_to_privacy_counts_as_consent() -> None:
    d = CollectingDispatcher()
    t = make_tracker("ik ga akkoord", "deny", slots={"language": "nl"})  # NLU said deny; the parent typed the button
    got = await ValidateIntakeForm().validate_consent("no", d, t, {})
    assert got["consent"] == "yes" and got["consent_at"]


async def test_handoff_consent_records_its_time() -> None:
    got = await ValidateContactForm().validate_handoff_consent("ja", CollectingDispatcher(), make_tracker("ja", "affirm"), {})
    assert got["handoff_consent"] is True and got["consent_at"]
    got = await ValidateContactForm().validate_handoff_consent("nee", CollectingDispatcher(), make_tracker("nee", "deny"), {})
    assert got == {"handoff_consent": False}


async def test_misunderstood_words_are_kept_for_the_person() -> None:
    events = await ActionFallback().run(CollectingDispatcher(), make_tracker("mijn zoon heeft problemen op school", "nlu_fallback"), {})
    assert _slots(events)["concern_text"] == [{"text": "mijn zoon heeft problemen op school", "lang": "en"}]


@pytest.mark.parametrize("typed, code", [("العربية", "ar"), ("English", "en"), ("arabisch", "ar"), ("ትግርኛ", "ti"), ("Türkçe", "tr")])
async def test_a_typed_language_name_chooses_that_language(typed, code) -> None:
    t = make_tracker(typed, "change_language", slots={"language": "nl", "language_name": "Nederlands"},
                     language={"code": "nl", "confidence": 0.4})
    assert _slots(await ActionSetLanguage().run(CollectingDispatcher(), t, {}))["language"] == code


async def test_a_sentence_mentioning_a_language_is_not_a_choice() -> None:
    t = make_tracker("mijn kind spreekt geen Arabisch meer thuis", "topic_multilingual",
                     slots={"language": "nl", "language_name": "Nederlands"}, language={"code": "nl", "confidence": 0.99})
    assert _slots(await ActionSetLanguage().run(CollectingDispatcher(), t, {})) == {}


async def test_welcome_asks_to_confirm_a_supported_language() -> None:
    from actions.language import ActionAskLanguageOk

    d = CollectingDispatcher()
    await ActionAskLanguageOk().run(d, make_tracker("مرحبا", "greet", language={"code": "ar", "confidence": 0.99}), {})
    assert _keys(d) == ["utter_ask_language_ok"]


async def test_an_unsupported_language_gets_the_language_menu() -> None:
    from actions.language import ActionAskLanguageOk

    d = CollectingDispatcher()
    await ActionAskLanguageOk().run(d, make_tracker("привет как дела", "greet", language={"code": "ru", "confidence": 0.97}), {})
    assert _keys(d) == ["utter_ask_language_choice"] and len(d.messages[0]["buttons"]) == len(store().registry.supported)
