"""WhatsApp Cloud API channel (``/webhooks/whatsapp/webhook``), input and output.

Registered in credentials.yml as ``integrations.whatsapp.WhatsAppCloudInput``; Rasa
mounts the blueprint under ``/webhooks/<name()>/`` and the name is ``whatsapp``.
Design and operation: ``docs/whatsapp.md``.

Routes
------
- ``GET  /webhooks/whatsapp/``: health, ``{"status": "ok"}`` (Rasa's convention).
- ``GET  /webhooks/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C``:
  200 with ``C`` as plain text when ``T`` equals the verify token; else 403.
- ``POST /webhooks/whatsapp/webhook``: a webhook body (``{"object":
  "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value":
  {"metadata": {...}, "contacts": [...], "messages": [...], "statuses": [...]}}]}]}``).
  Answers, in this order of checks:

  ====  ===================================================================
  403   no app secret configured (every POST), or ``X-Hub-Signature-256`` is
        missing or is not ``sha256=`` + hex HMAC-SHA256 of the raw body
  413   body larger than ``max_body_bytes`` (default 1 MiB)
  400   body is not a JSON object
  500   the message ids could not be stored (Meta then redelivers later)
  200   everything else, at once; messages are processed in the background
  ====  ===================================================================

Facts used (``/work/shared/notes/channels.md``, checked against the lock): Meta retries
any non-200 for up to 7 days; voice notes are ``type: audio`` with ``audio.voice: true``;
``statuses`` are not messages; reply buttons: at most 3, title <= 20 characters, id <=
256; interactive body <= 1024; text <= 4096; list: button label <= 20, at most 10 rows,
row title <= 24, description <= 72, row id <= 200. Payload shapes: the pywa test
fixtures in ``tests/data/channels/whatsapp_cloud/`` (MIT, see SOURCES.md there).

Inbound, per ``messages[]`` item (the message id is stored first in the table
``channel_messages``; an id seen before is skipped, also after a restart):

- ``text`` → ``text.body``; interactive ``button_reply`` / ``list_reply`` → their ``id``
  (a Rasa payload such as ``/topic_school``); ``button`` (template quick reply) → its
  ``payload`` (else its ``text``); image, video or document **with a caption** → the
  caption (the file itself is not fetched);
- ``audio`` (voice notes and audio files): never dropped. The channel itself answers
  with ``utter_voice_note`` in the conversation language (the tracker's ``language``
  slot, read from the agent's tracker store; Dutch + English when unknown) and stores
  the media id and the conversation id in ``channel_messages`` so a person can fetch
  and listen to it; a referral of the conversation lists it, and its person is
  notified through the outbox in the same transaction
  (:mod:`wegwijs.referrals.voice_notes`). Nothing is sent to Rasa, so the dialogue is
  untouched;
- image, video, document without caption, ``sticker``, ``location``, ``contacts``,
  ``order``, ``unsupported`` and interactive replies we cannot read: the channel
  answers ``utter_not_understood`` in the conversation language (same rule); the
  content (places, phone numbers, files) is neither read nor stored;
- ``reaction``, ``system``, ``revoke``, ``edit`` and unknown types: recorded (kind
  only) and logged, no answer.

``statuses[]`` items are recorded (row ``<wamid>#<status>``, kind ``status_<status>``)
and logged (failed ones with their error codes); they never reach Rasa.

Logs name a conversation by a 12-character SHA-256 pseudonym, never by phone number,
and hold no message text.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Text

import aiohttp
import yaml
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

CHANNEL_NAME = "whatsapp"
DEFAULT_GRAPH_URL = "https://graph.facebook.com/v19.0"
#: Webhook bodies in the fixtures are 1-3 KiB; Meta may batch several updates in one.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

MAX_TEXT_CHARS = 4096
MAX_INTERACTIVE_BODY_CHARS = 1024
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE_CHARS = 20
MAX_BUTTON_ID_CHARS = 256
MAX_LIST_ROWS = 10
MAX_ROW_TITLE_CHARS = 24
MAX_ROW_DESCRIPTION_CHARS = 72
MAX_ROW_ID_CHARS = 200
#: Label of the button that opens a list message (<= 20 characters). "menu" is a
#: command word in every language (docs/design.md), so it is understood everywhere.
LIST_BUTTON_LABEL = "☰ Menu"

#: Response keys the channel sends itself (``languages/<lang>/responses.yml``).
VOICE_NOTE_RESPONSE = "utter_voice_note"
NOT_UNDERSTOOD_RESPONSE = "utter_not_understood"
#: Languages of the reply when the conversation language is unknown.
FALLBACK_LANGUAGES = ("nl", "en")

#: ``(credentials key, environment variable)`` of every setting.
SETTINGS = {
    "app_secret": "WHATSAPP_APP_SECRET",
    "verify_token": "WHATSAPP_VERIFY_TOKEN",
    "access_token": "WHATSAPP_ACCESS_TOKEN",
    "phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
    "graph_url": "WHATSAPP_GRAPH_URL",
    "templates_file": "WHATSAPP_TEMPLATES_FILE",
}

#: Which approved template goes out outside the 24-hour window, per Wegwijs language.
DEFAULT_TEMPLATES_FILE = Path(__file__).resolve().parent / "whatsapp_templates.yml"
#: WhatsApp's customer-service window is 24 hours after the parent's last message; we
#: close it 10 minutes early (our receipt time, not the parent's send time, is stored).
DEFAULT_SERVICE_WINDOW_SECONDS = 24 * 3600 - 600
#: Graph error code of a free-form message outside the window ("Re-engagement message").
REENGAGEMENT_ERROR = "131047"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KIND_CHARS = re.compile(r"[^a-z0-9_]")


def pseudonym(value: str) -> str:
    """A short, stable hash of a sender id (a phone number) for logs."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]


def _safe_kind(value: Any, prefix: str = "") -> str:
    """``prefix + value`` reduced to ``[a-z0-9_]``, at most 40 characters (table column)."""
    text = _KIND_CHARS.sub("_", str(value or "unknown").lower())
    return (prefix + text)[:40]


#: Public name of :func:`_safe_kind` (used by ``integrations.twilio_whatsapp``).

