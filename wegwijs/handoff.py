"""Warm referral (warme overdracht) from a conversation's slots.

The bridge between the custom actions (which know slots) and the referral service
(which knows :class:`~wegwijs.referrals.service.ReferralIn`). Blocking: actions call
these functions through ``run_in_executor``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping, Sequence

from wegwijs import bootstrap
from wegwijs.referrals import service
from wegwijs.referrals.service import ReferralIn, ReferralOut

_ALLOWED = {
    "contact_channel": ("whatsapp", "phone", "visit"),
    "contact_gender": ("woman", "man", "any"),
    "contact_setting": ("individual", "group", "any"),
}
_NOT_ANSWERED = (None, "", "skipped")


def referral_from_slots(
    conversation_id: str, slots: Mapping[str, Any], *, urgent_reason: str | None
) -> ReferralIn:
    """Build the referral input from the tracker's slots.

    Only what the parent said: a question that was skipped or never answered stays
    None (the summary reads "niet gezegd"); contact times are stored normalised into
    Dutch with the parent's own words beside them.

    Args:
        conversation_id: the tracker's sender id.
        slots: ``tracker.current_slot_values()``.
        urgent_reason: a safety category (``"self_harm"``) or ``"urgent_help"`` for an
            urgent referral; None for a normal one.

    Returns:
        A validated :class:`ReferralIn`.
    """
    ages = slots.get("children_ages")
    ages = [int(a) for a in ages if isinstance(a, (int, float))] if isinstance(ages, list) else []
    fields: dict[str, Any] = {}
    for slot, allowed in _ALLOWED.items():
        value = slots.get(slot)
        if value in allowed:
            fields[slot] = value
    times = slots.get("contact_times")
    times_nl = times_text = None
    if isinstance(times, dict):
        times_nl = times.get("nl") or None
        times_text = times.get("text") or None
    elif isinstance(times, str) and times not in _NOT_ANSWERED:
        times_text = times
    interpreter = slots.get("interpreter")
    municipality = slots.get("municipality")
    # consent_at is the time of the parent's choice, a yes or a no: only a yes (the intake
    # consent or the handoff consent) is consent to share
    agreed = slots.get("consent") == "yes" or slots.get("handoff_consent") is True
    consent_at = slots.get("consent_at") if agreed else None
    person_type = slots.get("person_type")
    topics = list(slots.get("topics") or [])
    months = slots.get("pregnancy_months")
    return ReferralIn(
        conversation_id=conversation_id,
        person_type=person_type if person_type in ("klantmanager", "sleutelpersoon", "either") else "not_said",
        language=slots.get("language") or "und",
        municipality=None if municipality in _NOT_ANSWERED else municipality,
        interpreter_needed=interpreter if isinstance(interpreter, bool) else None,
        children_count=len(ages) if ages else None,
        children_ages=ages,
        pregnant=bool(slots.get("pregnant")),
        pregnancy_months=int(months) if isinstance(months, (int, float)) and 0 < months <= 10 else None,
        contact_caution=slots.get("contact_caution") if isinstance(slots.get("contact_caution"), str) else None,
        topics=topics,
        concern_text=[c for c in (slots.get("concern_text") or []) if c.get("text")],
        out_of_scope_questions=[q for q in (slots.get("out_of_scope_questions") or []) if q.get("text")],
        urgency="urgent" if urgent_reason else "normal",
        urgency_reason=urgent_reason,
        contact_times=times_nl,
        contact_times_text=times_text,
        consent_at=datetime.fromisoformat(consent_at) if consent_at else None,
        **fields,
    )


def store_referral(data: ReferralIn, *, hold: bool = False) -> ReferralOut:
    """Store a referral with its Dutch summary, route it and queue its notifications
    (routing files of ``settings.routing_dir``); ``.contact`` of the result says who will
    contact the parent and by when.

    ``hold``: the contact questions are still open (the parent may answer more, or leave):
    the notifications wait ``settings.referral_settle_minutes``; :func:`update_referral`
    with ``release`` sends them when the parent finishes.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable or refused it.
    """
    from wegwijs.routing import cached_routing

    settings = bootstrap.get_settings()
    return service.create_referral(
        bootstrap.get_session_factory(), data, names=bootstrap.get_dutch_names(),
        routing=cached_routing(settings.routing_dir),
        notify_after=timedelta(minutes=settings.referral_settle_minutes) if hold else None,
    )


def update_referral(reference: str, data: ReferralIn, *, release: bool = False) -> ReferralOut | None:
    """Add later contact wishes, topics and questions to a stored referral (:func:`service.update_contact`);
    a gemeente said later routes it there too. ``release``: the parent finished, held
    notifications go now.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable or refused it.
    """
    from wegwijs.routing import cached_routing

    return service.update_contact(bootstrap.get_session_factory(), reference, data, names=bootstrap.get_dutch_names(),
                                  routing=cached_routing(bootstrap.get_settings().routing_dir), release=release)


def withdraw_referral(reference: str) -> bool:
    """Delete a held referral whose parent took the consent back (:func:`service.withdraw_referral`).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable or refused it.
    """
    return service.withdraw_referral(bootstrap.get_session_factory(), reference)


def add_urgent_signal(reference: str, data: ReferralIn) -> ReferralOut | None:
    """Join a new danger message to the conversation's urgent referral (:func:`service.add_urgent_signal`).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable or refused it.
    """
    from wegwijs.routing import cached_routing

    return service.add_urgent_signal(bootstrap.get_session_factory(), reference, data,
                                     routing=cached_routing(bootstrap.get_settings().routing_dir))


def spool_referral(data: ReferralIn, *, join: Sequence[str | None] = ()) -> Path:
    """Keep a referral that could not be stored (the database is down) in the spool
    (``settings.spool_dir``, :mod:`wegwijs.referrals.spool`); the outbox worker stores it
    when the database answers again. ``join``: the conversation's stored referrals it
    belongs to (the urgent one, the one held while the contact questions were open), in
    the order they are tried. Returns the file written.

    Raises:
        OSError: the spool cannot be written.
    """
    from wegwijs.referrals import spool

    return spool.write(bootstrap.get_settings().spool_dir, data, join=[str(r) for r in join if r])


def delete_conversation_data(conversation_id: str) -> int:
    """Delete the conversation's referrals ("delete my data"), those still waiting in the
    spool first (a later drain must not store them again); return how many.

    The same deletion as the admin's ``wegwijs referrals erase``
    (:func:`service.delete_conversation_data`). The conversation events themselves are
    dropped by the tracker store.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable (the spool files are gone by then).
    """
    deleted = service.delete_conversation_data(bootstrap.get_session_factory(), conversation_id,
                                               spool_dir=bootstrap.get_settings().spool_dir)
    return deleted["spooled"] + deleted["referrals"]


def contact_days() -> int:
    """Working days within which a person contacts the parent (settings)."""
    return bootstrap.get_settings().referral_contact_days
