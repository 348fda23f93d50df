"""Voice notes of a referral's conversation, and the notification when one arrives later.

Wegwijs cannot listen to voice notes: the channels answer ``utter_voice_note`` and store
a row in ``channel_messages`` (kind ``voice_note`` / ``audio``, ``media_id``,
``conversation_id``; ``integrations/whatsapp.py``, ``integrations/twilio_whatsapp.py``).
A referral of that conversation lists these rows (:attr:`Referral.voice_note_rows`): in
its Dutch summary, on the inbox page and in the API, whether they came before the
referral or after. Nothing is copied, so "delete my data" and ``wegwijs purge`` (which
unlink or delete the rows) take them off the referral too.

When a voice note is stored in a conversation that has a referral,
:func:`on_voice_note_stored` (called by the channel in the transaction that stores the
row) lets the referral's person or queue know through the outbox:

* the referral's notifications that were never tried (held while the contact questions
  are open, or not yet picked up by the worker) get the new summary, which lists the
  voice note: the person hears of the referral and the voice note in one message;
* otherwise a notification of its own (event ``referral.voice_note``): e-mail and/or
  webhook of the referral's queue, to the person it is assigned to; it says that a
  voice message arrived and how to listen to it, nothing of the conversation.

Without a referral nobody is notified: nothing says the parent agreed to share anything
(the referral is where consent, or the danger that overrides it, is recorded), and there
is no person to tell. The parent's reply offers a person; a referral made later lists
the voice note.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Optional

import sqlalchemy as sa

from wegwijs.db.models import VOICE_NOTE_KINDS, ChannelMessage, Referral, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from wegwijs.routing import RoutingTable

logger = logging.getLogger(__name__)

#: The Graph API the Cloud API channel uses unless ``WHATSAPP_GRAPH_URL`` says otherwise
#: (``integrations.whatsapp.DEFAULT_GRAPH_URL``; a test keeps the two equal).
DEFAULT_GRAPH_URL = "https://graph.facebook.com/v19.0"

CHANNEL_NL = {"whatsapp": "WhatsApp (Cloud API)", "twilio_whatsapp": "Twilio (WhatsApp)"}
KIND_NL = {"voice_note": "spraakbericht", "audio": "audiobestand"}

_TWILIO_MEDIA_SID = re.compile(r"/Media/(ME[0-9a-fA-F]{32})/?$")


@dataclass(frozen=True)
class VoiceNote:
    """One voice note (or audio file) of a parent, as staff see it.

    Attributes:
        received_at: when the channel stored it (aware UTC).
        channel: ``whatsapp`` (Cloud API) or ``twilio_whatsapp``.
        kind: ``voice_note`` or ``audio``.
        media_id: the Cloud API media id, or the Twilio media SID (``ME...``) read from
            the media URL; None when the webhook named none.
        media_url: Twilio's media URL (``MediaUrl<i>``); None for the Cloud API.
    """

    received_at: datetime
    channel: str
    kind: str
    media_id: Optional[str]
    media_url: Optional[str]

    @classmethod
    def from_row(cls, row: Any) -> VoiceNote:
        """From a ``channel_messages`` row (for Twilio its ``media_id`` holds the URL)."""
        stored = row.media_id or None
        if row.channel == "twilio_whatsapp":
            match = _TWILIO_MEDIA_SID.search(stored or "")
            return cls(row.received_at, row.channel, row.kind, match.group(1) if match else None, stored)
        return cls(row.received_at, row.channel, row.kind, stored, None)

    @property
    def channel_nl(self) -> str:
        return CHANNEL_NL.get(self.channel, self.channel)

    @property
    def kind_nl(self) -> str:
        return KIND_NL.get(self.kind, self.kind)

    @property
    def listen_nl(self) -> str:
        """How a person listens to it (Dutch, for staff)."""
        if self.channel == "twilio_whatsapp":
            if not self.media_url:
                return "Beluisteren: niet mogelijk, Twilio gaf geen media-adres."
            return ("Beluisteren: open het media-adres met HTTP basic auth: gebruikersnaam de account-SID "
                    "(TWILIO_ACCOUNT_SID), wachtwoord het auth token (TWILIO_AUTH_TOKEN).")
        if not self.media_id:
            return "Beluisteren: niet mogelijk, WhatsApp gaf geen media-id."
        return (f"Beluisteren: GET {DEFAULT_GRAPH_URL}/{self.media_id} (of het adres in WHATSAPP_GRAPH_URL) "
                "met het WhatsApp-toegangstoken (WHATSAPP_ACCESS_TOKEN, 'Authorization: Bearer <token>') geeft "
                "een downloadadres (\"url\", ongeveer 5 minuten geldig); haal dat op met hetzelfde token.")

    def to_json_dict(self) -> dict[str, Any]:
        """``{"received_at", "channel", "kind", "media_id", "media_url", "listen_nl"}``."""
        return {
            "received_at": self.received_at.isoformat(timespec="seconds"),
            "channel": self.channel,
            "kind": self.kind,
            "media_id": self.media_id,
            "media_url": self.media_url,
            "listen_nl": self.listen_nl,
        }


def voice_notes_of(referral: Any) -> list[VoiceNote]:
    """The voice notes of a referral's conversation, oldest first (``[]`` for objects
    without :attr:`Referral.voice_note_rows`, e.g. test doubles)."""
    rows: Iterable[Any] = getattr(referral, "voice_note_rows", None) or []
    return [VoiceNote.from_row(row) for row in rows if row.kind in VOICE_NOTE_KINDS]


def newest_referral(*, session: Session, conversation_id: str) -> Referral | None:
    """The conversation's newest referral (any status), its voice notes freshly loaded."""
    return session.execute(
        sa.select(Referral)
        .where(Referral.conversation_id == conversation_id)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def on_voice_note_stored(*, session: Session, row: ChannelMessage, routing: RoutingTable | None = None) -> int:
    """A voice note was just stored (``row``, flushed, in the caller's transaction): let the
    person of the conversation's newest referral know (module docstring). Returns how many
    notifications were queued (0: none needed, no referral, or they could not be built).

    A closed referral is notified too: a parent who sends a voice message after it was
    closed may need someone again.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused a read or write (the caller's
            transaction, with the row, is then rolled back and the channel answers 500).
            Any other error (routing files unreadable, a queue without a file) is logged and
            queues nothing: the voice note itself is never lost for a notification.
    """
    from wegwijs.outbox.messages import carries_summary, voice_note_notifications
    from wegwijs.referrals.service import ReferralOut, _refresh_notifications

    if row.kind not in VOICE_NOTE_KINDS or not row.conversation_id:
        return 0
    referral = newest_referral(session=session, conversation_id=row.conversation_id)
    if referral is None:
        logger.info("voice_note.no_referral channel=%s (nobody notified: no referral, no consent recorded)",
                    row.channel)
        return 0
    from wegwijs.db.models import OutboxMessage

    untried = [m for m in session.query(OutboxMessage).filter_by(referral_id=referral.id, status="pending",
                                                                  attempts=0).all()
               if carries_summary(m.payload)]
    if untried:
        _refresh_notifications(session, referral, ReferralOut.from_model(referral).summary_nl, release=False)
        logger.info("voice_note.in_summary reference=%s notifications=%d", referral.reference, len(untried))
        return 0
    try:
        if routing is None:
            from wegwijs import bootstrap
            from wegwijs.routing import cached_routing

            routing = cached_routing(bootstrap.get_settings().routing_dir)
        messages = voice_note_notifications(referral, VoiceNote.from_row(row), routing, row.id, due=utcnow())
    except Exception:
        logger.exception("voice_note.notify_failed reference=%s (the voice note is stored and listed)",
                         referral.reference)
        return 0
    session.add_all(messages)
    session.flush()
    logger.info("voice_note.notified reference=%s notifications=%d", referral.reference, len(messages))
    return len(messages)
