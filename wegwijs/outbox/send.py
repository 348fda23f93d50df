"""Sending one outbox row: e-mail over SMTP (aiosmtplib) or a signed webhook POST (aiohttp).

Both raise on failure (the worker turns the error into a retry); both carry the row's
idempotency key, so a receiver recognises a resend:

* e-mail: ``Message-ID`` derived from the key (:func:`wegwijs.outbox.messages.message_id`)
  and an ``X-Wegwijs-Idempotency-Key`` header;
* webhook: headers ``Idempotency-Key: <key>`` and
  ``X-Wegwijs-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>``.
  The body is the payload's ``body`` as compact JSON with sorted keys (UTF-8), the same
  bytes on every attempt.

Secrets come from environment variables named in the routing file (``password_env``,
``secret_env``); a missing variable is an error of the attempt (:class:`SendError`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone
from typing import Any, Mapping

from wegwijs.outbox.messages import message_id
from wegwijs.routing.schema import EmailSettings, WebhookSettings

SIGNATURE_HEADER = "X-Wegwijs-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

_ADDRESS = re.compile(r"[^\s<>@,;:]+@[^\s<>@,;:]+")


class SendError(RuntimeError):
    """An attempt failed for a reason of ours (missing secret, HTTP status); no personal data."""


def describe_error(error: BaseException, limit: int = 200) -> str:
    """The error as stored in ``outbox.last_error``: class, SMTP code or HTTP status, and the
    message with e-mail addresses replaced by ``<adres>``, at most ``limit`` characters."""
    import aiosmtplib

    name = type(error).__name__
    if isinstance(error, aiosmtplib.SMTPResponseException):
        text = f"{name}: SMTP {error.code} {error.message}"
    elif isinstance(error, OSError) and error.errno is not None:
        text = f"{name}: errno {error.errno} {error.strerror or ''}"
    else:
        text = f"{name}: {error}"
    text = _ADDRESS.sub("<adres>", " ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _secret(environ: Mapping[str, str], name: str | None) -> str | None:
    if name is None:
        return None
    value = environ.get(name)
    if not value:
        raise SendError(f"environment variable {name} is not set")
    return value


def build_email(payload: Mapping[str, Any], settings: EmailSettings, key: str) -> EmailMessage:
    """The e-mail of an outbox payload (plain text, UTF-8); its Message-ID comes from ``key``."""
    message = EmailMessage()
    message["From"] = settings.from_
    message["To"] = ", ".join(payload["to"])
    if payload.get("cc"):
        message["Cc"] = ", ".join(payload["cc"])
    message["Subject"] = payload["subject"]
    message["Message-ID"] = message_id(key, settings.from_)
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["X-Wegwijs-Idempotency-Key"] = key
    message.set_content(payload["body"], charset="utf-8")
    return message


async def send_email(
    payload: Mapping[str, Any], settings: EmailSettings, key: str, *,
    environ: Mapping[str, str], timeout: float = 60.0,
) -> None:
    """Send one e-mail.

    Raises:
        aiosmtplib.SMTPException: the server refused or could not be reached.
        SendError: a secret's environment variable is not set.
    """
    import aiosmtplib

    await aiosmtplib.send(
        build_email(payload, settings, key),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=_secret(environ, settings.username_env),
        password=_secret(environ, settings.password_env),
        start_tls=settings.starttls,
        use_tls=False,
        timeout=timeout,
    )


def webhook_bytes(body: Any) -> bytes:
    """The raw webhook body: compact JSON, sorted keys, UTF-8."""
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, secret: str) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw ``body`` with ``secret`` (UTF-8)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` (constant-time comparison)."""
    return bool(header) and hmac.compare_digest(sign(body, secret), str(header))


async def send_webhook(
    payload: Mapping[str, Any], settings: WebhookSettings, key: str, *,
    environ: Mapping[str, str], timeout: float = 30.0,
) -> None:
    """POST the payload's body to the webhook; any 2xx answer is success.

    Raises:
        SendError: the secret's variable is not set, or the answer was not 2xx.
        aiohttp.ClientError, asyncio.TimeoutError: the URL could not be reached in time.
    """
    import aiohttp

    secret = _secret(environ, settings.secret_env)
    body = webhook_bytes(payload["body"])
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        IDEMPOTENCY_HEADER: key,
        SIGNATURE_HEADER: sign(body, secret),
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(str(settings.url), data=body, headers=headers) as response:
            if not 200 <= response.status < 300:
                raise SendError(f"HTTP {response.status}")
