"""The intake: welcome, consent, children's ages, gemeente; then tips or the topic menu."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import is_payload, latest_intent, pack_for, remember_concern, store, topic_of_intent, typed_button
from wegwijs.intake.parsing import parse_ages
from wegwijs.tips import select_tips

#: After this many answers we could not read, the ages question is skipped (never nag).
MAX_AGES_ATTEMPTS = 2


def _topic_events(tracker: Tracker) -> dict[str, Any]:
    """Slots that remember a topic raised by the latest message, if any."""
    topic = topic_of_intent(latest_intent(tracker))
    if not topic:
        return {}
    topics = list(tracker.get_slot("topics") or [])
    if topic not in topics:
        topics.append(topic)
    return {"topic": topic, "topics": topics, "concern_text": remember_concern(tracker)}


class ValidateIntakeForm(FormValidationAction):
    """Validates the intake answers; every question can be skipped."""

    def name(self) -> str:
        return "validate_intake_form"

    async def validate_language_ok(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"language_ok": True, **_topic_events(tracker)}

    async def validate_consent(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        typed = typed_button(tracker, "utter_ask_consent")
        if slot_value == "yes" and typed != "/deny" or typed == "/affirm":
            dispatcher.utter_message(response="utter_consent_yes")
            return {"consent": "yes", "consent_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        dispatcher.utter_message(response="utter_consent_no")
        return {"consent": "no", **_topic_events(tracker)}

    async def validate_children_ages(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if isinstance(slot_value, list):
            return {"children_ages": slot_value}
        if latest_intent(tracker) == "deny":
            return {"children_ages": [], "ages_attempts": 0.0}
        s = store()
        lang = tracker.get_slot("language")
        answer = parse_ages(str(slot_value or ""), s.number_words(lang), s.months_words(lang), s.pregnancy_words(lang),
                             s.number_connectors(lang))
        if answer.understood:
            return {"children_ages": answer.ages, "pregnant": answer.pregnant, "ages_attempts": 0.0, **_topic_events(tracker)}
        attempts = (tracker.get_slot("ages_attempts") or 0) + 1
        if attempts >= MAX_AGES_ATTEMPTS:
            return {"children_ages": [], "ages_attempts": 0.0, **_topic_events(tracker)}
        dispatcher.utter_message(response="utter_ages_not_understood")
        return {"children_ages": None, "ages_attempts": float(attempts), **_topic_events(tracker)}

    async def validate_municipality(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        text = str(slot_value or "").strip()
        topic = _topic_events(tracker)
        if latest_intent(tracker) == "deny" or is_payload(text) or not text:
            return {"municipality": "skipped"}
        found = store().municipalities.find(text)
        if found:
            return {"municipality": found, **topic}
        if topic:  # a question about a topic, not a place: don't nag, go on
            return {"municipality": "skipped", **topic}
        return {"municipality": text[:80]}


class ActionRememberTopic(Action):
    """Remembers the topic of a ``topic_*`` intent and the parent's own words."""

    def name(self) -> str:
        return "action_remember_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        events = [SlotSet(k, v) for k, v in _topic_events(tracker).items()]
        return events + [SlotSet("offered_person", False)]


def topic_menu(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Send the topic menu: the text plus one button per topic (WhatsApp: a list ≤ 10 rows)."""
    s = store()
    pack = pack_for(tracker)
    buttons = [
        {"title": pack.topics[t], "payload": f"/topic_{t}"}
        for t in s.registry.topics[: s.registry.menu_size]
    ]
    dispatcher.utter_message(response="utter_topic_menu", buttons=buttons)


class ActionTopicMenu(Action):
    """Shows the topic menu."""

    def name(self) -> str:
        return "action_topic_menu"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        topic_menu(dispatcher, tracker)
        return [SlotSet("offered_person", False)]


class ActionAfterIntake(Action):
    """After the intake: tips for the chosen topic and the children's ages, then the offer of a person; else the menu."""

    def name(self) -> str:
        return "action_after_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        topic = tracker.get_slot("topic")
        if not topic:
            topic_menu(dispatcher, tracker)
            return [SlotSet("offered_person", False), SlotSet("intake_done", True)]
        s = store()
        pack = pack_for(tracker)
        title = pack.topics.get(topic, topic)
        selection = select_tips(
            pack, topic, tracker.get_slot("children_ages") or [], bool(tracker.get_slot("pregnant")), s.registry
        )
        if not selection:
            dispatcher.utter_message(response="utter_tips_coming", topic_title=title)
        for group, tips in selection:
            dispatcher.utter_message(
                response="utter_tips_intro", topic_title=title, age_label=pack.label("age_group", group)
            )
            dispatcher.utter_message(text="\n".join(f"• {t}" for t in tips))
        dispatcher.utter_message(response="utter_ask_want_person")
        return [SlotSet("topic", None), SlotSet("offered_person", True), SlotSet("intake_done", True)]
