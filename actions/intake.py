"""The intake: welcome, consent, children's ages, gemeente; then tips or the topic menu.

Facts come from entities (``bot/components/entities.py``) through global slot mappings;
the validation action here only (a) reads typed answers to the open question that no
entity covers ("ik ga akkoord"), (b) keeps every fact and then hands the turn to the
interruption rules when the message is something else (a topic, a fear, a question out
of scope), and (c) stops asking a question after two tries (every question can be skipped).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextvars import ContextVar
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker, ValidationAction
from rasa_sdk.events import ActionExecutionRejected, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    home_check_events,
    is_payload,
    latest_confidence,
    latest_intent,
    pack_for,
    remember_concern,
    store,
    topic_of_intent,
    words_for,
)
from wegwijs.intake.extract import Extraction, answer_for, refuses_storage
from wegwijs.tips import select_tips

#: Times a question is asked before the form moves on without it.
MAX_ASKS = 2
#: Intents that are never an answer to an intake question: the form keeps the facts of
#: the message, then lets the interruption rules answer it.
INTERRUPTIONS = ("thanks", "bot_challenge", "request_human", "change_language",
                 "delete_my_data", "ask_my_data", "goodbye")
#: Interruption intents that are only politeness when the message also answered the question.
ANSWER_WITH_THANKS = ("thanks",)
#: Below this confidence a topic intent on a message that answered the open question is
#: not treated as an interruption ("4 en 11" misread as a topic).
TOPIC_INTERRUPTION_CONFIDENCE = 0.6
#: A message of at most this many words that answered the open question is only that
#: answer, never also a topic ("groep" at "alone or in a group?" is not a school question).
BARE_ANSWER_WORDS = 2
#: The same for out_of_scope: "wij wonen in scheveningen" (the gemeente) read as a housing
#: question at 0.64 is an answer; "we live in Utrecht, how do I get a bigger house?" is both.
OUT_OF_SCOPE_INTERRUPTION_CONFIDENCE = 0.8
#: At this intent confidence an affirm/deny to the privacy question is taken as is; below
#: it the typed yes/no words (parsing.yml answer_words.consent) are checked too.
CONSENT_SURE = 0.9
#: Topics counted as raised from typed text only at this confidence (buttons always count).
TOPIC_CONFIDENCE = 0.5


def asked_count(tracker: Tracker, slot: str) -> int:
    """How often the question for ``slot`` was asked in this conversation."""
    return int((tracker.get_slot("asked") or {}).get(slot, 0))


#: True while a form validation action reads and validates the latest message (not while
#: it picks the next question): the answer to a question asked for the second time is still
#: read ("alone" after "yes" at "alone or in a group?"). A ContextVar: each request of the
#: action server runs in its own task.
READING_ANSWER: ContextVar[bool] = ContextVar("reading_answer", default=False)


def still_asked(tracker: Tracker, slots: list[str]) -> list[str]:
    """``slots`` without those asked twice and still unanswered (left as "niet gezegd").

    While the latest message is read (:data:`READING_ANSWER`), the open question stays in:
    the message may be the answer to its second ask."""
    open_question = tracker.get_slot("requested_slot") if READING_ANSWER.get() else None
    return [s for s in slots
            if s == open_question or not (tracker.get_slot(s) is None and asked_count(tracker, s) >= MAX_ASKS)]


class ReadsTheLastAnswer:
    """Mixin for a ``FormValidationAction`` whose ``required_slots`` uses :func:`still_asked`:
    extraction and validation run with :data:`READING_ANSWER` set."""

    @staticmethod
    async def _reading(step: Any) -> list[dict[str, Any]]:
        token = READING_ANSWER.set(True)
        try:
            return await step
        finally:
            READING_ANSWER.reset(token)

    async def get_extraction_events(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return await self._reading(super().get_extraction_events(*args, **kwargs))  # type: ignore[misc]

    async def get_validation_events(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return await self._reading(super().get_validation_events(*args, **kwargs))  # type: ignore[misc]


def fills_a_slot(events: list[dict[str, Any]]) -> bool:
    """Whether a validation run set any form slot (``requested_slot`` aside) to a value."""
    return any(e.get("event") == "slot" and e.get("name") != "requested_slot" and e.get("value") is not None
               for e in events)


def answered_since_user(tracker: Tracker, form: str) -> bool:
    """True when another action (a rule's answer) ran since the latest user message.

    Rasa runs the validation action on a copy of the tracker that ends with the form's
    own ``ActionExecuted``, so ``latest_action_name`` is always the form; the actions
    since the user message tell whether this is the form's first run on it.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in (form, "action_listen", None):
            return True
    return False


def slot_before_latest_message(tracker: Tracker, slot: str) -> Any:
    """The value ``slot`` had before the latest user message (None after a reset)."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            seen_user = True
        elif seen_user and kind in ("reset_slots", "restart", "session_started"):
            return None
        elif seen_user and kind == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


def merge_ages(old: Any, new: list[int], asked: bool) -> list[int]:
    """Children's ages after a message that mentions ages.

    The answer to the ages question replaces what was known; elsewhere ("my 12-year-old
    son fights at school", said after "4, 8 and 12") a mention of known children keeps
    the list, and an age not in it is added (a child not mentioned before).
    """
    if asked or not isinstance(old, list) or not old:
        return new
    if not new:
        return list(old)
    rest = list(old)
    added = []
    for age in new:
        if age in rest:
            rest.remove(age)
        else:
            added.append(age)
    return list(old) + added


def _valid_ages(slot_value: Any) -> list[int] | None:
    if isinstance(slot_value, list):
        return [int(a) for a in slot_value if isinstance(a, (int, float)) and 0 <= a <= 17]
    return None


def interruption_events(tracker: Tracker, form: str, answered: bool) -> list[dict[str, Any]]:
    """``[ActionExecutionRejected(form)]`` when the latest message is not (only) an answer."""
    if answered_since_user(tracker, form):
        return []  # the form asks again after an interruption was answered: nothing to reject
    intent = latest_intent(tracker)
    if intent in ANSWER_WITH_THANKS and answered:
        return []  # "yes ok you can save it, thanks": an answer, said politely
    if intent in INTERRUPTIONS:
        return [ActionExecutionRejected(form)]
    text = (tracker.latest_message or {}).get("text") or ""
    bare = answered and len(text.split()) <= BARE_ANSWER_WORDS
    if topic_of_intent(intent) and not bare and (not answered or latest_confidence(tracker) >= TOPIC_INTERRUPTION_CONFIDENCE):
        # "groep" (a school class, or "in a group") answering "alone or in a group?" is the answer
        return [ActionExecutionRejected(form)]
    if intent == "out_of_scope" and (not answered or latest_confidence(tracker) >= OUT_OF_SCOPE_INTERRUPTION_CONFIDENCE):
        return [ActionExecutionRejected(form)]
    return []


def previous_bot_responses(tracker: Tracker) -> list[str]:
    """Names of the responses the bot sent just before the latest user message (its last turn)."""
    out: list[str] = []
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                break
            seen_user = True
        elif seen_user and kind == "bot":
            out.append(((event.get("metadata") or {}).get("utter_action")) or "")
    return out[::-1]


def asked_this_turn(tracker: Tracker, slot: str) -> bool:
    """Whether the question for ``slot`` was already asked since the latest user message
    (the ``asked`` count rose after it: a form asks, a rule answers an interruption, the
    form asks again in the same turn)."""
    before = 0
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "slot" and event.get("name") == "asked":
            before = int((event.get("value") or {}).get(slot, 0))
            break
    return seen_user and asked_count(tracker, slot) > before


def valid_municipality(slot_value: Any) -> dict[str, Any]:
    """``{"municipality": name}`` for a gemeente name (or "skipped"), else ``{"municipality": None}``
    (a button payload is no name); the intake and the contact questions both ask it."""
    if isinstance(slot_value, str) and slot_value and not is_payload(slot_value):
        return {"municipality": slot_value}
    return {"municipality": None}


#: Entities of a contact wish: a message with one that "changes its mind" changes that wish.
CHANGED_WISH_ENTITIES = frozenset({"person_type", "contact_channel", "contact_gender", "contact_setting",
                                   "contact_times", "interpreter"})


def consent_withdrawn(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """"Toch liever niet bewaren" after a yes, while nothing was passed on yet: consent is
    now no (with a new time) and nothing will be passed on; the parent is told so. Once a
    referral is stored, taking it back is a deletion ("delete"), not this."""
    text = (tracker.latest_message or {}).get("text") or ""
    if (tracker.get_slot("consent") != "yes" or tracker.get_slot("requested_slot") == "consent"
            or tracker.get_slot("referral_reference") or is_payload(text)
            or not refuses_storage(text, words_for(tracker))):
        return []
    entities = {e.get("entity") for e in (tracker.latest_message or {}).get("entities") or []}
    if entities & CHANGED_WISH_ENTITIES:
        # "yok yok vazgectim, klantmanager daha iyi": a changed wish (I changed my mind: the
        # klantmanager), not consent taken back
        return []
    dispatcher.utter_message(response="utter_consent_no")
    return [SlotSet("consent", "no"), SlotSet("consent_at", datetime.now(timezone.utc).isoformat(timespec="seconds")),
            SlotSet("handoff_consent", False)]


def consent_reconsidered(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """A yes right after the bot confirmed a refusal ("ok, toch wel, ja is goed"): the
    parent changed their mind, so consent is now given (with a new time). Only then: a
    yes later on answers whatever was asked at that moment, never the privacy question."""
    if (
        tracker.get_slot("consent") == "no"
        and latest_intent(tracker) == "affirm"
        and "utter_consent_no" in previous_bot_responses(tracker)
    ):
        dispatcher.utter_message(response="utter_consent_yes")
        return [SlotSet("consent", "yes"), SlotSet("consent_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))]
    return []


class ValidateIntakeForm(ReadsTheLastAnswer, FormValidationAction):
    """Validates the intake answers; every question can be skipped, none is asked twice."""

    def name(self) -> str:
        return "validate_intake_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        return [
            slot for slot in still_asked(tracker, domain_slots)
            # "I am pregnant" answered the ages question
            if not (slot == "children_ages" and tracker.get_slot("pregnant") and asked_count(tracker, slot) >= 1)
        ]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        events += consent_reconsidered(dispatcher, tracker) or consent_withdrawn(dispatcher, tracker)
        return events + interruption_events(tracker, "intake_form", fills_a_slot(events))

    async def extract_consent(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        """A typed yes/no to the privacy question ("ik ga akkoord", "موافقة")."""
        if tracker.get_slot("requested_slot") != "consent" or latest_intent(tracker) in ("affirm", "deny"):
            return {}
        text = (tracker.latest_message or {}).get("text") or ""
        if is_payload(text):
            return {}
        value = answer_for(text, words_for(tracker), "consent", ("yes", "no"))
        return {"consent": value} if value else {}

    async def validate_language_ok(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"language_ok": True}

    async def validate_consent(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if asked_count(tracker, "consent") == 0:
            # only the choice of languages was shown (a one-word first message): a "yes" now
            # is not agreement to a privacy text the parent never saw; the form shows it next
            return {"consent": None}
        if slot_value in ("yes", "no") and slot_value == tracker.get_slot("consent") and tracker.get_slot("consent_at"):
            return {"consent": slot_value}  # recorded earlier in this turn (the form ran again): said once
        slot_value = self._checked_against_words(slot_value, tracker)
        if slot_value == "yes":
            dispatcher.utter_message(response="utter_consent_yes")
            return {"consent": "yes", "consent_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if slot_value == "no":
            dispatcher.utter_message(response="utter_consent_no")
            return {"consent": "no", "consent_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        return {"consent": None}  # never read anything else as a refusal

    @staticmethod
    def _checked_against_words(slot_value: Any, tracker: Tracker) -> Any:
        """The yes or no the classifier read, checked against the words typed.

        "بلی، معلومات مره ذخیره کنید مشکل نیست" (yes, store it, no problem) was read as
        deny (0.52) because of "نیست" (is not): when the typed words say the other answer
        and the classifier was not sure (< ``CONSENT_SURE``), the words win; an unsure
        "no" without any no-word is no answer (asked again), never a refusal.
        """
        text = (tracker.latest_message or {}).get("text") or ""
        if slot_value not in ("yes", "no") or is_payload(text) or latest_confidence(tracker) >= CONSENT_SURE:
            return slot_value
        typed = answer_for(text, words_for(tracker), "consent", ("yes", "no"))
        if typed:
            return typed
        if slot_value == "no" and latest_confidence(tracker) < TOPIC_INTERRUPTION_CONFIDENCE:
            return None
        return slot_value

    async def validate_children_ages(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        ages = _valid_ages(slot_value)
        if ages is None:
            return {"children_ages": None}
        asked = tracker.get_slot("requested_slot") == "children_ages"
        return {"children_ages": merge_ages(slot_before_latest_message(tracker, "children_ages"), ages, asked)}

    async def validate_municipality(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return valid_municipality(slot_value)


class ValidateSlotMappings(ValidationAction):
    """Slots filled by the global mappings outside the forms (Rasa runs it after every
    message): a later mention of one child's age does not replace the list of ages."""

    def domain_slots(self, domain: dict[str, Any]) -> list[str]:
        """The slots validated here. rasa-sdk's default leaves out every slot with a form
        condition in one of its mappings, and ``children_ages`` has one (bare numbers
        count as ages only while the ages question is open)."""
        return ["children_ages"]

    async def validate_children_ages(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        ages = _valid_ages(slot_value)
        if ages is None:
            return {"children_ages": slot_value}
        asked = tracker.active_loop.get("name") == "intake_form" and tracker.get_slot("requested_slot") == "children_ages"
        return {"children_ages": merge_ages(slot_before_latest_message(tracker, "children_ages"), ages, asked)}


class AskAction(Action, ABC):
    """Asks one form question and counts how often it was asked (base of ``action_ask_<slot>``).

    Abstract (rasa-sdk registers only concrete actions); subclasses set ``slot`` and
    ``response`` and name themselves ``action_ask_<slot>``.
    """

    slot = ""
    response = ""

    @abstractmethod
    def name(self) -> str:
        """``action_ask_<slot>``."""

    def response_for(self, tracker: Tracker, count: int) -> str:
        """The response key to send the ``count``-th time (0-based)."""
        return self.response

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        asked = dict(tracker.get_slot("asked") or {})
        count = int(asked.get(self.slot, 0))
        if asked_this_turn(tracker, self.slot):
            return []  # asked already in this turn (before an interruption was answered): once is enough
        dispatcher.utter_message(response=self.response_for(tracker, count))
        asked[self.slot] = count + 1
        return [SlotSet("asked", asked)]


class ActionAskConsent(AskAction):
    """The welcome with its choice of languages, and the privacy question, in one turn.

    So the parent's next "yes" answers the privacy question (a separate language
    question before it used to swallow that yes). A first message too short to tell the
    language gets only the choice of languages of its script; the welcome and the privacy
    question follow once the language is known. After a language was chosen the privacy
    text is shown in full again; otherwise the second time it is a short, plain yes/no.
    """

    slot, response = "consent", "utter_ask_consent"

    def name(self) -> str:
        return "action_ask_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from actions.common import latest_entity
        from actions.language import SHORT_MESSAGE_WORDS, ActionAskLanguageOk, said_enough_before

        asked = dict(tracker.get_slot("asked") or {})
        count = int(asked.get(self.slot, 0))
        text = (tracker.latest_message or {}).get("text") or ""
        chose = bool(latest_entity(tracker, "language_choice"))
        events: list[dict[str, Any]] = []
        refused = count == 0 and refuses_storage(text, words_for(tracker))
        if not tracker.get_slot("language_ok"):
            short = (bool(text) and not is_payload(text) and len(text.split()) <= SHORT_MESSAGE_WORDS and not chose
                     and not said_enough_before(tracker))
            welcome = CollectingDispatcher()
            await ActionAskLanguageOk().run(welcome, tracker, domain)
            dispatcher.messages.extend(welcome.messages)
            if short and not refused and welcome.messages and welcome.messages[0].get("response") != "utter_ask_language_ok":
                return [SlotSet("language_ok", True)]  # only the choice of languages this time
            events.append(SlotSet("language_ok", True))
            if refused:
                return events + self._refused(dispatcher, asked, count)
            dispatcher.utter_message(response="utter_ask_consent")
        elif refused:
            return self._refused(dispatcher, asked, count)
        elif asked_this_turn(tracker, self.slot) and not chose:
            return []  # the privacy question is already in this turn's replies (before an interruption's answer)
        elif chose:
            # the privacy text again, in the language just chosen: not a second ask
            dispatcher.utter_message(response="utter_ask_consent")
            return [SlotSet("asked", {**asked, self.slot: max(count, 1)})]
        elif count == 0:
            dispatcher.utter_message(response="utter_ask_consent")
        else:
            dispatcher.utter_message(response="utter_ask_consent_plain")
        asked[self.slot] = count + 1
        return events + [SlotSet("asked", asked)]


    def _refused(self, dispatcher: CollectingDispatcher, asked: dict[str, int], count: int) -> list[dict[str, Any]]:
        """"Bilgilerimi kaydetmeyin" before the privacy question: the parent's no, taken
        at once (a refusal needs no privacy text first; a yes would)."""
        dispatcher.utter_message(response="utter_consent_no")
        return [SlotSet("consent", "no"), SlotSet("consent_at", datetime.now(timezone.utc).isoformat(timespec="seconds")),
                SlotSet("asked", {**asked, self.slot: count + 1})]


class ActionAskChildrenAges(AskAction):
    """How old are your children (skippable)."""

    slot, response = "children_ages", "utter_ask_children_ages"

    def name(self) -> str:
        return "action_ask_children_ages"


class ActionAskMunicipality(AskAction):
    """Which gemeente (skippable)."""

    slot, response = "municipality", "utter_ask_municipality"

    def name(self) -> str:
        return "action_ask_municipality"


def _topic_events(tracker: Tracker, *, from_button: bool | None = None) -> dict[str, Any]:
    """Slots that remember a topic raised by the latest message, if any.

    The topic waits in ``topic`` for its tips and enters ``topics`` (the referral's list)
    only when the parent chose it with a button or the classifier was confident
    (:data:`TOPIC_CONFIDENCE`); an unsure topic is not kept (no tips on a guess).
    """
    intent = latest_intent(tracker)
    topic = topic_of_intent(intent)
    if not topic:
        return {}
    text = (tracker.latest_message or {}).get("text") or ""
    button = is_payload(text) if from_button is None else from_button
    topics = list(tracker.get_slot("topics") or [])
    sure = button or latest_confidence(tracker) >= TOPIC_CONFIDENCE
    if not sure:
        # "hoi ik heb vraag over consultatiebureau" read as sexual health at 0.45: no tips on
        # a guess; the words are kept, and after the intake the parent picks from the menu
        return {"concern_text": remember_concern(tracker)}
    if topic not in topics:
        topics.append(topic)
    return {"topic": topic, "topics": topics, "concern_text": remember_concern(tracker)}


class ActionRememberTopic(Action):
    """Remembers the topic of a ``topic_*`` intent; during a form, says the tips follow.

    A fear of youth care is reassured at once and never replaces a topic already waiting
    for its tips (the parent's first question still gets its answer).
    """

    def name(self) -> str:
        return "action_remember_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found = _topic_events(tracker)
        topic = found.get("topic")
        loop = (tracker.active_loop or {}).get("name")
        waiting = tracker.get_slot("topic")
        if topic == "child_removal_fear" and waiting and waiting != topic:
            found.pop("topic")  # the fear is answered now; the question asked before keeps its tips
        if topic_of_intent(latest_intent(tracker)) == "child_removal_fear":
            # reassured even when the classifier was unsure: the words cost nothing if not needed
            dispatcher.utter_message(response="utter_reassure_child_removal")
        elif topic and loop:
            dispatcher.utter_message(response="utter_topic_noted", topic_title=pack_for(tracker).topics.get(topic, topic))
        return [SlotSet(k, v) for k, v in found.items()] + [SlotSet("offered_person", False)]


class ActionNoteOutOfScope(Action):
    """Says kindly what Wegwijs cannot do, and keeps the question for the klantmanager.

    With no form open, the parent is not left at a dead end: a person is offered
    (``utter_ask_want_person``); after the referral was passed on, the question is added
    to it instead (``utter_referral_updated``).
    """

    def name(self) -> str:
        return "action_note_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = (tracker.latest_message or {}).get("text") or ""
        questions = list(tracker.get_slot("out_of_scope_questions") or [])
        if text and not is_payload(text) and all(q.get("text") != text for q in questions):
            questions.append({"text": text[:500], "lang": tracker.get_slot("language") or "und"})
        dispatcher.utter_message(response="utter_out_of_scope_noted")
        events = [SlotSet("out_of_scope_questions", questions[-5:])]
        if tracker.active_loop_name or is_payload(text):
            return events  # the open question comes back (rules)
        reference = tracker.get_slot("referral_reference")
        if reference and tracker.get_slot("consent") != "no":
            # after the referral went: the question joins it, so the klantmanager sees it
            from actions.handoff import add_question_to_referral

            if await add_question_to_referral(dispatcher, tracker, str(reference), questions[-5:]):
                return events
        if not reference:
            # with no question open the parent is not left at a dead end: the person who
            # can look at it is offered ("als u om een persoon vraagt, ...")
            dispatcher.utter_message(response="utter_ask_want_person")
            events.append(SlotSet("offered_person", True))
        return events


#: entities that are facts the global slot mappings keep ("we live in Den Bosch" while
#: another question is open): such a message was understood, even if it did not answer.
#: The extractor's facts (bare numbers aside: they mean nothing outside the ages question)
#: and a typed language name.
FACT_ENTITIES = frozenset(f.name for f in fields(Extraction)) - {"numbers"} | {"language_choice"}


#: Open questions at which bare numbers are the children's ages given early (the
#: ``numbers`` mapping of ``children_ages`` in bot/domain.yml).
NUMBERS_ARE_AGES_AT = ("consent",)


def gives_a_fact(tracker: Tracker) -> bool:
    """Whether the latest message has an intake-fact entity (:data:`FACT_ENTITIES`), or
    bare numbers where they are the ages given early (:data:`NUMBERS_ARE_AGES_AT`)."""
    found = {e.get("entity") for e in (tracker.latest_message or {}).get("entities") or []}
    if "numbers" in found and tracker.get_slot("requested_slot") in NUMBERS_ARE_AGES_AT:
        return True
    return bool(found & FACT_ENTITIES)


class ActionNotUnderstood(Action):
    """An answer inside a form we could not read: say so; the second time in a row, offer a person.

    A message that gave another fact than the one asked (kept by the global slot
    mappings) was understood: it is acknowledged ("Thank you, I have noted that."), not
    kept as an unread concern, and the form asks its open question again.
    """

    def name(self) -> str:
        return "action_not_understood"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from actions.fallback import misunderstood

        if gives_a_fact(tracker):
            dispatcher.utter_message(response="utter_fact_noted")
            return []
        return misunderstood(dispatcher, tracker, "utter_answer_not_understood")


def topic_menu(dispatcher: CollectingDispatcher, tracker: Tracker, page: int = 1) -> None:
    """Send the topic menu: 9 topics and "more topics", or the other 8 (WhatsApp lists: ≤ 10 rows)."""
    s = store()
    pack = pack_for(tracker)
    first = s.registry.menu_size - 1
    if page == 1:
        buttons = [{"title": pack.topics[t], "payload": f"/topic_{t}"} for t in s.registry.topics[:first]]
        buttons.append({"title": pack.label("menu", "more_topics"), "payload": '/inform{"menu_page":"2"}'})
        dispatcher.utter_message(response="utter_topic_menu", buttons=buttons)
    else:
        buttons = [{"title": pack.topics[t], "payload": f"/topic_{t}"} for t in s.registry.topics[first:]]
        dispatcher.utter_message(response="utter_more_topics", buttons=buttons)


#: Entities that say the parent wants to be contacted ("call me after 5, a man please").
CONTACT_ENTITIES = ("person_type", "contact_channel", "contact_gender", "contact_setting", "contact_times")


def resume_events(tracker: Tracker) -> list[dict[str, Any]]:
    """Where an answer outside a form leads: ``[FollowupAction(form)]`` or ``[]``.

    Contact wishes (or any answer after the offer of a person) start the contact
    questions, which skip what is known; before the intake is done, the intake goes on.
    """
    entities = {e.get("entity") for e in (tracker.latest_message or {}).get("entities") or []}
    if entities & set(CONTACT_ENTITIES) or (tracker.get_slot("offered_person") and latest_intent(tracker) == "inform"):
        return [FollowupAction("contact_form")]
    if not tracker.get_slot("intake_done") and latest_intent(tracker) in ("inform", "affirm", "deny"):
        return [FollowupAction("intake_form")]
    return []


class ActionTopicMenu(Action):
    """Shows the topic menu (page 2 when "more topics" was chosen) — or, for an answer that
    belongs to an unfinished intake or to the contact questions, goes on with those."""

    def name(self) -> str:
        return "action_topic_menu"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from actions.common import latest_entity

        page = 2 if str(latest_entity(tracker, "menu_page") or "") == "2" else 1
        if page == 1 and not tracker.get_slot("offered_person"):
            from actions.handoff import add_to_released_referral

            # "we live in Zwolle, not Utrecht", "only WhatsApp" after the referral went:
            # added to it, not a new round of contact questions, no menu
            if await add_to_released_referral(dispatcher, tracker):
                return []
        if page == 1:
            follow = resume_events(tracker)
            if follow:
                return follow
        topic_menu(dispatcher, tracker, page)
        return [SlotSet("offered_person", False)]


class ActionResume(Action):
    """A yes with no open question: go on with an unfinished intake or contact questions, else "anything else?"."""

    def name(self) -> str:
        return "action_resume"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        follow = resume_events(tracker)
        if follow:
            return follow
        dispatcher.utter_message(response="utter_anything_else")
        return []


class ActionGoOn(Action):
    """Says nothing: the step a rule needs between a message that needs no answer of its
    own (asking again for a person while the contact questions run) and the form's next
    question. The form, run after another action, asks without validating again."""

    def name(self) -> str:
        return "action_go_on"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return []


class ActionAfterIntake(Action):
    """After the intake: tips for the waiting topic and the children's ages, then the offer of a person; else the menu.

    A ``home_check`` due (:func:`actions.common.home_check_events`) is asked first.

    A tips block (topic and age group) is never sent twice in a conversation; when all
    fitting blocks were sent, the parent is offered a person instead.
    """

    def name(self) -> str:
        return "action_after_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        topic = tracker.get_slot("topic")
        home = home_check_events(dispatcher, tracker)  # "is everyone safe at home?" before the menu or tips
        if not topic:
            topic_menu(dispatcher, tracker)
            return home + [SlotSet("offered_person", False), SlotSet("intake_done", True)]
        s = store()
        pack = pack_for(tracker)
        title = pack.topics.get(topic, topic)
        ages = tracker.get_slot("children_ages") or []
        selection = select_tips(pack, topic, ages, bool(tracker.get_slot("pregnant")), s.registry,
                                text=(tracker.latest_message or {}).get("text") or "",
                                words=words_for(tracker))
        given = list(tracker.get_slot("tips_given") or [])
        fresh = [(g, t) for g, t in selection if f"{topic}/{g}" not in given]
        topics = list(tracker.get_slot("topics") or [])
        if not selection:
            dispatcher.utter_message(response="utter_tips_coming", topic_title=title)
        elif not fresh:
            dispatcher.utter_message(response="utter_tips_already_given", topic_title=title)
        for group, tips in fresh:
            dispatcher.utter_message(
                response="utter_tips_intro", topic_title=title, age_label=pack.label("age_group", group)
            )
            dispatcher.utter_message(text="\n".join(f"• {t}" for t in tips))
            given.append(f"{topic}/{group}")
        if fresh and topic not in topics:
            topics.append(topic)  # the parent raised it and got tips on it
        dispatcher.utter_message(response="utter_ask_want_person")
        return home + [SlotSet("topic", None), SlotSet("topics", topics), SlotSet("tips_given", given),
                       SlotSet("offered_person", True), SlotSet("intake_done", True)]
