"""Misunderstandings: after two in a row the assistant offers a person (BRIEF section 3)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import remember_concern

#: Misunderstandings in a row before a person is offered.
OFFER_HUMAN_AFTER = 2


def misunderstood(dispatcher: CollectingDispatcher, tracker: Tracker, first_response: str) -> list[dict[str, Any]]:
    """Say so (``first_response``); the second misunderstanding in a row offers a person.

    The words are kept for the person either way: what we did not understand may be
    exactly what they must read.
    """
    count = int(tracker.get_slot("fallback_count") or 0) + 1
    concern = SlotSet("concern_text", remember_concern(tracker))
    if count >= OFFER_HUMAN_AFTER:
        dispatcher.utter_message(response="utter_offer_human_after_fallback")
        return [SlotSet("fallback_count", 0.0), SlotSet("offered_person", True), concern]
    dispatcher.utter_message(response=first_response)
    return [SlotSet("fallback_count", float(count)), concern]


class ActionFallback(Action):
    """Says it did not understand; the second time in a row, offers a person."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        events = misunderstood(dispatcher, tracker, "utter_not_understood")
        if not any(e.get("name") == "offered_person" for e in events):
            events.append(SlotSet("offered_person", False))
        return events