def channel_settings(
    credentials: Optional[Dict[str, Any]],
    environ: Optional[Mapping[str, str]],
    text_settings: Mapping[str, str],
    number_settings: Mapping[str, type],
    *,
    url_key: str,
) -> Dict[str, Any]:
    """A channel's settings from its credentials entry and the environment.

    Args:
        credentials: the credentials.yml entry (``${VAR}`` placeholders expanded, unset = empty).
        environ: the environment (default ``os.environ``).
        text_settings: setting name → environment variable read when the entry has no value.
        number_settings: setting name → ``int`` or ``float`` (credentials only).
        url_key: the setting whose trailing "/" is dropped.

    Returns:
        ``{setting: value}`` for every setting that has a value.

    Raises:
        ValueError: a number setting is not a number.
    """
    env = os.environ if environ is None else environ
    creds = dict(credentials or {})
    values: Dict[str, Any] = {}
    for key, variable in text_settings.items():
        value = _expand(creds.get(key), env) or env.get(variable, "").strip()
        if value:
            values[key] = value.rstrip("/") if key == url_key else value
    for key, kind in number_settings.items():
        if creds.get(key) not in (None, ""):
            values[key] = kind(_expand(creds[key], env))
    return values

safe_kind = _safe_kind


# --------------------------------------------------------------------------- settings


def _expand(value: Any, environ: Mapping[str, str]) -> str:
    """``value`` as text with ``${VAR}`` replaced from ``environ`` (unset → empty)."""
    if value is None:
        return ""
    return _PLACEHOLDER.sub(lambda m: environ.get(m.group(1), ""), str(value)).strip()


#: Public name of :func:`_expand` (used by ``integrations.twilio_whatsapp``).


@dataclass(frozen=True)
class WhatsAppConfig:
    """Settings of the channel. Empty strings mean "not configured".

    Without ``app_secret`` every POST is refused (403); without ``verify_token`` every
    verification GET is refused; without ``access_token`` or ``phone_number_id`` replies
    cannot be sent (each attempt is logged as an error).
    """

    app_secret: str = ""
    verify_token: str = ""
    access_token: str = ""
    phone_number_id: str = ""
    graph_url: str = DEFAULT_GRAPH_URL
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    send_attempts: int = 3
    send_backoff_seconds: float = 0.5
    send_timeout_seconds: float = 10.0
    templates_file: str = ""
    service_window_seconds: float = DEFAULT_SERVICE_WINDOW_SECONDS

    @classmethod
    def from_sources(
        cls, credentials: Optional[Mapping[str, Any]], environ: Optional[Mapping[str, str]] = None
    ) -> "WhatsAppConfig":
        """Build the settings from a credentials.yml entry and the environment.

        For each setting the credentials value wins when it is non-empty after
        ``${VAR}`` expansion, else the environment variable (``WHATSAPP_APP_SECRET``,
        ``WHATSAPP_VERIFY_TOKEN``, ``WHATSAPP_ACCESS_TOKEN``,
        ``WHATSAPP_PHONE_NUMBER_ID``, ``WHATSAPP_GRAPH_URL``), else the default.
        Write placeholders **quoted** in credentials.yml (``"${WHATSAPP_APP_SECRET}"``):
        Rasa expands unquoted ``${VAR}`` itself and refuses to start when VAR is unset.
        Optional credentials keys: ``max_body_bytes``, ``send_attempts``,
        ``send_backoff_seconds``, ``send_timeout_seconds``, ``service_window_seconds``;
        ``templates_file`` (or ``WHATSAPP_TEMPLATES_FILE``; default
        ``integrations/whatsapp_templates.yml``).

        Args:
            credentials: the channel's credentials.yml entry (may be None or empty).
            environ: environment (default ``os.environ``).

        Raises:
            ValueError: a number setting is not a number.
        """
        numbers = {"max_body_bytes": int, "send_attempts": int, "send_backoff_seconds": float,
                   "send_timeout_seconds": float, "service_window_seconds": float}
        return cls(**channel_settings(credentials, environ, SETTINGS, numbers, url_key="graph_url"))


# --------------------------------------------------------------------------- storage


def _default_session_factory() -> Any:
    from wegwijs.bootstrap import get_session_factory

    return get_session_factory()


class MessageLog:
    """The ``channel_messages`` table: which webhook items were seen (no text).

    Args:
        session_factory: a SQLAlchemy ``sessionmaker``; default the composition root's
            (``WEGWIJS_DATABASE_URL``), built on first use.
        routing: the routing table for voice-note notifications; default the routing
            files of ``WEGWIJS_ROUTING_DIR``, read when the first one is needed.
    """

    def __init__(self, session_factory: Any = None, channel: str = CHANNEL_NAME, routing: Any = None) -> None:
        self._session_factory = session_factory
        self.channel = channel
        self.routing = routing

    @property
    def session_factory(self) -> Any:
        if self._session_factory is None:
            self._session_factory = _default_session_factory()
        return self._session_factory

    def claim(
        self,
        message_id: str,
        kind: str,
        *,
        media_id: Optional[str] = None,
        conversation_id: Optional[str] = None,
        voice_note: bool = False,
    ) -> bool:
        """Store ``message_id``; True when it is new, False when it was stored before.

        ``voice_note``: the row is a parent's voice note; in the same transaction the
        person of the conversation's referral is notified through the outbox
        (:func:`wegwijs.referrals.voice_notes.on_voice_note_stored`), so a stored voice
        note of a referred parent always has its notification, and a redelivery none.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or written
                (anything but the unique constraint).
        """
        from sqlalchemy.exc import IntegrityError

        from wegwijs.db.models import ChannelMessage

        try:
            with self.session_factory.begin() as session:
                row = ChannelMessage(
                    message_id=message_id[:255],
                    channel=self.channel,
                    kind=kind,
                    media_id=media_id,
                    conversation_id=conversation_id,
                )
                session.add(row)
                session.flush()  # a redelivered id fails here, before anything is queued
                if voice_note and conversation_id:
                    from wegwijs.referrals.voice_notes import on_voice_note_stored

                    on_voice_note_stored(session=session, row=row, routing=self.routing)
        except IntegrityError:
            return False
        return True

    def hold(self, conversation_id: str, payload: Mapping[str, Any], max_held: int) -> Optional[str]:
        """Store one message held for ``conversation_id`` (``held_messages``); keeps at most
        ``max_held`` per parent by deleting the oldest.

        Returns:
            The ``type`` of the message dropped to make room, or None.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or written.
        """
        import sqlalchemy as sa

        from wegwijs.db.models import HeldMessage

        dropped: Optional[str] = None
        with self.session_factory.begin() as session:
            rows = self._held_rows(session, conversation_id)
            if len(rows) >= max_held:
                oldest = rows[0]
                dropped = str((oldest.payload or {}).get("type", "unknown"))
                session.execute(sa.delete(HeldMessage).where(HeldMessage.id == oldest.id))
            session.add(HeldMessage(channel=self.channel, conversation_id=conversation_id[:255], payload=dict(payload)))
        return dropped

    def take_held(self, conversation_id: str) -> List[Dict[str, Any]]:
        """Remove and return the messages held for ``conversation_id``, oldest first.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or written.
        """
        import sqlalchemy as sa

        from wegwijs.db.models import HeldMessage

        with self.session_factory.begin() as session:
            rows = self._held_rows(session, conversation_id)
            if rows:
                session.execute(sa.delete(HeldMessage).where(HeldMessage.id.in_([r.id for r in rows])))
        return [dict(r.payload) for r in rows]

    def _held_rows(self, session: Any, conversation_id: str) -> List[Any]:
        """``(id, payload)`` rows held for ``conversation_id`` on this channel, oldest first."""
        import sqlalchemy as sa

        from wegwijs.db.models import HeldMessage

        return session.execute(
            sa.select(HeldMessage.id, HeldMessage.payload)
            .where(HeldMessage.channel == self.channel, HeldMessage.conversation_id == conversation_id)
            .order_by(HeldMessage.id)
        ).all()

    def last_inbound(self, conversation_id: str) -> Optional[datetime]:
        """When the newest message of ``conversation_id`` on this channel was stored.

        Inbound message rows are the only rows with a ``conversation_id`` (statuses and
        outbound outcomes have none), so this is the start of WhatsApp's 24-hour window.

        Returns:
            An aware UTC datetime, or None when no message of that sender is stored
            (never wrote, purged, or "delete my data").
        """
        import sqlalchemy as sa

        from wegwijs.db.models import ChannelMessage

        with self.session_factory() as session:
            return session.execute(
                sa.select(ChannelMessage.received_at)
                .where(ChannelMessage.channel == self.channel,
                       ChannelMessage.conversation_id == conversation_id,
                       ~ChannelMessage.kind.like("status_%"))
                .order_by(ChannelMessage.received_at.desc())
                .limit(1)
            ).scalar_one_or_none()


