"""Declarative SQLAlchemy 1.4 models of the Wegwijs database.

The schema is created and changed only by Alembic revisions in ``migrations/``
(never ``create_all``); ``tests/wegwijs/referrals/test_migrations.py`` checks that
these models and the migrations agree.

Datetimes are timezone-aware UTC in Python. PostgreSQL stores them as
``timestamp with time zone``; SQLite (no time zone support) stores naive UTC and
:class:`UTCDateTime` adds ``tzinfo=UTC`` back when loading.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

#: Constraint names are fixed so that migrations (and SQLite batch mode) can
#: refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
Base = declarative_base(metadata=metadata)


class UTCDateTime(TypeDecorator):
    """A ``DateTime(timezone=True)`` that only accepts and returns aware UTC values."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class Referral(Base):
    """A warm referral ("warme overdracht") of a parent to a klantmanager or sleutelpersoon.

    The columns hold the fields of ``docs/design.md`` "Referral" except the derived
    ones: ``language_name_nl`` comes from :attr:`language_names_nl` (the Dutch names,
    stored when the referral is made, of the conversation language and of every
    language in ``concern_text``) and ``summary_nl`` is rendered on read.
    """

    __tablename__ = "referrals"
    # ids are never reused on SQLite either (migration d4f6a8c0e2b3)
    __table_args__ = {"sqlite_autoincrement": True}

    id = sa.Column(sa.Integer, primary_key=True)
    reference = sa.Column(sa.String(16), nullable=False, unique=True)
    created_at = sa.Column(UTCDateTime(), nullable=False, index=True, default=utcnow)
    conversation_id = sa.Column(sa.String(255), nullable=False, index=True)
    municipality = sa.Column(sa.String(100), nullable=True, index=True)
    person_type = sa.Column(sa.String(20), nullable=False)  # klantmanager | sleutelpersoon | either | not_said
    language = sa.Column(sa.String(8), nullable=False)
    language_names_nl = sa.Column(sa.JSON, nullable=False, default=dict)
    interpreter_needed = sa.Column(sa.Boolean, nullable=True)
    children_count = sa.Column(sa.Integer, nullable=True)
    children_ages = sa.Column(sa.JSON, nullable=False, default=list)
    pregnant = sa.Column(sa.Boolean, nullable=False, default=False)
    topics = sa.Column(sa.JSON, nullable=False, default=list)
    topics_nl = sa.Column(sa.JSON, nullable=False, default=list)
    concern_text = sa.Column(sa.JSON, nullable=False, default=list)
    urgency = sa.Column(sa.String(10), nullable=False, default="normal")
    urgency_reason = sa.Column(sa.Text, nullable=True)
    contact_channel = sa.Column(sa.String(20), nullable=True)
    contact_times = sa.Column(sa.Text, nullable=True)  # normalised into Dutch ("dinsdag en donderdag ochtend; na 17:00")
    contact_times_text = sa.Column(sa.Text, nullable=True)  # the parent's own words for the times
    out_of_scope_questions = sa.Column(sa.JSON, nullable=True)  # [{text, lang}]: asylum, housing, benefits...
    pregnancy_months = sa.Column(sa.Integer, nullable=True)
    contact_caution = sa.Column(sa.Text, nullable=True)  # the parent's words: someone may hear or see the contact
    contact_gender = sa.Column(sa.String(10), nullable=True)
    contact_setting = sa.Column(sa.String(20), nullable=True)
    consent_at = sa.Column(UTCDateTime(), nullable=True)
    status = sa.Column(sa.String(20), nullable=False, default="new")  # new | in_progress | contacted | closed
    status_reason = sa.Column(sa.Text, nullable=True)  # why it was closed (afgesloten, met reden)
    # routing (wegwijs.routing): the staff member's key in municipalities/routing/<gemeente>.yml,
    # the queue it went to ("<gemeente>" or "default") and, when no person fitted, why
    assignee_key = sa.Column(sa.String(100), nullable=True, index=True)
    route_queue = sa.Column(sa.String(100), nullable=True)
    route_reason = sa.Column(sa.Text, nullable=True)

    #: The voice notes (and audio files) of this referral's conversation, oldest first:
    #: ``channel_messages`` rows of the same ``conversation_id`` with a voice-note kind
    #: (:data:`VOICE_NOTE_KINDS`), whether they came before or after the referral. Read-only
    #: and found by the conversation id, so nothing is copied: "delete my data" (which
    #: clears the rows' ``conversation_id``) and ``wegwijs purge`` take them off the referral.
    voice_note_rows = relationship(
        "ChannelMessage",
        primaryjoin="and_(foreign(ChannelMessage.conversation_id) == Referral.conversation_id, "
                    "ChannelMessage.kind.in_(['voice_note', 'audio']))",
        viewonly=True,
        lazy="selectin",
        order_by="(ChannelMessage.received_at, ChannelMessage.id)",
    )

    @property
    def language_name_nl(self) -> str:
        """Dutch name of the conversation language (the code when unknown)."""
        return (self.language_names_nl or {}).get(self.language) or self.language

    def __repr__(self) -> str:  # no personal data in reprs (they end up in logs)
        return f"<Referral id={self.id} reference={self.reference}>"


