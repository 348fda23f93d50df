"""Webhooks: HMAC-SHA256 signature over the raw body, verified by a real local aiohttp server;
same Idempotency-Key on a resend; a missing secret is a failed attempt, not a crash."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from tests.wegwijs.outbox.conftest import routing_for, webhook_receiver
from wegwijs.db.models import OutboxMessage
from wegwijs.outbox import worker
from wegwijs.outbox.send import sign, verify
from wegwijs.outbox.worker import WorkerConfig
from wegwijs.referrals import service
from wegwijs.serve import free_port

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
SECRET = "test-secret-ⓦ"  # not a real secret; non-ASCII on purpose
CONFIG = WorkerConfig(max_attempts=3, base_delay=30, max_delay=120, lease_seconds=300, send_timeout=10)


def test_sign_is_hmac_sha256_hex_of_the_raw_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == f"sha256={expected}"
    assert verify(body, SECRET, f"sha256={expected}")
    assert not verify(body + b" ", SECRET, f"sha256={expected}")
    assert not verify(body, "other", f"sha256={expected}")
    assert not verify(body, SECRET, None)


async def test_webhook_signed_and_resent_with_the_same_key(session_factory, make_referral_in, names) -> None:
    runner, url, seen = await webhook_receiver(SECRET, [500])
    try:
        routing = routing_for(free_port(), webhook_url=url)
        out = service.create_referral(
            session_factory, make_referral_in(language="ti", contact_gender="woman"), names=names, now=NOW, routing=routing
        )
        with session_factory.begin() as session:
            kinds = sorted(r.kind for r in session.execute(sa.select(OutboxMessage)).scalars())
        assert kinds == ["email", "webhook"]  # the SMTP port is closed: e-mail retries beside it
        environ = {"WEGWIJS_TEST_WEBHOOK_SECRET": SECRET}
        counts = await worker.run_once(session_factory, routing, config=CONFIG, clock=lambda: NOW, environ=environ)
        assert counts["claimed"] == 2 and counts["retry"] == 2
        counts = await worker.run_once(
            session_factory, routing, config=CONFIG, clock=lambda: NOW + timedelta(seconds=30), environ=environ
        )
        assert counts["sent"] == 1  # the webhook; the e-mail is still retrying
    finally:
        await runner.cleanup()

    assert len(seen) == 2
    assert all(s["signature_ok"] for s in seen)
    assert seen[0]["raw"] == seen[1]["raw"]
    assert seen[0]["key"] == seen[1]["key"] == f"{out.reference}.webhook.referral.created"
    assert seen[0]["content_type"].startswith("application/json")
    body = json.loads(seen[1]["raw"])
    assert body["event"] == "referral.created" and body["reference"] == out.reference
    assert body["assignee_key"] == "utrecht-sp-senait" and body["route_queue"] == "Utrecht"
    assert body["summary_nl"] == out.summary_nl
    with session_factory.begin() as session:
        hook = session.execute(sa.select(OutboxMessage).where(OutboxMessage.kind == "webhook")).scalar_one()
        assert (hook.status, hook.attempts, hook.last_error) == ("sent", 2, None)


async def test_tampered_body_fails_verification(session_factory, make_referral_in, names) -> None:
    """The receiver's check can fail: a signature made with another secret is rejected."""
    runner, url, seen = await webhook_receiver(SECRET, [])
    try:
        routing = routing_for(free_port(), webhook_url=url)
        service.create_referral(session_factory, make_referral_in(), names=names, now=NOW, routing=routing)
        await worker.run_once(session_factory, routing, config=CONFIG, clock=lambda: NOW,
                              environ={"WEGWIJS_TEST_WEBHOOK_SECRET": "wrong secret"})
    finally:
        await runner.cleanup()
    assert len(seen) == 1 and seen[0]["signature_ok"] is False


async def test_missing_secret_is_a_failed_attempt(session_factory, make_referral_in, names) -> None:
    runner, url, seen = await webhook_receiver(SECRET, [])
    try:
        routing = routing_for(free_port(), webhook_url=url)
        service.create_referral(session_factory, make_referral_in(), names=names, now=NOW, routing=routing)
        await worker.run_once(session_factory, routing, config=CONFIG, clock=lambda: NOW, environ={})
    finally:
        await runner.cleanup()
    assert seen == []
    with session_factory.begin() as session:
        hook = session.execute(sa.select(OutboxMessage).where(OutboxMessage.kind == "webhook")).scalar_one()
    assert hook.status == "pending"
    assert hook.last_error == "SendError: environment variable WEGWIJS_TEST_WEBHOOK_SECRET is not set"