# --------------------------------------------------------------------------- outbound


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut."""
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _cut_index(text: str, limit: int) -> int:
    """Where to cut ``text`` (longer than ``limit``): the last paragraph, line,
    sentence or word break within ``limit``, else exactly at ``limit``."""
    window = text[: limit + 1]
    for separator in ("\n\n", "\n", ". ", " "):
        index = window.rfind(separator, 0, limit + 1)
        if index > limit // 2:
            return index + (1 if separator == ". " else 0)
    return limit


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> List[str]:
    """Split ``text`` into parts of at most ``limit`` characters at natural breaks.

    Returns:
        The parts, stripped and non-empty (``[]`` for blank text).
    """
    parts: List[str] = []
    rest = (text or "").strip()
    while len(rest) > limit:
        index = _cut_index(rest, limit)
        head = rest[:index].strip()
        if head:
            parts.append(head)
        rest = rest[index:].strip()
    if rest:
        parts.append(rest)
    return parts


def _body_and_head(text: str) -> tuple[List[str], str]:
    """``(text messages to send first, interactive body <= 1024 characters)``."""
    parts = split_text(text, MAX_INTERACTIVE_BODY_CHARS)
    if not parts:
        return [], "…"
    body = parts[-1]
    head = text.strip()[: len(text.strip()) - len(body)].strip() if len(parts) > 1 else ""
    return split_text(head), body


def _button_id(button: Mapping[str, Any], limit: int) -> str:
    value = str(button.get("payload") or button.get("title") or "")
    if len(value) > limit:
        logger.warning("whatsapp.button_id_too_long length=%d limit=%d", len(value), limit)
    return value[:limit]


def build_messages(text: str, buttons: Optional[List[Mapping[str, Any]]] = None) -> List[Dict]:
    """The Graph API message objects (without ``to``) for a text and Rasa buttons.

    Args:
        text: the bot text (any length).
        buttons: Rasa buttons ``[{"title": str, "payload": str}, ...]`` or None.

    Returns:
        ``[{"type": "text", "text": {...}}, ...]``: no buttons → text messages of at most
        4096 characters; 1-3 buttons → ``interactive`` ``button`` (titles <= 20,
        truncated with "…"); 4 or more → ``interactive`` ``list`` messages of at most
        10 rows each (titles <= 24; a cut title is given in full, up to 72 characters,
        as the row description). A text longer than the 1024 characters an
        interactive body allows goes first as text messages.
    """
    buttons = [b for b in (buttons or []) if b.get("title") or b.get("payload")]
    if not buttons:
        return [
            {"type": "text", "text": {"body": part, "preview_url": False}}
            for part in split_text(text)
        ]
    head, body = _body_and_head(text)
    messages: List[Dict] = [
        {"type": "text", "text": {"body": part, "preview_url": False}} for part in head
    ]
    if len(buttons) <= MAX_REPLY_BUTTONS:
        messages.append(
            {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": body},
                    "action": {
                        "buttons": [
                            {
                                "type": "reply",
                                "reply": {
                                    "id": _button_id(b, MAX_BUTTON_ID_CHARS),
                                    "title": truncate(
                                        str(b.get("title") or b.get("payload")),
                                        MAX_BUTTON_TITLE_CHARS,
                                    ),
                                },
                            }
                            for b in buttons
                        ]
                    },
                },
            }
        )
        return messages
    if len(buttons) > MAX_LIST_ROWS:
        logger.warning(
            "whatsapp.list_split buttons=%d rows_per_list=%d", len(buttons), MAX_LIST_ROWS
        )
    for start in range(0, len(buttons), MAX_LIST_ROWS):
        rows = []
        for b in buttons[start : start + MAX_LIST_ROWS]:
            title = str(b.get("title") or b.get("payload"))
            row: Dict[str, str] = {
                "id": _button_id(b, MAX_ROW_ID_CHARS),
                "title": truncate(title, MAX_ROW_TITLE_CHARS),
            }
            if len(title.strip()) > MAX_ROW_TITLE_CHARS:
                row["description"] = truncate(title, MAX_ROW_DESCRIPTION_CHARS)
            rows.append(row)
        messages.append(
            {
                "type": "interactive",
                "interactive": {
                    "type": "list",
                    "body": {"text": body if start == 0 else "…"},
                    "action": {"button": LIST_BUTTON_LABEL, "sections": [{"rows": rows}]},
                },
            }
        )
    return messages


class GraphClient:
    """Sends messages through the Graph API ``POST {graph_url}/{phone_number_id}/messages``.

    Up to ``config.send_attempts`` attempts (default 3) with exponential backoff
    (``send_backoff_seconds`` × 1, 2, 4...) on connection errors, timeouts, 429 and
    5xx; other 4xx answers are not retried. A message that could not be sent is
    logged at ERROR (status, Graph error code, pseudonymised recipient) and passed
    to ``on_failure``; it is never dropped silently.

    Args:
        config: the channel settings.
        on_failure: called as ``on_failure(recipient_id, message_type, reason)``.
    """

    def __init__(
        self,
        config: WhatsAppConfig,
        on_failure: Optional[Callable[[str, str, str], Awaitable[None]]] = None,
    ) -> None:
        self.config = config
        self.on_failure = on_failure
        self._session: Optional[aiohttp.ClientSession] = None

    @property
    def url(self) -> str:
        return f"{self.config.graph_url.rstrip('/')}/{self.config.phone_number_id}/messages"

    async def close(self) -> None:
        """Close the HTTP session (at server stop)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.send_timeout_seconds)
            )
        return self._session

    async def send(self, recipient_id: str, message: Mapping[str, Any]) -> bool:
        """Send one message object (``{"type": ..., <type>: {...}}``) to ``recipient_id``.

        Returns:
            True when the Graph API accepted it (2xx), False when it finally failed.
        """
        return await self.deliver(recipient_id, message) is not None

    async def deliver(self, recipient_id: str, message: Mapping[str, Any]) -> Optional[str]:
        """Like :meth:`send`, returning the message id the Graph API gave it.

        Returns:
            The ``wamid`` (``""`` when a 2xx answer named none), or None when it finally
            failed (logged and passed to ``on_failure``).
        """
        kind = str(message.get("type", "?"))
        who = pseudonym(recipient_id)
        if not (self.config.access_token and self.config.phone_number_id):
            await self._failed(recipient_id, kind, "not_configured")
            return None
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient_id,
            **message,
        }
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        attempts = max(1, self.config.send_attempts)
        reason = "unknown"
        for attempt in range(1, attempts + 1):
            retry = False
            try:
                async with self._http().post(self.url, json=payload, headers=headers) as answer:
                    if 200 <= answer.status < 300:
                        logger.debug("whatsapp.sent to=%s type=%s", who, kind)
                        return await _sent_id(answer)
                    error = await _graph_error(answer)
                    reason = f"http_{answer.status} code={error}"
                    retry = answer.status == 429 or answer.status >= 500
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                reason = type(exc).__name__
                retry = True
            logger.warning(
                "whatsapp.send_attempt_failed to=%s type=%s attempt=%d/%d reason=%s",
                who, kind, attempt, attempts, reason,
            )
            if not retry or attempt == attempts:
                break
            await asyncio.sleep(self.config.send_backoff_seconds * 2 ** (attempt - 1))
        await self._failed(recipient_id, kind, reason)
        return None

    async def _failed(self, recipient_id: str, kind: str, reason: str) -> None:
        logger.error(
            "whatsapp.send_failed to=%s type=%s reason=%s", pseudonym(recipient_id), kind, reason
        )
        if self.on_failure is not None:
            try:
                await self.on_failure(recipient_id, kind, reason)
            except Exception:  # the error log above is the record of last resort
                logger.exception("whatsapp.send_failed_not_recorded type=%s", kind)