class AccessLog(Base):
    """One access to referral data (BRIEF 8: "every access is logged").

    ``referral_id`` is deliberately not a foreign key: the audit trail must
    survive the deletion of the referral it mentions ("delete my data", purge),
    and it holds no data about the parent.
    """

    __tablename__ = "access_log"
    # ids are never reused on SQLite either (migration d4f6a8c0e2b3)
    __table_args__ = {"sqlite_autoincrement": True}

    id = sa.Column(sa.Integer, primary_key=True)
    at = sa.Column(UTCDateTime(), nullable=False, index=True, default=utcnow)
    actor = sa.Column(sa.String(255), nullable=False)
    action = sa.Column(sa.String(50), nullable=False)
    referral_id = sa.Column(sa.Integer, nullable=True, index=True)

    def __repr__(self) -> str:
        return f"<AccessLog {self.actor} {self.action} referral={self.referral_id}>"


#: ``channel_messages.kind`` of a parent's voice note (``audio`` with ``voice: true`` on the
#: Cloud API, every ``audio/*`` item on Twilio) or audio file (Cloud API ``audio`` without it).
VOICE_NOTE_KINDS = ("voice_note", "audio")


class ChannelMessage(Base):
    """One webhook item a messaging channel has seen (``integrations.whatsapp``).

    The unique ``message_id`` makes the WhatsApp webhook idempotent across restarts:
    Meta redelivers a POST until it gets a 200, for up to 7 days, so a message whose
    id is already here is not processed again. Status updates are rows too, keyed
    ``<wamid>#<status>`` (one outgoing message gets sent, delivered, read...).

    Never holds message text. ``media_id`` (Graph API media id) is filled only for
    voice notes and audio, so that a person can fetch and listen to what the bot could
    not. ``conversation_id`` (the Rasa sender id) is filled for a parent's WhatsApp
    Cloud API messages (and Twilio voice notes): the newest one starts WhatsApp's
    24-hour window (``integrations.whatsapp.ServiceWindow``). Statuses and outbound
    outcomes (``template_*``, ``held_*``, ``send_failed_*``) have none. A referral lists the
    voice-note rows of its conversation (:attr:`Referral.voice_note_rows`; indexed since
    migration f7b9d1e3a5c6). For Twilio, ``media_id`` holds the media URL (``MediaUrl<i>``).
    """

    __tablename__ = "channel_messages"
    # ids are never reused on SQLite either (migration d4f6a8c0e2b3)
    __table_args__ = {"sqlite_autoincrement": True}

    id = sa.Column(sa.Integer, primary_key=True)
    message_id = sa.Column(sa.String(255), nullable=False, unique=True)
    channel = sa.Column(sa.String(20), nullable=False)
    received_at = sa.Column(UTCDateTime(), nullable=False, index=True, default=utcnow)
    kind = sa.Column(sa.String(40), nullable=False)  # text | interactive | voice_note | status_read | ...
    media_id = sa.Column(sa.String(255), nullable=True)
    conversation_id = sa.Column(sa.String(255), nullable=True, index=True)

    def __repr__(self) -> str:  # no personal data in reprs
        return f"<ChannelMessage {self.channel} {self.kind} id={self.id}>"


