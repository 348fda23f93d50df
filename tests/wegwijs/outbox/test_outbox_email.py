"""Outbox rows written with the referral; e-mail sent to a real local SMTP server (aiosmtpd)
that refuses or is down at first; backoff; failed rows visible; the Tigrinya end-to-end."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.wegwijs.outbox.conftest import routing_for
from wegwijs.db.models import OutboxMessage, Referral
from wegwijs.outbox import worker
from wegwijs.outbox.worker import WorkerConfig
from wegwijs.referrals import service
from wegwijs.serve import free_port

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
CONFIG = WorkerConfig(max_attempts=3, base_delay=30, max_delay=120, lease_seconds=300, send_timeout=10)


class Clock:
    """A clock the test moves (backoff and lease are minutes; tests do not wait for them)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _rows(session_factory) -> list[OutboxMessage]:
    with session_factory.begin() as session:
        return list(session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def _tigrinya(make_referral_in, **changes):
    fields = dict(
        language="ti", municipality="Utrecht", person_type="sleutelpersoon", contact_gender="woman",
        urgency="normal", urgency_reason=None, topics=["school"],
        concern_text=[{"text": "ወደይ ናብ ቤት ትምህርቲ ክኸይድ ኣይደልን እዩ", "lang": "ti"}],
    )
    fields.update(changes)
    return make_referral_in(**fields)


def test_outbox_row_is_written_with_the_referral(session_factory, make_referral_in, names) -> None:
    routing = routing_for(free_port())
    out = service.create_referral(session_factory, _tigrinya(make_referral_in), names=names, now=NOW, routing=routing)
    assert (out.assignee_key, out.route_queue, out.route_reason) == ("utrecht-sp-senait", "Utrecht", None)
    assert out.contact.first_name == "Senait" and out.contact.role == "sleutelpersoon"
    [row] = _rows(session_factory)
    assert (row.kind, row.status, row.attempts, row.referral_id) == ("email", "pending", 0, out.id)
    assert row.next_attempt_at == NOW  # due at once
    assert row.idempotency_key == f"{out.reference}.email.referral.created"
    assert row.payload["to"] == ["senait.sp@example.org"]
    assert row.payload["cc"] == ["nieuwkomers-utrecht@example.org"]
    assert out.summary_nl in row.payload["body"]
    assert "Doorgestuurd naar: utrecht-sp-senait (gemeente Utrecht)" in out.summary_nl
    with session_factory.begin() as session:
        stored = session.get(Referral, out.id)
        assert (stored.assignee_key, stored.route_queue) == ("utrecht-sp-senait", "Utrecht")


def test_queue_reason_is_in_the_summary_and_the_mail_goes_to_the_queue(session_factory, make_referral_in, names) -> None:
    routing = routing_for(free_port())
    data = _tigrinya(make_referral_in, contact_gender="man")
    out = service.create_referral(session_factory, data, names=names, now=NOW, routing=routing)
    assert out.assignee_key is None and out.route_queue == "Utrecht"
    assert "Waarom de wachtrij: Geen sleutelpersoon van Utrecht die Tigrinya (ti) spreekt is een man" in out.summary_nl
    [row] = _rows(session_factory)
    assert row.payload["to"] == ["nieuwkomers-utrecht@example.org"] and row.payload["cc"] == []


def test_unknown_gemeente_goes_to_the_default_queue(session_factory, make_referral_in, names) -> None:
    out = service.create_referral(
        session_factory, _tigrinya(make_referral_in, municipality="Zaanstad"), names=names, now=NOW,
        routing=routing_for(free_port()),
    )
    assert out.route_queue == "default" and "Zaanstad" in out.route_reason
    [row] = _rows(session_factory)
    assert row.payload["to"] == ["wachtrij@example.org"]


def test_no_referral_without_its_outbox_row(session_factory, make_referral_in, names, monkeypatch) -> None:
    """Same transaction: when writing the notification fails, the referral is not stored either."""
    import wegwijs.outbox.messages as messages

    def broken(*args, **kwargs):
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr(messages, "notifications_for", broken)
    with pytest.raises(RuntimeError):
        service.create_referral(session_factory, _tigrinya(make_referral_in), names=names, routing=routing_for(free_port()))
    with session_factory.begin() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one() == 0


def test_delete_my_data_deletes_the_outbox_rows(session_factory, make_referral_in, names) -> None:
    service.create_referral(session_factory, _tigrinya(make_referral_in), names=names, routing=routing_for(free_port()))
    assert len(_rows(session_factory)) == 1
    assert service.delete_for_conversation(session_factory, "conv-42") == 1
    assert _rows(session_factory) == []


async def test_smtp_refuses_then_accepts_same_message_id(session_factory, make_referral_in, names, smtp_server) -> None:
    port, handler = smtp_server(["451 4.3.0 Probeer het later opnieuw"])
    routing = routing_for(port)
    out = service.create_referral(session_factory, _tigrinya(make_referral_in), names=names, now=NOW, routing=routing)
    clock = Clock(NOW)

    counts = await worker.run_once(session_factory, routing, config=CONFIG, clock=clock, environ={})
    assert counts == {"claimed": 1, "sent": 0, "retry": 1, "failed": 0}
    [row] = _rows(session_factory)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == NOW + timedelta(seconds=30)
    assert row.last_error == "SMTPDataError: SMTP 451 4.3.0 Probeer het later opnieuw"

    assert (await worker.run_once(session_factory, routing, config=CONFIG, clock=clock, environ={}))["claimed"] == 0
    clock.now = NOW + timedelta(seconds=30)
    counts = await worker.run_once(session_factory, routing, config=CONFIG, clock=clock, environ={})
    assert counts == {"claimed": 1, "sent": 1, "retry": 0, "failed": 0}
    [row] = _rows(session_factory)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 2, clock.now, None)

    first, second = handler.received.attempts
    assert first["Message-ID"] == second["Message-ID"] == f"<{out.reference}.email.referral.created@example.org>"
    [accepted] = handler.received.accepted
    assert accepted.get_content().rstrip("\n").endswith(out.summary_nl.rstrip("\n"))
    assert handler.received.envelopes == [
        ("wegwijs@example.org", ["senait.sp@example.org", "nieuwkomers-utrecht@example.org"])
    ]
    # a sent row is never sent again
    clock.now += timedelta(days=1)
    assert (await worker.run_once(session_factory, routing, config=CONFIG, clock=clock, environ={}))["claimed"] == 0


