"""Logs without personal data: a redacting filter and sender ids as a keyed hash.

What is replaced in every log record (message, arguments and traceback), in this order:

- the token of Rasa's API or of the action server in a URL (``token=...``) -> ``token=[token]``;
- e-mail addresses -> ``[email]``;
- phone numbers and BSN-like numbers: 8 or more digits (any script's digits), optionally
  after ``+`` or ``00`` and separated by spaces, dots, dashes, slashes or brackets
  -> ``[number]`` (this also hides long timestamps, which is harmless);
- sender ids where Rasa and Sanic put them (``/conversations/<id>/``, ``sender_id=...``,
  ``conversation ID '...'``, ``sender '...'``) -> their :func:`pseudonym`;
- message texts where Rasa puts them (``user message '...'``, ``text='...'``,
  ``"text": "..."``) -> ``[text]``.

Names cannot be recognised by a pattern: they stay out of the logs because message
texts do (the patterns above, and the input checks that keep Rasa off its error paths).

:func:`install` sets a log-record factory (so handlers created later, Rasa's structlog
output through the standard library and Sanic's loggers included, only ever see redacted
records) and puts :class:`RedactingFilter` on every handler that exists.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from typing import Callable, Optional

_TOKEN = re.compile(r"(token=)[^&\s'\"]+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"(?<!\w)(?:\+|00)?\d(?:[\s./()\-]{0,2}\d){7,}")
_CONVERSATION_PATH = re.compile(r"(/conversations/)([^/\s?'\"]+)")
_SENDER_FIELDS = re.compile(
    r"(?P<key>(?:sender_id|sender|conversation_id|conversation ID|conversation|session_id)"
    r"(?:['\"]?\s*[:=]\s*|\s+))(?P<q>['\"])?(?P<value>(?(q)[^'\"]*|[^\s,;)'\"]+))(?(q)(?P=q))",
    re.IGNORECASE,
)
_TEXT_FIELDS = re.compile(
    r"(?P<key>(?:user message|message|text)(?:['\"]?\s*[:=]\s*|\s+))(?P<q>['\"])(?P<value>.*?)(?P=q)",
    re.IGNORECASE | re.DOTALL,
)

_key_cache: dict[str, bytes] = {}


def _log_key() -> bytes:
    key = os.environ.get("WEGWIJS_LOG_KEY", "").strip()
    if not key:
        if "generated" not in _key_cache:
            from wegwijs.security.secrets import load_secrets

            _key_cache["generated"] = load_secrets().log_key.encode()
        return _key_cache["generated"]
    return key.encode()


def pseudonym(sender_id: str, key: Optional[bytes] = None) -> str:
    """Sender id as a keyed hash for logs: ``"s:"`` + 16 hex digits of HMAC-SHA256.

    The key is ``WEGWIJS_LOG_KEY`` (:mod:`wegwijs.security.secrets`), so the same sender
    has the same pseudonym in every log line, and a phone number used as a sender id
    cannot be found by hashing candidate numbers without the key.
    """
    digest = hmac.new(key or _log_key(), sender_id.encode("utf-8", "replace"), hashlib.sha256)
    return "s:" + digest.hexdigest()[:16]


def redact(text: str) -> str:
    """``text`` with tokens, e-mail addresses, numbers, sender ids and message texts replaced."""
    text = _TOKEN.sub(r"\1[token]", text)
    text = _TEXT_FIELDS.sub(lambda m: f"{m['key']}{m['q']}[text]{m['q']}", text)
    text = _CONVERSATION_PATH.sub(lambda m: m.group(1) + pseudonym(m.group(2)), text)
    text = _SENDER_FIELDS.sub(
        lambda m: m.group(0) if m["value"].startswith("s:") or not m["value"]
        else f"{m['key']}{m['q'] or ''}{pseudonym(m['value'])}{m['q'] or ''}",
        text,
    )
    text = _EMAIL.sub("[email]", text)
    return _NUMBER.sub("[number]", text)


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_wegwijs_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: keep only the format string
        message = str(record.msg)
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._wegwijs_redacted = True  # type: ignore[attr-defined]
    return record


class RedactingFilter(logging.Filter):
    """A handler filter that redacts a record in place (see the module docstring); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


#: loggers whose handlers get the filter besides the root logger's
LOGGERS = ("sanic.root", "sanic.error", "sanic.access", "rasa", "rasa_sdk", "structlog")

_FILTER = RedactingFilter()


def attach_to_handlers() -> int:
    """Put the filter on every handler of the root logger and of :data:`LOGGERS`; return how many."""
    count = 0
    loggers = [logging.getLogger()] + [logging.getLogger(n) for n in LOGGERS]
    loggers += [l for l in logging.Logger.manager.loggerDict.values() if isinstance(l, logging.Logger)]
    for lg in loggers:
        for handler in lg.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
                count += 1
    return count


class ButtonPayloadNoise(logging.Filter):
    """Drops Rasa's interpolator error for a button payload's entity JSON.

    Rasa 3.6 fills ``{slot}`` placeholders in every part of a response, button payloads
    included, so ``/inform{"contact_channel":"whatsapp"}`` is read as a placeholder named
    ``"contact_channel":"whatsapp"`` and logged as an ERROR on every button (the payload
    is sent unchanged). Only that case is dropped: a placeholder whose name starts with a
    quote; a real missing slot (``{reference}``) is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: keep it
            return True
        return '"placeholder_key": "\\"' not in message and "'placeholder_key': '\"" not in message


#: the logger of Rasa's response interpolation (rasa/core/nlg/interpolator.py)
INTERPOLATOR_LOGGER = "rasa.core.nlg.interpolator"
_PAYLOAD_NOISE = ButtonPayloadNoise()

_installed: dict[str, Callable[..., logging.LogRecord]] = {}


def install() -> None:
    """Redact every log record of this process from now on (idempotent)."""
    if "factory" not in _installed:
        previous = logging.getLogRecordFactory()
        _installed["factory"] = previous

        def factory(*args, **kwargs) -> logging.LogRecord:
            return _redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
    interpolator = logging.getLogger(INTERPOLATOR_LOGGER)
    if _PAYLOAD_NOISE not in interpolator.filters:
        interpolator.addFilter(_PAYLOAD_NOISE)
    attach_to_handlers()
