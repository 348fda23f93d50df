"""Delete my data (BRIEF section 8), and "what do you know about me?" (issue 10)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import in_thread, is_payload, latest_confidence, pack_for, words_for
from wegwijs.intake.extract import answer_for
from wegwijs import handoff, privacy

logger = logging.getLogger(__name__)


class ActionAskDelete(Action):
    """Asks once before deleting, and says what will go (a pending referral too, so a
    parent who still wants to be contacted can keep it)."""

    def name(self) -> str:
        return "action_ask_delete"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        answer = self._answers_the_privacy_question(tracker)
        if answer:
            # "ok, yes you can keep my info" read as a deletion (both speak of the data):
            # an unsure one, typed while the privacy question is open, is its answer
            dispatcher.utter_message(response=f"utter_consent_{answer}")
            return [SlotSet("consent", answer),
                    SlotSet("consent_at", datetime.now(timezone.utc).isoformat(timespec="seconds")),
                    FollowupAction("intake_form")]
        # a referral held while the contact questions are open goes too: the parent is told
        reference = tracker.get_slot("referral_reference") or tracker.get_slot("draft_reference")
        if reference:
            dispatcher.utter_message(response="utter_ask_delete_confirm_referral", reference=reference)
        else:
            dispatcher.utter_message(response="utter_ask_delete_confirm")
        return [SlotSet("delete_pending", True), SlotSet("offered_person", False)]


    @staticmethod
    def _answers_the_privacy_question(tracker: Tracker) -> str | None:
        """``"yes"`` / ``"no"`` when the message answers the open privacy question in
        words and the deletion intent was unsure (below ``CONSENT_SURE``), else None."""
        from actions.intake import CONSENT_SURE

        text = (tracker.latest_message or {}).get("text") or ""
        if (tracker.active_loop.get("name") != "intake_form" or tracker.get_slot("requested_slot") != "consent"
                or is_payload(text) or latest_confidence(tracker) >= CONSENT_SURE):
            return None
        return answer_for(text, words_for(tracker), "consent", ("yes", "no"))


class ActionDeleteCancelled(Action):
    """"No, keep it": nothing is deleted; an unfinished intake goes on."""

    def name(self) -> str:
        return "action_delete_cancelled"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_delete_cancelled")
        events: list[dict[str, Any]] = [SlotSet("delete_pending", False)]
        if not tracker.get_slot("intake_done"):
            events.append(FollowupAction("intake_form"))
        return events


class ActionDeleteMyData(Action):
    """Deletes the parent's referrals; the tracker store drops the conversation events.

    The conversation's events are removed by ``integrations.tracker_store.WegwijsSQLTrackerStore``
    when it saves a tracker in which this action ran: no row of the sender stays, so the
    parent's next message starts a new conversation (the slots set here last only for
    the rest of this turn).
    """

    def name(self) -> str:
        return "action_delete_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        try:
            await in_thread(handoff.delete_conversation_data, tracker.sender_id)
        except Exception:
            logger.exception("privacy.delete.failed")
            dispatcher.utter_message(response="utter_referral_failed")
            return []
        dispatcher.utter_message(response="utter_data_deleted")
        keep = ("language", "language_name")
        return [AllSlotsReset(), *[SlotSet(k, tracker.get_slot(k)) for k in keep]]


class ActionShowMyData(Action):
    """"What do you know about me?": what the conversation keeps, in the parent's language.

    The facts of the slots (``wegwijs.privacy.stored_facts``: language, privacy choice and
    its time, ages, gemeente, topics, contact wishes) and a stored or held referral, one
    line each, then how to delete it all; ``utter_my_data_none`` when nothing is kept. An
    open form asks its question again afterwards (bot/rules.yml).
    """

    def name(self) -> str:
        return "action_show_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        pack = pack_for(tracker)
        facts = privacy.stored_facts(tracker.current_slot_values(), pack)
        if facts:
            dispatcher.utter_message(response="utter_my_data_intro")
            dispatcher.utter_message(text=privacy.render_facts(pack, facts))
            dispatcher.utter_message(response="utter_my_data_delete_hint")
        else:
            dispatcher.utter_message(response="utter_my_data_none")
        # this turn no longer offers a person: a "yes" now is no request for one
        return [SlotSet("offered_person", False)] if tracker.get_slot("offered_person") else []