async def _sent_id(answer: aiohttp.ClientResponse) -> str:
    """The ``wamid`` of an accepted message (``{"messages": [{"id": "wamid..."}]}``), or ""."""
    try:
        data = await answer.json(content_type=None)
        return str((data.get("messages") or [{}])[0].get("id") or "")
    except Exception:
        return ""


async def _graph_error(answer: aiohttp.ClientResponse) -> str:
    """The Graph error code of a failed answer (``{"error": {"code": 131047}}``), or "?"."""
    try:
        data = await answer.json(content_type=None)
        return str(data.get("error", {}).get("code", "?"))
    except Exception:
        return "?"


# --------------------------------------------------------------------------- 24-hour window


@dataclass(frozen=True)
class Template:
    """An approved WhatsApp template: its name, language code and optional components."""

    name: str
    language: str
    components: tuple = ()

    def message(self) -> Dict[str, Any]:
        """The Graph API message object (``{"type": "template", "template": {...}}``)."""
        template: Dict[str, Any] = {"name": self.name, "language": {"code": self.language}}
        if self.components:
            template["components"] = [dict(c) for c in self.components]
        return {"type": "template", "template": template}


class Templates:
    """Which template goes to a parent outside the window, per Wegwijs language.

    Loaded from a YAML file (default ``integrations/whatsapp_templates.yml``)::

        name: "${WHATSAPP_TEMPLATE_NAME}"   # for every language without its own name
        default: en                         # entry for an unknown conversation language
        languages:
          ar: {language: ar}                # WhatsApp's template language code
          ti: {language: en, name: other}   # own name; optional "components" (Graph API)

    ``${VAR}`` placeholders are expanded from the environment (unset = empty). An entry
    without a name after expansion is not usable: :meth:`for_language` gives None.
    """

    def __init__(self, by_language: Mapping[str, Template], default: Optional[str] = None) -> None:
        self.by_language = dict(by_language)
        self.default = default

    @classmethod
    def load(cls, path: Optional[os.PathLike | str] = None,
             environ: Optional[Mapping[str, str]] = None) -> "Templates":
        """Read the YAML file (see the class docstring).

        Raises:
            OSError: the file cannot be read.
            ValueError: it is not of the documented form.
        """
        env = os.environ if environ is None else environ
        file = Path(path) if path else DEFAULT_TEMPLATES_FILE
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        languages = data.get("languages") or {}
        if not isinstance(data, dict) or not isinstance(languages, dict):
            raise ValueError(f"{file}: expected a mapping with 'languages'")
        shared = _expand(data.get("name"), env)
        templates = {}
        for code, entry in languages.items():
            if not isinstance(entry, dict) or not _expand(entry.get("language"), env):
                raise ValueError(f"{file}: languages.{code} needs a 'language' code")
            components = entry.get("components") or ()
            if not isinstance(components, (list, tuple)):
                raise ValueError(f"{file}: languages.{code}.components must be a list")
            templates[str(code)] = Template(
                name=_expand(entry.get("name"), env) or shared,
                language=_expand(entry.get("language"), env),
                components=tuple(components),
            )
        default = data.get("default")
        return cls(templates, str(default) if default else None)

    def for_language(self, language: Optional[str]) -> Optional[Template]:
        """The usable template for ``language`` (else the default's), or None."""
        for code in (language, self.default):
            template = self.by_language.get(code) if code else None
            if template is not None and template.name:
                return template
        return None


