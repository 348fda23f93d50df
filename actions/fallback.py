"""Misunderstandings: after two in a row the assistant offers a person (BRIEF section 3)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import home_check_events, pack_for, remember_concern

#: Misunderstandings in a row before a person is offered.
OFFER_HUMAN_AFTER = 2
#: "Did you mean X or Y?": the two best intents are topics, the best has at least this
#: confidence and the second is at most CLOSE_GAP below it (confidences of the intent
#: classifier, 0-1; the FallbackClassifier in config.yml fires below 0.3 or within 0.05).
MIN_TOPIC_CONFIDENCE = 0.12
CLOSE_GAP = 0.15


def close_topics(parse_data: dict[str, Any] | None) -> list[str]:
    """The two topics to offer when the classifier hesitated between them, else ``[]``.

    Args:
        parse_data: the latest message's parse result (``intent_ranking`` as Rasa gives it:
            ``[{"name", "confidence"}, ...]``, best first, ``nlu_fallback`` possibly on top).

    Returns:
        Two topic names without the ``topic_`` prefix, best first, e.g. ``["behaviour", "wellbeing"]``.
    """
    ranking = [r for r in (parse_data or {}).get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
    if len(ranking) < 2:
        return []
    first, second = ranking[0], ranking[1]
    names = [str(first.get("name") or ""), str(second.get("name") or "")]
    if not all(n.startswith("topic_") for n in names):
        return []
    top, runner_up = float(first.get("confidence") or 0), float(second.get("confidence") or 0)
    if top < MIN_TOPIC_CONFIDENCE or top - runner_up > CLOSE_GAP:
        return []
    return [n[len("topic_"):] for n in names]


def misunderstood(
    dispatcher: CollectingDispatcher, tracker: Tracker, first_response: str, *, offer_topics: bool = False
) -> list[dict[str, Any]]:
    """Say so (``first_response``); the second misunderstanding in a row offers a person.

    With ``offer_topics``, a message the classifier read as two close topics gets
    "did you mean X or Y?" with the two topics as buttons instead (not counted as a
    misunderstanding). The words are kept for the person either way: what we did not
    understand may be exactly what they must read.
    """
    concern = SlotSet("concern_text", remember_concern(tracker))
    topics = close_topics(tracker.latest_message) if offer_topics else []
    if topics:
        pack = pack_for(tracker)
        buttons = [{"title": pack.topics[t], "payload": f"/topic_{t}"} for t in topics if t in pack.topics]
        if len(buttons) == 2:
            dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
            return [concern]
    count = int(tracker.get_slot("fallback_count") or 0) + 1
    if count >= OFFER_HUMAN_AFTER:
        dispatcher.utter_message(response="utter_offer_human_after_fallback")
        return [SlotSet("fallback_count", 0.0), SlotSet("offered_person", True), concern]
    dispatcher.utter_message(response=first_response)
    return [SlotSet("fallback_count", float(count)), concern]


def end_of_turn(tracker: Tracker) -> list[dict[str, Any]]:
    """What must follow ``action_fallback``: the open form's question, else listening.

    ``action_fallback`` is also RulePolicy's core fallback (no rule applies). Without a
    rule for what comes after it, the policy predicted it again and again until Rasa's
    circuit breaker stopped the turn (ten "sorry" messages, then silence). A form run
    after another action asks its open question without validating the message again.
    """
    loop = (tracker.active_loop or {}).get("name")
    return [FollowupAction(loop or "action_listen")]


class ActionFallback(Action):
    """Says it did not understand; the second time in a row, offers a person. Always ends
    the turn (:func:`end_of_turn`)."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        events = misunderstood(dispatcher, tracker, "utter_not_understood", offer_topics=True)
        events += home_check_events(dispatcher, tracker)
        if not any(e.get("name") == "offered_person" for e in events):
            events.append(SlotSet("offered_person", False))
        return events + end_of_turn(tracker)
