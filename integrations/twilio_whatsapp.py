"""WhatsApp through Twilio (``/webhooks/twilio_whatsapp/webhook``), input and output.

Registered in credentials.yml as ``integrations.twilio_whatsapp.TwilioWhatsAppInput``, a
subclass of Rasa's ``TwilioInput`` (rasa/core/channels/twilio.py) named
``twilio_whatsapp``; Rasa mounts it under ``/webhooks/twilio_whatsapp/``. Design and
operation: ``docs/whatsapp.md`` ("WhatsApp through Twilio"). The WhatsApp Cloud API
channel (``integrations/whatsapp.py``) is the model: same table, same texts, same
logging rules; its helpers are reused.

What Rasa's own Twilio channel does not do and this one does (facts:
``/work/shared/notes/channels.md``): check ``X-Twilio-Signature``; send buttons as one
message of numbered options and read the parent's answer back; keep media-only
messages; send without blocking the event loop (``create_async`` on an
``AsyncTwilioHttpClient``), with retries.

Routes
------
- ``GET  /webhooks/twilio_whatsapp/``: health, ``{"status": "ok"}``.
- ``POST /webhooks/twilio_whatsapp/webhook``: Twilio's form-encoded message webhook.

  ====  ===================================================================
  403   no auth token configured (every POST), or ``X-Twilio-Signature``
        missing or not valid for the public URL and the form parameters
  413   body larger than ``max_body_bytes`` (default 64 KiB)
  500   the MessageSid could not be stored
  200   everything else, at once (empty TwiML); the message is processed in
        the background and the replies go out through the REST API
  ====  ===================================================================

The signature is checked with ``twilio.request_validator.RequestValidator`` against
``webhook_url`` (the URL typed in the Twilio console; behind a proxy the server cannot
know it) or, when that is not set, the URL the request reached. The form is parsed from
the raw body **with blank values kept**: Twilio signs ``Body=`` of a media-only message
too, and Sanic's ``request.form`` drops blank values.

Inbound (the ``MessageSid`` is stored first in ``channel_messages``; a sid seen before
is skipped, also after a restart):

- ``Body`` text → Rasa; when the bot's last turn offered buttons and the text is an
  option's number (in any digits: ``2``, ``٢``, ``۲``, ``፪``) or its title (normalised
  with :func:`wegwijs.text.normalise`; rapidfuzz ratio >= 90), the button's payload
  goes to Rasa instead;
- ``ButtonPayload`` (a template's quick-reply button) → the payload;
- ``NumMedia`` > 0 with an ``audio/*`` item (voice note): never dropped, nothing goes to
  Rasa; the channel answers ``utter_voice_note`` in the conversation language and stores
  the media URL and the conversation id in the row (kind ``voice_note``); a referral of
  the conversation lists it and its person is notified through the outbox, in the same
  transaction (:mod:`wegwijs.referrals.voice_notes`);
- other media with a ``Body`` → the Body (kind ``<image|video|...>_caption``); without
  one, and locations, → ``utter_not_understood`` in the conversation language;
- a status callback (``MessageStatus`` other than ``received``) → recorded as
  ``<sid>#<status>``, never a message.

Logs name a conversation by a 12-character SHA-256 pseudonym, never by phone number,
and hold no message text.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Text
from urllib.parse import parse_qsl

import aiohttp
from rapidfuzz import fuzz
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from integrations.whatsapp import (
    FALLBACK_LANGUAGES,
    NOT_UNDERSTOOD_RESPONSE,
    VOICE_NOTE_RESPONSE,
    Inbound,
    MessageLog,
    ReplyTexts,
    channel_settings,
    pseudonym,
    safe_kind,
    split_text,
    truncate,
)
from wegwijs.text import normalise

try:  # twilio >= 8 (the lock has 8.2.2); older versions: the sync client in a thread
    from twilio.http.async_http_client import AsyncTwilioHttpClient
except ImportError:  # pragma: no cover - not the locked version
    AsyncTwilioHttpClient = None  # type: ignore[assignment,misc]

logger = logging.getLogger(__name__)

CHANNEL_NAME = "twilio_whatsapp"
DEFAULT_API_URL = "https://api.twilio.com"
#: Twilio's message webhooks are a few KiB of form fields.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: Twilio's body limit per message (channels.md).
MAX_BODY_CHARS = 1600
#: Options longer than this are cut with "…" in the numbered list.
MAX_OPTION_CHARS = 72
#: Senders whose last offered buttons are kept in memory (least recently used go first).
DEFAULT_MAX_SENDERS = 10_000
#: rapidfuzz ratio (0-100) from which a typed text selects an option by its title.
TITLE_MATCH_SCORE = 90
#: Empty TwiML: "no reply here"; the replies go through the REST API.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

#: ``(credentials key, environment variable)`` of every setting. The credentials keys
#: are those of Rasa's ``twilio`` channel, plus ``webhook_url`` and ``api_url``.
SETTINGS = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "auth_token": "TWILIO_AUTH_TOKEN",
    "twilio_number": "TWILIO_WHATSAPP_NUMBER",
    "webhook_url": "TWILIO_WEBHOOK_URL",
    "api_url": "TWILIO_API_URL",
}

_NUMBER = re.compile(r"\d{1,3}")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TwilioWhatsAppConfig:
    """Settings of the channel. Empty strings mean "not configured".

    Without ``auth_token`` every POST is refused (403); without ``account_sid``,
    ``auth_token`` or ``twilio_number`` replies cannot be sent (each attempt is logged
    as an error). ``twilio_number`` may be given with or without the ``whatsapp:``
    prefix. ``webhook_url``: the public URL Twilio calls, exactly as in the Twilio
    console (with any query string); empty → the URL the request reached.
    """

    account_sid: str = ""
    auth_token: str = ""
    twilio_number: str = ""
    webhook_url: str = ""
    api_url: str = DEFAULT_API_URL
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_senders: int = DEFAULT_MAX_SENDERS
    send_attempts: int = 3
    send_backoff_seconds: float = 0.5
    send_timeout_seconds: float = 10.0

    @property
    def from_address(self) -> str:
        """``whatsapp:+31...``: the sender address Twilio expects for WhatsApp."""
        number = self.twilio_number.strip()
        if not number or number.startswith("whatsapp:"):
            return number
        return f"whatsapp:{number}"

    @classmethod
    def from_sources(
        cls, credentials: Optional[Mapping[str, Any]], environ: Optional[Mapping[str, str]] = None
    ) -> "TwilioWhatsAppConfig":
        """Build the settings from a credentials.yml entry and the environment.

        For each setting the credentials value wins when it is non-empty after
        ``${VAR}`` expansion, else the environment variable (``TWILIO_ACCOUNT_SID``,
        ``TWILIO_AUTH_TOKEN``, ``TWILIO_WHATSAPP_NUMBER``, ``TWILIO_WEBHOOK_URL``,
        ``TWILIO_API_URL``), else the default. Write placeholders **quoted** in
        credentials.yml: Rasa expands unquoted ``${VAR}`` itself and refuses to start
        when VAR is unset. Optional credentials keys: ``max_body_bytes``,
        ``max_senders``, ``send_attempts``, ``send_backoff_seconds``,
        ``send_timeout_seconds``.

        Raises:
            ValueError: a number setting is not a number.
        """
        numbers = {"max_body_bytes": int, "max_senders": int, "send_attempts": int,
                   "send_backoff_seconds": float, "send_timeout_seconds": float}
        return cls(**channel_settings(credentials, environ, SETTINGS, numbers, url_key="api_url"))


# --------------------------------------------------------------------------- buttons


def _title(button: Mapping[str, Any]) -> str:
    return str(button.get("title") or button.get("payload") or "").strip()


def _usable(buttons: Optional[Sequence[Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    return [dict(b) for b in (buttons or []) if isinstance(b, Mapping) and _title(b)]


def render_options(text: str, buttons: Optional[Sequence[Mapping[str, Any]]]) -> List[str]:
    """The message bodies (each <= 1600 characters) for a bot text with buttons.

    The options follow the text in the same message, one per line: ``1. Title``,
    ``2. Title``... A single option is shown as ``• Title`` without a number, so that a
    bare "1" stays an answer ("my child is 1") and is not read as that option (the
    questions with one button, "Skip", are the ages, gemeente and contact times).
    A text too long to share a message with the options goes first, split.
    """
    options = _usable(buttons)
    if not options:
        return split_text(text, MAX_BODY_CHARS)
    if len(options) == 1:
        lines = [f"• {truncate(_title(options[0]), MAX_OPTION_CHARS)}"]
    else:
        lines = [f"{i}. {truncate(_title(b), MAX_OPTION_CHARS)}" for i, b in enumerate(options, 1)]
    block = "\n".join(lines)
    parts = split_text(text, MAX_BODY_CHARS)
    if parts and len(parts[-1]) + 2 + len(block) <= MAX_BODY_CHARS:
        parts[-1] = f"{parts[-1]}\n\n{block}"
        return parts
    return parts + split_text(block, MAX_BODY_CHARS)


def choose_button(reply: str, buttons: Optional[Sequence[Mapping[str, Any]]]) -> Optional[int]:
    """Index of the option ``reply`` selects, or None (then the text goes to Rasa as is).

    - a number 1..n in any script's digits (:func:`wegwijs.text.normalise` makes
      ``٢ ۲ ፪`` into ``2``; "2." and "(2)" count too), only with two or more options;
    - the option's title, normalised (case, marks, letter variants, emoji dropped),
      equal or with a rapidfuzz ratio >= 90; a tie between two options is no choice.
    """
    options = _usable(buttons)
    said = normalise(reply or "")
    if not options or not said:
        return None
    if _NUMBER.fullmatch(said):
        number = int(said)
        if len(options) >= 2 and 1 <= number <= len(options):
            return number - 1
        return None
    titles = [normalise(_title(b)) for b in options]
    for index, title in enumerate(titles):
        if title and title == said:
            return index
    scored = sorted(
        ((fuzz.ratio(said, title), index) for index, title in enumerate(titles) if title),
        reverse=True,
    )
    if not scored or scored[0][0] < TITLE_MATCH_SCORE:
        return None
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return None
    return scored[0][1]


class OfferedButtons:
    """The buttons of the bot's last turn per sender, in memory, least recently used
    evicted beyond ``max_senders``.

    ``get`` returns None for a sender it does not know (restart, evicted): the channel
    then reads the buttons from the tracker (:func:`buttons_from_tracker`). ``[]``
    means "known: no options open" (set when the parent's message goes to Rasa; the
    bot's reply sets new ones).
    """

    def __init__(self, max_senders: int = DEFAULT_MAX_SENDERS) -> None:
        self.max_senders = max(1, max_senders)
        self._items: "OrderedDict[str, List[Dict[str, Any]]]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def remember(self, sender: str, buttons: Optional[Sequence[Mapping[str, Any]]]) -> None:
        self._items[sender] = _usable(buttons)
        self._items.move_to_end(sender)
        while len(self._items) > self.max_senders:
            self._items.popitem(last=False)

    def get(self, sender: str) -> Optional[List[Dict[str, Any]]]:
        if sender not in self._items:
            return None
        self._items.move_to_end(sender)
        return self._items[sender]


def buttons_from_tracker(tracker: Any) -> List[Dict[str, Any]]:
    """The buttons (or quick replies) of the bot's last turn: the latest bot event with
    buttons after the parent's last message; ``[]`` when that turn offered none."""
    from rasa.shared.core.events import BotUttered, UserUttered

    for event in reversed(list(getattr(tracker, "events", None) or [])):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            data = event.data or {}
            buttons = _usable(data.get("buttons") or data.get("quick_replies"))
            if buttons:
                return buttons
    return []


# --------------------------------------------------------------------------- outbound


class TwilioSender:
    """Sends WhatsApp messages through ``twilio.rest.Client`` (``messages.create_async``
    on an ``AsyncTwilioHttpClient``; without it, the sync ``create`` in a thread).

    Up to ``config.send_attempts`` attempts (default 3) with exponential backoff
    (``send_backoff_seconds`` × 1, 2, 4...) on connection errors, timeouts, 429 and 5xx;
    other 4xx are not retried. A message that could not be sent is logged at ERROR
    (status, Twilio error code, pseudonymised recipient) and passed to ``on_failure``;
    it is never dropped silently.

    Args:
        config: the channel settings (``api_url`` replaces ``https://api.twilio.com``,
            for tests).
        on_failure: called as ``on_failure(recipient_id, message_type, reason)``.
    """

    def __init__(
        self,
        config: TwilioWhatsAppConfig,
        on_failure: Optional[Callable[[str, str, str], Awaitable[None]]] = None,
    ) -> None:
        self.config = config
        self.on_failure = on_failure
        self.use_async = AsyncTwilioHttpClient is not None
        self._client: Optional[Client] = None
        self._session: Optional[aiohttp.ClientSession] = None

    @property
    def configured(self) -> bool:
        return bool(self.config.account_sid and self.config.auth_token and self.config.from_address)

    def _twilio(self) -> Client:
        """The Twilio client, built on first use (inside the event loop)."""
        if self._client is None:
            if self.use_async:
                http = AsyncTwilioHttpClient(pool_connections=False)
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self.config.send_timeout_seconds)
                )
                http.session = self._session
            else:
                from twilio.http.http_client import TwilioHttpClient

                http = TwilioHttpClient(timeout=self.config.send_timeout_seconds)
            client = Client(self.config.account_sid, self.config.auth_token, http_client=http)
            if self.config.api_url.rstrip("/") != DEFAULT_API_URL:
                client.api.base_url = self.config.api_url.rstrip("/")
            self._client = client
        return self._client

    async def close(self) -> None:
        """Close the HTTP session (at server stop)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._client = None

    async def _create(self, fields: Dict[str, Any]) -> Any:
        messages = self._twilio().api.account.messages
        timeout = self.config.send_timeout_seconds + 1
        if self.use_async:
            return await asyncio.wait_for(messages.create_async(**fields), timeout)
        return await asyncio.wait_for(asyncio.to_thread(messages.create, **fields), timeout)

    async def send(self, recipient_id: str, body: str = "", **extra: Any) -> bool:
        """Send one message (``body``; ``extra``: ``media_url``, ``content_sid``...).

        Returns:
            True when Twilio accepted it, False when it finally failed.
        """
        kind = "text" if body and not extra else ("media" if "media_url" in extra else "custom")
        who = pseudonym(recipient_id)
        if not self.configured:
            await self._failed(recipient_id, kind, "not_configured")
            return False
        fields = {"to": recipient_id, "from_": self.config.from_address, **extra}
        if body:
            fields["body"] = body
        attempts = max(1, self.config.send_attempts)
        reason = "unknown"
        for attempt in range(1, attempts + 1):
            retry = False
            try:
                message = await self._create(fields)
                logger.debug("twilio_whatsapp.sent to=%s type=%s sid=%s", who, kind,
                             getattr(message, "sid", "?"))
                return True
            except TwilioRestException as exc:  # message text may hold the number: not logged
                reason = f"http_{exc.status} code={exc.code}"
                retry = exc.status == 429 or exc.status >= 500
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                reason = type(exc).__name__  # requests' errors are OSErrors too
                retry = True
            except Exception as exc:  # an unreadable answer, a bug: not retried, logged
                reason = type(exc).__name__
            logger.warning(
                "twilio_whatsapp.send_attempt_failed to=%s type=%s attempt=%d/%d reason=%s",
                who, kind, attempt, attempts, reason,
            )
            if not retry or attempt == attempts:
                break
            await asyncio.sleep(self.config.send_backoff_seconds * 2 ** (attempt - 1))
        await self._failed(recipient_id, kind, reason)
        return False

    async def _failed(self, recipient_id: str, kind: str, reason: str) -> None:
        logger.error(
            "twilio_whatsapp.send_failed to=%s type=%s reason=%s",
            pseudonym(recipient_id), kind, reason,
        )
        if self.on_failure is not None:
            try:
                await self.on_failure(recipient_id, kind, reason)
            except Exception:  # the error log above is the record of last resort
                logger.exception("twilio_whatsapp.send_failed_not_recorded type=%s", kind)


class TwilioWhatsAppOutput(OutputChannel):
    """Sends Rasa's bot messages to one WhatsApp user through a :class:`TwilioSender`;
    buttons become numbered options (:func:`render_options`) remembered in ``offers``."""

    @classmethod
    def name(cls) -> Text:
        """Same name as the input channel."""
        return CHANNEL_NAME

    def __init__(self, sender: TwilioSender, offers: OfferedButtons) -> None:
        self.sender = sender
        self.offers = offers

    async def _send_bodies(self, recipient_id: str, bodies: List[str]) -> None:
        for body in bodies:
            await self.sender.send(recipient_id, body)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """One message (Rasa's twilio channel splits at every blank line; we do not),
        split only beyond 1600 characters."""
        await self._send_bodies(recipient_id, split_text(text, MAX_BODY_CHARS))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """The text with its numbered options in one message; the options are
        remembered so that the parent's "2" or title selects a payload."""
        self.offers.remember(recipient_id, buttons)
        await self._send_bodies(recipient_id, render_options(text, buttons))

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """Quick replies are buttons here."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        """An image by URL (Twilio fetches it)."""
        await self.sender.send(recipient_id, media_url=[image])

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        """An attachment is sent as its text (a URL or description)."""
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """``{"body"?, "media_url"?, "content_sid"?, "content_variables"?}`` as is
        (e.g. an approved template for outside the 24-hour window)."""
        allowed = ("media_url", "content_sid", "content_variables")
        if isinstance(json_message, dict) and (
            json_message.get("body") or any(json_message.get(k) for k in allowed)
        ):
            extra = {k: json_message[k] for k in allowed if json_message.get(k)}
            await self.sender.send(recipient_id, str(json_message.get("body") or ""), **extra)
        else:
            logger.error("twilio_whatsapp.custom_json_unusable to=%s", pseudonym(recipient_id))


# --------------------------------------------------------------------------- inbound


class FormParams(dict):
    """The form fields, first value per name; ``getlist`` gives all values (what
    ``RequestValidator`` uses, so a repeated field is signed as Twilio signs it)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self._all: Dict[str, List[str]] = {}
        for name, value in pairs:
            self._all.setdefault(name, []).append(value)
            self.setdefault(name, value)

    def getlist(self, name: str) -> List[str]:
        return list(self._all.get(name, []))


def parse_form_body(body: bytes) -> FormParams:
    """``application/x-www-form-urlencoded`` fields, **blank values kept** (``Body=``)."""
    return FormParams(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _count(value: Any) -> int:
    try:
        return max(0, int(str(value or "0").strip()))
    except ValueError:
        return 0


def parse_form(form: Mapping[str, str]) -> Optional[Inbound]:
    """Classify one webhook request (see the module docstring).

    Returns:
        An :class:`~integrations.whatsapp.Inbound` (``key`` = MessageSid), or None
        when there is no MessageSid, or no ``From`` on a message.

    ``MediaContentType<i>`` is read for ``i`` below ``NumMedia`` and below the number of
    fields in the form (a form cannot hold more media than fields, however large
    ``NumMedia`` is).
    """
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid:
        return None
    status = (form.get("MessageStatus") or "").strip().lower()
    if status and status != "received":
        return Inbound(key=f"{sid}#{safe_kind(status)}", kind=safe_kind(status, "status_"),
                       action="record")
    sender = (form.get("From") or "").strip()
    if not sender:
        return None
    num_media = _count(form.get("NumMedia"))
    types = [(form.get(f"MediaContentType{i}") or "").strip().lower()
             for i in range(min(num_media, len(form)))]
    item = Inbound(key=sid, kind="text", action="record", sender=sender)
    item.metadata = {
        "twilio": {"message_sid": sid, "num_media": num_media, "media_types": types}
    }
    audio = [i for i, kind in enumerate(types) if kind.startswith("audio/")]
    if audio:
        item.kind, item.action = "voice_note", "voice_note"
        item.media_id = (form.get(f"MediaUrl{audio[0]}") or "").strip()[:255] or None
        return item
    payload = (form.get("ButtonPayload") or "").strip()
    if payload:
        item.kind, item.action, item.text = "button", "dispatch", payload
        return item
    body = form.get("Body") or ""
    media_kind = safe_kind(types[0].split("/")[0]) if types and types[0] else "media"
    if body.strip():
        item.action, item.text = "dispatch", body
        if num_media:
            item.kind = safe_kind(f"{media_kind}_caption")
    elif num_media:
        item.kind, item.action = media_kind, "not_understood"
    elif form.get("Latitude") and form.get("Longitude"):
        item.kind, item.action = "location", "not_understood"  # the place is not kept
    else:
        item.kind, item.action = "empty", "not_understood"
    return item


class TwilioWhatsAppInput(TwilioInput):
    """WhatsApp through Twilio (see the module docstring for the contract).

    The positional arguments are ``TwilioInput``'s; ``config`` replaces them.

    Args:
        config: settings (default: :meth:`TwilioWhatsAppConfig.from_sources` of the
            positional arguments and the environment).
        message_log: the ``channel_messages`` store (default: Wegwijs database).
        reply_texts: texts the channel sends itself (default: ``languages/``).
    """

    @classmethod
    def name(cls) -> Text:
        """Channel slug: ``/webhooks/twilio_whatsapp/webhook``."""
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Build from the credentials.yml entry and the environment; never raises for
        missing settings (unlike ``TwilioInput``): the channel then refuses POSTs and
        Rasa still starts.

        Raises:
            ValueError: a number setting in the credentials is not a number.
        """
        return cls(config=TwilioWhatsAppConfig.from_sources(credentials))

    def __init__(
        self,
        account_sid: Optional[Text] = None,
        auth_token: Optional[Text] = None,
        twilio_number: Optional[Text] = None,
        debug_mode: bool = False,
        *,
        config: Optional[TwilioWhatsAppConfig] = None,
        message_log: Optional[MessageLog] = None,
        reply_texts: Optional[ReplyTexts] = None,
        rate_limiter: Optional[Any] = None,
    ) -> None:
        from wegwijs.security.ratelimit import RateLimiter

        # messages per sender per minute (WEGWIJS_RATE_LIMIT_PER_MINUTE, Redis; docs/security.md)
        self.rate_limiter = rate_limiter or RateLimiter()
        if config is None:
            config = TwilioWhatsAppConfig.from_sources(
                {"account_sid": account_sid, "auth_token": auth_token,
                 "twilio_number": twilio_number}
            )
        super().__init__(
            config.account_sid or None, config.auth_token or None,
            config.twilio_number or None, debug_mode,
        )
        self.config = config
        self.message_log = message_log or MessageLog(channel=CHANNEL_NAME)
        self.reply_texts = reply_texts or ReplyTexts()
        self.offers = OfferedButtons(config.max_senders)
        self.sender = TwilioSender(config, on_failure=self._record_send_failure)
        self._tasks: set[asyncio.Task] = set()
        if not config.auth_token:
            logger.warning("twilio_whatsapp.not_configured: TWILIO_AUTH_TOKEN unset, every POST gets 403")

    def get_output_channel(self) -> OutputChannel:
        """An output channel on this channel's sender and offered buttons."""
        return TwilioWhatsAppOutput(self.sender, self.offers)

    async def wait_idle(self) -> None:
        """Wait until every background task has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _record_send_failure(self, recipient_id: str, kind: str, reason: str) -> None:
        await asyncio.to_thread(
            self.message_log.claim, f"send_failed:{uuid.uuid4().hex}", safe_kind(kind, "send_failed_")
        )

    def valid_signature(self, request: Request, params: FormParams) -> bool:
        """``X-Twilio-Signature`` checked against ``webhook_url`` (else the request URL)."""
        signature = request.headers.get("X-Twilio-Signature")
        if not self.config.auth_token or not signature:
            return False
        url = self.config.webhook_url or request.url
        try:
            return RequestValidator(self.config.auth_token).validate(url, params, signature)
        except Exception:
            logger.warning("twilio_whatsapp.signature_check_failed", exc_info=True)
            return False

    async def _tracker(self, app: Any, sender: str) -> Any:
        """The sender's tracker from Rasa's tracker store (``app.ctx.agent``), or None."""
        agent = getattr(app.ctx, "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None
        try:
            return await store.retrieve(sender)
        except Exception:
            logger.warning("twilio_whatsapp.tracker_lookup_failed to=%s", pseudonym(sender),
                           exc_info=True)
            return None

    async def _language(self, app: Any, sender: str) -> Optional[str]:
        tracker = await self._tracker(app, sender)
        try:
            return tracker.get_slot("language") if tracker is not None else None
        except Exception:
            return None

    async def _offered(self, app: Any, sender: str) -> tuple[List[Dict[str, Any]], str]:
        """The open options: from memory, else from the tracker's last bot turn."""
        known = self.offers.get(sender)
        if known is not None:
            return known, "memory"
        tracker = await self._tracker(app, sender)
        return (buttons_from_tracker(tracker) if tracker is not None else []), "tracker"

    async def _process(
        self, app: Any, item: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        """Handle one new message; an error is logged, never raised."""
        output = self.get_output_channel()
        sender = item.sender or ""
        who = pseudonym(sender)
        try:
            if item.action == "dispatch":
                verdict = await self.rate_limiter.hit(sender)
                if not verdict.allowed:
                    # over the limit: the first message of the minute gets the polite text,
                    # none reaches Rasa (each stays in the message log)
                    logger.info("twilio_whatsapp.rate_limited from=%s", who)
                    if verdict.first_over:
                        from wegwijs.security import channel_texts

                        language = await self._language(app, sender)
                        await output.send_text_message(sender, channel_texts.text(
                            "rate_limited", language if isinstance(language, str) else None,
                            seconds=verdict.retry_after))
                    return
                text = item.text or ""
                if item.kind != "button":
                    offered, source = await self._offered(app, sender)
                    index = choose_button(text, offered)
                    if index is not None:
                        chosen = offered[index]
                        text = str(chosen.get("payload") or chosen.get("title"))
                        item.metadata["twilio"]["button_index"] = index + 1
                        logger.info("twilio_whatsapp.option_chosen from=%s number=%d via=%s",
                                    who, index + 1, source)
                # answered: the bot's reply sets the next options (or none)
                self.offers.remember(sender, [])
                await on_new_message(
                    UserMessage(
                        text,
                        output,
                        sender,
                        input_channel=self.name(),
                        message_id=item.key,
                        metadata=item.metadata,
                    )
                )
            elif item.action in ("voice_note", "not_understood"):
                key = VOICE_NOTE_RESPONSE if item.action == "voice_note" else NOT_UNDERSTOOD_RESPONSE
                language = await self._language(app, sender)
                # the first call reads languages/ from disk: not on the event loop
                text = await asyncio.to_thread(self.reply_texts.text, key, language)
                await output.send_text_message(sender, text)
                logger.info(
                    "twilio_whatsapp.channel_reply kind=%s from=%s language=%s",
                    item.kind, who, language or "+".join(FALLBACK_LANGUAGES),
                )
        except Exception:
            logger.exception("twilio_whatsapp.processing_failed kind=%s from=%s", item.kind, who)

    def _claim(self, item: Inbound) -> bool:
        keep = item.action == "voice_note"
        return self.message_log.claim(
            item.key,
            item.kind,
            media_id=item.media_id if keep else None,
            conversation_id=item.sender if keep else None,
            voice_note=keep,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes of the webhook (see the module docstring)."""
        bp = Blueprint(f"{self.name()}_webhook", __name__)

        @bp.listener("after_server_stop")
        async def close_sender(*_: Any) -> None:
            await self.wait_idle()
            await self.sender.close()

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.config.auth_token:
                logger.warning("twilio_whatsapp.post_refused reason=no_auth_token")
                return response.text("forbidden", status=403)
            body = request.body or b""
            if len(body) > self.config.max_body_bytes:
                return response.json(
                    {"error": f"body is {len(body)} bytes, the limit is {self.config.max_body_bytes}"},
                    status=413,
                )
            params = parse_form_body(body)
            if not self.valid_signature(request, params):
                logger.warning("twilio_whatsapp.post_refused reason=bad_signature")
                return response.text("forbidden", status=403)
            item = parse_form(params)
            if item is None:
                logger.info("twilio_whatsapp.unknown_request fields=%d", len(params))
                return response.text(EMPTY_TWIML, content_type="text/xml")
            try:
                new = await asyncio.to_thread(self._claim, item)
            except Exception:
                logger.exception("twilio_whatsapp.store_failed kind=%s", item.kind)
                return response.json({"error": "could not store the message id"}, status=500)
            if not new:
                logger.info("twilio_whatsapp.duplicate kind=%s", item.kind)
            elif item.action != "record":
                task = asyncio.create_task(self._process(request.app, item, on_new_message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return bp
