"""Rasa's RedisLockStore against a real Redis (``WEGWIJS_TEST_REDIS_URL``,
default ``redis://127.0.0.1:6379/1``).

Skipped when Redis is not reachable; a failure instead when ``CI`` or
``WEGWIJS_REQUIRE_REDIS=1`` is set. Keys get a unique prefix and are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Iterator
from urllib.parse import urlparse

import pytest
from rasa.core.lock_store import RedisLockStore


def _required() -> bool:
    return any(
        os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")
        for name in ("CI", "WEGWIJS_REQUIRE_REDIS")
    )


@pytest.fixture
def lock_store() -> Iterator[RedisLockStore]:
    import redis

    url = urlparse(os.environ.get("WEGWIJS_TEST_REDIS_URL", "redis://127.0.0.1:6379/1"))
    store = RedisLockStore(
        host=url.hostname or "127.0.0.1",
        port=url.port or 6379,
        db=int((url.path or "/1").strip("/") or 1),
        password=url.password,
        key_prefix=f"wegwijstest{uuid.uuid4().hex[:12]}",  # must be alphanumeric
        socket_timeout=3,
    )
    try:
        store.red.ping()
    except redis.exceptions.RedisError as error:
        message = f"Redis not reachable at {url.hostname}:{url.port or 6379}: {error}"
        if _required():
            pytest.fail(message + " (CI / WEGWIJS_REQUIRE_REDIS=1 set)", pytrace=False)
        pytest.skip(message)
    assert store.key_prefix.startswith("wegwijstest")
    try:
        yield store
    finally:
        keys = list(store.red.scan_iter(match=f"{store.key_prefix}*"))
        if keys:
            store.red.delete(*keys)
        store.red.close()


@pytest.mark.asyncio
async def test_second_acquire_waits_for_the_first(lock_store: RedisLockStore) -> None:
    conversation_id = f"conv-{uuid.uuid4().hex}"
    steps: list[str] = []
    first_has_lock = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with lock_store.lock(conversation_id, lock_lifetime=30, wait_time_in_seconds=0.02):
            steps.append("first acquired")
            first_has_lock.set()
            await release_first.wait()
            steps.append("first releases")

    async def second() -> None:
        await first_has_lock.wait()
        async with lock_store.lock(conversation_id, lock_lifetime=30, wait_time_in_seconds=0.02):
            steps.append("second acquired")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await asyncio.wait_for(first_has_lock.wait(), 5)
    await asyncio.sleep(0.3)  # the second holder polls meanwhile

    lock = lock_store.get_lock(conversation_id)
    assert lock is not None
    assert [ticket.number for ticket in lock.tickets] == [0, 1]
    assert lock.now_serving == 0 and lock.last_issued == 1
    assert lock.is_locked(1) and not lock.is_locked(0)
    assert lock_store.red.exists(lock_store.key_prefix + conversation_id)
    assert steps == ["first acquired"]

    release_first.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert steps == ["first acquired", "first releases", "second acquired"]
    # after the last holder the lock is deleted from Redis
    assert lock_store.get_lock(conversation_id) is None


@pytest.mark.asyncio
async def test_locks_of_different_conversations_do_not_block(lock_store: RedisLockStore) -> None:
    a, b = f"conv-{uuid.uuid4().hex}", f"conv-{uuid.uuid4().hex}"
    async with lock_store.lock(a, lock_lifetime=30, wait_time_in_seconds=0.02):
        async with lock_store.lock(b, lock_lifetime=30, wait_time_in_seconds=0.02) as lock_b:
            assert lock_b.conversation_id == b
            assert lock_store.get_lock(a).now_serving == 0
    assert lock_store.get_lock(a) is None and lock_store.get_lock(b) is None


def test_issue_ticket_numbers_and_cleanup(lock_store: RedisLockStore) -> None:
    conversation_id = f"conv-{uuid.uuid4().hex}"
    first = lock_store.issue_ticket(conversation_id, lock_lifetime=30)
    second = lock_store.issue_ticket(conversation_id, lock_lifetime=30)
    assert (first, second) == (0, 1)
    assert lock_store.is_someone_waiting(conversation_id)
    lock_store.cleanup(conversation_id, first)
    assert lock_store.get_lock(conversation_id).now_serving == 1
    lock_store.cleanup(conversation_id, second)
    assert lock_store.get_lock(conversation_id) is None
