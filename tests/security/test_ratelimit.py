"""The per-sender limit (real Redis on 127.0.0.1:6379) and the channel texts of all languages."""

from __future__ import annotations

import uuid

import pytest

from wegwijs.content.loader import load_registry
from wegwijs.security import channel_texts
from wegwijs.security.ratelimit import RateLimiter

pytestmark = pytest.mark.redis


def test_every_supported_language_has_valid_channel_texts() -> None:
    for code in load_registry().supported:
        texts = channel_texts.load(code)
        assert "{seconds}" in texts.rate_limited and texts.too_long, code
    assert "30" in channel_texts.text("rate_limited", "ar", seconds=30)
    unknown = channel_texts.text("too_long", None)
    assert channel_texts.load("nl").too_long in unknown and channel_texts.load("en").too_long in unknown


async def test_limit_per_sender_and_per_window() -> None:
    limiter = RateLimiter(redis_url="redis://127.0.0.1:6379/1", per_minute=3)
    flood, other = f"t-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}"
    now = 1_800_000_010.0
    verdicts = [await limiter.hit(flood, now=now) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert verdicts[-1].retry_after == 50
    assert (await limiter.hit(other, now=now)).allowed            # another parent is not starved
    assert (await limiter.hit(flood, now=now + 60)).allowed       # the next minute starts afresh


async def test_redis_down_lets_messages_through() -> None:
    limiter = RateLimiter(redis_url="redis://127.0.0.1:1/1", per_minute=1)
    assert all([(await limiter.hit("x")).allowed for _ in range(3)])


def test_zero_switches_the_limit_off() -> None:
    import asyncio

    limiter = RateLimiter(redis_url="redis://127.0.0.1:1/1", per_minute=0)
    assert asyncio.run(limiter.hit("x")).allowed
