"""Data access for referrals and the access log.

Keyword-only functions with the session first. They never commit: the caller
(the service layer) owns the transaction with ``session_factory.begin()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from wegwijs.db.models import AccessLog, ChannelMessage, HeldMessage, Referral, ReferralNote, utcnow


def create(*, session: Session, referral: Referral) -> Referral:
    """Add ``referral`` and flush, so that ``referral.id`` is set."""
    session.add(referral)
    session.flush()
    return referral


def get_by_id(*, session: Session, referral_id: int) -> Referral | None:
    """Return the referral with primary key ``referral_id``, or None."""
    return session.get(Referral, referral_id)


def get_by_reference(*, session: Session, reference: str) -> Referral | None:
    """Return the referral with ``reference`` (e.g. ``"WW-7KQ2MX"``), or None."""
    return session.execute(
        sa.select(Referral).where(Referral.reference == reference)
    ).scalar_one_or_none()


def list_referrals(
    *, session: Session, municipality: str | None = None, limit: int = 50
) -> list[Referral]:
    """Return the newest referrals first, optionally of one municipality.

    Args:
        municipality: compared case-insensitively ("utrecht" finds "Utrecht").
        limit: at most this many rows (must be >= 1).
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    query = sa.select(Referral)
    if municipality is not None:
        query = query.where(sa.func.lower(Referral.municipality) == municipality.strip().lower())
    query = query.order_by(Referral.created_at.desc(), Referral.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def _delete_notes(*, session: Session, condition: Any) -> None:
    """Delete the notes of the referrals matching ``condition``.

    The foreign key cascades too, but SQLite only honours it with
    ``PRAGMA foreign_keys=ON``; deleting explicitly does not depend on that.
    """
    session.execute(
        sa.delete(ReferralNote)
        .where(ReferralNote.referral_id.in_(sa.select(Referral.id).where(condition)))
        .execution_options(synchronize_session=False)
    )


def delete_for_conversation(*, session: Session, conversation_id: str) -> int:
    """Delete every referral of one conversation ("delete my data"); return how many.

    The conversation's channel rows (voice notes: media id and sender) lose both links;
    their WhatsApp message ids stay so a redelivery is still not processed twice. Messages
    held for the parent outside WhatsApp's 24-hour window (``held_messages``) are deleted.
    Staff notes on those referrals (personal data) are deleted with them.
    """
    _delete_notes(session=session, condition=Referral.conversation_id == conversation_id)
    session.execute(
        sa.delete(HeldMessage).where(HeldMessage.conversation_id == conversation_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.update(ChannelMessage)
        .where(ChannelMessage.conversation_id == conversation_id)
        .values(conversation_id=None, media_id=None)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        sa.delete(Referral)
        .where(Referral.conversation_id == conversation_id)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)


def delete_by_reference(*, session: Session, reference: str) -> int:
    """Delete one referral and its staff notes (a parent who took back the consent to pass
    it on while the contact questions were open); return how many (0 or 1)."""
    _delete_notes(session=session, condition=Referral.reference == reference)
    result = session.execute(
        sa.delete(Referral).where(Referral.reference == reference).execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)


def count_older_than(*, session: Session, cutoff: datetime) -> int:
    """Return how many referrals were created before ``cutoff`` (aware datetime)."""
    return int(
        session.execute(
            sa.select(sa.func.count()).select_from(Referral).where(Referral.created_at < cutoff)
        ).scalar_one()
    )


def purge_older_than(*, session: Session, cutoff: datetime) -> int:
    """Delete referrals created before ``cutoff`` (aware datetime); return how many.

    Channel rows (webhook ids, voice-note media ids) and held WhatsApp messages older than
    ``cutoff`` go too, and so do the staff notes on the deleted referrals.
    """
    _delete_notes(session=session, condition=Referral.created_at < cutoff)
    session.execute(
        sa.delete(ChannelMessage).where(ChannelMessage.received_at < cutoff).execution_options(synchronize_session=False)
    )
    session.execute(
        sa.delete(HeldMessage).where(HeldMessage.created_at < cutoff).execution_options(synchronize_session=False)
    )
    result = session.execute(
        sa.delete(Referral)
        .where(Referral.created_at < cutoff)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)


def log_access(
    *,
    session: Session,
    actor: str,
    action: str,
    referral_id: int | None,
    at: datetime | None = None,
) -> AccessLog:
    """Record that ``actor`` did ``action`` ("show", "list", ...) on a referral."""
    entry = AccessLog(actor=actor, action=action, referral_id=referral_id, at=at or utcnow())
    session.add(entry)
    session.flush()
    return entry


def list_access_log(
    *, session: Session, referral_id: int | None = None, limit: int = 100
) -> list[AccessLog]:
    """Return access-log rows, newest first, optionally for one referral."""
    query = sa.select(AccessLog)
    if referral_id is not None:
        query = query.where(AccessLog.referral_id == referral_id)
    query = query.order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit)
    return list(session.execute(query).scalars())
