"""The notifications of a new referral, as outbox rows (written with the referral).

One row per channel the referral's queue has in its routing file: ``email`` and/or
``webhook``. The payload holds what is sent and no more than the person must get:

* e-mail: ``{"route_queue", "to", "cc", "subject", "body"}`` — ``to`` is the person the
  referral was routed to (their ``email``), else the queue's mailbox; ``cc`` the queue when
  a person got it, plus the routing file's fixed ``notifications.email.to``; ``body`` is a
  Dutch header line and the Dutch handoff summary (BRIEF 9).
* webhook: ``{"route_queue", "body": {...}}`` — the JSON object POSTed (fields in
  :func:`webhook_body`).

A voice note that arrives in the conversation of a referral whose notifications all went
out (:mod:`wegwijs.referrals.voice_notes`) gets rows of its own
(:func:`voice_note_notifications`, ``"event": "referral.voice_note"`` in the payload): the
same recipients, and only that a voice message arrived and how to listen to it, never the
summary. :func:`carries_summary` tells the two apart.

Transport settings (SMTP host, webhook URL, secrets' variable names) are *not* copied:
the worker reads them from the routing file when it sends.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from wegwijs.db.models import OutboxMessage, Referral
from wegwijs.routing.loader import RoutingTable
from wegwijs.routing.rules import Route

if TYPE_CHECKING:  # pragma: no cover
    from wegwijs.referrals.voice_notes import VoiceNote

#: Event name of a new referral (webhook body ``event``, idempotency keys).
EVENT_CREATED = "referral.created"
#: Event name of a voice note in the conversation of a referral already notified.
EVENT_VOICE_NOTE = "referral.voice_note"


def idempotency_key(reference: str, kind: str, event: str = EVENT_CREATED) -> str:
    """The same on every attempt: ``WW-7KQ3MX.email.referral.created``."""
    return f"{reference}.{kind}.{event}"


def message_id(key: str, sender: str) -> str:
    """The e-mail Message-ID of an idempotency key (RFC 5322 ``<left@right>``), so a resend
    is recognisable: ``<WW-7KQ3MX.email.referral.created@example.org>`` for sender
    ``wegwijs@example.org``."""
    left = re.sub(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]", ".", key)
    domain = sender.rsplit("@", 1)[-1] or "wegwijs.invalid"
    return f"<{left}@{domain}>"


def _dedupe(addresses: list[str], without: list[str]) -> list[str]:
    seen = {a.casefold() for a in without}
    out = []
    for address in addresses:
        if address.casefold() not in seen:
            seen.add(address.casefold())
            out.append(address)
    return out


def email_subject(referral: Referral) -> str:
    """``Wegwijs: URGENT — nieuwe warme overdracht WW-7KQ3MX (Utrecht)`` (no parent data)."""
    urgent = "URGENT — " if referral.urgency == "urgent" else ""
    return f"Wegwijs: {urgent}nieuwe warme overdracht {referral.reference} ({referral.municipality or 'gemeente niet gezegd'})"


def email_body(header: str, summary_nl: str) -> str:
    """The e-mail text: who it is for (one line), a blank line, then the Dutch summary."""
    return f"{header}\n\n{summary_nl}"


def carries_summary(payload: Any) -> bool:
    """Whether an outbox payload is a referral notification with the Dutch summary (not a
    voice-note notification, which must keep its own short text)."""
    return not (isinstance(payload, dict) and payload.get("event") == EVENT_VOICE_NOTE)


def with_summary(payload: dict[str, Any], summary_nl: str) -> dict[str, Any]:
    """``payload`` of an e-mail or webhook notification with ``summary_nl`` in place of the
    summary it was queued with (a referral updated before anyone was told)."""
    body = payload.get("body")
    if isinstance(body, dict):
        return {**payload, "body": {**body, "summary_nl": summary_nl}}
    if isinstance(body, str):
        return {**payload, "body": email_body(body.split("\n\n", 1)[0], summary_nl)}
    return dict(payload)


def webhook_body(referral: Referral, route: Route, summary_nl: str, event: str = EVENT_CREATED) -> dict[str, Any]:
    """The JSON object a webhook gets for a new (or re-routed) referral."""
    return {
        "event": event,
        "idempotency_key": idempotency_key(referral.reference, "webhook", event),
        "reference": referral.reference,
        "created_at": referral.created_at.isoformat(timespec="seconds"),
        "municipality": referral.municipality,
        "urgency": referral.urgency,
        "route_queue": route.route_queue,
        "assignee_key": route.assignee_key,
        "route_reason": route.route_reason,
        "summary_nl": summary_nl,
    }


def notifications_for(
    referral: Referral, route: Route, routing: RoutingTable, summary_nl: str,
    event: str = EVENT_CREATED, due: Any = None,
) -> list[OutboxMessage]:
    """The outbox rows (status ``pending``, due at ``due``, default the referral's creation) for ``referral``.

    ``referral`` must have its ``id`` and ``reference`` (flushed); urgent and normal
    referrals are both due at once. ``event`` names why (``referral.created``, or
    ``referral.routed.<queue>`` when a gemeente said later sends it to another queue):
    it is part of the idempotency key.
    """
    due = due or referral.created_at
    queue = routing.for_queue(route.route_queue)
    rows: list[OutboxMessage] = []
    email = queue.notifications.email
    if email is not None:
        to, cc, header = _addressing(routing, queue, route.assignee_key)
        rows.append(OutboxMessage(
            referral_id=referral.id,
            kind="email",
            idempotency_key=idempotency_key(referral.reference, "email", event),
            payload={
                "route_queue": route.route_queue,
                "to": to,
                "cc": cc,
                "subject": email_subject(referral),
                "body": email_body(header, summary_nl),
            },
            status="pending",
            attempts=0,
            next_attempt_at=due,
            created_at=due,
        ))
    if queue.notifications.webhook is not None:
        rows.append(OutboxMessage(
            referral_id=referral.id,
            kind="webhook",
            idempotency_key=idempotency_key(referral.reference, "webhook", event),
            payload={"route_queue": route.route_queue, "body": webhook_body(referral, route, summary_nl, event)},
            status="pending",
            attempts=0,
            next_attempt_at=due,
            created_at=due,
        ))
    return rows


def _addressing(routing: RoutingTable, queue: Any, assignee_key: str | None) -> tuple[list[str], list[str], str]:
    """``(to, cc, header line)`` of an e-mail to the person ``assignee_key`` of ``queue``
    (Cc the queue and the file's fixed recipients), or to the queue when there is no such
    person or they have no e-mail address."""
    email = queue.notifications.email
    person = next((m for _, m in routing.staff() if m.key == assignee_key), None) if assignee_key else None
    if person is not None and person.email:
        to = [person.email]
        header = f"Voor: {person.first_name} ({person.role}, {queue.gemeente}); in kopie: {queue.queue.name}"
        cc = [queue.queue.email, *email.to]
    else:
        to = [queue.queue.email]
        who = f"{person.first_name} ({person.role}, geen e-mailadres)" if person else "de wachtrij"
        header = f"Voor: {queue.queue.name} — {who}"
        cc = list(email.to)
    return to, _dedupe(cc, to), header


def voice_note_subject(referral: Referral) -> str:
    """``Wegwijs: spraakbericht bij warme overdracht WW-7KQ3MX (Utrecht)`` (no parent data)."""
    urgent = "URGENT — " if referral.urgency == "urgent" else ""
    return (f"Wegwijs: {urgent}spraakbericht bij warme overdracht {referral.reference} "
            f"({referral.municipality or 'gemeente niet gezegd'})")


def voice_note_text(referral: Referral, note: VoiceNote) -> str:
    """The Dutch text of a voice-note notification: that it arrived, when, where, and how
    to listen; nothing of the conversation."""
    from wegwijs.referrals.summary import format_datetime_nl

    lines = [
        f"Er is een {note.kind_nl} van de ouder binnengekomen bij warme overdracht {referral.reference}.",
        f"Ontvangen: {format_datetime_nl(note.received_at)}, via {note.channel_nl}.",
    ]
    if note.media_id:
        lines.append(f"Media-id: {note.media_id}")
    if note.media_url:
        lines.append(f"Media-adres: {note.media_url}")
    lines.append(note.listen_nl)
    lines.append("Wegwijs luistert spraakberichten niet af; de ouder kreeg als antwoord dat typen kan of dat "
                 "iemand kan terugbellen.")
    lines.append(f"Alle spraakberichten en de samenvatting staan in de inbox bij {referral.reference}.")
    return "\n".join(lines)


def voice_note_notifications(
    referral: Referral, note: VoiceNote, routing: RoutingTable, note_id: int, due: Any = None,
) -> list[OutboxMessage]:
    """The outbox rows (``pending``, due at ``due``, default now) telling the referral's person
    or queue that a voice note arrived: e-mail and/or webhook, as the queue's routing file
    has them. Recipients: the referral as it is now (``assignee_key`` after any assignment
    in the inbox, ``route_queue``; an unrouted referral, or a queue whose file is gone, goes
    to the national queue). ``note_id`` (the ``channel_messages`` id) makes the idempotency
    key: ``WW-7KQ3MX.email.referral.voice_note.17``.
    """
    from wegwijs.db.models import utcnow

    due = due or utcnow()
    queue_key = referral.route_queue or "default"
    try:
        queue = routing.for_queue(queue_key)
    except KeyError:
        queue_key, queue = "default", routing.default
    assignee = referral.assignee_key if queue_key == (referral.route_queue or "default") else None
    event = f"{EVENT_VOICE_NOTE}.{note_id}"
    text = voice_note_text(referral, note)
    rows: list[OutboxMessage] = []
    if queue.notifications.email is not None:
        to, cc, header = _addressing(routing, queue, assignee)
        rows.append(OutboxMessage(
            referral_id=referral.id, kind="email",
            idempotency_key=idempotency_key(referral.reference, "email", event),
            payload={"route_queue": queue_key, "event": EVENT_VOICE_NOTE, "to": to, "cc": cc,
                     "subject": voice_note_subject(referral), "body": f"{header}\n\n{text}"},
            status="pending", attempts=0, next_attempt_at=due, created_at=due,
        ))
    if queue.notifications.webhook is not None:
        body = {
            "event": EVENT_VOICE_NOTE,
            "idempotency_key": idempotency_key(referral.reference, "webhook", event),
            "reference": referral.reference,
            "municipality": referral.municipality,
            "urgency": referral.urgency,
            "route_queue": queue_key,
            "assignee_key": assignee,
            "voice_note": note.to_json_dict(),
            "text_nl": text,
        }
        rows.append(OutboxMessage(
            referral_id=referral.id, kind="webhook",
            idempotency_key=idempotency_key(referral.reference, "webhook", event),
            payload={"route_queue": queue_key, "event": EVENT_VOICE_NOTE, "body": body},
            status="pending", attempts=0, next_attempt_at=due, created_at=due,
        ))
    return rows
