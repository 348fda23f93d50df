"""Voice notes of a referral's conversation (issue 8): listed in the referral's summary and
data whether they came before or after it; a later one notifies the referral's person
through the outbox (e-mail to a local aiosmtpd, signed webhook to a local aiohttp server);
none without a referral; "delete my data", erase and purge take everything with them.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from tests.wegwijs.outbox.conftest import routing_for, webhook_receiver
from wegwijs.db.models import ChannelMessage, OutboxMessage, Referral, utcnow
from wegwijs.outbox import worker
from wegwijs.outbox.worker import WorkerConfig
from wegwijs.referrals import service
from wegwijs.referrals.voice_notes import VoiceNote, on_voice_note_stored
from wegwijs.routing import RoutingError
from wegwijs.serve import free_port

CONFIG = WorkerConfig(max_attempts=3, base_delay=30, max_delay=120, lease_seconds=300, send_timeout=10)
SECRET = "test-secret-voice"
OWN_WORDS = "ወደይ ናብ ቤት ትምህርቲ ክኸይድ ኣይደልን እዩ"
TWILIO_URL = "https://api.twilio.com/2010-04-01/Accounts/AC{0}/Messages/MM{1}/Media/ME{2}".format(
    "0" * 32, "b" * 32, "c" * 32)


@pytest.fixture
def conversation(session_factory: Any) -> Iterator[str]:
    """A fresh conversation id; its channel rows are removed afterwards (the PostgreSQL
    fixture empties only the referral tables)."""
    conversation_id = f"31612{uuid.uuid4().hex[:8]}"
    yield conversation_id
    with session_factory.begin() as session:
        session.execute(sa.delete(ChannelMessage).where(ChannelMessage.message_id.like(f"{conversation_id}:%"))
                        .execution_options(synchronize_session=False))


def store_voice_note(session_factory: Any, conversation_id: str, routing: Any, *, channel: str = "whatsapp",
                     media: str = "1234567890987654321", kind: str = "voice_note") -> tuple[int, int]:
    """What ``integrations.whatsapp.MessageLog.claim(..., voice_note=True)`` does: store the row
    and notify in one transaction. Returns ``(row id, notifications queued)``."""
    with session_factory.begin() as session:
        row = ChannelMessage(message_id=f"{conversation_id}:{uuid.uuid4().hex}", channel=channel, kind=kind,
                             media_id=media, conversation_id=conversation_id)
        session.add(row)
        session.flush()
        return row.id, on_voice_note_stored(session=session, row=row, routing=routing)


def tigrinya(make_referral_in: Any, conversation_id: str, **changes: Any) -> Any:
    """Routed to Senait (sleutelpersoon, Utrecht) in the example routing files."""
    fields = dict(conversation_id=conversation_id, language="ti", municipality="Utrecht",
                  person_type="sleutelpersoon", contact_gender="woman", urgency="normal", urgency_reason=None,
                  topics=["school"], concern_text=[{"text": OWN_WORDS, "lang": "ti"}])
    fields.update(changes)
    return make_referral_in(**fields)


def outbox(session_factory: Any) -> list[OutboxMessage]:
    with session_factory() as session:
        return list(session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def mark_sent(session_factory: Any) -> None:
    with session_factory.begin() as session:
        session.execute(sa.update(OutboxMessage).values(status="sent", attempts=1, sent_at=utcnow()))


def test_voice_notes_before_the_referral_are_in_its_summary_and_first_notification(
    session_factory, make_referral_in, names, conversation
) -> None:
    routing = routing_for(free_port())
    assert store_voice_note(session_factory, conversation, routing)[1] == 0  # no referral: nobody told
    store_voice_note(session_factory, conversation, routing, channel="twilio_whatsapp", media=TWILIO_URL)
    assert outbox(session_factory) == []

    out = service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names,
                                  routing=routing)
    summary = out.summary_nl
    assert "Spraakberichten van de ouder (Wegwijs heeft ze niet beluisterd):" in summary
    assert "spraakbericht via WhatsApp (Cloud API), media-id 1234567890987654321" in summary
    assert "GET https://graph.facebook.com/v19.0/1234567890987654321" in summary
    assert "WHATSAPP_ACCESS_TOKEN" in summary
    assert f"spraakbericht via Twilio (WhatsApp), media-id ME{'c' * 32}" in summary
    assert f"media-adres: {TWILIO_URL}" in summary and "TWILIO_ACCOUNT_SID" in summary
    assert [n["channel"] for n in out.voice_notes] == ["whatsapp", "twilio_whatsapp"]
    assert out.voice_notes[1]["media_url"] == TWILIO_URL and out.voice_notes[1]["media_id"] == "ME" + "c" * 32
    # the one notification of the new referral carries them: no second message
    [row] = outbox(session_factory)
    assert row.idempotency_key == f"{out.reference}.email.referral.created"
    assert summary in row.payload["body"]
    # the stable JSON shape is unchanged (the inbox API adds voice_notes)
    assert "voice_notes" not in out.to_json_dict()


async def test_voice_note_after_the_referral_notifies_its_person_by_email_and_webhook(
    session_factory, make_referral_in, names, conversation, smtp_server
) -> None:
    runner, hook_url, seen = await webhook_receiver(SECRET, [])
    port, handler = smtp_server([])
    try:
        routing = routing_for(port, webhook_url=hook_url, secret_env="WW_VOICE_SECRET")
        out = service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names,
                                      routing=routing)
        mark_sent(session_factory)  # the person has the referral already
        row_id, queued = store_voice_note(session_factory, conversation, routing)
        assert queued == 2
        email, hook = [m for m in outbox(session_factory) if m.status == "pending"]
        assert email.idempotency_key == f"{out.reference}.email.referral.voice_note.{row_id}"
        assert hook.idempotency_key == f"{out.reference}.webhook.referral.voice_note.{row_id}"
        assert email.payload["to"] == ["senait.sp@example.org"]
        assert email.payload["cc"] == ["nieuwkomers-utrecht@example.org"]

        clock = lambda: utcnow() + timedelta(seconds=1)  # noqa: E731
        counts = await worker.run_once(session_factory, routing, config=CONFIG, clock=clock,
                                       environ={"WW_VOICE_SECRET": SECRET})
        assert counts["sent"] == 2
    finally:
        await runner.cleanup()

    [mail] = handler.received.accepted
    assert mail["Subject"] == f"Wegwijs: spraakbericht bij warme overdracht {out.reference} (Utrecht)"
    text = mail.get_content()
    assert text.startswith("Voor: Senait (sleutelpersoon, Utrecht)")
    assert f"Er is een spraakbericht van de ouder binnengekomen bij warme overdracht {out.reference}." in text
    assert "Media-id: 1234567890987654321" in text and "Beluisteren: GET https://graph.facebook.com" in text
    # nothing of the conversation: no summary, no own words, no phone number
    for absent in (OWN_WORDS, "Warme overdracht Wegwijs", "Onderwerpen", conversation):
        assert absent not in text
    [posted] = seen
    body = json.loads(posted["raw"])
    assert posted["signature_ok"] and posted["key"] == f"{out.reference}.webhook.referral.voice_note.{row_id}"
    assert body["event"] == "referral.voice_note" and body["reference"] == out.reference
    assert body["assignee_key"] == "utrecht-sp-senait" and body["route_queue"] == "Utrecht"
    assert body["voice_note"]["media_id"] == "1234567890987654321" and "summary_nl" not in body
    assert OWN_WORDS not in posted["raw"].decode() and conversation not in posted["raw"].decode()
    # the referral lists it too
    assert "media-id 1234567890987654321" in service.get_referral(session_factory, out.reference,
                                                                  actor="t").summary_nl


def test_voice_note_while_the_notifications_wait_goes_into_their_summary(
    session_factory, make_referral_in, names, conversation
) -> None:
    routing = routing_for(free_port())
    out = service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names,
                                  routing=routing, notify_after=timedelta(minutes=20))
    [held] = outbox(session_factory)
    assert "Spraakberichten" not in held.payload["body"]
    assert store_voice_note(session_factory, conversation, routing)[1] == 0  # no extra message
    [held] = outbox(session_factory)
    assert "media-id 1234567890987654321" in held.payload["body"]
    assert held.next_attempt_at > utcnow()  # still held: the parent may answer more


def test_later_summaries_leave_the_voice_note_notification_alone(
    session_factory, make_referral_in, names, conversation
) -> None:
    routing = routing_for(free_port())
    out = service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names,
                                  routing=routing)
    mark_sent(session_factory)
    store_voice_note(session_factory, conversation, routing)
    [before] = [m for m in outbox(session_factory) if m.status == "pending"]
    service.update_contact(session_factory, out.reference, tigrinya(make_referral_in, conversation,
                                                                    contact_channel="phone"), names=names,
                           routing=routing)
    [after] = [m for m in outbox(session_factory) if m.status == "pending"]
    assert after.payload == before.payload and "Warme overdracht Wegwijs" not in after.payload["body"]


def test_newest_referral_is_notified_and_a_closed_one_too(
    session_factory, make_referral_in, names, conversation
) -> None:
    routing = routing_for(free_port())
    first = service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names,
                                    routing=routing, now=utcnow() - timedelta(days=2))
    second = service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names,
                                     routing=routing)
    with session_factory.begin() as session:
        session.execute(sa.update(Referral).values(status="closed", status_reason="geholpen"))
    mark_sent(session_factory)
    store_voice_note(session_factory, conversation, routing)
    [notification] = [m for m in outbox(session_factory) if m.status == "pending"]
    assert notification.referral_id == second.id
    # both referrals of the conversation list it
    for reference in (first.reference, second.reference):
        assert service.get_referral(session_factory, reference, actor="t").voice_notes


def test_without_a_referral_nobody_is_notified(session_factory, conversation) -> None:
    row_id, queued = store_voice_note(session_factory, conversation, routing_for(free_port()))
    assert queued == 0 and outbox(session_factory) == []
    with session_factory() as session:
        assert session.get(ChannelMessage, row_id).media_id == "1234567890987654321"


def test_unreadable_routing_never_loses_the_voice_note(
    session_factory, make_referral_in, names, conversation, monkeypatch, caplog
) -> None:
    routing = routing_for(free_port())
    service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names, routing=routing)
    mark_sent(session_factory)

    def broken(*_: Any) -> Any:
        raise RoutingError("_default.yml: missing")

    monkeypatch.setattr("wegwijs.routing.cached_routing", broken)
    row_id, queued = store_voice_note(session_factory, conversation, None)
    assert queued == 0 and "voice_note.notify_failed" in caplog.text
    with session_factory() as session:
        assert session.get(ChannelMessage, row_id) is not None  # stored, listed on the referral


def test_erase_and_purge_take_the_voice_note_notifications_and_links(
    session_factory, make_referral_in, names, conversation
) -> None:
    routing = routing_for(free_port())
    service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names, routing=routing)
    mark_sent(session_factory)
    row_id, _ = store_voice_note(session_factory, conversation, routing)
    before = service.conversation_counts(session_factory, conversation)
    assert (before["referrals"], before["outbox"], before["channel_messages"]) == (1, 2, 1)
    service.erase_conversation(session_factory, conversation, actor="admin.avg")
    assert service.conversation_counts(session_factory, conversation) == dict.fromkeys(before, 0)
    assert outbox(session_factory) == []
    with session_factory() as session:
        row = session.get(ChannelMessage, row_id)
        assert (row.conversation_id, row.media_id) == (None, None)  # the message id stays (idempotency)

    # purge: the referral, its voice-note notification and the channel row past retention go
    out = service.create_referral(session_factory, tigrinya(make_referral_in, conversation), names=names,
                                  routing=routing, now=utcnow() - timedelta(days=400))
    mark_sent(session_factory)
    row_id, _ = store_voice_note(session_factory, conversation, routing)
    with session_factory.begin() as session:
        session.get(ChannelMessage, row_id).received_at = utcnow() - timedelta(days=399)
    service.purge_referrals_per_queue(session_factory, routing=routing, max_days=365)
    with session_factory() as session:
        assert session.get(ChannelMessage, row_id) is None
        assert session.query(OutboxMessage).filter_by(referral_id=out.id).count() == 0
    assert service.conversation_counts(session_factory, conversation) == dict.fromkeys(before, 0)


def test_voice_note_of_each_channel_says_how_to_listen() -> None:
    now = utcnow()
    cloud = VoiceNote.from_row(ChannelMessage(channel="whatsapp", kind="audio", media_id="42", received_at=now))
    assert (cloud.media_id, cloud.media_url, cloud.kind_nl) == ("42", None, "audiobestand")
    assert "GET https://graph.facebook.com/v19.0/42" in cloud.listen_nl
    twilio = VoiceNote.from_row(ChannelMessage(channel="twilio_whatsapp", kind="voice_note", media_id=TWILIO_URL,
                                               received_at=now))
    assert (twilio.media_id, twilio.media_url) == ("ME" + "c" * 32, TWILIO_URL)
    assert "HTTP basic auth" in twilio.listen_nl and "TWILIO_AUTH_TOKEN" in twilio.listen_nl
    missing = VoiceNote.from_row(ChannelMessage(channel="whatsapp", kind="voice_note", media_id=None,
                                                received_at=now))
    assert missing.listen_nl.startswith("Beluisteren: niet mogelijk")
