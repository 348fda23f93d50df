"""The outbox worker: claims due rows, sends them, retries with exponential backoff.

One pass (:func:`run_once`):

1. **claim** up to ``batch_size`` due rows in one short transaction: ``pending`` rows whose
   ``next_attempt_at`` has come, and ``sending`` rows whose lease has run out (their worker
   was killed mid-send). On PostgreSQL the candidates are read with
   ``SELECT … FOR UPDATE SKIP LOCKED``, so several workers never take the same row; on
   SQLite (one worker) each row is taken by an atomic compare-and-set ``UPDATE … WHERE
   status = <seen> AND attempts = <seen>``. A claimed row becomes ``sending``, its
   ``attempts`` go up by one and ``next_attempt_at`` becomes the end of its lease
   (``lease_seconds``, longer than any send may take).
2. **send** each claimed row (:mod:`wegwijs.outbox.send`) outside any transaction; the
   transport settings come from the routing file of the payload's ``route_queue``.
3. **finish**: ``sent`` (with ``sent_at``), or back to ``pending`` due after
   :func:`backoff`, or ``failed`` once ``attempts`` reached ``max_attempts``. The update is
   fenced on ``status = 'sending' AND attempts = <claimed>``, so a worker whose lease was
   taken over cannot overwrite the newer state.

A resend (after a failure or a takeover) carries the same idempotency key, Message-ID
and webhook ``Idempotency-Key``: at-least-once delivery a receiver can deduplicate.
Failed rows stay in the table (``wegwijs outbox list``); ``last_error`` holds the error
class and code only (:func:`wegwijs.outbox.send.describe_error`).

Before each pass of :func:`run`, the referral spool (:mod:`wegwijs.referrals.spool`,
``WEGWIJS_SPOOL_DIR``: referrals made while the database was down) is drained, urgent
ones first, so their notifications go out in that same pass. Each change of the number of
files waiting or in ``bad/`` is logged (``referrals.spool.waiting count=N urgent=U bad=B``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from wegwijs.db.models import OutboxMessage, utcnow
from wegwijs.outbox import send
from wegwijs.routing.loader import RoutingTable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """Retry policy and limits (seconds unless said otherwise).

    Attributes:
        max_attempts: attempts before a row is ``failed`` (8: about 2 hours with the defaults).
        base_delay: wait after the first failure; doubled after each further one.
        max_delay: the cap of the wait.
        lease_seconds: how long a claimed row is the worker's; must exceed ``send_timeout``.
        batch_size: rows claimed per pass.
        send_timeout: limit of one SMTP conversation or webhook POST.
    """

    max_attempts: int = 8
    base_delay: float = 30.0
    max_delay: float = 3600.0
    lease_seconds: float = 300.0
    batch_size: int = 10
    send_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.batch_size < 1:
            raise ValueError("max_attempts and batch_size must be >= 1")
        if self.lease_seconds <= self.send_timeout:
            raise ValueError("lease_seconds must be longer than send_timeout")


def backoff(attempts: int, config: WorkerConfig) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: ``base_delay · 2^(attempts-1)``, capped
    at ``max_delay`` (30 s, 60 s, 120 s, … 3600 s with the defaults)."""
    seconds = config.base_delay * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, config.max_delay))


@dataclass(frozen=True)
class Claimed:
    """A row this worker holds: what it needs to send it and to finish it (fencing)."""

    id: int
    kind: str
    idempotency_key: str
    payload: dict
    attempts: int


