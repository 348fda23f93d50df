"""Warm referral (warme overdracht): contact questions, the stored referral, the safety net."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    in_thread, is_payload, latest_confidence, latest_entity, latest_intent, pack_for, remember_concern, topic_of_intent, words_for,
)
from actions.intake import (
    MAX_ASKS, TOPIC_INTERRUPTION_CONFIDENCE, AskAction, ReadsTheLastAnswer, asked_count, consent_withdrawn,
    fills_a_slot, gives_a_fact, interruption_events, still_asked, valid_municipality,
)
from wegwijs import handoff
from wegwijs.intake.extract import answer_for, extract, refuses_storage

logger = logging.getLogger(__name__)

PERSON_TYPES = ("klantmanager", "sleutelpersoon", "either")
CONTACT_SLOTS = (
    "person_type", "handoff_consent", "contact_channel", "contact_times",
    "contact_gender", "contact_setting", "interpreter",
)
#: typed answers to the open contact question: slot → values the answer may mean
TYPED_VALUES = {
    "person_type": PERSON_TYPES,
    "contact_channel": ("whatsapp", "phone", "visit"),
    "contact_gender": ("woman", "man", "any"),
    "contact_setting": ("individual", "group", "any"),
}
#: a message of at most this many words that is only a time of day is the contact time,
#: whichever contact question is open
SHORT_TIME_ANSWER_WORDS = 4
#: up to this many words, a message typed while a contact question is open is read again
#: for the other contact wishes it gives ("تليفون الصبح بعد ما اوصل الواد المدرسة": phone,
#: in the morning after school drop-off)
CONTACT_ANSWER_WORDS = 10
#: intents such a message may have (not a topic, an emergency, a deletion...)
TIME_ANSWER_INTENTS = ("inform", "nlu_fallback", "affirm", "greet", "thanks")
#: contact questions a parent may leave open: "thanks" or "bye" while one of them is asked
#: ends the questions (the rest stay "niet gezegd") and the referral is stored
OPTIONAL_CONTACT_SLOTS = ("contact_times", "contact_gender", "contact_setting", "interpreter")
#: intents that close the conversation
CLOSING_INTENTS = ("thanks", "goodbye")


def closes_contact_questions(tracker: Tracker) -> bool:
    """Whether the latest message ("ብጣዕሚ የቐንየለይ 🙏", "thanks, bye") ends the contact
    questions: it is thanks or goodbye, an optional question is open, the person is known
    and passing it on was agreed (the intake consent or the handoff consent)."""
    return (latest_intent(tracker) in CLOSING_INTENTS
            and tracker.get_slot("requested_slot") in OPTIONAL_CONTACT_SLOTS
            and tracker.get_slot("person_type") is not None
            and (tracker.get_slot("consent") == "yes" or tracker.get_slot("handoff_consent") is True))


class ValidateContactForm(ReadsTheLastAnswer, FormValidationAction):
    """The contact questions: typed answers to the open question, nothing asked twice.

    The intake consent counts for the handoff; without it, the parent is asked once
    whether the request may be stored and passed on (an answer that is neither yes nor
    no is asked once more, never read as a refusal).
    """

    def name(self) -> str:
        return "validate_contact_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        slots = still_asked(tracker, domain_slots)
        if closes_contact_questions(tracker):
            slots = [s for s in slots if s not in OPTIONAL_CONTACT_SLOTS or tracker.get_slot(s) is not None]
        if tracker.get_slot("consent") == "yes" or tracker.get_slot("urgent_reference"):
            # an urgent referral was passed on already: the contact wishes join it (ActionCreateReferral)
            return [s for s in slots if s != "handoff_consent"]
        if tracker.get_slot("handoff_consent") is False or (
            tracker.get_slot("handoff_consent") is None and asked_count(tracker, "handoff_consent") >= MAX_ASKS
        ):
            # no consent to pass it on: stop asking, nothing will be stored
            return []
        return slots

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        withdrawn = consent_withdrawn(dispatcher, tracker)
        if withdrawn:
            # nothing is passed on: the questions stop, a referral held until they end goes
            return withdrawn + await self._withdraw_held(tracker) + [SlotSet("requested_slot", None)]
        text = (tracker.latest_message or {}).get("text") or ""
        if (tracker.get_slot("consent") != "yes" and not tracker.get_slot("referral_reference")
                and not is_payload(text) and refuses_storage(text, words_for(tracker))):
            # "no, still don't save" from a parent who never agreed: nothing is passed on, the questions stop
            dispatcher.utter_message(response="utter_consent_no")
            return [SlotSet("handoff_consent", False), *await self._withdraw_held(tracker), SlotSet("requested_slot", None)]
        events = await super().run(dispatcher, tracker, domain)
        events += await self._keep_referral_current(tracker, events)
        if latest_entity(tracker, "contact_caution") and not is_payload(text):
            # "don't call, my husband listens": the parent hears that it was understood
            dispatcher.utter_message(response="utter_contact_caution_noted")
        if latest_intent(tracker) == "request_human":
            return events  # "I want my klantmanager" answers the person question: go on
        if closes_contact_questions(tracker):
            return events  # the parent is done: the form ends and the referral is stored
        return events + interruption_events(tracker, "contact_form", fills_a_slot(events))

    @staticmethod
    async def _keep_referral_current(tracker: Tracker, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What the parent has said so far is stored as soon as it may be passed on and the
        person is known, so a parent who leaves before the last optional question is still
        contacted. That referral is held (its person is notified after
        ``WEGWIJS_REFERRAL_SETTLE_MINUTES``, or when the questions end: ``action_create_referral``)
        and every later answer is added to it (slot ``draft_reference``). After an urgent
        referral, the contact wishes join that one instead: "only WhatsApp, never call"
        must reach its person. Returns the slot events to add."""
        slots = dict(tracker.current_slot_values())
        slots.update({e["name"]: e.get("value") for e in events if e.get("event") == "slot" and e.get("name")})
        reference = slots.get("draft_reference") or slots.get("urgent_reference")
        may_pass_on = slots.get("consent") == "yes" or slots.get("handoff_consent") is True
        if not reference and not (may_pass_on and slots.get("person_type")):
            return []
        try:
            data = handoff.referral_from_slots(tracker.sender_id, slots, urgent_reason=None)
            if reference:
                await in_thread(handoff.update_referral, str(reference), data)
                return []
            out = await in_thread(lambda: handoff.store_referral(data, hold=True))
        except Exception:  # the conversation goes on; what was said stays in the tracker for action_create_referral
            logger.exception("handoff.update_failed")
            return []
        return [SlotSet("draft_reference", out.reference)]

    @staticmethod
    async def _withdraw_held(tracker: Tracker) -> list[dict[str, Any]]:
        """The parent took the consent back while the questions were open: the held referral
        (nobody was told of it yet) is deleted."""
        reference = tracker.get_slot("draft_reference")
        if not reference:
            return []
        try:
            await in_thread(handoff.withdraw_referral, str(reference))
        except Exception:
            logger.exception("handoff.withdraw_failed")
        return [SlotSet("draft_reference", None)]

    async def validate_municipality(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        """The gemeente, asked here when the intake did not get it (a parent who asked for
        a person at once): the referral goes to that gemeente's people, not the national queue."""
        return valid_municipality(slot_value)

    def _typed(self, tracker: Tracker, slot: str) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        if requested != slot:
            return self._wish_said_early(tracker, slot, requested)
        text = (tracker.latest_message or {}).get("text") or ""
        if is_payload(text) or latest_intent(tracker) == "deny":
            return {}
        if any(e.get("entity") == slot for e in (tracker.latest_message or {}).get("entities", [])):
            return {}  # the extractor read it already ("klantmanager or someone else, doesn't matter" → either)
        value = answer_for(text, words_for(tracker), slot, TYPED_VALUES[slot])
        return {slot: value} if value else {}

    def _wish_said_early(self, tracker: Tracker, slot: str, requested: Any) -> dict[str, Any]:
        """A one- or two-word answer that is a man/woman or alone/group wish, typed while
        another contact question is open ("ሰበይቲ", a woman, at "klantmanager or
        sleutelpersoon?"): kept for ``slot`` when it does not answer the open question.
        "Doesn't matter" is never taken this way (it answers the open question)."""
        if slot not in ("contact_gender", "contact_setting") or requested not in CONTACT_SLOTS:
            return {}
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        if (not text or is_payload(text) or tracker.get_slot(slot) is not None or len(text.split()) > CONTACT_ANSWER_WORDS
                or latest_intent(tracker) not in TIME_ANSWER_INTENTS):
            return {}
        words = words_for(tracker)
        if len(text.split()) > 2:
            # "تليفون، ست لو سمحت": a longer answer read with the open question known
            if any(e.get("entity") == slot for e in (tracker.latest_message or {}).get("entities", [])):
                return {}
            value = getattr(extract(text, words, open_question=requested), slot)
            return {slot: value} if value and value != "any" else {}
        if requested in TYPED_VALUES and answer_for(text, words, requested, TYPED_VALUES[requested]):
            return {}
        value = answer_for(text, words, slot, tuple(v for v in TYPED_VALUES[slot] if v != "any"))
        return {slot: value} if value else {}

    def _time_said_early(self, tracker: Tracker, requested: str) -> dict[str, Any]:
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        if (tracker.get_slot("contact_times") is not None or not text or is_payload(text)
                or len(text.split()) > CONTACT_ANSWER_WORDS or not (
                    latest_intent(tracker) in TIME_ANSWER_INTENTS
                    # an unsure topic ("ንግሆ ቆልዑ ናብ ቤት ትምህርቲ ምስ ከዱ": mornings, once the
                    # children are at school, read as school 0.33) may be the time
                    or (topic_of_intent(latest_intent(tracker)) and latest_confidence(tracker) < TOPIC_INTERRUPTION_CONFIDENCE))):
            return {}
        if any(e.get("entity") == "contact_times" for e in (tracker.latest_message or {}).get("entities", [])):
            return {}
        words = words_for(tracker)
        also_answers = len(text.split()) > SHORT_TIME_ANSWER_WORDS or (
            requested in TYPED_VALUES and answer_for(text, words, requested, TYPED_VALUES[requested]))
        # when it also answers the open question ("phone, mornings") the time needs a time word
        times = extract(text, words, open_question=requested if also_answers else "contact_times").contact_times
        return {"contact_times": {"nl": times.nl, "text": times.text}} if times else {}

    async def extract_person_type(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        """A typed answer to "klantmanager or sleutelpersoon?" (also "either")."""
        return self._typed(tracker, "person_type")

    async def extract_contact_channel(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        """A typed answer to "how would you like to be contacted?"."""
        return self._typed(tracker, "contact_channel")

    async def extract_contact_gender(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        """A typed answer to "a woman or a man?" (also "no preference")."""
        return self._typed(tracker, "contact_gender")

    async def extract_contact_setting(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        """A typed answer to "alone or in a group?"."""
        return self._typed(tracker, "contact_setting")

    async def extract_contact_times(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        """An answer to "when does it suit you?" that no time word covers, kept in the parent's words.

        While another contact question is open, a short message that is only a time of
        day ("ጠዋት ጠዋት ብቻ", mornings only) and does not answer that question is the time."""
        requested = tracker.get_slot("requested_slot")
        if requested in CONTACT_SLOTS and requested != "contact_times":
            return self._time_said_early(tracker, requested)
        if requested != "contact_times" or latest_intent(tracker) not in ("inform", "nlu_fallback"):
            return {}
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        if not text or is_payload(text) or any(e.get("entity") == "contact_times" for e in (tracker.latest_message or {}).get("entities", [])):
            return {}
        times = extract(text, words_for(tracker), open_question="contact_times").contact_times
        if times:
            return {"contact_times": {"nl": times.nl, "text": times.text}}
        if len(text.split()) > 12 or self._says_something_else(tracker, text):
            return {}
        return {"contact_times": {"nl": None, "text": text[:200]}}

    @staticmethod
    def _says_something_else(tracker: Tracker, text: str) -> bool:
        """Whether an answer to "when?" is about another contact wish ("تنها، گروهی نه":
        alone, no group; "نه، تلیفون ښه دی": no, phone is fine): then it is not kept as
        the times in the parent's words."""
        if gives_a_fact(tracker):
            return True
        words = words_for(tracker)
        return any(answer_for(text, words, slot, tuple(v for v in values if v != "any"))
                   for slot, values in TYPED_VALUES.items())

    async def extract_handoff_consent(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        """A typed yes/no to "may I pass this on?"."""
        if tracker.get_slot("requested_slot") != "handoff_consent" or latest_intent(tracker) in ("affirm", "deny"):
            return {}
        text = (tracker.latest_message or {}).get("text") or ""
        if is_payload(text):
            return {}
        value = answer_for(text, words_for(tracker), "consent", ("yes", "no"))
        return {"handoff_consent": value == "yes"} if value else {}

    async def validate_person_type(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"person_type": slot_value if slot_value in PERSON_TYPES else None}

    async def validate_handoff_consent(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if slot_value is True:
            return {"handoff_consent": True, "consent_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if slot_value is False:
            if gives_a_fact(tracker):
                # "no interpreter", "not whatsapp, phone": the no is about a contact wish
                # (kept), not a refusal to pass the question on; the question comes back
                return {"handoff_consent": None}
            return {"handoff_consent": False}
        return {"handoff_consent": None}

    async def validate_contact_channel(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"contact_channel": slot_value if slot_value in ("whatsapp", "phone", "visit", "skipped") else None}

    async def validate_contact_times(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if slot_value == "skipped" or (isinstance(slot_value, dict) and (slot_value.get("nl") or slot_value.get("text"))):
            return {"contact_times": slot_value}
        return {"contact_times": None}

    async def validate_contact_gender(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if slot_value == "any" and self._no_for_another_wish(tracker, "contact_gender"):
            return self._left_unsaid(tracker, "contact_gender")
        return {"contact_gender": slot_value if slot_value in ("woman", "man", "any") else None}

    async def validate_contact_setting(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if slot_value == "any" and self._no_for_another_wish(tracker, "contact_setting"):
            return self._left_unsaid(tracker, "contact_setting")
        return {"contact_setting": slot_value if slot_value in ("individual", "group", "any") else None}

    @staticmethod
    def _no_for_another_wish(tracker: Tracker, slot: str) -> bool:
        """Whether a "no" typed at ``slot``'s question belongs to another contact wish the
        extractor read in the same message ("tolk nee" at "alone or in a group?"): then it
        is not "no preference" (the ``from_intent`` mapping of the domain)."""
        if tracker.get_slot("requested_slot") != slot or latest_intent(tracker) != "deny":
            return False
        found = {e.get("entity") for e in (tracker.latest_message or {}).get("entities") or []}
        return bool(found & (set(CONTACT_SLOTS) - {slot}))

    @staticmethod
    def _left_unsaid(tracker: Tracker, slot: str) -> dict[str, Any]:
        """The parent answered a later question instead: ``slot`` stays "niet gezegd" and
        is not asked again (counted as asked :data:`MAX_ASKS` times)."""
        asked = dict(tracker.get_slot("asked") or {})
        asked[slot] = max(int(asked.get(slot, 0)), MAX_ASKS)
        return {slot: None, "asked": asked}

    async def validate_interpreter(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return {"interpreter": slot_value if isinstance(slot_value, bool) else None}


class ActionAskPersonType(AskAction):
    """Klantmanager or sleutelpersoon."""

    slot, response = "person_type", "utter_ask_person_type"

    def name(self) -> str:
        return "action_ask_person_type"


class ActionAskHandoffConsent(AskAction):
    """May the request be stored and passed on (only without the intake consent)."""

    slot, response = "handoff_consent", "utter_ask_handoff_consent"

    def name(self) -> str:
        return "action_ask_handoff_consent"


class ActionAskContactChannel(AskAction):
    """WhatsApp, phone or a visit."""

    slot, response = "contact_channel", "utter_ask_contact_channel"

    def name(self) -> str:
        return "action_ask_contact_channel"


class ActionAskContactTimes(AskAction):
    """When it suits the parent."""

    slot, response = "contact_times", "utter_ask_contact_times"

    def name(self) -> str:
        return "action_ask_contact_times"


class ActionAskContactGender(AskAction):
    """A woman or a man."""

    slot, response = "contact_gender", "utter_ask_contact_gender"

    def name(self) -> str:
        return "action_ask_contact_gender"


class ActionAskContactSetting(AskAction):
    """Alone or in a group."""

    slot, response = "contact_setting", "utter_ask_contact_setting"

    def name(self) -> str:
        return "action_ask_contact_setting"


class ActionAskInterpreter(AskAction):
    """An interpreter for the conversation."""

    slot, response = "interpreter", "utter_ask_interpreter"

    def name(self) -> str:
        return "action_ask_interpreter"


async def spool_if_database_down(error: BaseException, data: handoff.ReferralIn, *, join: tuple[Any, ...]) -> bool:
    """After a failed store: when the database was the cause (a SQLAlchemy error), keep the
    referral in the spool (:func:`wegwijs.handoff.spool_referral`; the outbox worker stores
    it later, joined to the first of ``join`` that exists). Never raises; returns whether
    it was spooled. The parent still gets the failure response: nobody has it yet."""
    from sqlalchemy.exc import SQLAlchemyError

    if not isinstance(error, SQLAlchemyError):
        return False
    try:
        path = await in_thread(lambda: handoff.spool_referral(data, join=[str(r) for r in join if r]))
    except Exception:
        logger.exception("handoff.spool_failed kind=%s", data.urgency)
        return False
    from wegwijs.referrals.spool import file_id

    logger.warning("handoff.spooled file=%s kind=%s: stored by the outbox worker when the database is back",
                   file_id(path), data.urgency)
    return True


#: entities of a message that add to a referral already passed on ("we live in Zwolle, not
#: Utrecht", "only WhatsApp", "my husband reads my phone")
REFERRAL_FACT_ENTITIES = (
    "municipality", "contact_channel", "contact_times", "contact_gender", "contact_setting",
    "interpreter", "person_type", "contact_caution", "children_ages", "pregnancy_months",
)


async def add_to_released_referral(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """A fact typed after the referral was passed on (slot ``referral_reference``) with no
    question open is added to that referral — a gemeente said then routes it there while
    nobody has taken it up — and the parent is told so (``utter_referral_updated``; a
    contact caution also gets ``utter_contact_caution_noted``).

    Returns:
        Whether the message was such a fact and was added (the caller then says nothing else).
        False when there is no released referral, the message gives no such fact, the
        referral is gone (deleted) or the database is down (logged; the slots keep it).
    """
    reference = tracker.get_slot("referral_reference")
    if not reference or tracker.get_slot("consent") == "no" and not tracker.get_slot("urgent_reference"):
        return False
    said = {e.get("entity") for e in (tracker.latest_message or {}).get("entities", []) or []}
    if not said & set(REFERRAL_FACT_ENTITIES):
        return False
    cautions = ["utter_contact_caution_noted"] if "contact_caution" in said else []
    return await _update_released(dispatcher, tracker, str(reference), tracker.current_slot_values(), cautions)


async def add_question_to_referral(
    dispatcher: CollectingDispatcher, tracker: Tracker, reference: str, questions: list[dict[str, Any]],
) -> bool:
    """Add the out-of-scope ``questions`` (``[{"text", "lang"}]``) to the referral already
    passed on and tell the parent (``utter_referral_updated``). Returns False when it is
    gone or the database is down (logged)."""
    slots = {**tracker.current_slot_values(), "out_of_scope_questions": questions}
    return await _update_released(dispatcher, tracker, reference, slots)


async def _update_released(dispatcher: CollectingDispatcher, tracker: Tracker, reference: str,
                           slots: dict[str, Any], before: list[str] | None = None) -> bool:
    """Add ``slots`` to referral ``reference``; on success utter the ``before`` responses
    and ``utter_referral_updated``. False when it is gone or the database is down (logged)."""
    data = handoff.referral_from_slots(tracker.sender_id, slots, urgent_reason=None)
    try:
        out = await in_thread(handoff.update_referral, reference, data)
    except Exception:
        logger.exception("handoff.update_failed")
        return False
    if out is None:
        return False
    for response in before or []:
        dispatcher.utter_message(response=response)
    dispatcher.utter_message(response="utter_referral_updated", reference=out.reference)
    return True


class ActionCreateReferral(Action):
    """Stores the referral with its Dutch summary and tells the parent what happens next.

    After an urgent referral in the same conversation (slot ``urgent_reference``) nothing
    new is stored: the contact wishes, topics and questions are added to that referral
    and the parent gets its reference (no second case for the staff, no second caller).
    """

    def name(self) -> str:
        return "action_create_referral"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        urgent = tracker.get_slot("urgent_reference")
        if tracker.get_slot("consent") != "yes" and not tracker.get_slot("handoff_consent") and not urgent:
            dispatcher.utter_message(response="utter_referral_not_stored")
            return [SlotSet("offered_person", False), *[SlotSet(s, None) for s in CONTACT_SLOTS]]
        data = handoff.referral_from_slots(tracker.sender_id, tracker.current_slot_values(), urgent_reason=None)
        held = tracker.get_slot("draft_reference")
        try:
            # one point of contact: after an urgent referral, a request for a person in the
            # same conversation joins it (its person already knows the family)
            out = await in_thread(handoff.update_referral, str(urgent), data) if urgent else None
            joined = out is not None
            if out is None and held:
                # stored while the questions were open: the parent is done, its person is told now
                out = await in_thread(lambda: handoff.update_referral(str(held), data, release=True))
            if out is None:
                out = await in_thread(handoff.store_referral, data)
        except Exception as error:  # the database is down: say so, lose nothing the parent said (it stays in the tracker)
            logger.exception("handoff.referral.store_failed")
            await spool_if_database_down(error, data, join=(urgent, held))
            dispatcher.utter_message(response="utter_referral_failed")
            return [SlotSet("offered_person", False)]
        if joined:
            # joined to the urgent referral: its person calls as soon as possible, not "within 3 days"
            dispatcher.utter_message(response="utter_referral_done_urgent", reference=out.reference)
            return [SlotSet("referral_reference", out.reference), SlotSet("offered_person", False),
                    SlotSet("draft_reference", None), *[SlotSet(s, None) for s in CONTACT_SLOTS]]
        pack = pack_for(tracker)
        # routing (wegwijs.routing): the role and first name of the person it went to and
        # the gemeente's promised working days
        contact = out.contact
        asked_for = data.person_type if data.person_type in PERSON_TYPES else None  # never "not_said" to a parent
        person_type = (contact.role if contact is not None and contact.role else None) or asked_for or "either"
        if person_type not in PERSON_TYPES:
            person_type = "either"
        label = pack.label("person_type", person_type)
        if contact is not None and contact.first_name and contact.role:
            # who will contact them, by first name (BRIEF R9; no other detail): "een sleutelpersoon (Senait)"
            name = f"\u2068{contact.first_name}\u2069" if pack.meta.direction == "rtl" else contact.first_name
            label = f"{label} ({name})"
        dispatcher.utter_message(
            response="utter_referral_done",
            person_label=label,
            reference=out.reference,
            days=str(contact.response_days if contact is not None else handoff.contact_days()),
        )
        # the next request for a person asks the contact questions again
        reset = [SlotSet(s, None) for s in CONTACT_SLOTS]
        return [SlotSet("referral_reference", out.reference), SlotSet("offered_person", False),
                SlotSet("draft_reference", None), *reset]


class ActionUrgentReferral(Action):
    """The urgent warme overdracht after the emergency numbers (BRIEF section 4, R14).

    The numbers were already sent by a static response (``utter_urgent_<category>``,
    chosen by ``SafetyFirstPolicy``), so this action only stores the urgent referral and
    says a person was alerted. It is stored even without the intake consent: a signal of
    danger must reach a human; the privacy text says so. One urgent referral per
    conversation: a later danger message is added to it (``urgent_reference``), and a new
    category notifies the person again (:func:`wegwijs.handoff.add_urgent_signal`).
    """

    def name(self) -> str:
        return "action_urgent_referral"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        msg = tracker.latest_message or {}
        safety = msg.get("safety") or {}
        reason = safety.get("category") or tracker.get_slot("urgent_category") or "urgent_help"
        slots = dict(tracker.current_slot_values())
        slots["concern_text"] = remember_concern(tracker)
        data = handoff.referral_from_slots(tracker.sender_id, slots, urgent_reason=reason)
        # one urgent referral per conversation; one held while the contact questions were open becomes it
        earlier = tracker.get_slot("urgent_reference") or tracker.get_slot("draft_reference")
        try:
            out = await in_thread(handoff.add_urgent_signal, earlier, data) if earlier else None
            out = out or await in_thread(handoff.store_referral, data)
        except Exception as error:
            logger.exception("handoff.urgent.store_failed")
            await spool_if_database_down(error, data, join=(earlier,))
            dispatcher.utter_message(response="utter_referral_failed")
            return [SlotSet("concern_text", slots["concern_text"])]
        dispatcher.utter_message(response="utter_urgent_referral", reference=out.reference)
        return [SlotSet("concern_text", slots["concern_text"]), SlotSet("referral_reference", out.reference),
                SlotSet("urgent_reference", out.reference), SlotSet("draft_reference", None)]