class ServiceWindow:
    """Whether a parent's last message is recent enough for a free-form message.

    Every parent message the channel stores opens the window again (:meth:`opened`,
    kept in memory for ``max_senders`` senders, least recently used dropped); for a
    sender not in memory (after a restart, another worker) the newest stored message
    row decides (:meth:`MessageLog.last_inbound`).

    Args:
        message_log: the ``channel_messages`` store.
        seconds: length of the window (default 24 h less a 10-minute margin).
        clock: the time in epoch seconds (tests).
    """

    def __init__(self, message_log: MessageLog, seconds: float = DEFAULT_SERVICE_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.time, max_senders: int = 10_000) -> None:
        self.message_log = message_log
        self.seconds = seconds
        self.clock = clock
        self.max_senders = max_senders
        self._last: "OrderedDict[str, float]" = OrderedDict()

    def opened(self, sender: str) -> None:
        """A message from ``sender`` was just stored."""
        self._last[sender] = self.clock()
        self._last.move_to_end(sender)
        while len(self._last) > self.max_senders:
            self._last.popitem(last=False)

    def close(self, sender: str) -> None:
        """WhatsApp says the window is closed (error 131047): closed until the next message."""
        self._last[sender] = float("-inf")
        self._last.move_to_end(sender)

    def is_open(self, sender: str) -> bool:
        """True when ``sender``'s last message is less than ``seconds`` old (may read
        the database: call it in a worker thread). A database error counts as closed."""
        last = self._last.get(sender)
        if last is None:
            try:
                stored = self.message_log.last_inbound(sender)
            except Exception:
                logger.warning("whatsapp.window_lookup_failed to=%s", pseudonym(sender), exc_info=True)
                stored = None
            if stored is None:
                return False
            last = stored.replace(tzinfo=stored.tzinfo or timezone.utc).timestamp()
        return self.clock() - last < self.seconds


