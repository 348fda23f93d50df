"""The conversation of a referral, read from Rasa's SQL tracker store.

Rasa's ``SQLTrackerStore`` keeps one row per event in the table ``events``
(``sender_id``, ``type_name``, ``timestamp`` as float seconds since the epoch,
``data`` the event's JSON; ``rasa/core/tracker_store.py`` ``SQLEvent``). The
conversation id of a referral is the Rasa sender id. User events (``type_name``
"user") carry the language the Wegwijs language-ID component detected in
``data.parse_data.language.code``; bot events ("bot") are in the conversation
language. The table is declared here (not imported from Rasa) so the inbox process
does not load Rasa.

Direction: a language is right-to-left when its ``languages/<code>/meta.yml`` says
``direction: rtl`` (ar, fa, prs, ps).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Optional

import sqlalchemy as sa
import yaml

logger = logging.getLogger(__name__)

_events = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("type_name", sa.String(255)),
    sa.Column("timestamp", sa.Float),
    sa.Column("data", sa.Text),
)

#: Most messages shown of one conversation.
MAX_MESSAGES = 500


@dataclass(frozen=True)
class Message:
    """One message of the transcript.

    ``speaker`` is ``"parent"`` (the parent's own words) or ``"bot"``; ``lang`` the
    language code (None when unknown); ``dir`` ``"rtl"`` or ``"ltr"``.
    """

    speaker: str
    text: str
    at: Optional[datetime]
    lang: Optional[str]
    dir: str


@lru_cache(maxsize=8)
def rtl_languages(languages_dir: Path) -> frozenset[str]:
    """Codes whose ``meta.yml`` says ``direction: rtl``."""
    codes = set()
    for meta in Path(languages_dir).glob("*/meta.yml"):
        try:
            data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        if data.get("direction") == "rtl":
            codes.add(str(data.get("code") or meta.parent.name))
    return frozenset(codes)


def direction(lang: str | None, languages_dir: Path) -> str:
    """``"rtl"`` for a right-to-left language, else ``"ltr"``."""
    return "rtl" if lang and lang in rtl_languages(Path(languages_dir)) else "ltr"


class TranscriptUnavailable(RuntimeError):
    """The tracker store cannot be read (the message says why, without personal data)."""


def load_transcript(
    engine: sa.engine.Engine, conversation_id: str, *, conversation_language: str,
    languages_dir: Path,
) -> list[Message]:
    """The user and bot messages of ``conversation_id``, oldest first.

    A store without an ``events`` table (nothing said yet, or purged) gives ``[]``.

    Raises:
        TranscriptUnavailable: the database cannot be reached.
    """
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("events"):
                return []
            rows = connection.execute(
                sa.select(_events.c.type_name, _events.c.timestamp, _events.c.data)
                .where(_events.c.sender_id == conversation_id, _events.c.type_name.in_(("user", "bot")))
                .order_by(_events.c.id).limit(MAX_MESSAGES)
            ).all()
    except sa.exc.SQLAlchemyError as error:
        raise TranscriptUnavailable(type(error).__name__) from None
    messages = []
    for type_name, timestamp, raw in rows:
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            continue
        text = data.get("text")
        if not text:
            continue
        at = datetime.fromtimestamp(timestamp, timezone.utc) if timestamp else None
        if type_name == "user":
            lang = (((data.get("parse_data") or {}).get("language") or {}).get("code")
                    or conversation_language)
            speaker = "parent"
        else:
            lang, speaker = conversation_language, "bot"
        messages.append(Message(speaker=speaker, text=str(text), at=at, lang=lang,
                                dir=direction(lang, languages_dir)))
    return messages
