"""'What do you know about me?' (issue 10): action_show_my_data and wegwijs.privacy."""

from __future__ import annotations

import pytest
from rasa_sdk.events import ActionExecutionRejected
from rasa_sdk.executor import CollectingDispatcher

from actions.common import store
from actions.intake import interruption_events
from actions.privacy import ActionShowMyData
from tests.actions.conftest import make_tracker
from wegwijs import privacy

#: A conversation that told everything: intake, contact wishes, a held referral.
EVERYTHING = {
    "consent": "yes", "consent_at": "2026-12-07T13:05:00+00:00", "children_ages": [4, 11],
    "municipality": "Zaanstad", "topics": ["school"], "topic": "wellbeing", "pregnant": True,
    "concern_text": [{"text": "mijn zoon wil niet naar school", "lang": "nl"}],
    "person_type": "sleutelpersoon", "contact_channel": "phone", "contact_gender": "woman",
    "contact_setting": "any", "interpreter": True, "contact_times": {"nl": "na 15:00", "text": "after 3 pm"},
    "draft_reference": "WW-ABC123",
}


def _keys(d: CollectingDispatcher) -> list:
    return [m.get("response") for m in d.messages]


def _lines(slots: dict, lang: str = "en") -> dict[str, dict[str, str]]:
    return dict(privacy.stored_facts(slots, store().pack(lang)))


async def test_nothing_stored_says_so() -> None:
    d = CollectingDispatcher()
    events = await ActionShowMyData().run(d, make_tracker("what do you know about me", "ask_my_data"), {})
    assert _keys(d) == ["utter_my_data_none"] and events == []


async def test_what_is_stored_is_shown_in_one_message_then_how_to_delete() -> None:
    d = CollectingDispatcher()
    slots = {**EVERYTHING, "offered_person": True}
    events = await ActionShowMyData().run(d, make_tracker("what do you know about me", "ask_my_data", slots=slots), {})
    assert _keys(d) == ["utter_my_data_intro", None, "utter_my_data_delete_hint"]
    text = d.messages[1]["text"]
    assert text.count("• ") == len(privacy.stored_facts(slots, store().pack("en")))
    for said in ("Zaanstad", "4, 11", "WW-ABC123", "after 3 pm", "07-12-2026 14:05"):
        assert said in text
    # this turn no longer offers a person: a "yes" now is no request for one
    assert events == [{"event": "slot", "timestamp": None, "name": "offered_person", "value": False}]


def test_every_fact_of_the_slots_has_its_line() -> None:
    lines = _lines(EVERYTHING)
    assert list(lines) == [
        "utter_my_data_language", "utter_my_data_consent_yes", "utter_my_data_consent_time",
        "utter_my_data_children", "utter_my_data_pregnant", "utter_my_data_municipality", "utter_my_data_topics",
        "utter_my_data_own_words", "utter_my_data_person", "utter_my_data_channel", "utter_my_data_times",
        "utter_my_data_gender", "utter_my_data_setting", "utter_my_data_interpreter", "utter_my_data_referral_held",
    ]
    assert lines["utter_my_data_topics"] == {"topics": "School and homework; Wellbeing, sleep, food"}


@pytest.mark.parametrize("slots, key", [
    ({"consent": "no", "consent_at": "2026-12-07T13:05:00+00:00"}, "utter_my_data_consent_no"),
    ({"handoff_consent": True}, "utter_my_data_consent_handoff"),
    ({"consent": "no", "handoff_consent": True}, "utter_my_data_consent_handoff"),
    ({"referral_reference": "WW-XYZ789"}, "utter_my_data_referral_sent"),
    ({"draft_reference": "WW-XYZ789"}, "utter_my_data_referral_held"),
])
def test_a_privacy_choice_or_a_referral_alone_is_something_stored(slots, key) -> None:
    lines = _lines(slots)
    assert key in lines and next(iter(lines)) == "utter_my_data_language"


def test_skipped_and_unanswered_questions_are_not_shown() -> None:
    skipped = {"children_ages": [], "municipality": "skipped", "contact_channel": "skipped",
               "contact_times": "skipped", "interpreter": "skipped", "person_type": "not_said"}
    assert _lines(skipped) == {}


@pytest.mark.parametrize("lang", store().registry.supported)
def test_choices_are_shown_in_the_parents_language_with_the_words_offered(lang: str) -> None:
    """Labels of responses.yml, else the title of the button that set the value (no second list)."""
    pack = store().pack(lang)
    lines = _lines(EVERYTHING, lang)
    assert lines["utter_my_data_person"] == {"person_label": pack.labels["person_type"]["sleutelpersoon"]}
    assert lines["utter_my_data_channel"] == {"channel": pack.labels["contact_channel"]["phone"]}
    titles = {k: [b.title for b in pack.responses[k].buttons]
              for k in ("utter_ask_contact_gender", "utter_ask_contact_setting", "utter_ask_interpreter")}
    assert lines["utter_my_data_gender"] == {"gender": titles["utter_ask_contact_gender"][0]}  # woman
    assert lines["utter_my_data_setting"] == {"setting": titles["utter_ask_contact_setting"][2]}  # any
    assert lines["utter_my_data_interpreter"] == {"interpreter": titles["utter_ask_interpreter"][0]}  # yes
    assert lines["utter_my_data_language"] == {"language_name": pack.meta.name}
    text = privacy.render_facts(pack, privacy.stored_facts(EVERYTHING, pack))
    assert "{" not in text and "WW-ABC123" in text


def test_choice_label_reads_the_buttons_payloads() -> None:
    en = store().pack("en")
    assert privacy.choice_label(en, "contact_gender", "man") == "A man"
    assert privacy.choice_label(en, "interpreter", False) == "No"
    assert privacy.choice_label(en, "contact_gender", "robot") is None


@pytest.mark.parametrize("value, shown", [
    ("2026-07-01T08:00:00+00:00", "01-07-2026 10:00"),  # summer time
    ("2026-12-07T13:05:00", "07-12-2026 14:05"),  # naive: UTC
    ("not a time", None),
    (None, None),
])
def test_times_are_shown_in_dutch_time(value, shown) -> None:
    assert privacy.format_time(value) == shown


def test_asking_what_is_stored_interrupts_an_open_question() -> None:
    """Rasa runs an open form before any rule: unless the form rejects the message, the
    question is asked again and "what do you know about me?" is never answered."""
    for form in ("intake_form", "contact_form"):
        tracker = make_tracker("what do you know about me", "ask_my_data", active_loop=form)
        assert interruption_events(tracker, form, answered=False) == [ActionExecutionRejected(form)]