def claim(session_factory: sessionmaker, *, now: datetime, config: WorkerConfig) -> list[Claimed]:
    """Claim due rows (step 1 of the module docstring); return them, oldest due first.

    Rows whose lease ran out after their last allowed attempt are marked ``failed`` here
    ("worker stopped during the last attempt") instead of being sent once more.
    """
    table = OutboxMessage
    due = sa.or_(
        sa.and_(table.status == "pending", table.next_attempt_at <= now),
        sa.and_(table.status == "sending", table.next_attempt_at <= now),
    )
    with session_factory.begin() as session:
        query = (
            sa.select(table.id, table.status, table.attempts)
            .where(due)
            .order_by(table.next_attempt_at, table.id)
            .limit(config.batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        candidates = session.execute(query).all()
        claimed_ids: list[tuple[int, int]] = []
        for row_id, status, attempts in candidates:
            fence = sa.and_(table.id == row_id, table.status == status, table.attempts == attempts)
            if status == "sending" and attempts >= config.max_attempts:
                session.execute(
                    sa.update(table).where(fence).values(
                        status="failed", last_error="lease expired: the worker stopped during the last attempt"
                    ).execution_options(synchronize_session=False)
                )
                continue
            result = session.execute(
                sa.update(table).where(fence).values(
                    status="sending",
                    attempts=attempts + 1,
                    next_attempt_at=now + timedelta(seconds=config.lease_seconds),
                ).execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed_ids.append((row_id, attempts + 1))
        if not claimed_ids:
            return []
        rows = {
            row.id: row
            for row in session.execute(
                sa.select(table).where(table.id.in_([row_id for row_id, _ in claimed_ids]))
            ).scalars()
        }
        return [
            Claimed(rows[row_id].id, rows[row_id].kind, rows[row_id].idempotency_key,
                    dict(rows[row_id].payload), attempts)
            for row_id, attempts in claimed_ids
        ]


def _finish(session_factory: sessionmaker, item: Claimed, values: dict[str, Any]) -> bool:
    with session_factory.begin() as session:
        result = session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.id == item.id,
                OutboxMessage.status == "sending",
                OutboxMessage.attempts == item.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


async def deliver(item: Claimed, routing: RoutingTable, *, environ: Mapping[str, str], config: WorkerConfig) -> None:
    """Send one claimed row by its kind with its queue's transport settings.

    Raises:
        send.SendError: the queue or its channel is not (any more) in the routing files, or
            the attempt failed; or any transport error of :mod:`wegwijs.outbox.send`.
    """
    queue_key = item.payload.get("route_queue") or "default"
    try:
        notifications = routing.for_queue(queue_key).notifications
    except KeyError:
        raise send.SendError(f"no routing file for queue {queue_key}") from None
    if item.kind == "email":
        if notifications.email is None:
            raise send.SendError(f"queue {queue_key} has no e-mail settings")
        await send.send_email(item.payload, notifications.email, item.idempotency_key,
                              environ=environ, timeout=config.send_timeout)
    elif item.kind == "webhook":
        if notifications.webhook is None:
            raise send.SendError(f"queue {queue_key} has no webhook settings")
        await send.send_webhook(item.payload, notifications.webhook, item.idempotency_key,
                                environ=environ, timeout=config.send_timeout)
    else:
        raise send.SendError(f"unknown outbox kind {item.kind}")


async def run_once(
    session_factory: sessionmaker,
    routing: RoutingTable,
    *,
    config: WorkerConfig = WorkerConfig(),
    clock: Callable[[], datetime] = utcnow,
    environ: Mapping[str, str] | None = None,
    spool_dir: Path | None = None,
) -> dict[str, int]:
    """One pass: claim, send, finish. Returns counts ``{"claimed", "sent", "retry", "failed"}``.

    Database calls run in a thread (``asyncio.to_thread``) so the event loop keeps serving.
    ``clock`` gives "now" (tests move it past a backoff or a lease).

    ``spool_dir``: first drain that referral spool (:func:`drain_spool`); the counts then
    also have ``"spool_stored"``, ``"spool_waiting"``, ``"spool_urgent"`` and ``"spool_bad"``.
    """
    environ = os.environ if environ is None else environ
    counts = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0}
    if spool_dir is not None:
        counts.update(await drain_spool(session_factory, routing, spool_dir))
    items = await asyncio.to_thread(claim, session_factory, now=clock(), config=config)
    counts["claimed"] = len(items)
    for item in items:
        try:
            await deliver(item, routing, environ=environ, config=config)
        except Exception as error:  # every failure is a retry or, at the end, "failed"
            description = send.describe_error(error)
            if item.attempts >= config.max_attempts:
                values = {"status": "failed", "last_error": description}
                counts["failed"] += 1
            else:
                values = {"status": "pending", "last_error": description,
                          "next_attempt_at": clock() + backoff(item.attempts, config)}
                counts["retry"] += 1
            logger.warning("outbox.send_failed id=%s kind=%s attempt=%s error=%s",
                           item.id, item.kind, item.attempts, description)
        else:
            values = {"status": "sent", "sent_at": clock(), "last_error": None}
            counts["sent"] += 1
            logger.info("outbox.sent id=%s kind=%s attempt=%s", item.id, item.kind, item.attempts)
        if not await asyncio.to_thread(_finish, session_factory, item, values):
            logger.warning("outbox.lease_lost id=%s: another worker took the row over", item.id)
    return counts


async def drain_spool(session_factory: sessionmaker, routing: RoutingTable, spool_dir: Path) -> dict[str, int]:
    """Store the referrals of the spool (:func:`wegwijs.referrals.spool.drain`, in a thread).
    Returns ``{"spool_stored", "spool_waiting", "spool_urgent", "spool_bad"}``; never raises
    (an error is logged, the files stay for the next pass)."""
    from wegwijs.referrals import spool

    try:
        result = await asyncio.to_thread(spool.drain, spool_dir, session_factory, routing=routing)
    except Exception:
        logger.exception("referrals.spool.drain_failed")
        return {"spool_stored": 0, "spool_waiting": -1, "spool_urgent": -1, "spool_bad": -1}
    return {"spool_stored": len(result.stored), "spool_waiting": result.waiting,
            "spool_urgent": result.urgent_waiting, "spool_bad": result.in_bad}


def _log_spool(counts: Mapping[str, int], last: tuple[int, int, int]) -> tuple[int, int, int]:
    """Log the spool's numbers when they changed since ``last``; return them."""
    now = (counts.get("spool_waiting", 0), counts.get("spool_urgent", 0), counts.get("spool_bad", 0))
    if now != last and min(now) >= 0:
        level = logging.WARNING if now[0] or now[2] else logging.INFO
        logger.log(level, "referrals.spool.waiting count=%s urgent=%s bad=%s", *now)
    return now if min(now) >= 0 else last


async def run(
    session_factory: sessionmaker,
    routing: RoutingTable,
    stop: asyncio.Event,
    *,
    config: WorkerConfig = WorkerConfig(),
    poll_seconds: float = 2.0,
    environ: Mapping[str, str] | None = None,
    spool_dir: Path | None = None,
) -> None:
    """Run passes until ``stop`` is set; wait ``poll_seconds`` (or until stopped) when
    nothing was due. A send in progress is finished before stopping.

    Each pass first drains the referral spool ``spool_dir`` (default the settings'
    ``spool_dir``, ``WEGWIJS_SPOOL_DIR``)."""
    if spool_dir is None:
        from wegwijs import bootstrap

        spool_dir = bootstrap.get_settings().spool_dir
    last_spool = (0, 0, 0)
    while not stop.is_set():
        spooled = await drain_spool(session_factory, routing, spool_dir)
        last_spool = _log_spool(spooled, last_spool)
        try:
            counts = await run_once(session_factory, routing, config=config, environ=environ)
        except Exception:  # the database is down: keep trying, the rows are safe in it
            logger.exception("outbox.pass_failed")
            counts = {"claimed": 0}
        if counts["claimed"] == 0 and not spooled["spool_stored"]:
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
            except asyncio.TimeoutError:
                pass