class Reengagement:
    """Sends through the 24-hour window: free-form inside it, a template outside it.

    - A message to a parent whose window is closed (a person's late reply, a reminder)
      is not sent: the parent gets the template of their language, and the message is
      held in the database (``held_messages``, at most ``max_held`` per parent; in memory
      only while the database is down) until the parent writes again, also after a
      restart, then sent before their message goes to Rasa.
    - A ``failed`` status with error 131047 on a message we sent is retried once as the
      template (the row ``<wamid>#reengage`` makes it once, also for a redelivered
      status); the failed message, when still in memory, is held as above.
    - At most one template per parent per ``template_cooldown_seconds`` (default one
      hour): a burst of held or failed messages gets one template, and a template never
      triggers another.

    Rows in ``channel_messages`` (no text, no phone number): ``template_window`` /
    ``template_131047`` (a template was accepted, message id ``template:<wamid>``),
    ``reengage_131047`` (the retry was started), ``held_<type>`` and
    ``held_delivered_<type>``, ``held_dropped_<type>``; a template that could not be
    sent is ``send_failed_template`` and a missing template ``send_failed_no_template``.

    Args:
        client: the Graph client.
        message_log: the ``channel_messages`` store.
        window: the :class:`ServiceWindow`.
        templates: the :class:`Templates` (None: none configured).
        language_of: coroutine giving a sender's conversation language (or None).
    """

    def __init__(self, client: GraphClient, message_log: MessageLog, window: ServiceWindow,
                 templates: Optional[Templates],
                 language_of: Callable[[str], Awaitable[Optional[str]]],
                 max_held: int = 20, max_recent: int = 10_000,
                 template_cooldown_seconds: float = 3600.0) -> None:
        self.client = client
        self.message_log = message_log
        self.window = window
        self.templates = templates
        self.language_of = language_of
        self.max_held = max_held
        self.max_recent = max_recent
        self.template_cooldown_seconds = template_cooldown_seconds
        self._held: Dict[str, List[Dict[str, Any]]] = {}
        self._recent: "OrderedDict[str, tuple[str, Dict[str, Any]]]" = OrderedDict()
        self._template_sent: Dict[str, float] = {}
        self._template_ids: "OrderedDict[str, None]" = OrderedDict()
        self._lock = asyncio.Lock()

    async def _record(self, message_id: str, kind: str) -> bool:
        try:
            return await asyncio.to_thread(self.message_log.claim, message_id, _safe_kind(kind))
        except Exception:
            logger.exception("whatsapp.outcome_not_recorded kind=%s", _safe_kind(kind))
            return False

    async def send(self, recipient_id: str, messages: Iterable[Mapping[str, Any]]) -> None:
        """Send ``messages`` in order, or hold them and send the template (window closed)."""
        messages = [dict(m) for m in messages]
        if not messages:
            return
        if not await asyncio.to_thread(self.window.is_open, recipient_id):
            logger.info("whatsapp.window_closed to=%s messages=%d", pseudonym(recipient_id), len(messages))
            for message in messages:
                await self._hold(recipient_id, message)
            await self._send_template(recipient_id, "window")
            return
        for message in messages:
            await self._send_one(recipient_id, message)

    async def _send_one(self, recipient_id: str, message: Dict[str, Any]) -> bool:
        wamid = await self.client.deliver(recipient_id, message)
        if wamid:
            self._recent[wamid] = (recipient_id, message)
            while len(self._recent) > self.max_recent:
                self._recent.popitem(last=False)
        return wamid is not None

    async def _hold(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Store the message in ``held_messages``; in memory only while the database is down."""
        kind = str(message.get("type", "unknown"))
        try:
            dropped = await asyncio.to_thread(self.message_log.hold, recipient_id, message, self.max_held)
        except Exception:
            logger.exception("whatsapp.held_not_stored to=%s (kept in memory)", pseudonym(recipient_id))
            held = self._held.setdefault(recipient_id, [])
            dropped = str(held.pop(0).get("type", "unknown")) if len(held) >= self.max_held else None
            held.append(message)
        if dropped is not None:
            logger.error("whatsapp.held_dropped to=%s max=%d", pseudonym(recipient_id), self.max_held)
            await self._record(f"held_dropped:{uuid.uuid4().hex}", f"held_dropped_{dropped}")
        await self._record(f"held:{uuid.uuid4().hex}", f"held_{kind}")

    async def _send_template(self, recipient_id: str, reason: str) -> bool:
        """The template of the parent's language, unless one went out recently."""
        who = pseudonym(recipient_id)
        async with self._lock:
            last = self._template_sent.get(recipient_id)
            if last is not None and self.window.clock() - last < self.template_cooldown_seconds:
                logger.info("whatsapp.template_recently_sent to=%s reason=%s", who, reason)
                return False
            language = await self.language_of(recipient_id)
            template = self.templates.for_language(language) if self.templates else None
            if template is None:
                logger.error("whatsapp.no_template to=%s language=%s reason=%s (messages held)",
                             who, language or "unknown", reason)
                await self._record(f"send_failed:{uuid.uuid4().hex}", "send_failed_no_template")
                return False
            self._template_sent[recipient_id] = self.window.clock()
        wamid = await self.client.deliver(recipient_id, template.message())
        if wamid is None:  # recorded as send_failed_template by the client's on_failure
            self._template_sent.pop(recipient_id, None)
            return False
        logger.info("whatsapp.template_sent to=%s language=%s template_language=%s reason=%s",
                    who, language or "unknown", template.language, reason)
        if wamid:
            self._template_ids[wamid] = None
            while len(self._template_ids) > self.max_recent:
                self._template_ids.popitem(last=False)
        await self._record(f"template:{wamid or uuid.uuid4().hex}", f"template_{reason}")
        return True

    async def on_reengagement_error(self, wamid: str, recipient_id: str) -> None:
        """A ``failed`` status with error 131047 on ``wamid``: retry once as the template."""
        if wamid in self._template_ids or not recipient_id:
            return  # a template is never retried as a template
        self.window.close(recipient_id)
        if not await self._record(f"{wamid}#reengage", f"reengage_{REENGAGEMENT_ERROR}"):
            logger.info("whatsapp.reengage_already_done to=%s", pseudonym(recipient_id))
            return
        original = self._recent.pop(wamid, None)
        if original is not None and original[0] == recipient_id:
            await self._hold(recipient_id, original[1])
        else:
            logger.warning("whatsapp.reengage_original_unknown to=%s (not in memory: only the "
                           "template goes out)", pseudonym(recipient_id))
        await self._send_template(recipient_id, REENGAGEMENT_ERROR)

    async def release(self, sender: str) -> None:
        """The parent wrote: send what was held for them (the window is open again), the
        stored messages first (also those held before a restart), then any kept in memory."""
        try:
            stored = await asyncio.to_thread(self.message_log.take_held, sender)
        except Exception:
            logger.exception("whatsapp.held_not_read to=%s (they stay stored)", pseudonym(sender))
            stored = []
        held = stored + self._held.pop(sender, [])
        self._template_sent.pop(sender, None)
        if not held:
            return
        logger.info("whatsapp.held_released to=%s messages=%d", pseudonym(sender), len(held))
        for message in held:
            if await self._send_one(sender, message):  # a failure is send_failed_<type>
                await self._record(f"held_delivered:{uuid.uuid4().hex}",
                                   f"held_delivered_{message.get('type', 'unknown')}")


class WhatsAppCloudOutput(OutputChannel):
    """Sends Rasa's bot messages to one WhatsApp user through a :class:`GraphClient`."""

    @classmethod
    def name(cls) -> Text:
        """Same name as the input channel."""
        return CHANNEL_NAME

    def __init__(self, client: GraphClient, reengagement: Optional[Reengagement] = None) -> None:
        self.client = client
        self.reengagement = reengagement

    async def _send_all(self, recipient_id: Text, messages: Iterable[Mapping[str, Any]]) -> None:
        """Through the 24-hour window when there is a :class:`Reengagement`."""
        if self.reengagement is not None:
            await self.reengagement.send(recipient_id, messages)
            return
        for message in messages:
            await self.client.send(recipient_id, message)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """Text, split into messages of at most 4096 characters."""
        await self._send_all(recipient_id, build_messages(text))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """Reply buttons (1-3) or list messages (4+); see :func:`build_messages`."""
        await self._send_all(recipient_id, build_messages(text, buttons))

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """Quick replies are buttons here."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        """An image by URL (the Graph API fetches it)."""
        await self._send_all(recipient_id, [{"type": "image", "image": {"link": image}}])

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        """An attachment is sent as its text (a URL or description)."""
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """A Graph message object as is (e.g. ``{"type": "template", "template": {...}}``).

        A template goes out at once (allowed outside the window); any other type goes
        through the window like text."""
        if isinstance(json_message, dict) and json_message.get("type") == "template":
            await self.client.send(recipient_id, json_message)
        elif isinstance(json_message, dict) and isinstance(json_message.get("type"), str):
            await self._send_all(recipient_id, [json_message])
        else:
            logger.error("whatsapp.custom_json_without_type to=%s", pseudonym(recipient_id))


# --------------------------------------------------------------------------- inbound


@dataclass
class Inbound:
    """One item of a webhook body, as the channel will handle it.

    ``action`` is ``"dispatch"`` (``text`` goes to Rasa), ``"voice_note"``,
    ``"not_understood"`` (the channel answers itself), ``"reengage"`` (a ``failed``
    status with error 131047 on our message ``status_of``, to ``sender``) or
    ``"record"`` (nothing more).
    """

    key: str
    kind: str
    action: str
    sender: Optional[str] = None
    text: Optional[str] = None
    media_id: Optional[str] = None
    metadata: Dict[str, Any] = field(default_factory=dict)
    status_of: Optional[str] = None


#: Actions of an item that is a parent's message: it is stored with its sender and opens
#: the 24-hour window (reactions, edits, revokes and system messages do not).
PARENT_ACTIONS = ("dispatch", "voice_note", "not_understood")


_MEDIA_WITH_CAPTION = ("image", "video", "document")
_NOT_UNDERSTOOD = ("image", "video", "document", "sticker", "location", "contacts", "order",
                   "unsupported", "interactive")


def parse_message(message: Mapping[str, Any], phone_number_id: Optional[str]) -> Optional[Inbound]:
    """Classify one ``messages[]`` item (shapes: pywa fixtures, see module docstring).

    Returns:
        An :class:`Inbound`, or None when it has no id or no sender.
    """
    message_id = message.get("id")
    sender = message.get("from") or message.get("from_user_id")
    if not isinstance(message_id, str) or not message_id or not isinstance(sender, str) or not sender.strip():
        return None
    kind = _safe_kind(message.get("type"))
    item = Inbound(key=message_id, kind=kind, action="record", sender=sender)
    item.metadata = {
        "whatsapp": {
            "message_id": message_id,
            "type": kind,
            "timestamp": message.get("timestamp"),
            "phone_number_id": phone_number_id,
        }
    }
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    text: Optional[str] = None
    if kind == "text":
        text = body.get("body")
    elif kind == "interactive":
        reply_type = body.get("type")
        if reply_type in ("button_reply", "list_reply"):
            item.kind = _safe_kind(reply_type)
            reply = body.get(reply_type)
            text = reply.get("id") if isinstance(reply, dict) else None
    elif kind == "button":
        text = body.get("payload") or body.get("text")
    elif kind == "audio":
        item.kind = "voice_note" if body.get("voice") else "audio"
        item.action = "voice_note"
        item.media_id = str(body.get("id")) if body.get("id") else None
        return item
    elif kind in _MEDIA_WITH_CAPTION:
        text = body.get("caption")
        if isinstance(text, str) and text.strip():
            item.kind = f"{kind}_caption"
    if isinstance(text, str) and text.strip():
        item.action = "dispatch"
        item.text = text
    elif kind in _NOT_UNDERSTOOD:
        item.action = "not_understood"
    return item


def _objects(value: Any) -> List[Dict[str, Any]]:
    """The objects of a JSON list (anything else in a webhook body's list is skipped)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_body(data: Mapping[str, Any]) -> List[Inbound]:
    """Every message and status of a webhook body, in order; unknown parts are logged.

    Never raises: a part of the wrong JSON type (``metadata`` not an object, ``messages``
    not a list, ...) counts as missing, and a message or status that is not an object
    is logged and skipped like one without an id.

    Args:
        data: the decoded JSON object.
    """
    items: List[Inbound] = []
    entries = data.get("entry")
    if data.get("object") != "whatsapp_business_account" or not isinstance(entries, list):
        logger.info("whatsapp.unknown_body object=%s", _safe_kind(data.get("object")))
        return items
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, dict):
                continue
            value = change.get("value") if isinstance(change.get("value"), dict) else {}
            if change.get("field") != "messages":
                logger.info("whatsapp.unknown_field field=%s", _safe_kind(change.get("field")))
                continue
            for error in _objects(value.get("errors")):
                logger.warning("whatsapp.webhook_error code=%s", error.get("code"))
            metadata = value.get("metadata")
            phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            messages = value.get("messages")
            for message in messages if isinstance(messages, list) else []:
                item = parse_message(message, phone_number_id) if isinstance(message, dict) else None
                if item is None:
                    logger.warning("whatsapp.message_without_id_or_sender")
                    continue
                items.append(item)
            statuses = value.get("statuses")
            for status in statuses if isinstance(statuses, list) else []:
                if not isinstance(status, dict) or not status.get("id"):
                    logger.warning("whatsapp.status_without_id")
                    continue
                name = _safe_kind(status.get("status"))
                codes = ",".join(str(e.get("code")) for e in _objects(status.get("errors")))
                log = logger.warning if name == "failed" else logger.info
                log(
                    "whatsapp.status status=%s to=%s%s",
                    name,
                    pseudonym(str(status.get("recipient_id", ""))),
                    f" errors={codes}" if codes else "",
                )
                item = Inbound(key=f"{status['id']}#{name}", kind=_safe_kind(name, "status_"),
                               action="record")
                if name == "failed" and REENGAGEMENT_ERROR in codes.split(","):
                    recipient = status.get("recipient_id")
                    if isinstance(recipient, str) and recipient:
                        item.action, item.sender, item.status_of = "reengage", recipient, str(status["id"])
                items.append(item)
    return items


def verify_signature(secret: str, body: bytes, header: Optional[str]) -> bool:
    """True when ``header`` is ``sha256=`` + hex HMAC-SHA256 of ``body`` with ``secret``.

    Compared with :func:`hmac.compare_digest`; an empty secret or header is False.
    """
    if not secret or not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(
        expected.encode("ascii"), header.strip().lower().encode("utf-8", "replace")
    )


class ReplyTexts:
    """The texts the channel sends itself, per language, from ``languages/``.

    Loaded on first use with :func:`wegwijs.content.loader.load_all` (right-to-left
    isolates applied), so they are the translators' texts.
    """

    def __init__(self, texts: Optional[Dict[str, Dict[str, str]]] = None) -> None:
        self._texts = texts

    def _all(self) -> Dict[str, Dict[str, str]]:
        if self._texts is None:
            from wegwijs.content.loader import load_all

            packs = load_all()
            self._texts = {
                code: {key: resp.text for key, resp in pack.responses.items()}
                for code, pack in packs.items()
            }
        return self._texts

    def text(self, key: str, language: Optional[str]) -> str:
        """The ``key`` text in ``language``; Dutch and English together when unknown.

        Raises:
            KeyError: ``key`` is missing in the fallback languages.
        """
        texts = self._all()
        if language in texts and key in texts[language]:
            return texts[language][key]
        return "\n\n".join(texts[code][key] for code in FALLBACK_LANGUAGES)


class WhatsAppCloudInput(InputChannel):
    """The WhatsApp Cloud API webhook (see the module docstring for the contract).

    Args:
        config: settings (default: :meth:`WhatsAppConfig.from_sources` of the environment).
        message_log: the ``channel_messages`` store (default: Wegwijs database).
        reply_texts: texts the channel sends itself (default: ``languages/``).
        templates: templates for outside the 24-hour window (default: loaded from
            ``config.templates_file``; None when that cannot be read).
        clock: epoch seconds for the window (tests).
    """

    @classmethod
    def name(cls) -> Text:
        """Channel slug: ``/webhooks/whatsapp/webhook``."""
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Build from the credentials.yml entry and the environment; never raises for
        missing settings (the channel then refuses POSTs), so Rasa always starts.

        Raises:
            ValueError: a number setting in the credentials is not a number.
        """
        return cls(config=WhatsAppConfig.from_sources(credentials))

    def __init__(
        self,
        config: Optional[WhatsAppConfig] = None,
        message_log: Optional[MessageLog] = None,
        reply_texts: Optional[ReplyTexts] = None,
        templates: Optional[Templates] = None,
        clock: Callable[[], float] = time.time,
        rate_limiter: Optional[Any] = None,
    ) -> None:
        from wegwijs.security.ratelimit import RateLimiter

        # messages per sender per minute (WEGWIJS_RATE_LIMIT_PER_MINUTE, Redis; docs/security.md)
        self.rate_limiter = rate_limiter or RateLimiter()
        self.config = config or WhatsAppConfig.from_sources(None)
        self.message_log = message_log or MessageLog()
        self.reply_texts = reply_texts or ReplyTexts()
        self.client = GraphClient(self.config, on_failure=self._record_send_failure)
        self.window = ServiceWindow(self.message_log, self.config.service_window_seconds, clock)
        if templates is None:
            try:
                templates = Templates.load(self.config.templates_file or None)
            except (OSError, ValueError) as error:
                logger.error("whatsapp.templates_not_loaded: %s (outside the 24-hour window "
                             "messages are held, not sent)", error)
        self.reengagement = Reengagement(self.client, self.message_log, self.window, templates,
                                         self._conversation_language)
        self._app: Any = None
        self._tasks: set[asyncio.Task] = set()
        if not self.config.app_secret:
            logger.warning("whatsapp.not_configured: WHATSAPP_APP_SECRET unset, every POST gets 403")

    def get_output_channel(self) -> Optional[OutputChannel]:
        """An output channel on this channel's Graph client, through the 24-hour window
        (what Rasa uses for e.g. ``/conversations/<id>/trigger_intent?output_channel=whatsapp``)."""
        return WhatsAppCloudOutput(self.client, self.reengagement)

    async def wait_idle(self) -> None:
        """Wait until every background task has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _record_send_failure(self, recipient_id: str, kind: str, reason: str) -> None:
        await asyncio.to_thread(
            self.message_log.claim, f"send_failed:{uuid.uuid4().hex}", _safe_kind(kind, "send_failed_")
        )

    async def _conversation_language(self, sender: str) -> Optional[str]:
        """The conversation language through the app seen last (None before any)."""
        return await self._language(self._app, sender) if self._app is not None else None

    async def _language(self, app: Any, sender: str) -> Optional[str]:
        """The tracker's ``language`` slot, or None (no agent, no tracker, error).

        Rasa keeps its agent on ``app.ctx.agent`` (rasa/core/channels/channel.py,
        ``register``); the tracker store's ``retrieve`` is a coroutine in Rasa 3.6.
        """
        agent = getattr(app.ctx, "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None
        try:
            tracker = await store.retrieve(sender)
            return tracker.get_slot("language") if tracker is not None else None
        except Exception:
            logger.warning("whatsapp.language_lookup_failed to=%s", pseudonym(sender), exc_info=True)
            return None

    async def _within_limit(self, app: Any, item: Inbound, output: OutputChannel) -> bool:
        """Count the message against the sender's limit; over it, the first message of the
        minute gets the polite ``rate_limited`` text and none reaches Rasa (it stays in the
        message log, ``whatsapp.rate_limited`` is logged). Redis down: let through."""
        from wegwijs.security import channel_texts

        sender = item.sender or ""
        verdict = await self.rate_limiter.hit(sender)
        if verdict.allowed:
            return True
        logger.info("whatsapp.rate_limited from=%s", pseudonym(sender))
        if verdict.first_over:
            language = await self._language(app, sender)
            text = channel_texts.text("rate_limited", language if isinstance(language, str) else None,
                                      seconds=verdict.retry_after)
            await output.send_text_message(sender, text)
        return False

    async def _process(
        self,
        app: Any,
        items: List[Inbound],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        """Handle the new items of one body in order; an error is logged, never raised."""
        output = WhatsAppCloudOutput(self.client, self.reengagement)
        for item in items:
            who = pseudonym(item.sender or "")
            try:
                if item.action in PARENT_ACTIONS:
                    await self.reengagement.release(item.sender or "")
                if item.action == "reengage":
                    await self.reengagement.on_reengagement_error(item.status_of or "", item.sender or "")
                elif item.action == "dispatch" and not await self._within_limit(app, item, output):
                    continue
                elif item.action == "dispatch":
                    await on_new_message(
                        UserMessage(
                            item.text,
                            output,
                            item.sender,
                            input_channel=self.name(),
                            message_id=item.key,
                            metadata=item.metadata,
                        )
                    )
                elif item.action in ("voice_note", "not_understood"):
                    key = VOICE_NOTE_RESPONSE if item.action == "voice_note" else NOT_UNDERSTOOD_RESPONSE
                    language = await self._language(app, item.sender or "")
                    # the first call reads languages/ from disk: not on the event loop
                    text = await asyncio.to_thread(self.reply_texts.text, key, language)
                    await output.send_text_message(item.sender, text)
                    logger.info(
                        "whatsapp.channel_reply kind=%s from=%s language=%s",
                        item.kind, who, language or "+".join(FALLBACK_LANGUAGES),
                    )
            except Exception:
                logger.exception("whatsapp.processing_failed kind=%s from=%s", item.kind, who)

    def _claim_all(self, items: List[Inbound]) -> List[Inbound]:
        """The items not seen before (stores each; runs in a worker thread)."""
        new = []
        for item in items:
            if self.message_log.claim(
                item.key,
                item.kind,
                media_id=item.media_id if item.action == "voice_note" else None,
                conversation_id=item.sender if item.action in PARENT_ACTIONS else None,
                voice_note=item.action == "voice_note",
            ):
                new.append(item)
            else:
                logger.info("whatsapp.duplicate kind=%s", item.kind)
        return new

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes of the webhook (see the module docstring)."""
        bp = Blueprint(f"{self.name()}_webhook", __name__)

        @bp.listener("before_server_start")
        async def remember_app(app: Any, *_: Any) -> None:
            self._app = app

        @bp.listener("after_server_stop")
        async def close_client(*_: Any) -> None:
            await self.wait_idle()
            await self.client.close()

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            mode = request.args.get("hub.mode")
            token = request.args.get("hub.verify_token") or ""
            challenge = request.args.get("hub.challenge")
            configured = self.config.verify_token
            if (
                mode == "subscribe"
                and configured
                and hmac.compare_digest(token.encode("utf-8"), configured.encode("utf-8"))
            ):
                if not challenge:
                    return response.text("hub.challenge missing", status=400)
                logger.info("whatsapp.webhook_verified")
                return response.text(challenge)
            logger.warning("whatsapp.verification_refused mode=%s", _safe_kind(mode))
            return response.text("forbidden", status=403)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.config.app_secret:
                logger.warning("whatsapp.post_refused reason=no_app_secret")
                return response.text("forbidden", status=403)
            body = request.body or b""
            if len(body) > self.config.max_body_bytes:
                return response.json(
                    {"error": f"body is {len(body)} bytes, the limit is {self.config.max_body_bytes}"},
                    status=413,
                )
            if not verify_signature(
                self.config.app_secret, body, request.headers.get("X-Hub-Signature-256")
            ):
                logger.warning("whatsapp.post_refused reason=bad_signature")
                return response.text("forbidden", status=403)
            try:
                data = json.loads(body)
            except ValueError:
                return response.json({"error": "body must be a JSON object"}, status=400)
            if not isinstance(data, dict):
                return response.json({"error": "body must be a JSON object"}, status=400)
            items = parse_body(data)
            self._app = request.app
            try:
                new = await asyncio.to_thread(self._claim_all, items)
            except Exception:
                logger.exception("whatsapp.store_failed items=%d (Meta will redeliver)", len(items))
                return response.json({"error": "could not store the message ids"}, status=500)
            for item in new:
                if item.action in PARENT_ACTIONS and item.sender:
                    self.window.opened(item.sender)
            work = [item for item in new if item.action != "record"]
            if work:
                task = asyncio.create_task(self._process(request.app, work, on_new_message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return response.text("OK")

        return bp