async def test_backoff_doubles_with_a_cap_then_failed_and_listed(
    session_factory, make_referral_in, names, db_url, monkeypatch, capsys
) -> None:
    port = free_port()  # nothing listens: the mail server is down
    routing = routing_for(port)
    out = service.create_referral(session_factory, _tigrinya(make_referral_in), names=names, now=NOW, routing=routing)
    clock = Clock(NOW)
    config = WorkerConfig(max_attempts=4, base_delay=30, max_delay=60, lease_seconds=300, send_timeout=5)
    waits = []
    for attempt in range(1, 5):
        counts = await worker.run_once(session_factory, routing, config=config, clock=clock, environ={})
        [row] = _rows(session_factory)
        assert row.attempts == attempt
        if attempt < 4:
            assert counts["retry"] == 1 and row.status == "pending"
            waits.append((row.next_attempt_at - clock.now).total_seconds())
            clock.now = row.next_attempt_at
        else:
            assert counts["failed"] == 1 and row.status == "failed"
    assert waits == [30, 60, 60]
    assert row.last_error.startswith(("SMTPConnectError", "SMTPConnectTimeoutError", "ConnectionRefusedError"))
    assert "@" not in row.last_error

    from wegwijs import bootstrap
    from wegwijs.cli import main

    bootstrap.reset()
    monkeypatch.setenv("WEGWIJS_DATABASE_URL", db_url)
    assert main(["outbox", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["reference"], listed["status"], listed["attempts"]) == (out.reference, "failed", 4)
    assert "payload" not in listed
    assert main(["outbox", "list", "--status", "sent"]) == 0
    assert "geen berichten" in capsys.readouterr().out


async def test_tigrinya_parent_reaches_the_tigrinya_sleutelpersoon_though_the_mail_server_was_down(
    session_factory, make_referral_in, names, smtp_server
) -> None:
    """Issue 9 "done when": the Tigrinya-speaking sleutelpersoon gets the complete Dutch summary
    by e-mail, although the mail server was down at the first attempt."""
    from wegwijs.referrals.summary import render_summary_nl

    port = free_port()
    routing = routing_for(port)
    out = service.create_referral(session_factory, _tigrinya(make_referral_in), names=names, now=NOW, routing=routing)
    assert out.assignee_key == "utrecht-sp-senait"
    clock = Clock(NOW)
    assert (await worker.run_once(session_factory, routing, config=CONFIG, clock=clock, environ={}))["retry"] == 1

    _, handler = smtp_server([], port=port)  # the server is up now
    clock.now = _rows(session_factory)[0].next_attempt_at
    assert (await worker.run_once(session_factory, routing, config=CONFIG, clock=clock, environ={}))["sent"] == 1

    [message] = handler.received.accepted
    assert message["To"] == "senait.sp@example.org"
    assert message["Subject"] == f"Wegwijs: nieuwe warme overdracht {out.reference} (Utrecht)"
    body = message.get_content()
    assert body.startswith("Voor: Senait (sleutelpersoon, Utrecht)")
    with session_factory.begin() as session:
        summary = render_summary_nl(session.get(Referral, out.id))
    assert summary.strip() in body  # the complete Dutch summary, as `referrals show` prints it
    for line in ("Taal van de ouder: Tigrinya (ti)", "ወደይ ናብ ቤት ትምህርቲ ክኸይድ ኣይደልን እዩ", "Man of vrouw: liever een vrouw"):
        assert line in body
