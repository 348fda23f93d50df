"""Custom actions: events and response keys (never rendered text)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback
from actions.handoff import ActionCreateReferral, ActionUrgentReferral, ValidateContactForm
from actions.intake import ActionAfterIntake, ActionAskConsent, ActionRememberTopic, ValidateIntakeForm, interruption_events
from actions.language import ActionLanguageMenu, ActionSetLanguage
from actions.privacy import ActionAskDelete, ActionDeleteCancelled, ActionDeleteMyData
from tests.actions.conftest import make_tracker
from actions.common import store
from wegwijs import bootstrap
from wegwijs.referrals import service

REPO = Path(__file__).resolve().parents[2]


def _slots(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _keys(d: CollectingDispatcher) -> list:
    return [m.get("response") for m in d.messages]


async def test_set_language_first_message_and_sticky() -> None:
    d = CollectingDispatcher()
    t = make_tracker("مرحبا كيف حالكم اليوم", slots={"language": None}, language={"code": "ar", "confidence": 0.99})
    assert _slots(await ActionSetLanguage().run(d, t, {})) == {"language": "ar", "language_name": "العربية"}
    t = make_tracker("ok", slots={"language": "ar", "language_name": "العربية", "language_ok": True, "asked": {"consent": 1}},
                     language={"code": "en", "confidence": 0.99})
    assert _slots(await ActionSetLanguage().run(d, t, {})) == {}


async def test_language_menu_offers_every_language_in_its_own_script() -> None:
    d = CollectingDispatcher()
    await ActionLanguageMenu().run(d, make_tracker("taal", "change_language"), {})
    titles = [b["title"] for b in d.messages[0]["buttons"]]
    assert d.messages[0]["response"] == "utter_ask_language_choice"
    assert "العربية" in titles and "Nederlands" in titles and "ትግርኛ" in titles
    assert len(titles) == len(store().registry.supported) <= 10  # a WhatsApp list holds 10 rows


async def test_ages_and_gemeente_come_from_entities_and_no_sentence_is_stored() -> None:
    v = ValidateIntakeForm()
    d = CollectingDispatcher()
    t = make_tracker("3 and 8", "inform")
    assert await v.validate_children_ages([3, 8], d, t, {}) == {"children_ages": [3, 8]}
    assert await v.validate_children_ages([], d, t, {}) == {"children_ages": []}  # skipped
    assert await v.validate_children_ages("hmm what", d, t, {}) == {"children_ages": None}
    got = await v.validate_municipality("'s-Gravenhage", d, make_tracker("we live in den haag", "inform"), {})
    assert got == {"municipality": "'s-Gravenhage"}
    assert await v.validate_municipality("/deny", d, make_tracker("/deny", "deny"), {}) == {"municipality": None}


async def test_a_question_asked_twice_is_dropped_and_consent_is_then_asked_plainly() -> None:
    v = ValidateIntakeForm()
    d = CollectingDispatcher()
    slots = ["consent", "children_ages", "municipality"]
    t = make_tracker(slots={"language_ok": True, "asked": {"children_ages": 2}})
    assert await v.required_slots(slots, d, t, {}) == ["consent", "municipality"]
    events = await ActionAskConsent().run(d, make_tracker(slots={"asked": {"consent": 1}, "language_ok": True}), {})
    assert _keys(d) == ["utter_ask_consent_plain"] and _slots(events)["asked"] == {"consent": 2}


async def test_an_answer_that_is_neither_yes_nor_no_is_never_a_refusal() -> None:
    d = CollectingDispatcher()
    t = make_tracker("whatsapp in the afternoon", "inform")
    assert await ValidateIntakeForm().validate_consent(None, d, t, {}) == {"consent": None}
    assert await ValidateIntakeForm().extract_consent(d, make_tracker("whatsapp please", "inform", slots={"requested_slot": "consent"}), {}) == {}


async def test_the_welcome_and_the_privacy_question_come_in_one_turn() -> None:
    d = CollectingDispatcher()
    t = make_tracker("hello I have a question about my son", "greet", slots={"language": "en"})
    events = await ActionAskConsent().run(d, t, {})
    assert _keys(d) == ["utter_ask_language_ok", "utter_ask_consent"] and _slots(events)["language_ok"] is True
    d = CollectingDispatcher()
    events = await ActionAskConsent().run(d, make_tracker("salam", "greet", language={"code": "nl", "confidence": 0.98}), {})
    assert _keys(d) == ["utter_language_choice_short"] and "asked" not in _slots(events)


async def test_a_latin_greeting_offers_the_languages_that_type_it() -> None:
    d = CollectingDispatcher()
    await ActionAskConsent().run(d, make_tracker("salam!", "greet", language={"code": "nl", "confidence": 0.98}), {})
    titles = [b["title"] for b in d.messages[0]["buttons"]]
    assert titles[0] == "العربية" and "Nederlands" in titles and "Soomaali" in titles
    assert len(titles) <= 10  # one WhatsApp list
    d = CollectingDispatcher()
    await ActionAskConsent().run(d, make_tracker("selam", "greet", language={"code": "tr", "confidence": 0.9}), {})
    titles = [b["title"] for b in d.messages[0]["buttons"]]
    assert {"ትግርኛ", "አማርኛ", "Türkçe"} <= set(titles)
    d = CollectingDispatcher()
    await ActionAskConsent().run(d, make_tracker("hallo", "greet", language={"code": "nl", "confidence": 0.9}), {})
    titles = [b["title"] for b in d.messages[0]["buttons"]]
    assert "العربية" not in titles and titles[0] == "Nederlands"


async def test_a_short_answer_after_a_long_first_message_gets_no_language_choice() -> None:
    earlier = [{"event": "user", "text": "hello i need some advice about my daughter, she is 8 months"},
               {"event": "user", "text": "yes agree"}]
    d = CollectingDispatcher()
    t = make_tracker("yes agree", "affirm", slots={"language": "en"}, events=earlier)
    await ActionAskConsent().run(d, t, {})
    assert _keys(d) == ["utter_ask_language_ok", "utter_ask_consent"]  # the emergency came first


def test_a_topic_or_a_question_out_of_scope_interrupts_the_form() -> None:
    assert interruption_events(make_tracker("my son skips school", "topic_school"), "intake_form", False)
    assert interruption_events(make_tracker("and the toeslagen?", "out_of_scope"), "intake_form", True)
    assert interruption_events(make_tracker("4 and 9", "inform"), "intake_form", True) == []


async def test_a_polite_answer_is_an_answer_and_consent_is_confirmed_once() -> None:
    t = make_tracker("yes ok u can save it thanks", "thanks", slots={"requested_slot": "consent"})
    assert interruption_events(t, "intake_form", True) == []  # answered, and said thanks
    assert interruption_events(t, "intake_form", False)       # only thanks: the rules answer it
    d = CollectingDispatcher()
    again = make_tracker("yes ok u can save it thanks", "thanks",
                         slots={"asked": {"consent": 1}, "consent": "yes", "consent_at": "2026-12-03T01:00:00+00:00"})
    assert await ValidateIntakeForm().validate_consent("yes", d, again, {}) == {"consent": "yes"}
    assert d.messages == []  # the form ran twice in one turn: "thank you" was said once


async def test_an_unsure_no_that_says_yes_is_consent() -> None:
    v = ValidateIntakeForm()
    slots = {"asked": {"consent": 1}, "language": "prs"}
    d = CollectingDispatcher()
    t = make_tracker("بلی، معلومات مره ذخیره کنید مشکل نیست", "deny", slots=slots, confidence=0.52)
    assert (await v.validate_consent("no", d, t, {}))["consent"] == "yes"
    t = make_tracker("hmm weet niet", "deny", slots={"asked": {"consent": 1}, "language": "nl"}, confidence=0.45)
    assert (await v.validate_consent("no", CollectingDispatcher(), t, {}))["consent"] is None  # asked again
    t = make_tracker("nee", "deny", slots={"asked": {"consent": 1}, "language": "nl"}, confidence=0.99)
    assert (await v.validate_consent("no", CollectingDispatcher(), t, {}))["consent"] == "no"


async def test_topic_is_remembered_with_the_parents_words() -> None:
    events = await ActionRememberTopic().run(
        CollectingDispatcher(), make_tracker("my son skips school", "topic_school"), {})
    slots = _slots(events)
    assert slots["topic"] == "school" and slots["topics"] == ["school"]
    assert slots["concern_text"] == [{"text": "my son skips school", "lang": "en"}]


async def test_a_fear_of_youth_care_is_reassured_and_keeps_the_topic_waiting() -> None:
    d = CollectingDispatcher()
    t = make_tracker("ik ben bang dat jeugdzorg mijn kinderen afpakt", "topic_child_removal_fear",
                     slots={"topic": "school", "topics": ["school"]})
    slots = _slots(await ActionRememberTopic().run(d, t, {}))
    assert _keys(d) == ["utter_reassure_child_removal"]
    assert "topic" not in slots  # school still waits for its tips
    d = CollectingDispatcher()
    slots = _slots(await ActionRememberTopic().run(d, make_tracker("bang voor jeugdzorg", "topic_child_removal_fear"), {}))
    assert slots["topic"] == "child_removal_fear"  # nothing waited: the fear is the topic


async def test_tips_for_the_childrens_age_then_the_offer_of_a_person() -> None:
    d = CollectingDispatcher()
    t = make_tracker("ok", "affirm", slots={"topic": "school", "children_ages": [7]})
    slots = _slots(await ActionAfterIntake().run(d, t, {}))
    assert _keys(d) == ["utter_tips_intro", None, "utter_ask_want_person"]
    assert d.messages[0]["age_label"] and d.messages[1]["text"].startswith("• ")
    assert slots["topic"] is None and slots["offered_person"] is True and slots["intake_done"] is True
    assert slots["tips_given"] == ["school/4-12"] and slots["topics"] == ["school"]


async def test_the_same_tips_are_never_sent_twice() -> None:
    d = CollectingDispatcher()
    t = make_tracker("ok", "affirm", slots={"topic": "school", "children_ages": [7], "tips_given": ["school/4-12"]})
    await ActionAfterIntake().run(d, t, {})
    assert _keys(d) == ["utter_tips_already_given", "utter_ask_want_person"]


async def test_tips_fit_the_child_the_message_is_about() -> None:
    d = CollectingDispatcher()
    t = make_tracker("my 14 year old is always on tiktok", "topic_online_safety",
                     slots={"topic": "online_safety", "children_ages": [3, 14]})
    slots = _slots(await ActionAfterIntake().run(d, t, {}))
    assert slots["tips_given"] == ["online_safety/12-18"]


async def test_without_a_topic_the_menu_is_shown() -> None:
    d = CollectingDispatcher()
    await ActionAfterIntake().run(d, make_tracker("ok", "affirm"), {})
    assert _keys(d) == ["utter_topic_menu"]
    buttons = d.messages[0]["buttons"]
    assert len(buttons) == 10 and all(b["payload"].startswith("/topic_") for b in buttons[:9])
    assert buttons[9]["payload"] == '/inform{"menu_page":"2"}'


async def test_all_seventeen_topics_are_reachable_from_the_menu() -> None:
    from actions.intake import topic_menu

    pages = []
    for page in (1, 2):
        d = CollectingDispatcher()
        topic_menu(d, make_tracker(), page)
        assert len(d.messages[0]["buttons"]) <= 10
        pages += [b["payload"] for b in d.messages[0]["buttons"] if b["payload"].startswith("/topic_")]
    assert sorted(pages) == sorted(f"/topic_{t}" for t in store().registry.topics)


async def test_contact_form_asks_storage_consent_only_without_intake_consent() -> None:
    v = ValidateContactForm()
    d = CollectingDispatcher()
    base = ["person_type", "handoff_consent", "contact_channel", "contact_times"]
    assert await v.required_slots(base, d, make_tracker(slots={"consent": "yes"}), {}) == ["person_type", "contact_channel", "contact_times"]
    assert await v.required_slots(base, d, make_tracker(slots={"consent": "no"}), {}) == base
    assert await v.required_slots(base, d, make_tracker(slots={"handoff_consent": False}), {}) == []


async def test_a_refusal_typed_before_the_privacy_question_is_taken() -> None:
    from actions.intake import ActionAskConsent

    d = CollectingDispatcher()
    t = make_tracker("selam, bilgilerimi kaydetmeyin lutfen, sadece birkac soru soracagim", "topic_sexual_health",
                     slots={"language": "tr"}, language={"code": "tr", "confidence": 0.99})
    events = await ActionAskConsent().run(d, t, {})
    assert {"event": "slot", "name": "consent", "value": "no", "timestamp": None} in events
    assert "utter_consent_no" in [m.get("response") for m in d.messages]
    assert "utter_ask_consent" not in [m.get("response") for m in d.messages]
    # without such words the privacy question is asked as always
    d = CollectingDispatcher()
    events = await ActionAskConsent().run(d, make_tracker("selam, birkac soru soracagim", "greet", slots={"language": "tr"}), {})
    assert not any(e.get("name") == "consent" for e in events)


async def test_consent_taken_back_before_anything_was_passed_on() -> None:
    from actions.intake import ValidateIntakeForm

    slots = {"language": "nl", "consent": "yes", "requested_slot": "person_type"}
    t = make_tracker("hmm toch liever niet bewaren", "deny", slots=slots, language={"code": "nl", "confidence": 0.9})
    d = CollectingDispatcher()
    events = await ValidateContactForm().run(d, t, {"forms": {"contact_form": {"required_slots": ["person_type"]}}})
    got = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert got["consent"] == "no" and got["handoff_consent"] is False and got["requested_slot"] is None
    assert [m["response"] for m in d.messages] == ["utter_consent_no"]
    # after a referral was stored it is a deletion, not this; and "nee" alone is not it
    for t in (make_tracker("toch liever niet bewaren", "deny", slots={**slots, "referral_reference": "WW-1"}),
              make_tracker("nee", "deny", slots=slots)):
        d = CollectingDispatcher()
        events = await ValidateIntakeForm().run(d, t, {"forms": {"intake_form": {"required_slots": []}}})
        assert not any(e.get("name") == "consent" and e.get("value") == "no" for e in events)


def test_a_question_asked_twice_in_one_turn_counts_once() -> None:
    from actions.intake import asked_this_turn

    def slot(v):
        return {"event": "slot", "name": "asked", "value": v}

    user = {"event": "user", "text": "Hi, is this the gemeente?"}
    again = make_tracker(slots={"asked": {"consent": 1}}, events=[user, slot({"consent": 1})])
    assert asked_this_turn(again, "consent")
    next_turn = make_tracker(slots={"asked": {"consent": 1}}, events=[slot({"consent": 1}), user])
    assert not asked_this_turn(next_turn, "consent")


async def test_an_unsure_delete_typed_at_the_privacy_question_answers_it() -> None:
    from actions.privacy import ActionAskDelete

    keep = make_tracker("ok, yes you can keep my info", "delete_my_data", confidence=0.49,
                        slots={"requested_slot": "consent"}, active_loop="intake_form")
    d = CollectingDispatcher()
    events = await ActionAskDelete().run(d, keep, {})
    assert {"event": "slot", "name": "consent", "value": "yes", "timestamp": None} in events
    assert [m["response"] for m in d.messages] == ["utter_consent_yes"]
    # a sure deletion, or one typed outside the privacy question, asks to confirm the deletion
    for t in (make_tracker("delete all my data please", "delete_my_data", confidence=0.97,
                           slots={"requested_slot": "consent"}, active_loop="intake_form"),
              make_tracker("ok, yes you can keep my info", "delete_my_data", confidence=0.49,
                           slots={"requested_slot": "municipality"}, active_loop="intake_form")):
        d = CollectingDispatcher()
        events = await ActionAskDelete().run(d, t, {})
        assert {"event": "slot", "name": "delete_pending", "value": True, "timestamp": None} in events


async def test_a_time_of_day_typed_at_another_contact_question_is_the_time() -> None:
    v = ValidateContactForm()
    d = CollectingDispatcher()
    t = make_tracker("ጠዋት ጠዋት ብቻ", "inform", slots={"language": "am", "requested_slot": "person_type"},
                     language={"code": "am", "confidence": 0.99})
    assert (await v.extract_contact_times(d, t, {}))["contact_times"]["nl"] == "ochtend"
    # also when it answers the open question too ("a woman, mornings"; "phone, in the morning after school")
    t = make_tracker("vrouw, ochtend", "inform", slots={"language": "nl", "requested_slot": "contact_gender"})
    assert (await v.extract_contact_times(d, t, {}))["contact_times"]["nl"] == "ochtend"
    t = make_tracker("تليفون الصبح بعد ما اوصل الواد المدرسة", "inform", slots={"language": "ar", "requested_slot": "contact_channel"})
    assert (await v.extract_contact_times(d, t, {}))["contact_times"]["nl"] == "ochtend"
    # not a long story, nor when the time is known
    t = make_tracker("mijn man werkt de hele ochtend en dan is het druk met de kinderen thuis, snapt u",
                     "inform", slots={"language": "nl", "requested_slot": "contact_gender"})
    assert await v.extract_contact_times(d, t, {}) == {}
    t = make_tracker("ochtend", "inform", slots={"language": "nl", "requested_slot": "person_type",
                                                  "contact_times": {"nl": "middag", "text": "middag"}})
    assert await v.extract_contact_times(d, t, {}) == {}


async def test_a_typed_answer_does_not_override_what_the_extractor_read() -> None:
    t = make_tracker("klantmanager یا کس دیگه، فرق نمی‌کنه", "inform", slots={"language": "prs", "requested_slot": "person_type"},
                     entities=[{"entity": "person_type", "value": "either"}])
    assert await ValidateContactForm().extract_person_type(CollectingDispatcher(), t, {}) == {}
    t = make_tracker("klantmanager graag", "inform", slots={"language": "nl", "requested_slot": "person_type"})
    assert await ValidateContactForm().extract_person_type(CollectingDispatcher(), t, {}) == {"person_type": "klantmanager"}


async def test_thanks_at_an_optional_contact_question_ends_the_questions() -> None:
    v = ValidateContactForm()
    d = CollectingDispatcher()
    base = ["person_type", "handoff_consent", "contact_channel", "contact_times", "contact_gender", "interpreter"]
    known = {"consent": "yes", "person_type": "sleutelpersoon", "contact_channel": "whatsapp",
             "contact_times": {"nl": "middag", "text": "ድሕሪ ቀትሪ"}, "requested_slot": "interpreter"}
    closing = make_tracker("ብጣዕሚ የቐንየለይ 🙏", "thanks", slots=known)
    assert await v.required_slots(base, d, closing, {}) == ["person_type", "contact_channel", "contact_times"]
    # not while the channel is asked, and not without a person or a consent
    asked_channel = make_tracker("thanks", "thanks", slots={**known, "contact_channel": None, "requested_slot": "contact_channel"})
    assert "contact_channel" in await v.required_slots(base, d, asked_channel, {})
    no_consent = make_tracker("thanks", "thanks", slots={**known, "consent": "no"})
    assert "interpreter" in await v.required_slots(base, d, no_consent, {})
    still = make_tracker("ok", "affirm", slots=known)
    assert "interpreter" in await v.required_slots(base, d, still, {})


async def test_referral_is_stored_with_dutch_summary(db) -> None:
    d = CollectingDispatcher()
    slots = {
        "language": "ar", "consent": "yes", "consent_at": "2026-11-29T09:00:00+00:00",
        "children_ages": [4, 9], "municipality": "Utrecht", "topics": ["school"],
        "concern_text": [{"text": "ابني ما بدو يروح عالمدرسة", "lang": "ar"}],
        "person_type": "sleutelpersoon", "contact_channel": "whatsapp", "contact_times": {"nl": "ochtend", "text": "الصبح"},
        "contact_gender": "woman", "contact_setting": "individual", "interpreter": False,
    }
    events = await ActionCreateReferral().run(d, make_tracker("لا", "deny", slots=slots, sender_id="p-ar"), {})
    assert _keys(d) == ["utter_referral_done"]
    ref = _slots(events)["referral_reference"]
    out = service.get_referral(bootstrap.get_session_factory(), ref, actor="test")
    assert out.children_ages == [4, 9] and out.topics == ["school"] and out.language == "ar"
    assert out.urgency == "normal" and out.contact_gender == "woman" and out.interpreter_needed is False
    assert "4" in out.summary_nl and "9" in out.summary_nl and "ابني" in out.summary_nl
    assert out.contact_times == "ochtend" and out.contact_times_text == "الصبح" and "الصبح" in out.summary_nl


async def test_unsaid_facts_read_niet_gezegd_never_a_default(db) -> None:
    d = CollectingDispatcher()
    slots = {"language": "en", "consent": "yes", "consent_at": "2026-11-29T09:00:00+00:00"}
    events = await ActionCreateReferral().run(d, make_tracker("no", "deny", slots=slots, sender_id="p-min"), {})
    out = service.get_referral(bootstrap.get_session_factory(), _slots(events)["referral_reference"], actor="test")
    assert out.person_type == "not_said" and out.interpreter_needed is None and out.contact_gender is None
    assert "Gevraagd: niet gezegd" in out.summary_nl and "Gemeente: niet gezegd" in out.summary_nl
    assert "beide" not in out.summary_nl


async def test_no_consent_stores_nothing(db) -> None:
    d = CollectingDispatcher()
    t = make_tracker("nee", "deny", slots={"consent": "no", "handoff_consent": False, "person_type": "either"}, sender_id="p-x")
    await ActionCreateReferral().run(d, t, {})
    assert _keys(d) == ["utter_referral_not_stored"]
    assert service.list_referrals(bootstrap.get_session_factory(), actor="test") == []


async def test_urgent_referral_after_the_numbers(db) -> None:
    d = CollectingDispatcher()
    t = make_tracker("ሰብኣየይ ይወቕዓኒ", "urgent_help", slots={"language": "ti"},
                     safety={"category": "violence_at_home", "keyword": "ይወቕዓኒ", "lang": "ti"}, sender_id="p-ti")
    events = await ActionUrgentReferral().run(d, t, {})
    assert _keys(d) == ["utter_urgent_referral"]  # the numbers came before, from a static response
    out = service.get_referral(bootstrap.get_session_factory(), _slots(events)["referral_reference"], actor="test")
    assert out.urgency == "urgent" and out.urgency_reason == "violence_at_home" and out.language == "ti"
    assert out.concern_text[0].text == "ሰብኣየይ ይወቕዓኒ"
    assert "geweld in huis" in out.summary_nl and "ሰብኣየይ ይወቕዓኒ" in out.summary_nl


async def test_contact_wishes_after_an_urgent_referral_reach_it(db) -> None:
    events = await ActionUrgentReferral().run(
        CollectingDispatcher(), make_tracker("he pushed me against the wall", "urgent_help", sender_id="p-wish",
                                             safety={"category": "violence_at_home"}), {})
    reference = _slots(events)["referral_reference"]
    t = make_tracker("please only a woman, and only whatsapp, never call me", "inform", sender_id="p-wish",
                     slots={"referral_reference": reference, "urgent_reference": reference, "contact_channel": "whatsapp", "contact_gender": "woman",
                            "requested_slot": "person_type"})
    await ValidateContactForm().run(CollectingDispatcher(), t, {"forms": {"contact_form": {"required_slots": []}}})
    out = service.get_referral(bootstrap.get_session_factory(), reference, actor="test")
    assert (out.urgency, out.contact_channel, out.contact_gender) == ("urgent", "whatsapp", "woman")
    assert out.person_type == "not_said"  # not said yet: never invented
    assert [c.text for c in out.concern_text] == ["he pushed me against the wall"]  # the danger sentence stays
    assert "WhatsApp" in out.summary_nl or "whatsapp" in out.summary_nl.lower()


async def test_a_request_for_a_person_after_an_urgent_referral_joins_it(db) -> None:
    events = await ActionUrgentReferral().run(
        CollectingDispatcher(), make_tracker("mijn baby wordt niet wakker en is heel koud", "urgent_help", sender_id="p-join",
                                             slots={"language": "nl"}, safety={"category": "medical_emergency"}), {})
    reference = _slots(events)["urgent_reference"]
    d = CollectingDispatcher()
    t = make_tracker("een man is prima", "inform", sender_id="p-join",   # no consent to store was ever given
                     slots={"language": "nl", "urgent_reference": reference, "referral_reference": reference,
                            "person_type": "klantmanager", "contact_gender": "man", "topics": ["wellbeing"]})
    events = await ActionCreateReferral().run(d, t, {})
    assert _keys(d) == ["utter_referral_done_urgent"] and _slots(events)["referral_reference"] == reference  # "as soon as possible"
    [stored] = [r for r in service.list_referrals(bootstrap.get_session_factory(), actor="test") if r.conversation_id == "p-join"]
    assert (stored.urgency, stored.person_type, stored.contact_gender, stored.topics) == ("urgent", "klantmanager", "man", ["wellbeing"])


async def test_urgent_referral_says_so_when_the_database_is_down(tmp_path) -> None:
    from wegwijs.settings import Settings

    bootstrap.bootstrap({"settings": Settings(database_url="postgresql://nobody@127.0.0.1:1/none",
                                              spool_dir=tmp_path / "spool")})
    try:
        d = CollectingDispatcher()
        await ActionUrgentReferral().run(d, make_tracker("help", "urgent_help"), {})
        assert _keys(d) == ["utter_referral_failed"]
        assert len(list((tmp_path / "spool").glob("urgent-*.json"))) == 1  # kept: tests/actions/test_referral_spool.py
    finally:
        bootstrap.reset()


async def test_delete_asks_first_then_removes_referrals_and_keeps_language(db) -> None:
    await ActionUrgentReferral().run(CollectingDispatcher(), make_tracker("help", "urgent_help", sender_id="p-del"), {})
    d = CollectingDispatcher()
    events = await ActionAskDelete().run(d, make_tracker("delete", "delete_my_data", slots={"referral_reference": "WW-ABCDEF"}), {})
    assert _keys(d) == ["utter_ask_delete_confirm_referral"] and _slots(events)["delete_pending"] is True
    d = CollectingDispatcher()
    kept = await ActionDeleteCancelled().run(d, make_tracker("no", "deny", slots={"intake_done": True}), {})
    assert _keys(d) == ["utter_delete_cancelled"] and _slots(kept) == {"delete_pending": False}
    d = CollectingDispatcher()
    events = await ActionDeleteMyData().run(
        d, make_tracker("yes", "affirm", slots={"language": "nl", "language_name": "Nederlands"}, sender_id="p-del"), {})
    assert _keys(d) == ["utter_data_deleted"]
    assert events[0]["event"] == "reset_slots" and _slots(events) == {"language": "nl", "language_name": "Nederlands"}
    assert service.list_referrals(bootstrap.get_session_factory(), actor="test") == []


@pytest.mark.parametrize("count, key, offered", [(0, "utter_not_understood", False), (1, "utter_offer_human_after_fallback", True)])
async def test_second_misunderstanding_offers_a_person(count, key, offered) -> None:
    d = CollectingDispatcher()
    events = await ActionFallback().run(d, make_tracker("xyz", "nlu_fallback", slots={"fallback_count": float(count)}), {})
    assert _keys(d) == [key] and _slots(events)["offered_person"] is offered


def _ranked(*pairs: tuple[str, float]) -> list[dict]:
    return [{"name": "nlu_fallback", "confidence": 0.3}] + [{"name": n, "confidence": c} for n, c in pairs]


@pytest.mark.parametrize(
    "ranking, expected",
    [
        (_ranked(("topic_behaviour", 0.28), ("topic_wellbeing", 0.25), ("greet", 0.1)), ["behaviour", "wellbeing"]),
        (_ranked(("topic_behaviour", 0.45), ("topic_wellbeing", 0.10)), []),  # not close
        (_ranked(("topic_behaviour", 0.28), ("greet", 0.26)), []),  # not two topics
        (_ranked(("topic_school", 0.08), ("topic_money", 0.07)), []),  # too unsure
        (_ranked(("topic_school", 0.3)), []),
    ],
)
def test_close_topics(ranking, expected) -> None:
    from actions.fallback import close_topics

    assert close_topics({"intent_ranking": ranking}) == expected


async def test_two_close_topics_are_offered_as_buttons_without_counting_a_misunderstanding() -> None:
    d = CollectingDispatcher()
    t = make_tracker("hij luistert niet en slaapt slecht", "nlu_fallback", slots={"fallback_count": 1.0, "language": "nl"})
    t.latest_message["intent_ranking"] = _ranked(("topic_behaviour", 0.28), ("topic_wellbeing", 0.24))
    events = await ActionFallback().run(d, t, {})
    assert _keys(d) == ["utter_did_you_mean"]
    assert [b["payload"] for b in d.messages[0]["buttons"]] == ["/topic_behaviour", "/topic_wellbeing"]
    titles = yaml.safe_load((REPO / "languages" / "nl" / "topics.yml").read_text(encoding="utf-8"))["topics"]
    assert [b["title"] for b in d.messages[0]["buttons"]] == [titles["behaviour"], titles["wellbeing"]]
    assert "fallback_count" not in _slots(events) and _slots(events)["offered_person"] is False


@pytest.mark.parametrize(
    "slot, typed, expected",
    [
        ("contact_gender", "امرأة", "woman"),
        ("contact_gender", "liever een vrouw", "woman"),
        ("contact_setting", "لوحدي", "individual"),
        ("contact_channel", "واتساب", "whatsapp"),
        ("contact_channel", "bel me maar", "phone"),
        ("person_type", "maakt niet uit", "either"),
    ],
)
async def test_typed_answers_to_the_open_question_become_button_values(slot, typed, expected) -> None:
    v = ValidateContactForm()
    t = make_tracker(typed, "inform", slots={"requested_slot": slot, "language": "ar" if typed[0] > "z" else "nl"})
    got = await getattr(v, f"extract_{slot}")(CollectingDispatcher(), t, {})
    assert got == {slot: expected}


async def test_an_unrelated_sentence_is_never_stored_as_an_answer() -> None:
    v = ValidateContactForm()
    t = make_tracker("via mijn buurvrouw", "inform", slots={"requested_slot": "contact_channel", "language": "nl"})
    assert await v.extract_contact_channel(CollectingDispatcher(), t, {}) == {}
    assert await v.validate_contact_channel("via mijn buurvrouw", CollectingDispatcher(), t, {}) == {"contact_channel": None}


async def test_typed_agreement_to_privacy_counts_as_consent() -> None:
    d = CollectingDispatcher()
    t = make_tracker("ik ga akkoord", "inform", slots={"language": "nl", "requested_slot": "consent", "asked": {"consent": 1}})
    assert await ValidateIntakeForm().extract_consent(d, t, {}) == {"consent": "yes"}
    got = await ValidateIntakeForm().validate_consent("yes", d, t, {})
    assert got["consent"] == "yes" and got["consent_at"]


@pytest.mark.parametrize("answer", ["yes", "no"])
async def test_no_consent_before_the_privacy_text_was_shown(answer) -> None:
    """After a one-word first message only the choice of languages is shown: the "ja"
    that follows (a new-user test: "ja", "نعم", "haa", "እወ") is no answer to a privacy text
    the parent never saw."""
    d = CollectingDispatcher()
    t = make_tracker("ja", "affirm", slots={"language": "nl", "requested_slot": "consent", "language_ok": True})
    assert await ValidateIntakeForm().validate_consent(answer, d, t, {}) == {"consent": None}
    assert d.messages == []


async def test_handoff_consent_records_its_time() -> None:
    got = await ValidateContactForm().validate_handoff_consent(True, CollectingDispatcher(), make_tracker("ja", "affirm"), {})
    assert got["handoff_consent"] is True and got["consent_at"]
    got = await ValidateContactForm().validate_handoff_consent(False, CollectingDispatcher(), make_tracker("nee", "deny"), {})
    assert got == {"handoff_consent": False}
    got = await ValidateContactForm().validate_handoff_consent(None, CollectingDispatcher(), make_tracker("whatsapp", "inform"), {})
    assert got == {"handoff_consent": None}
    no_interpreter = make_tracker("no interpreter", "deny", entities=[{"entity": "interpreter", "value": False}])
    got = await ValidateContactForm().validate_handoff_consent(False, CollectingDispatcher(), no_interpreter, {})
    assert got == {"handoff_consent": None}  # a no about a contact wish is not a refusal to pass it on


async def test_misunderstood_words_are_kept_for_the_person() -> None:
    events = await ActionFallback().run(CollectingDispatcher(), make_tracker("mijn zoon heeft problemen op school", "nlu_fallback"), {})
    assert _slots(events)["concern_text"] == [{"text": "mijn zoon heeft problemen op school", "lang": "en"}]


async def test_a_language_choice_entity_chooses_that_language() -> None:
    t = make_tracker("العربية", "inform", slots={"language": "nl", "language_name": "Nederlands"},
                     entities=[{"entity": "language_choice", "value": "ar"}], language={"code": "nl", "confidence": 0.4})
    assert _slots(await ActionSetLanguage().run(CollectingDispatcher(), t, {}))["language"] == "ar"


async def test_welcome_asks_to_confirm_a_supported_language() -> None:
    from actions.language import ActionAskLanguageOk

    d = CollectingDispatcher()
    t = make_tracker("مرحبا كيف حالك اليوم", "greet", slots={"language": "ar"}, language={"code": "ar", "confidence": 0.99})
    await ActionAskLanguageOk().run(d, t, {})
    assert _keys(d) == ["utter_ask_language_ok"]
    titles = [b["title"] for b in d.messages[0]["buttons"]]
    assert titles[:3] == ["العربية", "Nederlands", "English"]  # a choice of languages, never yes/no


@pytest.mark.parametrize("text, options", [("سلام", ["ar", "fa", "prs", "ps"]), ("ሰላም", ["ti", "am"]), ("hoi", ["nl", "en", "tr", "so"]),
                                           ("salam", ["ar", "fa", "prs", "so", "ps", "nl", "en", "tr"])])
async def test_a_first_message_too_short_to_tell_gets_the_languages_of_its_script(text, options) -> None:
    from actions.language import ActionAskLanguageOk

    d = CollectingDispatcher()
    await ActionAskLanguageOk().run(d, make_tracker(text, "greet", language={"code": "nl", "confidence": 0.98}), {})
    assert _keys(d) == ["utter_language_choice_short"]
    codes = [b["payload"].split('"')[3] for b in d.messages[0]["buttons"] if "language_choice" in b["payload"]]
    assert codes == options
    # the question itself in each of the first languages offered, not in one guess ("سلام" is not only Pashto)
    from wegwijs.content.store import content_store

    lines = d.messages[0]["text"].split("\n")
    expected = list(dict.fromkeys(content_store().pack(c).responses["utter_language_choice_short"].text for c in options))[:4]
    assert lines == expected and len(lines) >= 2


async def test_persian_and_dari_are_offered_together() -> None:
    from actions.language import ActionAskLanguageOk

    d = CollectingDispatcher()
    t = make_tracker("پسرم به مدرسه نمی رود چکار کنم", "topic_school", slots={"language": "prs"}, language={"code": "prs", "confidence": 0.9})
    await ActionAskLanguageOk().run(d, t, {})
    titles = [b["title"] for b in d.messages[0]["buttons"]]
    assert titles[:2] == ["دری", "فارسی"]


async def test_an_unsupported_language_gets_the_language_menu() -> None:
    from actions.language import ActionAskLanguageOk

    d = CollectingDispatcher()
    await ActionAskLanguageOk().run(d, make_tracker("привет как дела", "greet", language={"code": "ru", "confidence": 0.97}), {})
    assert _keys(d) == ["utter_ask_language_choice"] and len(d.messages[0]["buttons"]) == len(store().registry.supported)


@pytest.mark.parametrize(
    "old, new, asked, expected",
    [
        ([4, 8, 12], [12], False, [4, 8, 12]),  # "my 12-year-old fights at school"
        ([4, 8, 12], [15], False, [4, 8, 12, 15]),  # a child not mentioned before
        ([4, 8, 12], [5, 9], True, [5, 9]),  # the answer to the ages question replaces
        (None, [3], False, [3]),
        ([2, 5], [], False, [2, 5]),
    ],
)
def test_merge_ages(old, new, asked, expected) -> None:
    from actions.intake import merge_ages

    assert merge_ages(old, new, asked) == expected


async def test_a_later_mention_of_one_child_keeps_the_ages() -> None:
    from actions.intake import ValidateSlotMappings

    t = make_tracker("mijn zoon van 12 vecht op school", "topic_behaviour", slots={"children_ages": [12]})
    t.events = [
        {"event": "slot", "name": "children_ages", "value": [4, 8, 12]},
        {"event": "user", "text": "mijn zoon van 12 vecht op school"},
        {"event": "slot", "name": "children_ages", "value": [12]},
    ]
    domain = {"slots": {"children_ages": {"type": "any", "mappings": [
        {"type": "from_entity", "entity": "children_ages"},
        {"type": "from_entity", "entity": "numbers", "conditions": [{"active_loop": "intake_form"}]}]}}, "forms": {}}
    events = await ValidateSlotMappings().run(CollectingDispatcher(), t, domain)
    assert [e["value"] for e in events if e.get("name") == "children_ages"] == [[4, 8, 12]]


@pytest.mark.parametrize("loop, follow", [(None, "action_listen"), ("contact_form", "contact_form")])
async def test_fallback_always_ends_the_turn(loop, follow) -> None:
    """As RulePolicy's core fallback, action_fallback was predicted again and again (the
    circuit breaker stopped the turn after ten "sorry" messages): it must say what comes next."""
    t = make_tracker("xyz", "request_human")
    if loop:
        t.active_loop = {"name": loop}
    events = await ActionFallback().run(CollectingDispatcher(), t, {})
    assert events[-1] == {"event": "followup", "name": follow, "timestamp": None}


def _after_refusal(text: str, intent: str, bot_said: str) -> Any:
    t = make_tracker(text, intent, slots={"consent": "no", "language": "nl", "requested_slot": "municipality"})
    t.events = [
        {"event": "user", "text": "nee liever niet"},
        {"event": "bot", "text": "...", "metadata": {"utter_action": bot_said}},
        {"event": "bot", "text": "...", "metadata": {"utter_action": "utter_ask_municipality"}},
        {"event": "user", "text": text},
    ]
    return t


@pytest.mark.parametrize("intent, bot_said, changed", [
    ("affirm", "utter_consent_no", True),        # "ok toch wel, ja is goed" right after the refusal
    ("affirm", "utter_ask_children_ages", False),  # a later yes answers something else
    ("deny", "utter_consent_no", False),
])
async def test_a_yes_right_after_a_refusal_gives_consent(intent, bot_said, changed) -> None:
    from actions.intake import consent_reconsidered

    d = CollectingDispatcher()
    events = consent_reconsidered(d, _after_refusal("ok toch wel, ja is goed", intent, bot_said))
    assert (_slots(events).get("consent") == "yes") is changed
    assert (_keys(d) == ["utter_consent_yes"]) is changed


async def test_another_fact_is_not_a_misunderstanding() -> None:
    from actions.intake import ActionNotUnderstood

    d = CollectingDispatcher()
    t = make_tracker("we wonen in Den Bosch", "inform", entities=[{"entity": "municipality", "value": "'s-Hertogenbosch"}])
    assert await ActionNotUnderstood().run(d, t, {}) == [] and _keys(d) == ["utter_fact_noted"]
    # "2 and 5" at the privacy question: the ages, early (bot/domain.yml maps them), not "sorry"
    d = CollectingDispatcher()
    t = make_tracker("2 and 5", "inform", entities=[{"entity": "numbers", "value": [2, 5]}], slots={"requested_slot": "consent"})
    assert await ActionNotUnderstood().run(d, t, {}) == [] and _keys(d) == ["utter_fact_noted"]
    d = CollectingDispatcher()
    t = make_tracker("2 and 5", "inform", entities=[{"entity": "numbers", "value": [2, 5]}], slots={"requested_slot": "contact_times"})
    await ActionNotUnderstood().run(d, t, {})
    assert _keys(d) == ["utter_answer_not_understood"]
    d = CollectingDispatcher()
    events = await ActionNotUnderstood().run(d, make_tracker("blabla", "inform"), {})
    assert _keys(d) == ["utter_answer_not_understood"] and "concern_text" in _slots(events)


async def test_an_answer_to_when_that_is_about_something_else_is_not_kept_as_times() -> None:
    v = ValidateContactForm()
    slots = {"requested_slot": "contact_times", "language": "en"}
    got = await v.extract_contact_times(CollectingDispatcher(), make_tracker("when the baby naps", "inform", slots=slots), {})
    assert got == {"contact_times": {"nl": None, "text": "when the baby naps"}}  # kept in the parent's words
    got = await v.extract_contact_times(CollectingDispatcher(), make_tracker("alone, not in a group", "inform", slots=slots), {})
    assert got == {}  # an answer about the setting, not the times
    with_fact = make_tracker("no, phone is fine", "inform", slots=slots, entities=[{"entity": "contact_channel", "value": "phone"}])
    assert await v.extract_contact_times(CollectingDispatcher(), with_fact, {}) == {}


async def test_a_short_first_message_in_another_script_is_answered_in_that_script() -> None:
    d = CollectingDispatcher()
    t = make_tracker("የቐንየለይ", "thanks", slots={"language": None}, language={"code": "am", "confidence": 0.6})
    assert _slots(await ActionSetLanguage().run(d, t, {}))["language"] == "am"  # the detector's, of the script's
    t = make_tracker("የቐንየለይ", "thanks", slots={"language": None}, language={"code": "en", "confidence": 0.6})
    assert _slots(await ActionSetLanguage().run(d, t, {}))["language"] == "ti"  # the script's first language
    t = make_tracker("salam", "greet", slots={"language": None}, language={"code": "nl", "confidence": 0.98})
    assert _slots(await ActionSetLanguage().run(d, t, {}))["language"] == "en"  # several languages type it


async def test_a_one_word_wish_typed_at_another_contact_question_is_kept() -> None:
    v = ValidateContactForm()
    d = CollectingDispatcher()
    t = make_tracker("ሰበይቲ", "nlu_fallback", slots={"language": "ti", "requested_slot": "person_type"})
    assert await v.extract_contact_gender(d, t, {}) == {"contact_gender": "woman"}
    assert await v.extract_contact_setting(d, t, {}) == {}
    # "doesn't matter" answers the open question, not the other one; a known wish stays
    t = make_tracker("maakt niet uit", "inform", slots={"language": "nl", "requested_slot": "person_type"})
    assert await v.extract_contact_gender(d, t, {}) == {}
    t = make_tracker("man", "inform", slots={"language": "nl", "requested_slot": "contact_channel", "contact_gender": "woman"})
    assert await v.extract_contact_gender(d, t, {}) == {}


async def test_tolk_nee_at_the_group_question_is_not_no_preference() -> None:
    v = ValidateContactForm()
    t = make_tracker("tolk nee", "deny", slots={"language": "nl", "requested_slot": "contact_setting", "asked": {"contact_setting": 1}},
                     entities=[{"entity": "interpreter", "value": False}])
    out = await v.validate_contact_setting("any", CollectingDispatcher(), t, {})
    assert out["contact_setting"] is None and out["asked"]["contact_setting"] == 2
    t = make_tracker("nee", "deny", slots={"language": "nl", "requested_slot": "contact_setting"})
    assert await v.validate_contact_setting("any", CollectingDispatcher(), t, {}) == {"contact_setting": "any"}


async def test_an_emoji_first_message_gets_every_language() -> None:
    from actions.language import ActionAskLanguageOk

    d = CollectingDispatcher()
    await ActionAskLanguageOk().run(d, make_tracker("😢", "nlu_fallback", language={"code": "en", "confidence": 0.3}), {})
    assert _keys(d) == ["utter_ask_language_choice"]
    assert len([b for b in d.messages[0]["buttons"] if "language_choice" in b["payload"]]) == 10


async def test_a_language_named_with_an_interpreter_does_not_switch_the_conversation() -> None:
    t = make_tracker("yes arabic interpreter", "inform", slots={"language": "en", "language_name": "English"},
                     entities=[{"entity": "language_choice", "value": "ar"}, {"entity": "interpreter", "value": True}],
                     language={"code": "en", "confidence": 0.9})
    assert "language" not in _slots(await ActionSetLanguage().run(CollectingDispatcher(), t, {}))


async def test_the_answer_to_a_question_asked_the_second_time_is_still_read() -> None:
    from actions.intake import still_asked

    v = ValidateContactForm()
    slots = {"language": "en", "requested_slot": "contact_setting", "person_type": "klantmanager",
             "consent": "yes", "asked": {"contact_setting": 2}}
    domain = {"forms": {"contact_form": {"required_slots": ["person_type", "contact_setting", "interpreter"]}}}
    events = await v.run(CollectingDispatcher(), make_tracker("alone", "inform", slots=slots), domain)
    assert _slots(events)["contact_setting"] == "individual"
    # not answered the second time: no value, and the question is left when the next one is chosen
    t = make_tracker("hmm", "nlu_fallback", slots=slots)
    assert "contact_setting" not in _slots(await v.run(CollectingDispatcher(), t, domain))
    assert still_asked(t, ["person_type", "contact_setting", "interpreter"]) == ["person_type", "interpreter"]


@pytest.mark.parametrize("text, intent, kept", [
    ("yes", "affirm", False), ("ok thanks", "thanks", False), ("alone", "inform", False), ("a woman", "inform", False),
    ("pills", "urgent_help", True), ("school problems", "topic_school", True),
    ("my son does not sleep and cries every night", "affirm", True), ("blabla", "inform", True),
])
async def test_a_bare_answer_is_not_kept_as_the_parents_concern(text, intent, kept) -> None:
    from actions.common import remember_concern

    concern = remember_concern(make_tracker(text, intent, slots={"language": "en"}))
    assert ([c["text"] for c in concern] == [text]) is kept


async def test_a_sign_of_trouble_at_home_gets_the_safety_question_once() -> None:
    from actions.fallback import ActionFallback
    from actions.language import ActionSetLanguage

    events = await ActionSetLanguage().run(CollectingDispatcher(), make_tracker(
        "my husband very angry all the time", "topic_parenting_confidence",
        extra={"home_check": {"phrase": "husband very angry", "lang": "en"}}), {})
    assert _slots(events)["home_check"] == "due"
    d = CollectingDispatcher()
    t = make_tracker("ok", "affirm", slots={"topic": "school", "children_ages": [7], "home_check": "due"})
    slots = _slots(await ActionAfterIntake().run(d, t, {}))
    assert _keys(d) == ["utter_home_safety_check", "utter_tips_intro", None, "utter_ask_want_person"]
    assert slots["home_check"] == "done"
    d = CollectingDispatcher()
    await ActionAfterIntake().run(d, make_tracker("ok", "affirm", slots={"topic": "school", "home_check": "done"}), {})
    assert "utter_home_safety_check" not in _keys(d)
    d = CollectingDispatcher()
    await ActionFallback().run(d, make_tracker("hmm he is like that", "nlu_fallback", slots={"home_check": "due"}), {})
    assert _keys(d)[-1] == "utter_home_safety_check"


def test_a_one_word_answer_is_never_also_a_topic() -> None:
    t = make_tracker("groep", "topic_school", confidence=0.85, slots={"requested_slot": "contact_setting"})
    assert interruption_events(t, "contact_form", True) == []          # it answered "alone or in a group?"
    assert interruption_events(t, "contact_form", False)               # not an answer: the topic interrupts
    long = make_tracker("groep, en mijn zoon heeft problemen op school", "topic_school", confidence=0.85)
    assert interruption_events(long, "contact_form", True)             # an answer and a topic


async def test_the_contact_questions_ask_the_gemeente_the_intake_did_not_get() -> None:
    from actions.handoff import ValidateContactForm

    form = ValidateContactForm()
    slots = ["person_type", "handoff_consent", "municipality", "contact_channel"]
    t = make_tracker("klantmanager", "request_human", slots={"consent": "yes", "person_type": "klantmanager"})
    assert "municipality" in await form.required_slots(slots, CollectingDispatcher(), t, {})
    asked_twice = make_tracker("x", "inform", slots={"consent": "yes", "asked": {"municipality": 2}})
    assert "municipality" not in await form.required_slots(slots, CollectingDispatcher(), asked_twice, {})
    assert await form.validate_municipality("Tilburg", CollectingDispatcher(), t, {}) == {"municipality": "Tilburg"}


def _outbox_due(reference: str) -> list:
    from wegwijs.db.models import OutboxMessage
    from wegwijs.referrals import repository

    with bootstrap.get_session_factory()() as session:
        row = repository.get_by_reference(session=session, reference=reference)
        if row is None:
            return []
        return [m.next_attempt_at if m.next_attempt_at.tzinfo else m.next_attempt_at.replace(tzinfo=timezone.utc)
                for m in session.query(OutboxMessage).filter_by(referral_id=row.id)]


CONTACT_FORM = {"forms": {"contact_form": {"required_slots": ["person_type", "contact_channel", "contact_times"]}}}


async def test_a_parent_who_leaves_at_the_optional_questions_is_still_passed_on(db) -> None:
    base = {"language": "en", "consent": "yes", "consent_at": "2026-12-06T09:00:00+00:00",
            "municipality": "Utrecht", "children_ages": [5], "topics": ["sleep"]}
    # the person is said: the referral is stored at once, held until the questions end
    t = make_tracker("a sleutelpersoon please", "inform", sender_id="p-held",   # the entity's slot mapping set it
                     slots={**base, "person_type": "sleutelpersoon", "requested_slot": "contact_channel"})
    events = await ValidateContactForm().run(CollectingDispatcher(), t, CONTACT_FORM)
    draft = _slots(events)["draft_reference"]
    out = service.get_referral(bootstrap.get_session_factory(), draft, actor="test")
    assert out.person_type == "sleutelpersoon" and out.municipality == "Utrecht"
    due = _outbox_due(draft)
    assert due and all(d > datetime.now(timezone.utc) for d in due)   # nobody is told yet
    # the next answer joins it; no second referral
    t = make_tracker("whatsapp", "inform", sender_id="p-held",
                     slots={**base, "person_type": "sleutelpersoon", "draft_reference": draft,
                            "contact_channel": "whatsapp", "requested_slot": "contact_times"})
    events = await ValidateContactForm().run(CollectingDispatcher(), t, CONTACT_FORM)
    assert "draft_reference" not in _slots(events)
    assert service.get_referral(bootstrap.get_session_factory(), draft, actor="test").contact_channel == "whatsapp"
    assert len(service.list_referrals(bootstrap.get_session_factory(), actor="test")) == 1
    # the questions end: that referral is released, with the same reference
    d = CollectingDispatcher()
    t = make_tracker("thanks", "thanks", sender_id="p-held",
                     slots={**base, "person_type": "sleutelpersoon", "contact_channel": "whatsapp",
                            "draft_reference": draft})
    events = await ActionCreateReferral().run(d, t, {})
    assert _keys(d) == ["utter_referral_done"]
    assert _slots(events)["referral_reference"] == draft and _slots(events)["draft_reference"] is None
    assert all(d <= datetime.now(timezone.utc) for d in _outbox_due(draft))
    assert len(service.list_referrals(bootstrap.get_session_factory(), actor="test")) == 1


async def test_no_referral_is_held_without_consent_or_person(db) -> None:
    for slots in ({"consent": "no", "requested_slot": "person_type"},
                  {"consent": "yes", "requested_slot": "contact_channel"}):
        t = make_tracker("whatsapp", "inform", sender_id="p-none", slots=slots,
                         entities=[{"entity": "contact_channel", "value": "whatsapp"}])
        events = await ValidateContactForm().run(CollectingDispatcher(), t, CONTACT_FORM)
        assert "draft_reference" not in _slots(events)
    assert service.list_referrals(bootstrap.get_session_factory(), actor="test") == []


async def test_consent_taken_back_deletes_the_held_referral(db) -> None:
    t = make_tracker("a klantmanager", "inform", sender_id="p-back",
                     slots={"language": "en", "consent": "yes", "person_type": "klantmanager",
                            "requested_slot": "contact_channel"})
    draft = _slots(await ValidateContactForm().run(CollectingDispatcher(), t, CONTACT_FORM))["draft_reference"]
    t = make_tracker("hmm toch liever niet bewaren", "deny", sender_id="p-back", language={"code": "nl", "confidence": 0.9},
                     slots={"language": "nl", "consent": "yes", "person_type": "klantmanager", "draft_reference": draft,
                            "requested_slot": "contact_channel"})
    d = CollectingDispatcher()
    events = await ValidateContactForm().run(d, t, CONTACT_FORM)
    assert _slots(events)["draft_reference"] is None and _keys(d) == ["utter_consent_no"]
    assert service.list_referrals(bootstrap.get_session_factory(), actor="test") == []
    assert _outbox_due(draft) == []


async def test_a_changed_mind_about_the_person_is_no_withdrawal() -> None:
    slots = {"language": "tr", "consent": "yes", "requested_slot": "contact_channel", "person_type": "sleutelpersoon"}
    t = make_tracker("yok yok vazgectim klantmanager daha iyi", "inform", slots=slots,
                     language={"code": "tr", "confidence": 0.9}, entities=[{"entity": "person_type", "value": "klantmanager"}])
    d = CollectingDispatcher()
    events = await ValidateContactForm().run(d, t, {"forms": {"contact_form": {"required_slots": ["person_type"]}}})
    assert _slots(events).get("consent") != "no" and "utter_consent_no" not in _keys(d)
    # without a new wish it is still taken back
    t = make_tracker("vazgectim, kaydetmeyin", "deny", slots=slots, language={"code": "tr", "confidence": 0.9})
    d = CollectingDispatcher()
    events = await ValidateContactForm().run(d, t, {"forms": {"contact_form": {"required_slots": ["person_type"]}}})
    assert _slots(events)["consent"] == "no" and _keys(d) == ["utter_consent_no"]


async def test_an_unsure_topic_with_a_time_of_day_at_the_person_question_is_the_time() -> None:
    t = make_tracker("ንግሆ ቆልዑ ናብ ቤት ትምህርቲ ምስ ከዱ", "topic_school", confidence=0.33, language={"code": "ti", "confidence": 1.0},
                     slots={"language": "ti", "requested_slot": "person_type"})
    got = await ValidateContactForm().extract_contact_times(CollectingDispatcher(), t, {})
    assert got["contact_times"]["nl"] == "ochtend"
    sure = make_tracker("ንግሆ ቆልዑ ናብ ቤት ትምህርቲ ምስ ከዱ", "topic_school", confidence=0.9, language={"code": "ti", "confidence": 1.0},
                        slots={"language": "ti", "requested_slot": "person_type"})
    assert await ValidateContactForm().extract_contact_times(CollectingDispatcher(), sure, {}) == {}
