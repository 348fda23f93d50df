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


def remember_concern(tracker: Tracker) -> list[dict[str, str]]:
    """The ``concern_text`` slot plus the latest message in the parent's own words."""
    concern = list(tracker.get_slot("concern_text") or [])
    text = (tracker.latest_message or {}).get("text") or ""
    if text and not is_payload(text) and all(c.get("text") != text for c in concern):
        concern.append({"text": text[:1000], "lang": tracker.get_slot("language") or "und"})
    return concern[-5:]
