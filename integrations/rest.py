"""Rasa's REST channel with input checks (``POST /webhooks/rest/webhook``).

Rasa's own ``RestInput`` passes any JSON on: an empty or missing message, a missing
sender or a 1 MB text reach the NLU pipeline. ``RestInput`` here keeps the same
name, URL and answers, and rejects bad input first with a clear JSON error:

- 400 ``{"error": ...}``: body not a JSON object (or nested too deeply to parse);
  ``sender`` missing, not a string or longer than 128 characters; ``message`` missing,
  not a string, or empty; text that is not valid Unicode (a lone surrogate such as
  ``"\ud800"``); ``metadata`` present but not an object; ``input_channel`` other than
  ``"rest"`` (a REST client cannot pose as WhatsApp);
- 413: ``message`` longer than 4096 characters (WhatsApp's text limit), or a body
  over 64 KiB; with a sender, ``"text"`` holds the polite ``too_long`` reply in the
  conversation's language (``languages/<lang>/channel.yml``);
- 429 ``[{"recipient_id": ..., "text": ...}]`` and ``Retry-After``: the sender sent more
  than ``WEGWIJS_RATE_LIMIT_PER_MINUTE`` messages this minute
  (:mod:`wegwijs.security.ratelimit`, counted in Redis); the text is the polite
  ``rate_limited`` reply.

Registered in credentials.yml as ``integrations.rest.RestInput``. The field checks
(:func:`check_fields`) are shared with the socket.io channel (``integrations/socketio.py``).
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

MAX_MESSAGE_CHARS = 4096
MAX_SENDER_CHARS = 128
MAX_BODY_BYTES = 64 * 1024


def check_rest_body(body: bytes) -> Optional[tuple[int, str]]:
    """Why a REST webhook body is unacceptable, or None when it is fine.

    Args:
        body: the raw request body.

    Returns:
        ``(http_status, message)`` for a bad body, else None.
    """
    if len(body) > MAX_BODY_BYTES:
        return 413, f"body is {len(body)} bytes, the limit is {MAX_BODY_BYTES}"
    try:
        data: Any = json.loads(body or b"")
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        return 400, "body must be a JSON object like {\"sender\": \"id\", \"message\": \"text\"}"
    if not isinstance(data, dict):
        return 400, "body must be a JSON object"
    problem = check_fields(data.get("sender"), data.get("message"))
    if problem:
        return problem
    # Rasa's error path for these logs the whole message (and then answers 200 [])
    if data.get("metadata") is not None and not isinstance(data["metadata"], dict):
        return 400, "'metadata' must be a JSON object"
    if data.get("input_channel") not in (None, "rest"):
        return 400, "'input_channel' can only be \"rest\" on this channel"
    return None


def check_fields(
    sender: Any, message: Any, *, sender_field: str = "sender"
) -> Optional[tuple[int, str]]:
    """Why a sender id and a message text are unacceptable, or None when both are fine.

    The checks of :func:`check_rest_body` after JSON parsing; the socket.io channel
    (``integrations/socketio.py``) applies them to each ``user_uttered`` event.

    Args:
        sender: the sender id as received (any JSON value).
        message: the message text as received (any JSON value).
        sender_field: the sender's field name in the error text (``session_id`` on socket.io).

    Returns:
        ``(http_status, message)``: 400 for a missing, empty, wrongly typed or too
        long sender, an empty or non-string message, or a lone surrogate; 413 for a
        message over :data:`MAX_MESSAGE_CHARS`. None when both are fine.
    """
    if not isinstance(sender, str) or not sender.strip():
        return 400, f"'{sender_field}' must be a non-empty string"
    if len(sender) > MAX_SENDER_CHARS:
        return 400, f"'{sender_field}' is {len(sender)} characters, the limit is {MAX_SENDER_CHARS}"
    if not isinstance(message, str) or not message.strip():
        return 400, "'message' must be a non-empty string"
    try:
        message.encode("utf-8")
        sender.encode("utf-8")
    except UnicodeEncodeError:
        return 400, f"'message' and '{sender_field}' must be valid Unicode text (no lone surrogates)"
    if len(message) > MAX_MESSAGE_CHARS:
        return 413, f"'message' is {len(message)} characters, the limit is {MAX_MESSAGE_CHARS}"
    return None


class RestInput(RasaRestInput):
    """Rasa's REST channel, with the checks of :func:`check_rest_body` in front."""

    @classmethod
    def name(cls) -> Text:
        """Same slug as Rasa's channel: ``/webhooks/rest/webhook``."""
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        """Rasa's routes plus a request check (see parent class for full docstring)."""
        from wegwijs.security.ratelimit import RateLimiter

        bp = super().blueprint(on_new_message)
        limiter = RateLimiter()

        @bp.middleware("request")
        async def reject_bad_input(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            problem = check_rest_body(request.body)
            if problem:
                status, msg = problem
                body: dict[str, Any] = {"error": msg}
                sender = _sender_of(request.body)
                if status == 413 and sender:
                    body["text"] = await _polite(request, sender, "too_long")
                return response.json(body, status=status)
            sender = json.loads(request.body)["sender"]
            verdict = await limiter.hit(sender)
            if not verdict.allowed:
                text = await _polite(request, sender, "rate_limited", seconds=verdict.retry_after)
                return response.json(
                    [{"recipient_id": sender, "text": text}], status=429,
                    headers={"Retry-After": str(verdict.retry_after)},
                )
            return None

        return bp


def _sender_of(body: bytes) -> Optional[str]:
    try:
        data = json.loads(body or b"")
    except (ValueError, RecursionError):
        return None
    sender = data.get("sender") if isinstance(data, dict) else None
    return sender if isinstance(sender, str) and 0 < len(sender) <= MAX_SENDER_CHARS else None


async def _polite(request: Request, sender: str, key: str, **values: Any) -> str:
    """The channel text ``key`` in the conversation's language (from the tracker store)."""
    from wegwijs.security import channel_texts

    language = None
    try:
        agent = getattr(request.app.ctx, "agent", None)
        tracker = await agent.tracker_store.retrieve(sender) if agent else None
        language = tracker.get_slot("language") if tracker else None
    except Exception:  # no language known: Dutch and English
        language = None
    return channel_texts.text(key, language if isinstance(language, str) else None, **values)
