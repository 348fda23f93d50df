"""Helpers shared by the action modules (no Action classes here)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, TypeVar

from rasa_sdk import Tracker

from wegwijs.content.schema import LanguagePack
from wegwijs.content.store import ContentStore, content_store

T = TypeVar("T")


def store() -> ContentStore:
    """The cached content store."""
    return content_store()


def pack_for(tracker: Tracker) -> LanguagePack:
    """The language pack of the conversation's language."""
    return store().pack(tracker.get_slot("language"))


def latest_intent(tracker: Tracker) -> str | None:
    """Name of the intent of the latest user message."""
    return (tracker.latest_message or {}).get("intent", {}).get("name")


def latest_confidence(tracker: Tracker) -> float:
    """Confidence (0..1) of the intent of the latest user message."""
    return float((tracker.latest_message or {}).get("intent", {}).get("confidence") or 0.0)


def words_for(tracker: Tracker) -> Any:
    """The intake word lists (:class:`wegwijs.intake.extract.Words`) of the conversation
    language plus Dutch and English."""
    return store().words(tracker.get_slot("language"))


def latest_entity(tracker: Tracker, entity: str) -> Any:
    """Value of ``entity`` in the latest user message (button payloads carry entities)."""
    for e in (tracker.latest_message or {}).get("entities", []) or []:
        if e.get("entity") == entity:
            return e.get("value")
    return None


def is_payload(text: str | None) -> bool:
    """True when ``text`` is a button payload ("/affirm"), not the parent's words."""
    return bool(text) and text.startswith("/")  # type: ignore[union-attr]


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking ``fn`` (SQLAlchemy) in the default executor, keeping the event loop free."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


def topic_of_intent(intent: str | None) -> str | None:
    """``"topic_school"`` → ``"school"``; None for other intents."""
    if intent and intent.startswith("topic_"):
        return intent[len("topic_"):]
    return None


#: Intents whose short messages are no concern in the parent's words ("yes", "ok thanks").
BARE_INTENTS = ("affirm", "deny", "thanks", "greet", "goodbye")
#: Up to this many words such a message (or a bare answer word) is left out of ``concern_text``.
BARE_WORDS = 3


def bare_answer(tracker: Tracker) -> bool:
    """Whether the latest message is only a yes/no/thanks or a bare answer to a contact
    question ("alone", "a woman", "whatsapp"): nothing a person needs to read as the
    parent's concern (it is in the summary's fields, or it was no answer at all)."""
    from wegwijs.intake.extract import answer_for

    msg = tracker.latest_message or {}
    text = msg.get("text") or ""
    intent = latest_intent(tracker) or ""
    if len(text.split()) > BARE_WORDS or msg.get("safety") or intent == "urgent_help" or intent.startswith("topic_"):
        return False  # danger and a topic in a few words are always kept
    if intent in BARE_INTENTS:
        return True
    words = words_for(tracker)
    return any(answer_for(text, words, slot, list(values)) for slot, values in words.answers.items())


def remember_concern(tracker: Tracker) -> list[dict[str, str]]:
    """The ``concern_text`` slot plus the latest message in the parent's own words
    (not a bare answer, see :func:`bare_answer`); the last 5 are kept."""
    concern = list(tracker.get_slot("concern_text") or [])
    text = (tracker.latest_message or {}).get("text") or ""
    if text and not is_payload(text) and not bare_answer(tracker) and all(c.get("text") != text for c in concern):
        concern.append({"text": text[:1000], "lang": tracker.get_slot("language") or "und"})
    return concern[-5:]


def home_check_events(dispatcher: Any, tracker: Tracker) -> list[dict[str, Any]]:
    """Asks once per conversation whether the parent and the children are safe at home
    (``utter_home_safety_check``: Veilig Thuis, 112, a person) when an earlier message had
    a ``home_check`` phrase of ``safety.yml`` ("my husband is angry all the time"): slot
    ``home_check`` "due" → "done". No emergency reply: the message was not urgent."""
    from rasa_sdk.events import SlotSet

    if tracker.get_slot("home_check") != "due":
        return []
    dispatcher.utter_message(response="utter_home_safety_check")
    return [SlotSet("home_check", "done")]
