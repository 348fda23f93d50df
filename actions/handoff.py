"""Warm referral (warme overdracht): contact questions, the stored referral, the safety net."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import in_thread, is_payload, latest_entity, latest_intent, pack_for, remember_concern, store, typed_button
from wegwijs import handoff
from wegwijs.intake.answers import answer_words, match_answer

logger = logging.getLogger(__name__)

PERSON_TYPES = ("klantmanager", "sleutelpersoon", "either")
CONTACT_SLOTS = (
    "person_type", "handoff_consent", "contact_channel", "contact_times",
    "contact_gender", "contact_setting", "interpreter",
)


def _choice(tracker: Tracker, slot: str, value: Any, allowed: tuple[str, ...], skipped: str) -> Any:
    """A button value (pressed, or typed in any language), "skipped"/"any" on no, else the parent's own words."""
    entity = latest_entity(tracker, slot)
    if entity in allowed:
        return entity
    if value in allowed:
        return value
    if is_payload(str(value or "")):
        return skipped
    if allowed:
        typed = match_answer(str(value or ""), answer_words(store().packs.values(), slot))
        if typed in allowed:
            return typed
    if latest_intent(tracker) == "deny":
        return skipped
    return str(value or "").strip()[:200] or skipped


class ValidateContactForm(FormValidationAction):
    """Validates the contact questions; asks for storage consent when the intake consent was not given."""

    def name(self) -> str:
        return "validate_contact_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        if tracker.get_slot("consent") == "yes":
            return [s for s in domain_slots if s != "handoff_consent"]
        if tracker.get_slot("handoff_consent") is False:
            # no consent: stop asking, nothing will be stored
            return domain_slots[: domain_slots.index("handoff_consent") + 1]
        return domain_slots

    async def validate_person_type(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        value = latest_entity(tracker, "person_type") or slot_value
        if value in PERSON_TYPES:
            return {"person_type": value}
        typed = match_answer(str(value or ""), answer_words(store().packs.values(), "person_type"))
        if typed in PERSON_TYPES:
            return {"person_type": typed}
        text = str(value or "").lower()
        for kind in ("klantmanager", "sleutelpersoon"):
            if kind in text:
                return {"person_type": kind}
        return {"person_type": "either"}

    async def validate_handoff_consent(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if latest_intent(tracker) == "affirm" or typed_button(tracker, "utter_ask_handoff_consent") == "/affirm":
            return {"handoff_consent": True, "consent_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        return {"handoff_consent": False}

    async def validate_contact_channel(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"contact_channel": _choice(tracker, "contact_channel", slot_value, ("whatsapp", "phone", "visit"), "skipped")}

    async def validate_contact_times(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"contact_times": _choice(tracker, "contact_times", slot_value, (), "skipped")}

    async def validate_contact_gender(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"contact_gender": _choice(tracker, "contact_gender", slot_value, ("woman", "man", "any"), "any")}

    async def validate_contact_setting(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"contact_setting": _choice(tracker, "contact_setting", slot_value, ("individual", "group", "any"), "any")}

    async def validate_interpreter(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        intent = latest_intent(tracker)
        typed = typed_button(tracker, "utter_ask_interpreter")
        if typed == "/affirm" or (intent == "affirm" and typed is None):
            return {"interpreter": True}
        if typed == "/deny" or intent == "deny":
            return {"interpreter": False}
        return {"interpreter": "skipped"}


class ActionCreateReferral(Action):
    """Stores the referral with its Dutch summary and tells the parent what happens next."""

    def name(self) -> str:
        return "action_create_referral"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("consent") != "yes" and not tracker.get_slot("handoff_consent"):
            dispatcher.utter_message(response="utter_referral_not_stored")
            return [SlotSet("offered_person", False), *[SlotSet(s, None) for s in CONTACT_SLOTS]]
        data = handoff.referral_from_slots(tracker.sender_id, tracker.current_slot_values(), urgent_reason=None)
        try:
            out = await in_thread(handoff.store_referral, data)
        except Exception:  # the database is down: say so, lose nothing the parent said (it stays in the tracker)
            logger.exception("handoff.referral.store_failed")
            dispatcher.utter_message(response="utter_referral_failed")
            return [SlotSet("offered_person", False)]
        pack = pack_for(tracker)
        dispatcher.utter_message(
            response="utter_referral_done",
            person_label=pack.label("person_type", data.person_type or "either"),
            reference=out.reference,
            days=str(handoff.contact_days()),
        )
        # the next request for a person asks the contact questions again
        reset = [SlotSet(s, None) for s in CONTACT_SLOTS]
        return [SlotSet("referral_reference", out.reference), SlotSet("offered_person", False), *reset]


class ActionUrgentHelp(Action):
    """Safety net: emergency numbers at once, then an urgent referral (BRIEF section 4).

    The urgent referral is stored even without the intake consent: a signal of danger
    to a child or parent must reach a human (BRIEF R14); the privacy text says so.
    """

    def name(self) -> str:
        return "action_urgent_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_urgent_help")
        msg = tracker.latest_message or {}
        safety = msg.get("safety") or {}
        reason = safety.get("category") or "urgent_help"
        slots = dict(tracker.current_slot_values())
        slots["concern_text"] = remember_concern(tracker)
        data = handoff.referral_from_slots(tracker.sender_id, slots, urgent_reason=reason)
        try:
            out = await in_thread(handoff.store_referral, data)
        except Exception:
            logger.exception("handoff.urgent.store_failed")
            dispatcher.utter_message(response="utter_referral_failed")
            return [SlotSet("concern_text", slots["concern_text"])]
        dispatcher.utter_message(response="utter_urgent_referral", reference=out.reference)
        return [SlotSet("concern_text", slots["concern_text"]), SlotSet("referral_reference", out.reference)]
