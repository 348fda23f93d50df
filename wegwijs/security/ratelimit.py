"""Messages per sender per minute, counted in Redis, so one flood cannot starve the others.

A fixed window: key ``wegwijs:rl:<keyed hash of the sender>:<minute>`` is incremented
per message and expires after two minutes; above the limit the channel answers with
the polite ``rate_limited`` text (:mod:`wegwijs.security.channel_texts`) and Rasa never
sees the message. The counter lives in Redis, not in process memory, so two Rasa
instances share it.

=================================  ==========================================
``WEGWIJS_RATE_LIMIT_PER_MINUTE``  messages a sender may send per minute
                                   (default 20; ``0`` switches the limit off)
``WEGWIJS_REDIS_URL``              Redis (default ``redis://127.0.0.1:6379/1``)
=================================  ==========================================

When Redis cannot be reached the message is let through and a warning is logged
(``ratelimit.unavailable``): a parent in danger must never be refused for lack of a
counter.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Optional

from wegwijs.security.redact import pseudonym

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
DEFAULT_PER_MINUTE = 20


@dataclass(frozen=True)
class Verdict:
    """``allowed``; when not, ``retry_after`` seconds until the next window, and
    ``first_over``: this is the first message over the limit in the window (a channel
    that pays per message sent, WhatsApp, answers only that one)."""

    allowed: bool
    retry_after: int = 0
    first_over: bool = False


class RateLimiter:
    """Per-sender fixed-window counter in Redis."""

    def __init__(self, redis_url: Optional[str] = None, per_minute: Optional[int] = None) -> None:
        self.redis_url = redis_url or os.environ.get("WEGWIJS_REDIS_URL", "").strip() or "redis://127.0.0.1:6379/1"
        if per_minute is None:
            raw = os.environ.get("WEGWIJS_RATE_LIMIT_PER_MINUTE", "").strip()
            per_minute = int(raw) if raw else DEFAULT_PER_MINUTE
        self.per_minute = per_minute
        self._client = None

    def _redis(self):
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.from_url(self.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return self._client

    async def hit(self, sender_id: str, now: Optional[float] = None) -> Verdict:
        """Count one message of ``sender_id``; allowed while at most ``per_minute`` in this minute."""
        if self.per_minute <= 0:
            return Verdict(True)
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        key = f"wegwijs:rl:{pseudonym(sender_id)}:{window}"
        try:
            client = self._redis()
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, 2 * WINDOW_SECONDS)
            count, _ = await pipe.execute()
        except Exception as e:  # Redis down: let the message through (module docstring)
            logger.warning("ratelimit.unavailable error=%s", type(e).__name__)
            self._client = None
            return Verdict(True)
        if int(count) <= self.per_minute:
            return Verdict(True)
        return Verdict(False, retry_after=max(1, int((window + 1) * WINDOW_SECONDS - now)),
                       first_over=int(count) == self.per_minute + 1)