class HeldMessage(Base):
    """A WhatsApp message to a parent held until they write again (``integrations.whatsapp``).

    Outside WhatsApp's 24-hour window only a template may be sent: the message itself (a
    person's late reply, a reminder) waits here and goes out, in ``id`` order, when the
    parent writes. Stored, not kept in memory, so a restart loses nothing. ``payload`` is
    the Graph API message body, text included (personal data): "delete my data" erases the
    rows of the conversation, ``wegwijs purge`` those past retention.
    """

    __tablename__ = "held_messages"
    __table_args__ = {"sqlite_autoincrement": True}

    id = sa.Column(sa.Integer, primary_key=True)
    channel = sa.Column(sa.String(20), nullable=False)
    conversation_id = sa.Column(sa.String(255), nullable=False, index=True)
    created_at = sa.Column(UTCDateTime(), nullable=False, index=True, default=utcnow)
    payload = sa.Column(sa.JSON, nullable=False)

    def __repr__(self) -> str:  # no personal data in reprs
        return f"<HeldMessage {self.channel} id={self.id}>"


class OutboxMessage(Base):
    """A notification of a referral waiting to be sent, or sent (``wegwijs.outbox``).

    Written in the same transaction as its referral (``create_referral``), so a stored
    referral always has its notifications; the worker (``wegwijs worker``) sends them with
    retries. ``kind`` is ``email`` (SMTP) or ``webhook`` (HMAC-signed POST).

    ``status``: ``pending`` (due at ``next_attempt_at``) → ``sending`` (claimed by a worker;
    ``next_attempt_at`` is then the end of its lease, after which another worker may take
    it over: a worker killed mid-send loses nothing) → ``sent``, or back to ``pending`` with
    a later ``next_attempt_at`` after a failure, or ``failed`` after the last attempt (kept
    and listed by ``wegwijs outbox list``). ``idempotency_key`` is the same on every
    attempt: it is the e-mail's Message-ID and the webhook's ``Idempotency-Key`` header.

    ``payload`` holds no more than the person must get (recipients, subject, the Dutch
    summary); ``last_error`` holds the error class and code only, never personal data.
    Rows go when their referral goes ("delete my data", purge): ``ON DELETE CASCADE``.
    """

    __tablename__ = "outbox"

    id = sa.Column(sa.Integer, primary_key=True)
    referral_id = sa.Column(
        sa.Integer, sa.ForeignKey("referrals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind = sa.Column(sa.String(10), nullable=False)  # email | webhook
    idempotency_key = sa.Column(sa.String(200), nullable=False, unique=True)
    payload = sa.Column(sa.JSON, nullable=False)
    status = sa.Column(sa.String(10), nullable=False, default="pending")  # pending | sending | sent | failed
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    next_attempt_at = sa.Column(UTCDateTime(), nullable=False, default=utcnow)
    last_error = sa.Column(sa.Text, nullable=True)
    created_at = sa.Column(UTCDateTime(), nullable=False, default=utcnow)
    sent_at = sa.Column(UTCDateTime(), nullable=True)

    __table_args__ = (
        sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        # ids are never reused on SQLite either (migration 903338a27227)
        {"sqlite_autoincrement": True},
    )

    def __repr__(self) -> str:  # no personal data in reprs
        return f"<OutboxMessage id={self.id} {self.kind} {self.status} referral={self.referral_id}>"


# --- the inbox (wegwijs.inbox): staff accounts, sessions, throttling, API tokens, notes ---

#: Roles of inbox users (docs/inbox.md "Roles").
USER_ROLES = ("klantmanager", "sleutelpersoon", "admin")


class User(Base):
    """A member of staff who reads referrals in the inbox.

    ``municipality`` is the CBS gemeente name the user works for; only an admin may
    have none (national: every gemeente). ``staff_key`` is the person's key in
    ``municipalities/routing/<gemeente>.yml`` and equals ``referrals.assignee_key``
    of the referrals routed to them. ``password_hash`` is an argon2id hash
    (argon2-cffi ``PasswordHasher``), never the password.
    """

    __tablename__ = "users"
    # ids are never reused on SQLite either (migration 903338a27227)
    __table_args__ = {"sqlite_autoincrement": True}

    id = sa.Column(sa.Integer, primary_key=True)
    username = sa.Column(sa.String(100), nullable=False, unique=True)
    display_name = sa.Column(sa.String(200), nullable=False)
    role = sa.Column(sa.String(20), nullable=False)  # klantmanager | sleutelpersoon | admin
    municipality = sa.Column(sa.String(100), nullable=True, index=True)
    staff_key = sa.Column(sa.String(100), nullable=True, index=True)
    password_hash = sa.Column(sa.String(255), nullable=False)
    disabled = sa.Column(sa.Boolean, nullable=False, default=False)
    created_at = sa.Column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:  # no names or hashes in reprs
        return f"<User id={self.id} role={self.role}>"


class UserSession(Base):
    """A server-side login session of the inbox.

    ``id`` is the SHA-256 hex digest of the random token in the user's cookie, so a
    copy of the table does not let anyone log in. ``csrf_token`` is put into every
    form of the session and checked on every POST.
    """

    __tablename__ = "user_sessions"

    id = sa.Column(sa.String(64), primary_key=True)
    user_id = sa.Column(
        sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    csrf_token = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at = sa.Column(UTCDateTime(), nullable=False, index=True)
    last_seen = sa.Column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<UserSession user={self.user_id}>"


class LoginAttempt(Base):
    """One login attempt on the inbox, for throttling by username and by client address.

    Rows older than a day are deleted at the next login (they only serve the
    15-minute window of ``wegwijs.inbox.auth``).
    """

    __tablename__ = "login_attempts"
    # ids are never reused on SQLite either (migration 903338a27227)
    __table_args__ = {"sqlite_autoincrement": True}

    id = sa.Column(sa.Integer, primary_key=True)
    at = sa.Column(UTCDateTime(), nullable=False, index=True, default=utcnow)
    username = sa.Column(sa.String(100), nullable=False, index=True)  # as typed, lower-cased
    address = sa.Column(sa.String(64), nullable=False, index=True)
    succeeded = sa.Column(sa.Boolean, nullable=False, default=False)

    def __repr__(self) -> str:
        return f"<LoginAttempt id={self.id} succeeded={self.succeeded}>"


class ApiToken(Base):
    """A bearer token of one user for ``/api/`` (``wegwijs users token``).

    Only the SHA-256 hex digest is stored; the token is printed once.
    """

    __tablename__ = "api_tokens"
    # ids are never reused on SQLite either (migration 903338a27227)
    __table_args__ = {"sqlite_autoincrement": True}

    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(
        sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    created_at = sa.Column(UTCDateTime(), nullable=False, default=utcnow)
    last_used = sa.Column(UTCDateTime(), nullable=True)

    def __repr__(self) -> str:
        return f"<ApiToken id={self.id} user={self.user_id}>"


class ReferralNote(Base):
    """A note of a member of staff on a referral.

    Notes may hold personal data, so they go with the referral: the foreign key
    cascades, and ``wegwijs.referrals.repository`` deletes them explicitly before
    deleting referrals ("delete my data", purge).
    """

    __tablename__ = "referral_notes"
    # ids are never reused on SQLite either (migration 903338a27227)
    __table_args__ = {"sqlite_autoincrement": True}

    id = sa.Column(sa.Integer, primary_key=True)
    referral_id = sa.Column(
        sa.Integer, sa.ForeignKey("referrals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id = sa.Column(
        sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    at = sa.Column(UTCDateTime(), nullable=False, default=utcnow)
    text = sa.Column(sa.Text, nullable=False)

    def __repr__(self) -> str:  # never the text
        return f"<ReferralNote id={self.id} referral={self.referral_id}>"
