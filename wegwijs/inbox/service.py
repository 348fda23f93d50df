"""Referrals as an inbox user may see and handle them, with the audit log.

Access rules (docs/inbox.md "Roles"):

* admin without gemeente: every referral; admin with a gemeente: that gemeente's;
* klantmanager: the referrals of their own gemeente (``referrals.municipality``,
  compared case-insensitively);
* sleutelpersoon: those of their gemeente routed to them
  (``referrals.assignee_key == users.staff_key``).

A referral outside these rules is reported exactly like a missing one
(:class:`wegwijs.referrals.service.ReferralNotFound` → HTTP 404), so nobody learns
that a reference exists in another gemeente.

Every list (one row per referral shown), view, change and API export is written to
``access_log`` as ``actor = inbox:<username>``, ``action`` one of :data:`ACTIONS`
and the referral id; never any message or note text.

The page "Meldingen die niet aankwamen" (:func:`failing_notifications_for`) lists the
outbox rows (``wegwijs.outbox``) of the referrals a user may see — the same
:func:`_visible` condition, joined through ``outbox.referral_id`` — that failed or are
being retried (:func:`_failing`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, List, Literal, Optional

import sqlalchemy as sa
from pydantic import BaseModel, constr, root_validator, validator
from sqlalchemy.orm import Session, sessionmaker

from wegwijs.db.models import OutboxMessage, Referral, ReferralNote, User, utcnow
from wegwijs.inbox.auth import Principal
from wegwijs.referrals import repository
from wegwijs.referrals.service import ReferralNotFound, ReferralOut, normalise_reference
from wegwijs.referrals.voice_notes import voice_notes_of

#: Status values in the database and their Dutch labels, in the order of the flow.
STATUS_LABELS_NL = {
    "new": "nieuw",
    "in_progress": "in behandeling",
    "contacted": "contact gehad",
    "closed": "afgesloten",
}
#: Allowed status changes: forward along nieuw → in behandeling → contact gehad →
#: afgesloten (steps may be skipped), "contact gehad" back to "in behandeling" (no
#: answer after all) and reopening a closed referral (back to "in behandeling").
TRANSITIONS = {
    "new": {"in_progress", "contacted", "closed"},
    "in_progress": {"contacted", "closed"},
    "contacted": {"in_progress", "closed"},
    "closed": {"in_progress"},
}
URGENCY_LABELS_NL = {"urgent": "urgent", "normal": "normaal"}

#: Audit-log actions written by the inbox (web page: ``inbox_*``, JSON API: ``api_*``).
ACTIONS = (
    "inbox_list", "inbox_view", "inbox_status", "inbox_note", "inbox_assign",
    "inbox_outbox", "inbox_outbox_retry",
    "api_list", "api_view", "api_status", "api_note", "login", "logout",
)
#: Most referrals one list shows.
LIST_LIMIT = 500
MAX_NOTE = 4000
MAX_REASON = 1000


class InboxError(ValueError):
    """A change that is not allowed (message in Dutch, for the user)."""


class Forbidden(PermissionError):
    """The user's role may not do this (message in Dutch)."""


class ListFilters(BaseModel):
    """Filters of the list (query parameters of ``/`` and ``/api/referrals``).

    ``status`` ``"open"`` means every status but ``closed``; empty means all.
    """

    status: Optional[Literal["open", "new", "in_progress", "contacted", "closed"]] = None
    urgency: Optional[Literal["urgent", "normal"]] = None
    language: Optional[constr(strip_whitespace=True, to_lower=True, max_length=8)] = None  # type: ignore[valid-type]
    topic: Optional[constr(strip_whitespace=True, to_lower=True, max_length=60)] = None  # type: ignore[valid-type]
    assignee: Optional[constr(strip_whitespace=True, max_length=100)] = None  # type: ignore[valid-type]

    class Config:
        extra = "forbid"

    @validator("*", pre=True)
    def _blank_is_none(cls, value: Any) -> Any:  # noqa: N805
        return None if isinstance(value, str) and not value.strip() else value


