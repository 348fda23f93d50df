"""A worker killed mid-send loses nothing: the row's lease runs out, another worker takes it
over and the resend carries the same Message-ID. On PostgreSQL two workers never send one
row twice (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.wegwijs.outbox.conftest import routing_dir_for, routing_for
from wegwijs.db.models import OutboxMessage, utcnow
from wegwijs.outbox import worker
from wegwijs.outbox.worker import WorkerConfig
from wegwijs.referrals import service
from wegwijs.routing import load_routing
from wegwijs.settings import REPO_ROOT


def _row(session_factory) -> OutboxMessage:
    with session_factory.begin() as session:
        return session.execute(sa.select(OutboxMessage)).scalar_one()


def test_worker_killed_mid_send_loses_nothing(
    session_factory, db_url, make_referral_in, names, smtp_server, tmp_path: Path
) -> None:
    hang: dict = {}

    def hang_forever() -> asyncio.Event:  # runs in the SMTP server's event loop
        hang["loop"], hang["event"] = asyncio.get_running_loop(), asyncio.Event()
        return hang["event"]

    port, handler = smtp_server([hang_forever])  # first DATA: the server hangs, the worker waits
    routing_dir = routing_dir_for(tmp_path, port)
    out = service.create_referral(
        session_factory, make_referral_in(language="ti", contact_gender="woman"), names=names,
        routing=load_routing(routing_dir),
    )
    env = {**os.environ, "WEGWIJS_DATABASE_URL": db_url, "WEGWIJS_ROUTING_DIR": str(routing_dir),
           "WEGWIJS_SPOOL_DIR": str(tmp_path / "spool")}  # `worker --once` drains the spool: not var/spool
    proc = subprocess.Popen(
        [sys.executable, "-m", "wegwijs.cli", "worker", "--once"], cwd=REPO_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert handler.received.got_data.wait(timeout=60), "the worker never sent DATA"
        os.kill(proc.pid, signal.SIGKILL)  # killed mid-send: the server has the data, no answer yet
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if "event" in hang:
            hang["loop"].call_soon_threadsafe(hang["event"].set)

    row = _row(session_factory)
    assert (row.status, row.attempts) == ("sending", 1)
    assert handler.received.accepted == []
    lease_end = row.next_attempt_at

    routing = load_routing(routing_dir)
    config = WorkerConfig()
    # before the lease runs out nobody takes the row over
    counts = asyncio.run(worker.run_once(session_factory, routing, config=config,
                                         clock=lambda: lease_end - timedelta(seconds=1), environ={}))
    assert counts["claimed"] == 0
    counts = asyncio.run(worker.run_once(session_factory, routing, config=config,
                                         clock=lambda: lease_end, environ={}))
    assert counts == {"claimed": 1, "sent": 1, "retry": 0, "failed": 0}
    row = _row(session_factory)
    assert (row.status, row.attempts) == ("sent", 2)
    first, resend = handler.received.attempts
    assert first["Message-ID"] == resend["Message-ID"] == f"<{out.reference}.email.referral.created@example.org>"


def test_a_row_whose_last_attempt_was_cut_off_is_failed_not_lost(session_factory, make_referral_in, names) -> None:
    routing = routing_for(1)
    service.create_referral(session_factory, make_referral_in(), names=names, routing=routing)
    now = utcnow()
    config = WorkerConfig(max_attempts=1, send_timeout=10, lease_seconds=60)
    [claimed] = worker.claim(session_factory, now=now, config=config)  # then the worker "dies"
    assert claimed.attempts == 1
    assert worker.claim(session_factory, now=now + timedelta(seconds=60), config=config) == []
    row = _row(session_factory)
    assert row.status == "failed" and row.last_error.startswith("lease expired")


@pytest.mark.postgres
def test_postgres_skip_locked_hides_rows_being_claimed(postgres_migrated_url, make_referral_in, names) -> None:
    """While one worker's claim transaction holds rows, another worker's claim skips them."""
    from tests.wegwijs.referrals.conftest import _empty_tables
    from wegwijs import bootstrap
    from wegwijs.settings import Settings

    _empty_tables(postgres_migrated_url)
    factory = bootstrap.get_session_factory(Settings(database_url=postgres_migrated_url))
    routing = routing_for(1)
    for i in range(3):
        service.create_referral(factory, make_referral_in(conversation_id=f"c{i}"), names=names, routing=routing)
    now = utcnow()
    holder = bootstrap.make_engine(postgres_migrated_url)
    try:
        with holder.connect() as connection, connection.begin():
            locked = connection.execute(sa.text(
                "SELECT id FROM outbox ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED")).scalars().all()
            claimed = worker.claim(factory, now=now, config=WorkerConfig())
            assert [c.id for c in claimed] and not set(c.id for c in claimed) & set(locked)
            assert len(claimed) == 1
    finally:
        holder.dispose()
        _empty_tables(postgres_migrated_url)


@pytest.mark.postgres
def test_postgres_two_workers_never_send_one_row_twice(postgres_migrated_url, make_referral_in, names, smtp_server) -> None:
    from tests.wegwijs.referrals.conftest import _empty_tables
    from wegwijs import bootstrap
    from wegwijs.settings import Settings

    _empty_tables(postgres_migrated_url)
    port, handler = smtp_server([])
    routing = routing_for(port)
    settings = Settings(database_url=postgres_migrated_url)
    factory = bootstrap.get_session_factory(settings)
    total = 24
    references = [
        service.create_referral(factory, make_referral_in(conversation_id=f"c{i}"), names=names, routing=routing).reference
        for i in range(total)
    ]
    config = WorkerConfig(batch_size=2, send_timeout=10, lease_seconds=300)
    start = threading.Barrier(2)
    results: list[Counter] = [Counter(), Counter()]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        from sqlalchemy.orm import sessionmaker

        engine = bootstrap.make_engine(postgres_migrated_url)  # each worker its own connections
        own = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        try:
            start.wait(timeout=30)
            while True:
                counts = asyncio.run(worker.run_once(own, routing, config=config, environ={}))
                if counts["claimed"] == 0:
                    return
                results[index].update(counts)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors, errors
        assert results[0]["sent"] + results[1]["sent"] == total
        assert results[0]["sent"] > 0 and results[1]["sent"] > 0, results  # both worked
        ids = Counter(message["Message-ID"] for message in handler.received.accepted)
        assert len(ids) == total and set(ids.values()) == {1}  # every row exactly once
        assert {mid.split(".")[0].lstrip("<") for mid in ids} == set(references)
        with factory.begin() as session:
            statuses = Counter(session.execute(sa.select(OutboxMessage.status)).scalars())
        assert statuses == {"sent": total}
    finally:
        _empty_tables(postgres_migrated_url)