class StatusChange(BaseModel):
    """A status change; closing needs a reason (afgesloten, met reden)."""

    status: Literal["new", "in_progress", "contacted", "closed"]
    reason: Optional[constr(strip_whitespace=True, max_length=MAX_REASON)] = None  # type: ignore[valid-type]

    class Config:
        extra = "forbid"

    @root_validator(skip_on_failure=True)
    def _closing_needs_reason(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        if values.get("status") == "closed" and not values.get("reason"):
            raise ValueError("afsluiten kan alleen met een reden")
        return values


class NoteIn(BaseModel):
    """A note on a referral."""

    text: constr(strip_whitespace=True, min_length=1, max_length=MAX_NOTE)  # type: ignore[valid-type]

    class Config:
        extra = "forbid"


class AssignIn(BaseModel):
    """Assignment to a colleague by their staff key; empty = nobody."""

    staff_key: constr(strip_whitespace=True, max_length=100) = ""  # type: ignore[valid-type]

    class Config:
        extra = "forbid"


def age_nl(created_at: datetime, now: datetime | None = None) -> str:
    """How long ago, in Dutch: ``"net binnen"``, ``"12 minuten"``, ``"3 uur"``, ``"2 dagen"``."""
    seconds = max(0, int(((now or utcnow()) - created_at).total_seconds()))
    if seconds < 60:
        return "net binnen"
    if seconds < 3600:
        minutes = seconds // 60
        return f"{minutes} {'minuut' if minutes == 1 else 'minuten'}"
    if seconds < 86400:
        return f"{seconds // 3600} uur"
    days = seconds // 86400
    return f"{days} {'dag' if days == 1 else 'dagen'}"


def _visible(principal: Principal) -> Any:
    """The SQL condition "this user may see the referral"."""
    conditions = []
    if principal.role == "admin" and principal.municipality is None:
        return sa.true()
    conditions.append(
        sa.func.lower(Referral.municipality) == (principal.municipality or "").strip().lower()
    )
    if principal.role == "sleutelpersoon":
        if not principal.staff_key:
            return sa.false()
        conditions.append(Referral.assignee_key == principal.staff_key)
    elif principal.role not in ("klantmanager", "admin"):
        return sa.false()
    return sa.and_(*conditions)


@dataclass
class ListRow:
    """One row of the list."""

    referral: ReferralOut
    status_label_nl: str
    age_nl: str
    assignee_key: Optional[str]
    assignee_name: Optional[str]


@dataclass
class NoteOut:
    """A note with its author's display name."""

    at: datetime
    author: str
    text: str


@dataclass
class Colleague:
    """A person a referral can be assigned to (same gemeente, with a staff key)."""

    staff_key: str
    display_name: str
    role: str


@dataclass
class ReferralView:
    """Everything the detail page and ``/api/referrals/<reference>`` show."""

    referral: ReferralOut
    status_label_nl: str
    status_reason: Optional[str]
    age_nl: str
    assignee_key: Optional[str]
    assignee_name: Optional[str]
    route_queue: Optional[str]
    route_reason: Optional[str]
    notes: List[NoteOut] = field(default_factory=list)
    colleagues: List[Colleague] = field(default_factory=list)
    next_statuses: List[str] = field(default_factory=list)
    #: the voice notes of the conversation, oldest first (wegwijs.referrals.voice_notes.VoiceNote)
    voice_notes: List[Any] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """The API object: the stable referral JSON plus the inbox fields (``voice_notes``:
        ``{received_at, channel, kind, media_id, media_url, listen_nl}`` each)."""
        data = self.referral.to_json_dict()
        data.update(
            status_label_nl=self.status_label_nl, status_reason=self.status_reason,
            age_nl=self.age_nl, assignee_key=self.assignee_key, assignee_name=self.assignee_name,
            route_queue=self.route_queue, route_reason=self.route_reason,
            next_statuses=list(self.next_statuses),
            notes=[{"at": n.at.isoformat(timespec="seconds"), "author": n.author, "text": n.text}
                   for n in self.notes],
            voice_notes=[note.to_json_dict() for note in self.voice_notes],
        )
        return data


def _colleagues(session: Session, municipality: str | None) -> list[Colleague]:
    if municipality is None:
        return []
    rows = session.execute(
        sa.select(User).where(
            sa.func.lower(User.municipality) == municipality.strip().lower(),
            User.staff_key.is_not(None), User.disabled.is_(False),
        ).order_by(User.display_name)
    ).scalars()
    return [Colleague(staff_key=u.staff_key, display_name=u.display_name, role=u.role) for u in rows]


def _names_by_key(session: Session, keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    rows = session.execute(sa.select(User.staff_key, User.display_name).where(User.staff_key.in_(keys)))
    return {key: name for key, name in rows}


def list_for(
    session_factory: sessionmaker, principal: Principal, filters: ListFilters, *,
    channel: Literal["inbox", "api"] = "inbox", now: datetime | None = None,
) -> list[ListRow]:
    """The referrals ``principal`` may see that match ``filters``: urgent first, then the
    oldest first (who waited longest); at most :data:`LIST_LIMIT`. One audit row each."""
    now = now or utcnow()
    query = sa.select(Referral).where(_visible(principal))
    if filters.status == "open":
        query = query.where(Referral.status != "closed")
    elif filters.status:
        query = query.where(Referral.status == filters.status)
    if filters.urgency:
        query = query.where(Referral.urgency == filters.urgency)
    if filters.language:
        query = query.where(Referral.language == filters.language)
    if filters.assignee == "-":
        query = query.where(Referral.assignee_key.is_(None))
    elif filters.assignee:
        query = query.where(Referral.assignee_key == filters.assignee)
    query = query.order_by(
        sa.case((Referral.urgency == "urgent", 0), else_=1), Referral.created_at, Referral.id
    )
    with session_factory.begin() as session:
        rows = list(session.execute(query).scalars())
        if filters.topic:  # topics is a JSON list: filtered here, the same on every backend
            rows = [r for r in rows if filters.topic in (r.topics or [])]
        rows = rows[:LIST_LIMIT]
        names = _names_by_key(session, {r.assignee_key for r in rows if r.assignee_key})
        for row in rows:
            repository.log_access(
                session=session, actor=principal.actor, action=f"{channel}_list", referral_id=row.id
            )
        return [
            ListRow(
                referral=ReferralOut.from_model(r), status_label_nl=STATUS_LABELS_NL.get(r.status, r.status),
                age_nl=age_nl(r.created_at, now), assignee_key=r.assignee_key,
                assignee_name=names.get(r.assignee_key or ""),
            )
            for r in rows
        ]


def _visible_referral(session: Session, principal: Principal, reference: str) -> Referral:
    referral = session.execute(
        sa.select(Referral).where(
            Referral.reference == normalise_reference(reference), _visible(principal)
        )
    ).scalar_one_or_none()
    if referral is None:
        raise ReferralNotFound(reference)
    return referral


def _view(session: Session, referral: Referral, now: datetime) -> ReferralView:
    notes = session.execute(
        sa.select(ReferralNote, User.display_name)
        .outerjoin(User, User.id == ReferralNote.user_id)
        .where(ReferralNote.referral_id == referral.id)
        .order_by(ReferralNote.at, ReferralNote.id)
    ).all()
    colleagues = _colleagues(session, referral.municipality)
    names = {c.staff_key: c.display_name for c in colleagues}
    names.update(_names_by_key(session, {referral.assignee_key} if referral.assignee_key else set()))
    return ReferralView(
        referral=ReferralOut.from_model(referral),
        status_label_nl=STATUS_LABELS_NL.get(referral.status, referral.status),
        status_reason=referral.status_reason,
        age_nl=age_nl(referral.created_at, now),
        assignee_key=referral.assignee_key,
        assignee_name=names.get(referral.assignee_key or ""),
        route_queue=referral.route_queue,
        route_reason=referral.route_reason,
        notes=[NoteOut(at=n.ReferralNote.at, author=n.display_name or "(verwijderd)", text=n.ReferralNote.text)
               for n in notes],
        colleagues=colleagues,
        next_statuses=[s for s in STATUS_LABELS_NL if s in TRANSITIONS.get(referral.status, set())],
        voice_notes=voice_notes_of(referral),
    )


def get_for(
    session_factory: sessionmaker, principal: Principal, reference: str, *,
    channel: Literal["inbox", "api"] = "inbox", now: datetime | None = None,
) -> ReferralView:
    """One referral as ``principal`` may see it; logs ``<channel>_view``.

    Raises:
        ReferralNotFound: no such reference, or not visible to ``principal``.
    """
    with session_factory.begin() as session:
        referral = _visible_referral(session, principal, reference)
        repository.log_access(
            session=session, actor=principal.actor, action=f"{channel}_view", referral_id=referral.id
        )
        return _view(session, referral, now or utcnow())


def change_status(
    session_factory: sessionmaker, principal: Principal, reference: str, change: StatusChange, *,
    channel: Literal["inbox", "api"] = "inbox",
) -> ReferralView:
    """Move a referral along the status flow (:data:`TRANSITIONS`); logs ``<channel>_status``.

    ``status_reason`` holds the reason of the last change that gave one (always for
    closing); reopening clears it.

    Raises:
        ReferralNotFound: not visible to ``principal``.
        InboxError: the change is not in :data:`TRANSITIONS`.
    """
    with session_factory.begin() as session:
        referral = _visible_referral(session, principal, reference)
        if change.status not in TRANSITIONS.get(referral.status, set()):
            raise InboxError(
                f"van '{STATUS_LABELS_NL.get(referral.status, referral.status)}' naar "
                f"'{STATUS_LABELS_NL[change.status]}' kan niet"
            )
        referral.status = change.status
        referral.status_reason = change.reason or None
        repository.log_access(
            session=session, actor=principal.actor, action=f"{channel}_status", referral_id=referral.id
        )
        session.flush()
        return _view(session, referral, utcnow())


def add_note(
    session_factory: sessionmaker, principal: Principal, reference: str, note: NoteIn, *,
    channel: Literal["inbox", "api"] = "inbox",
) -> None:
    """Add a note (logs ``<channel>_note``; the text is not logged).

    Raises:
        ReferralNotFound: not visible to ``principal``.
    """
    with session_factory.begin() as session:
        referral = _visible_referral(session, principal, reference)
        session.add(ReferralNote(referral_id=referral.id, user_id=principal.id, at=utcnow(), text=note.text))
        repository.log_access(
            session=session, actor=principal.actor, action=f"{channel}_note", referral_id=referral.id
        )


def assign(
    session_factory: sessionmaker, principal: Principal, reference: str, data: AssignIn
) -> None:
    """Assign a referral to a colleague of its gemeente (or to nobody); logs ``inbox_assign``.

    Raises:
        ReferralNotFound: not visible to ``principal``.
        Forbidden: a sleutelpersoon (only klantmanagers and admins assign).
        InboxError: ``staff_key`` is not an active colleague of the referral's gemeente.
    """
    if principal.role not in ("klantmanager", "admin"):
        raise Forbidden("alleen klantmanagers en beheerders wijzen toe")
    with session_factory.begin() as session:
        referral = _visible_referral(session, principal, reference)
        if data.staff_key:
            keys = {c.staff_key for c in _colleagues(session, referral.municipality)}
            if data.staff_key not in keys:
                raise InboxError("deze collega werkt niet voor deze gemeente")
        referral.assignee_key = data.staff_key or None
        repository.log_access(
            session=session, actor=principal.actor, action="inbox_assign", referral_id=referral.id
        )


def log_event(session_factory: sessionmaker, principal: Principal, action: str) -> None:
    """Audit an event without a referral (``login``, ``logout``)."""
    with session_factory.begin() as session:
        repository.log_access(session=session, actor=principal.actor, action=action, referral_id=None)


# -- notifications that did not arrive (outbox rows that failed or are being retried) ------

#: Dutch names of the outbox channels (``outbox.kind``).
CHANNEL_LABELS_NL = {"email": "e-mail", "webhook": "webhook"}
#: Dutch labels of the outbox statuses this page shows.
OUTBOX_STATUS_LABELS_NL = {
    "failed": "mislukt — geen nieuwe poging meer",
    "pending": "mislukt — wacht op een nieuwe poging",
    "sending": "wordt nu opnieuw verstuurd",
}
#: Longest error text shown in the table (the whole, at most 200 characters, is its title).
ERROR_SHOWN = 120
_ADDRESS = re.compile(r"[^\s<>@,;:]+@[^\s<>@,;:]+")


class NotificationNotFound(LookupError):
    """No such outbox row, or not one of a referral the user may see (HTTP 404)."""


def _failing() -> Any:
    """The SQL condition "this notification did not arrive": ``failed``, or still being
    retried (``pending`` or ``sending`` after at least one attempt that left an error)."""
    return sa.or_(
        OutboxMessage.status == "failed",
        sa.and_(
            OutboxMessage.status.in_(("pending", "sending")),
            OutboxMessage.attempts > 0,
            OutboxMessage.last_error.is_not(None),
        ),
    )


def _failing_query(principal: Principal) -> Any:
    return (
        sa.select(OutboxMessage, Referral)
        .join(Referral, Referral.id == OutboxMessage.referral_id)
        .where(_visible(principal), _failing())
    )


def _short_error(text: Optional[str]) -> tuple[str, str]:
    """``(shown, whole)``: the stored error with any e-mail address masked (the worker
    already does so; this page does it again), the shown part at most :data:`ERROR_SHOWN`."""
    whole = _ADDRESS.sub("<adres>", " ".join((text or "").split()))
    shown = whole if len(whole) <= ERROR_SHOWN else whole[: ERROR_SHOWN - 1] + "…"
    return shown, whole


def _recipient(row: OutboxMessage) -> str:
    """Who the notification is for, from the row's own payload: the e-mail's ``to`` (and how
    many in copy), or the webhook of the queue (its URL is in the routing file, not here)."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    queue = payload.get("route_queue") or "default"
    if row.kind == "email":
        to = [str(a) for a in payload.get("to") or []]
        text = ", ".join(to) or f"wachtrij {queue}"
        cc = len(payload.get("cc") or [])
        return f"{text} (+{cc} in kopie)" if cc else text
    return f"koppeling van wachtrij {queue}"


@dataclass
class FailingNotification:
    """One row of "Meldingen die niet aankwamen" (no payload beyond the recipients)."""

    id: int
    reference: str
    urgency: str
    municipality: Optional[str]
    kind: str
    channel_nl: str
    recipient: str
    attempts: int
    error_shown: str
    error_whole: str
    status: str
    status_label_nl: str
    next_attempt_at: Optional[datetime]
    due_now: bool
    may_retry: bool
    created_at: datetime


def count_failing_notifications(session_factory: sessionmaker, principal: Principal) -> int:
    """How many notifications of referrals ``principal`` may see did not arrive (the
    navigation's badge; only a number, so not written to the audit log)."""
    query = (
        sa.select(sa.func.count(OutboxMessage.id))
        .join(Referral, Referral.id == OutboxMessage.referral_id)
        .where(_visible(principal), _failing())
    )
    with session_factory() as session:
        return int(session.execute(query).scalar_one())


def failing_notifications_for(
    session_factory: sessionmaker, principal: Principal, *, now: datetime | None = None,
) -> list[FailingNotification]:
    """The notifications of the referrals ``principal`` may see that failed or are being
    retried: urgent referrals first, then failed before retrying, then the oldest; at most
    :data:`LIST_LIMIT`. One ``inbox_outbox`` audit row per referral shown (one without a
    referral when there is none, so the view itself is recorded)."""
    now = now or utcnow()
    query = _failing_query(principal).order_by(
        sa.case((Referral.urgency == "urgent", 0), else_=1),
        sa.case((OutboxMessage.status == "failed", 0), else_=1),
        OutboxMessage.created_at, OutboxMessage.id,
    ).limit(LIST_LIMIT)
    with session_factory.begin() as session:
        rows = session.execute(query).all()
        referral_ids = list(dict.fromkeys(referral.id for _, referral in rows))
        for referral_id in referral_ids or [None]:
            repository.log_access(
                session=session, actor=principal.actor, action="inbox_outbox", referral_id=referral_id
            )
        out = []
        for message, referral in rows:
            shown, whole = _short_error(message.last_error)
            out.append(FailingNotification(
                id=message.id, reference=referral.reference, urgency=referral.urgency,
                municipality=referral.municipality, kind=message.kind,
                channel_nl=CHANNEL_LABELS_NL.get(message.kind, message.kind),
                recipient=_recipient(message), attempts=message.attempts,
                error_shown=shown, error_whole=whole, status=message.status,
                status_label_nl=OUTBOX_STATUS_LABELS_NL.get(message.status, message.status),
                next_attempt_at=message.next_attempt_at if message.status != "failed" else None,
                due_now=message.status == "pending" and message.next_attempt_at <= now,
                may_retry=message.status in ("failed", "pending"),
                created_at=message.created_at,
            ))
        return out


def retry_notification(
    session_factory: sessionmaker, principal: Principal, message_id: int, *, now: datetime | None = None,
) -> str:
    """"Nu opnieuw proberen": make a failed or retrying notification due now (a failed one
    back to ``pending``; ``attempts`` stay, so a failed one gets one more attempt and is
    ``failed`` again if that fails too). Logs ``inbox_outbox_retry``; returns the reference.

    The update is fenced on the status and attempts read, like the worker's own, so a
    worker that claimed the row in between is never overridden.

    Raises:
        NotificationNotFound: no such row, or of a referral ``principal`` may not see.
        InboxError: the row is sent, not failed, or being sent right now.
    """
    now = now or utcnow()
    with session_factory.begin() as session:
        found = session.execute(
            sa.select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error,
                      Referral.id, Referral.reference)
            .join(Referral, Referral.id == OutboxMessage.referral_id)
            .where(OutboxMessage.id == message_id, _visible(principal))
        ).one_or_none()
        if found is None:
            raise NotificationNotFound(message_id)
        status, attempts, last_error, referral_id, reference = found
        failing = status == "failed" or (status == "pending" and attempts > 0 and last_error is not None)
        if status == "sending":
            raise InboxError("deze melding wordt op dit moment verstuurd")
        if not failing:
            raise InboxError("deze melding hoeft niet opnieuw: ze is verstuurd of wacht nog op haar eerste poging")
        result = session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == status,
                   OutboxMessage.attempts == attempts)
            .values(status="pending", next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise InboxError("deze melding is intussen veranderd; laad de pagina opnieuw")
        repository.log_access(
            session=session, actor=principal.actor, action="inbox_outbox_retry", referral_id=referral_id
        )
        return reference
