"""Referral use cases: create, read (with access log), delete, purge (per gemeente), and a
parent's rights of access and erasure (export, erase).

Services own the transaction (``with session_factory.begin() as session``) and
speak pydantic: :class:`ReferralIn` is what an action hands over,
:class:`ReferralOut` is the stable JSON shape of docs/design.md "Referral"
(``wegwijs referrals ... --json``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Literal, Optional

from pydantic import BaseModel, Field, conint, constr, root_validator, validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wegwijs.db.models import Referral, utcnow
from wegwijs.referrals import repository
from wegwijs.referrals.summary import DutchNames, render_summary_nl

if TYPE_CHECKING:  # pragma: no cover
    from wegwijs.routing import RoutingTable

#: Characters of a reference: no 0/O, 1/I/L, 5/S, 8/B, 2/Z (easy to read aloud and type).
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_PREFIX = "WW-"
REFERENCE_LENGTH = 6

#: The stable JSON field names, in the order of docs/design.md.
JSON_FIELDS = (
    "id",
    "reference",
    "created_at",
    "conversation_id",
    "municipality",
    "person_type",
    "language",
    "language_name_nl",
    "interpreter_needed",
    "children_count",
    "children_ages",
    "pregnant",
    "topics",
    "topics_nl",
    "concern_text",
    "urgency",
    "urgency_reason",
    "contact_channel",
    "contact_times",
    "contact_times_text",
    "contact_gender",
    "contact_setting",
    "consent_at",
    "out_of_scope_questions",
    "pregnancy_months",
    "status",
    "summary_nl",
)

#: Slot values that mean "the parent did not say".
_SKIPPED = {"", "skipped", "skip", "none"}


class ReferralNotFound(LookupError):
    """No referral has the given id or reference."""


def new_reference(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """Return a fresh reference like ``WW-7KQ3MX`` (not checked for uniqueness)."""
    return REFERENCE_PREFIX + "".join(
        REFERENCE_ALPHABET[randbelow(len(REFERENCE_ALPHABET))] for _ in range(REFERENCE_LENGTH)
    )


def normalise_reference(value: str) -> str:
    """``ww-7kq3mx`` / ``7KQ3MX`` → ``WW-7KQ3MX``."""
    value = value.strip().upper().replace(" ", "")
    if value.startswith(REFERENCE_PREFIX):
        return value
    if len(value) == REFERENCE_LENGTH + 2 and value.startswith("WW"):
        return REFERENCE_PREFIX + value[2:]
    return REFERENCE_PREFIX + value


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=timezone.utc)  # naive values are taken as UTC
    return value.astimezone(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    value = _as_utc(value)
    return value.isoformat(timespec="seconds") if value else None


#: Longest stored concern text; longer messages are cut (never refused: a referral
#: must not fail because a parent wrote a lot).
MAX_CONCERN_TEXT = 4000
MAX_MUNICIPALITY = 100


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


class ConcernText(BaseModel):
    """The parent's own words, in the language they were written in."""

    text: constr(strip_whitespace=True, min_length=1)  # type: ignore[valid-type]
    lang: constr(strip_whitespace=True, to_lower=True, min_length=2, max_length=8)  # type: ignore[valid-type]

    class Config:
        extra = "ignore"  # slot items may carry more keys; only text and lang are kept

    @validator("text")
    def _limit_text(cls, value: str) -> str:  # noqa: N805
        return _cut(value, MAX_CONCERN_TEXT)


class ReferralIn(BaseModel):
    """What the handoff action knows when the parent asks for a person."""

    conversation_id: constr(strip_whitespace=True, min_length=1, max_length=255)  # type: ignore[valid-type]
    person_type: Literal["klantmanager", "sleutelpersoon", "either", "not_said"]
    language: constr(strip_whitespace=True, to_lower=True, min_length=2, max_length=8)  # type: ignore[valid-type]
    municipality: Optional[str] = None
    interpreter_needed: Optional[bool] = None
    children_count: Optional[conint(ge=0, le=30)] = None  # type: ignore[valid-type]
    children_ages: List[conint(ge=0, le=30)] = Field(default_factory=list)  # type: ignore[valid-type]
    pregnant: bool = False
    topics: List[str] = Field(default_factory=list)
    concern_text: List[ConcernText] = Field(default_factory=list)
    urgency: Literal["normal", "urgent"] = "normal"
    urgency_reason: Optional[str] = None
    contact_channel: Optional[Literal["whatsapp", "phone", "visit"]] = None
    contact_times: Optional[str] = None
    contact_times_text: Optional[str] = None
    out_of_scope_questions: List[ConcernText] = Field(default_factory=list)
    pregnancy_months: Optional[conint(ge=0, le=10)] = None  # type: ignore[valid-type]
    #: the parent's words asking for care in how they are contacted ("kocam duyuyor")
    contact_caution: Optional[constr(strip_whitespace=True, max_length=200)] = None  # type: ignore[valid-type]
    contact_gender: Optional[Literal["woman", "man", "any"]] = None
    contact_setting: Optional[Literal["individual", "group", "any"]] = None
    consent_at: Optional[datetime] = None

    class Config:
        extra = "forbid"

    @validator("municipality", "contact_times", "urgency_reason", pre=True)
    def _blank_is_none(cls, value: Any) -> Any:  # noqa: N805
        if isinstance(value, str):
            value = value.strip()
            if value.lower() in _SKIPPED:
                return None
        return value

    @validator("municipality")
    def _municipality_length(cls, value: str | None) -> str | None:  # noqa: N805
        return None if value is None else _cut(value, MAX_MUNICIPALITY)

    @validator("topics", each_item=True)
    def _topic_id(cls, value: str) -> str:  # noqa: N805
        value = value.strip().lower().removeprefix("topic_")
        if not value:
            raise ValueError("empty topic id")
        return value

    @validator("topics")
    def _unique_topics(cls, value: list[str]) -> list[str]:  # noqa: N805
        return list(dict.fromkeys(value))

    @validator("consent_at")
    def _consent_utc(cls, value: datetime | None) -> datetime | None:  # noqa: N805
        return _as_utc(value)

    @root_validator(skip_on_failure=True)
    def _children(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        ages, count = values.get("children_ages") or [], values.get("children_count")
        if count is None and ages:
            values["children_count"] = len(ages)
        elif count is not None and count < len(ages):
            raise ValueError(f"children_count {count} is less than the {len(ages)} ages given")
        return values


class ReferralOut(BaseModel):
    """A stored referral in the stable JSON shape of docs/design.md."""

    id: int
    reference: str
    created_at: datetime
    conversation_id: str
    municipality: Optional[str]
    person_type: str
    language: str
    language_name_nl: str
    interpreter_needed: Optional[bool]
    children_count: Optional[int]
    children_ages: List[int]
    pregnant: bool
    topics: List[str]
    topics_nl: List[str]
    concern_text: List[ConcernText]
    urgency: Literal["normal", "urgent"]
    urgency_reason: Optional[str]
    contact_channel: Optional[str]
    contact_times: Optional[str]
    contact_times_text: Optional[str]
    contact_gender: Optional[str]
    contact_setting: Optional[str]
    consent_at: Optional[datetime]
    out_of_scope_questions: List[ConcernText]
    pregnancy_months: Optional[int]
    status: str
    summary_nl: str
    # routing (wegwijs.routing); not in JSON_FIELDS: the stable JSON shape is unchanged
    assignee_key: Optional[str] = None
    route_queue: Optional[str] = None
    route_reason: Optional[str] = None
    #: who will contact the parent and by when (a wegwijs.routing.ContactDescription);
    #: set only by create_referral
    contact: Optional[Any] = None
    #: the voice notes of the conversation (wegwijs.referrals.voice_notes.VoiceNote.to_json_dict),
    #: oldest first; not in JSON_FIELDS (the inbox API's detail adds them)
    voice_notes: List[dict] = Field(default_factory=list)

    @classmethod
    def from_model(cls, referral: Referral) -> ReferralOut:
        """Build from an ORM row (renders ``summary_nl``; lists the conversation's voice notes)."""
        from wegwijs.referrals.voice_notes import voice_notes_of

        return cls(
            id=referral.id,
            reference=referral.reference,
            created_at=referral.created_at,
            conversation_id=referral.conversation_id,
            municipality=referral.municipality,
            person_type=referral.person_type,
            language=referral.language,
            language_name_nl=referral.language_name_nl,
            interpreter_needed=referral.interpreter_needed,
            children_count=referral.children_count,
            children_ages=list(referral.children_ages or []),
            pregnant=bool(referral.pregnant),
            topics=list(referral.topics or []),
            topics_nl=list(referral.topics_nl or []),
            concern_text=list(referral.concern_text or []),
            urgency=referral.urgency,
            urgency_reason=referral.urgency_reason,
            contact_channel=referral.contact_channel,
            contact_times=referral.contact_times,
            contact_times_text=referral.contact_times_text,
            contact_gender=referral.contact_gender,
            contact_setting=referral.contact_setting,
            consent_at=referral.consent_at,
            out_of_scope_questions=list(referral.out_of_scope_questions or []),
            pregnancy_months=referral.pregnancy_months,
            status=referral.status,
            summary_nl=render_summary_nl(referral),
            assignee_key=referral.assignee_key,
            route_queue=referral.route_queue,
            route_reason=referral.route_reason,
            voice_notes=[note.to_json_dict() for note in voice_notes_of(referral)],
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The stable JSON object: exactly :data:`JSON_FIELDS`, datetimes as ISO 8601 UTC."""
        data = self.dict()
        data["created_at"] = _iso(self.created_at)
        data["consent_at"] = _iso(self.consent_at)
        return {name: data[name] for name in JSON_FIELDS}


def _build_model(data: ReferralIn, names: DutchNames, created_at: datetime) -> Referral:
    languages = [data.language] + [item.lang for item in data.concern_text]
    return Referral(
        created_at=created_at,
        conversation_id=data.conversation_id,
        municipality=data.municipality,
        person_type=data.person_type,
        language=data.language,
        language_names_nl={code: names.language(code) for code in dict.fromkeys(languages)},
        interpreter_needed=data.interpreter_needed,
        children_count=data.children_count,
        children_ages=list(data.children_ages),
        pregnant=data.pregnant,
        topics=list(data.topics),
        topics_nl=[names.topic(topic) for topic in data.topics],
        concern_text=[item.dict() for item in data.concern_text],
        urgency=data.urgency,
        urgency_reason=data.urgency_reason,
        contact_channel=data.contact_channel,
        contact_times=data.contact_times,
        contact_times_text=data.contact_times_text,
        out_of_scope_questions=[item.dict() for item in data.out_of_scope_questions],
        pregnancy_months=data.pregnancy_months,
        contact_caution=data.contact_caution,
        contact_gender=data.contact_gender,
        contact_setting=data.contact_setting,
        consent_at=data.consent_at,
        status="new",
    )


def create_referral(
    session_factory: sessionmaker,
    data: ReferralIn,
    *,
    names: DutchNames | None = None,
    now: datetime | None = None,
    attempts: int = 5,
    routing: RoutingTable | None = None,
    notify_after: timedelta | None = None,
) -> ReferralOut:
    """Store a new referral with a fresh unique reference, route it, and return it.

    Routing (:func:`wegwijs.routing.route`) fills ``assignee_key``, ``route_queue`` and
    ``route_reason``; the notifications of its queue (e-mail and/or webhook,
    :func:`wegwijs.outbox.messages.notifications_for`) are written to the ``outbox``
    table in the same transaction, so a stored referral is never without them. The
    returned object's ``contact`` says who will contact the parent and by when.

    Args:
        session_factory: from ``wegwijs.bootstrap.get_session_factory()``.
        data: the validated input.
        names: Dutch topic and language names (``wegwijs.bootstrap.get_dutch_names()``);
            without them ids and codes are stored as names.
        now: creation time (tests); default the current UTC time.
        attempts: how often to draw a new reference when one is taken.
        routing: the routing table; default ``municipalities/routing/`` (read once).
        notify_after: hold the notifications this long (a referral stored while the
            contact questions are still open, :func:`update_contact` with ``release``
            sends them at once); default: due now.

    Raises:
        wegwijs.routing.RoutingError: the default routing files are invalid.
    """
    from wegwijs.outbox.messages import notifications_for
    from wegwijs.routing import cached_routing, route

    routing = routing or cached_routing()
    names = names or DutchNames()
    created_at = _as_utc(now) or utcnow()
    for attempt in range(attempts):
        try:
            with session_factory.begin() as session:
                referral = _build_model(data, names, created_at)
                referral.reference = _free_reference(session)
                routed = route(referral, routing)
                referral.assignee_key = routed.assignee_key
                referral.route_queue = routed.route_queue
                referral.route_reason = routed.route_reason
                repository.create(session=session, referral=referral)
                out = ReferralOut.from_model(referral)
                due = created_at + notify_after if notify_after else None
                for message in notifications_for(referral, routed, routing, out.summary_nl, due=due):
                    session.add(message)
                session.flush()
                out.contact = routed.contact_description
                return out
        except IntegrityError:
            # another writer took the same reference between check and insert
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


#: Fields a later message may add to a stored referral (the parent's contact wishes).
UPDATABLE_FIELDS = (
    "person_type", "contact_channel", "contact_times", "contact_times_text", "contact_gender",
    "contact_setting", "interpreter_needed", "municipality", "children_ages", "children_count",
    # consent given after an urgent referral (the privacy question came later) counts from then
    "consent_at", "pregnancy_months", "contact_caution",
)


def update_contact(
    session_factory: sessionmaker, reference: str, data: ReferralIn, *, names: DutchNames | None = None,
    routing: RoutingTable | None = None, release: bool = False,
) -> ReferralOut | None:
    """Add what the parent said after a referral was stored (e.g. "only WhatsApp, never call")
    to that referral; values already stored are replaced only by new ones, never by "not said".
    Topics and out-of-scope questions raised since are added to those stored (``names``
    gives the Dutch topic names; without it the ids are stored as names).

    ``concern_text`` is left as stored: for an urgent referral it holds the danger sentence the
    summary quotes, and later contact answers must not take its place.

    Notifications not yet tried get the new summary, so the person reads what the parent
    said last. ``release`` (the parent finished the contact questions) makes those held by
    ``create_referral(notify_after=...)`` due now, and the result's ``contact`` then always
    says who will contact the parent.

    Returns:
        The updated referral, or None when ``reference`` is unknown (e.g. deleted).
    """
    from wegwijs.routing import cached_routing, route

    with session_factory.begin() as session:
        row = _lookup(session, reference)
        if row is None:
            return None
        routed_on_before = _routed_on(row)
        for name in UPDATABLE_FIELDS:
            value = getattr(data, name)
            if value in (None, [], "not_said"):
                continue
            setattr(row, name, list(value) if isinstance(value, list) else value)
        names = names or DutchNames()
        topics = list(row.topics or [])
        new_topics = [t for t in data.topics if t not in topics]
        if new_topics:
            row.topics = topics + new_topics
            row.topics_nl = list(row.topics_nl or []) + [names.topic(t) for t in new_topics]
        questions = list(row.out_of_scope_questions or [])
        known = {q.get("text") for q in questions}
        added = [q.dict() for q in data.out_of_scope_questions if q.text not in known]
        if added:
            row.out_of_scope_questions = questions + added
        session.flush()
        rerouting = row.status == "new" and _routed_on(row) != routed_on_before
        contact = _reroute(session, row, routing) if rerouting else None
        out = ReferralOut.from_model(row)
        _refresh_notifications(session, row, out.summary_nl, release=release)
        if release and contact is None:
            contact = route(row, routing or cached_routing()).contact_description
        out.contact = contact
        return out


def withdraw_referral(session_factory: sessionmaker, reference: str) -> bool:
    """Delete a referral stored while the contact questions were open, with its notifications
    (``ON DELETE CASCADE``) and staff notes: the parent took back the consent to pass it on
    before it was released. Returns whether one was deleted."""
    with session_factory.begin() as session:
        return repository.delete_by_reference(session=session, reference=normalise_reference(reference)) > 0


def _refresh_notifications(session: Session, row: Referral, summary_nl: str, *, release: bool) -> None:
    """Put ``summary_nl`` into the referral's notifications that were never tried (status
    ``pending``, 0 attempts); with ``release``, make those not yet due due now. Voice-note
    notifications (:mod:`wegwijs.referrals.voice_notes`) keep their own short text."""
    from wegwijs.db.models import OutboxMessage
    from wegwijs.outbox.messages import carries_summary, with_summary

    now = utcnow()
    pending = session.query(OutboxMessage).filter_by(referral_id=row.id, status="pending", attempts=0).all()
    for message in pending:
        if not carries_summary(message.payload):
            continue
        message.payload = with_summary(message.payload or {}, summary_nl)
        due = _as_utc(message.next_attempt_at)
        if release and due is not None and due > now:
            message.next_attempt_at = now
    session.flush()


def add_urgent_signal(
    session_factory: sessionmaker, reference: str, data: ReferralIn, *, routing: RoutingTable | None = None,
) -> ReferralOut | None:
    """A new danger message in a conversation that already has an urgent referral: add it
    to that referral instead of storing a second one (three referrals for one frightened
    parent cost the klantmanager time and hide what belongs together).

    The parent's new words are added to ``concern_text``; a referral stored as a generic
    ``urgent_help`` takes the new, specific category. When the category changes (a fall,
    then a threat), the queue and person are notified again (outbox event
    ``referral.urgent.<category>``); the same danger repeated notifies nobody twice.

    Returns:
        The updated referral, or None when ``reference`` is unknown (e.g. deleted).
    """
    from wegwijs.routing import cached_routing, route

    with session_factory.begin() as session:
        row = _lookup(session, reference)
        if row is None:
            return None
        concern = list(row.concern_text or [])
        known = {c.get("text") for c in concern}
        concern += [c.dict() for c in data.concern_text if c.text not in known]
        row.concern_text = concern
        new_reason = data.urgency_reason
        # a held (not yet urgent) referral becomes urgent with any category, generic or not
        changed = bool(new_reason) and new_reason != row.urgency_reason and (
            new_reason != "urgent_help" or row.urgency_reason is None)
        if changed:
            row.urgency_reason = new_reason if row.urgency_reason in (None, "urgent_help") else row.urgency_reason
        row.urgency = "urgent"
        session.flush()
        out = ReferralOut.from_model(row)
        _refresh_notifications(session, row, out.summary_nl, release=True)  # an urgent referral is never held
        if changed:
            routing = routing or cached_routing()
            _notify(session, row, route(row, routing), routing, out.summary_nl, f"referral.urgent.{new_reason}")
        return out


def _notify(session: Session, row: Referral, routed: Any, routing: RoutingTable, summary_nl: str, event: str,
            due: datetime | None = None) -> int:
    """Queue the notifications of ``event`` for ``row`` (:func:`wegwijs.outbox.messages.notifications_for`,
    due now), leaving out those already queued: the outbox's idempotency keys are unique, and
    the same event a second time (a danger of the same category again, a referral routed
    back to a queue it had left) must notify nobody twice. ``due``: when they are sent
    (default now). Returns how many were added."""
    from wegwijs.db.models import OutboxMessage
    from wegwijs.outbox.messages import notifications_for

    added = 0
    for message in notifications_for(row, routed, routing, summary_nl, event=event, due=due or utcnow()):
        if session.query(OutboxMessage.id).filter_by(idempotency_key=message.idempotency_key).first() is None:
            session.add(message)
            added += 1
    session.flush()
    return added


def _routed_on(row: Referral) -> tuple:
    """What routing reads from a referral (wegwijs.routing.rules.route): gemeente, role
    asked for, language, man/woman."""
    return (row.municipality, row.person_type, row.language, row.contact_gender)


def _reroute(session: Session, row: Referral, routing: RoutingTable | None) -> Any:
    """The gemeente, the role or the man/woman wish became known after the referral was
    stored (an urgent one goes out before the intake asks them): route it again and, when
    it now goes to another queue or person, notify them too (the first queue keeps its notification). Returns the new
    contact description, or None when nothing changed."""
    from wegwijs.routing import cached_routing, route

    routing = routing or cached_routing()
    routed = route(row, routing)
    if (routed.route_queue, routed.assignee_key) == (row.route_queue, row.assignee_key):
        return None
    row.assignee_key, row.route_queue, row.route_reason = routed.assignee_key, routed.route_queue, routed.route_reason
    session.flush()
    out = ReferralOut.from_model(row)
    _notify(session, row, routed, routing, out.summary_nl,
            f"referral.routed.{routed.route_queue}.{routed.assignee_key or 'queue'}", due=_drop_held(session, row))
    return routed.contact_description


def _drop_held(session: Session, row: Referral) -> datetime | None:
    """Delete the referral's notifications still held (never tried, due later: stored while
    the contact questions are open) and return the time they were due, or None when none
    were held. A referral routed elsewhere before anyone was told goes only to its new
    queue, at the same time."""
    from wegwijs.db.models import OutboxMessage

    now = utcnow()
    held = [m for m in session.query(OutboxMessage).filter_by(referral_id=row.id, status="pending", attempts=0).all()
            if (_as_utc(m.next_attempt_at) or now) > now]
    if not held:
        return None
    due = max(_as_utc(m.next_attempt_at) for m in held)
    for message in held:
        session.delete(message)
    session.flush()
    return due


def _free_reference(session: Session) -> str:
    while True:
        reference = new_reference()
        if repository.get_by_reference(session=session, reference=reference) is None:
            return reference


def _lookup(session: Session, key: str | int) -> Referral | None:
    if isinstance(key, int) or str(key).strip().isdigit():
        return repository.get_by_id(session=session, referral_id=int(key))
    return repository.get_by_reference(session=session, reference=normalise_reference(str(key)))


def get_referral(
    session_factory: sessionmaker, key: str | int, *, actor: str, action: str = "show"
) -> ReferralOut:
    """Return one referral by id (``"12"``) or reference (``"WW-7KQ3MX"``) and log the access.

    Raises:
        ReferralNotFound: nothing matches ``key``.
    """
    with session_factory.begin() as session:
        referral = _lookup(session, key)
        if referral is None:
            raise ReferralNotFound(str(key))
        repository.log_access(session=session, actor=actor, action=action, referral_id=referral.id)
        return ReferralOut.from_model(referral)


def list_referrals(
    session_factory: sessionmaker,
    *,
    actor: str,
    municipality: str | None = None,
    limit: int = 50,
) -> list[ReferralOut]:
    """Return the newest referrals (optionally of one municipality); log one access per row."""
    with session_factory.begin() as session:
        rows = repository.list_referrals(session=session, municipality=municipality, limit=limit)
        for row in rows:
            repository.log_access(session=session, actor=actor, action="list", referral_id=row.id)
        return [ReferralOut.from_model(row) for row in rows]


def delete_for_conversation(session_factory: sessionmaker, conversation_id: str) -> int:
    """Delete every referral of a conversation ("delete my data"); return how many."""
    with session_factory.begin() as session:
        return repository.delete_for_conversation(session=session, conversation_id=conversation_id)


def delete_conversation_data(session_factory: sessionmaker, conversation_id: str, *,
                             spool_dir: Path | None) -> dict[str, int]:
    """Delete what Wegwijs itself keeps of one conversation: its spool files
    (:func:`wegwijs.referrals.spool.discard_conversation`, first, so a later drain cannot
    store them again; it waits for a running drain, whose referral is then deleted here
    too), then its referrals with their notes and notifications, held messages and channel
    links (:func:`delete_for_conversation`). The one deletion behind both the parent's
    "delete my data" (:func:`wegwijs.handoff.delete_conversation_data`) and the admin's
    ``wegwijs referrals erase`` (:func:`erase_conversation`). Rasa's conversation events
    are not in the Wegwijs database: the tracker store drops them on "delete my data",
    ``erase`` with :func:`integrations.tracker_store.delete_tracker_events`.

    Returns:
        ``{"spooled": files deleted, "referrals": referrals deleted}``.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable (the spool files are gone by then).
    """
    from wegwijs.referrals import spool

    spooled = spool.discard_conversation(spool_dir, conversation_id) if spool_dir is not None else 0
    return {"spooled": spooled, "referrals": delete_for_conversation(session_factory, conversation_id)}


def retention_cutoff(retention_days: int, *, now: datetime | None = None) -> datetime:
    """The moment before which data is older than ``retention_days``."""
    return (_as_utc(now) or utcnow()) - timedelta(days=retention_days)


def purge_referrals(
    session_factory: sessionmaker, *, cutoff: datetime, dry_run: bool = False
) -> int:
    """Delete referrals created before ``cutoff``; with ``dry_run`` only count them."""
    cutoff = _as_utc(cutoff)
    with session_factory.begin() as session:
        if dry_run:
            return repository.count_older_than(session=session, cutoff=cutoff)
        return repository.purge_older_than(session=session, cutoff=cutoff)


# --- retention per gemeente (``wegwijs purge``) ---------------------------------------

#: Ids per ``IN (...)`` list: below SQLite's oldest limit of 999 bound parameters.
_ID_CHUNK = 500


@dataclass(frozen=True)
class QueueRetention:
    """How long the referrals of one queue are kept, and how many are past it.

    Attributes:
        queue: the ``route_queue`` value: a gemeente's CBS name, ``"default"`` (the
            national queue), or a queue whose routing file is gone.
        days: the retention applied (see :func:`queue_retention_days`).
        cutoff: referrals created before this moment are past it.
        has_routing_file: False for a queue without a routing file (kept as long as the
            national queue).
        count: referrals deleted (or, in a dry run, that would be).
    """

    queue: str
    days: int
    cutoff: datetime
    has_routing_file: bool = True
    count: int = 0


def queue_retention_days(routing: RoutingTable, *, max_days: int) -> dict[str, int]:
    """Days the referrals of each queue are kept: the ``retention_days`` of the gemeente's
    routing file (``_default.yml`` for the national queue ``"default"``), but never more
    than ``max_days`` (``WEGWIJS_RETENTION_DAYS``): a routing file can shorten the
    retention, only the operator's setting can lengthen it."""
    days = {"default": min(routing.default.retention_days, max_days)}
    for file in routing.gemeenten.values():
        days[file.queue_key] = min(file.retention_days, max_days)
    return days


def _queue_of(routing: RoutingTable, route_queue: str | None, municipality: str | None) -> tuple[str, bool]:
    """The queue key a stored referral belongs to and whether it has a routing file. A
    referral stored before routing (no ``route_queue``) counts for its gemeente's file."""
    if route_queue == "default":
        return "default", True
    if route_queue:
        file = routing.for_gemeente(route_queue)
        return (file.queue_key, True) if file is not None else (route_queue, False)
    file = routing.for_gemeente(municipality)
    return (file.queue_key, True) if file is not None else ("default", True)


def _delete_referrals_by_id(session: Session, ids: list[int]) -> None:
    """Delete referrals with their staff notes and outbox rows (explicitly, not relying on
    SQLite honouring the foreign keys' ``ON DELETE CASCADE``)."""
    import sqlalchemy as sa

    from wegwijs.db.models import OutboxMessage, ReferralNote

    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start:start + _ID_CHUNK]
        for model, column in ((ReferralNote, ReferralNote.referral_id), (OutboxMessage, OutboxMessage.referral_id),
                              (Referral, Referral.id)):
            session.execute(sa.delete(model).where(column.in_(chunk)).execution_options(synchronize_session=False))


def purge_referrals_per_queue(
    session_factory: sessionmaker,
    *,
    routing: RoutingTable,
    max_days: int,
    now: datetime | None = None,
    dry_run: bool = False,
    days: int | None = None,
) -> list[QueueRetention]:
    """Delete the referrals past the retention of their queue (:func:`queue_retention_days`);
    with ``dry_run`` only count them.

    A referral belongs to the queue it was routed to (``route_queue``), so one routed to
    gemeente X goes after X's ``retention_days`` (at most ``max_days``); the national queue
    follows ``_default.yml``; a queue whose routing file is gone follows the national queue.
    Staff notes and outbox rows go with their referral. Channel rows and held WhatsApp
    messages belong to a conversation, not to a gemeente: like the conversation events,
    they go after ``max_days``.

    Args:
        days: one retention for every queue instead (``wegwijs purge --older-than-days``);
            it also replaces ``max_days`` for the channel rows and held messages.

    Returns:
        One entry per routing file (gemeenten by name, then ``"default"``), then one per
        queue without a routing file that has referrals past retention.
    """
    import sqlalchemy as sa

    from wegwijs.db.models import ChannelMessage, HeldMessage

    now = _as_utc(now) or utcnow()
    retention = queue_retention_days(routing, max_days=max_days)
    if days is not None:
        retention = {queue: days for queue in retention}
    default_days = retention["default"]
    order = sorted((q for q in retention if q != "default"), key=str.casefold) + ["default"]
    due: dict[tuple[str, bool], list[int]] = {(queue, True): [] for queue in order}
    with session_factory.begin() as session:
        rows = session.execute(
            sa.select(Referral.id, Referral.route_queue, Referral.municipality, Referral.created_at)
            .where(Referral.created_at < retention_cutoff(min(retention.values()), now=now))
            .order_by(Referral.id)
        ).all()
        for referral_id, route_queue, municipality, created_at in rows:
            queue, routed = _queue_of(routing, route_queue, municipality)
            kept = retention[queue] if routed else default_days
            if _as_utc(created_at) < retention_cutoff(kept, now=now):
                due.setdefault((queue, routed), []).append(referral_id)
        if not dry_run:
            _delete_referrals_by_id(session, [i for ids in due.values() for i in ids])
            conversation_cutoff = retention_cutoff(days or max_days, now=now)
            for model, column in ((ChannelMessage, ChannelMessage.received_at), (HeldMessage, HeldMessage.created_at)):
                session.execute(sa.delete(model).where(column < conversation_cutoff)
                                .execution_options(synchronize_session=False))
    results = []
    for (queue, routed), ids in due.items():
        kept = retention[queue] if routed else default_days
        results.append(QueueRetention(queue=queue, days=kept, cutoff=retention_cutoff(kept, now=now),
                                      has_routing_file=routed, count=len(ids)))
    return results


# --- a data subject's rights: access (GDPR art. 15) and erasure (art. 17) --------------

#: What ``export_conversation`` says it does not contain.
EXPORT_NOT_INCLUDED = (
    "Rasa conversation events (tracker store, WEGWIJS_TRACKER_DB_URL); "
    "the texts of held WhatsApp messages; notification contents (recipients, the summary above)"
)


def _referral_ids(session: Session, conversation_id: str) -> list[int]:
    import sqlalchemy as sa

    return list(session.execute(
        sa.select(Referral.id).where(Referral.conversation_id == conversation_id).order_by(Referral.id)
    ).scalars())


def spooled_for_conversation(spool_dir: Path | None, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's referrals in the spool (:mod:`wegwijs.referrals.spool`: made
    while the database was down, not stored yet), oldest first, as JSON-ready data:
    ``{"kind", "spooled_at", "state", "referral"}``.

    ``state`` is ``waiting`` (the worker stores it) or ``bad`` (in ``bad/``, or a file the
    next drain moves there); ``referral`` holds what the parent said, the fields of
    :class:`ReferralIn` (it has no reference or summary yet); for a file that is not a
    valid referral, the ``referral`` object as the file holds it. A file belongs to the
    conversation by the same test as :func:`wegwijs.referrals.spool.discard_conversation`
    (its ``referral.conversation_id``), so export lists exactly what erase deletes.
    """
    import json

    from wegwijs.referrals import spool

    if spool_dir is None or not Path(spool_dir).is_dir():
        return []
    bad_dir = Path(spool_dir) / spool.BAD_DIR
    candidates = spool.pending_files(spool_dir)
    if bad_dir.is_dir():
        candidates += sorted(p for p in bad_dir.iterdir() if p.is_file())
    found = []
    for path in candidates:
        try:
            record = json.loads(path.read_bytes().decode("utf-8"))
            owner = record["referral"]["conversation_id"]
        except Exception:  # gone (drained meanwhile) or unreadable: not known to be this parent's
            continue
        if not isinstance(owner, str) or owner.strip() != conversation_id.strip():
            continue
        try:
            item = spool.read(path)
        except (spool.InvalidSpoolFile, OSError):
            kind, spooled_at = record.get("kind"), record.get("spooled_at")
            found.append({"kind": kind if kind in spool.KINDS else None,
                          "spooled_at": spooled_at if isinstance(spooled_at, str) else None,
                          "state": "bad", "referral": record["referral"]})
            continue
        found.append({"kind": item.kind, "spooled_at": _iso(item.spooled_at),
                      "state": "bad" if path.parent == bad_dir else "waiting",
                      "referral": json.loads(item.referral.json())})
    found.sort(key=lambda entry: entry["spooled_at"] or "")
    return found


def export_conversation(session_factory: sessionmaker, conversation_id: str, *, actor: str,
                        spool_dir: Path | None = None) -> dict[str, Any]:
    """Everything Wegwijs stores about one conversation, as JSON-ready data (a parent's
    right of access, GDPR art. 15), and log the access: one ``access_log`` row ``export``
    per referral, or one without a referral when there is none.

    Per referral: the stable fields of :data:`JSON_FIELDS`, where it went (``route_queue``,
    ``route_reason``, ``status_reason``), the staff notes (time and text) and the status of
    its notifications (``outbox``: kind, status, attempts, times; never their payload or
    error). Then the referrals still in the spool ``spool_dir``
    (:func:`spooled_for_conversation`; none without a ``spool_dir``), the conversation's
    held WhatsApp messages and channel rows (times and kinds only). No secrets: the
    database holds none, and payloads are left out.
    """
    import sqlalchemy as sa

    from wegwijs.db.models import ChannelMessage, HeldMessage, OutboxMessage, ReferralNote

    with session_factory.begin() as session:
        referrals = []
        rows = session.execute(
            sa.select(Referral).where(Referral.conversation_id == conversation_id).order_by(Referral.id)
        ).scalars().all()
        for row in rows:
            item = ReferralOut.from_model(row).to_json_dict()
            item.update(route_queue=row.route_queue, route_reason=row.route_reason, status_reason=row.status_reason)
            notes = session.execute(
                sa.select(ReferralNote).where(ReferralNote.referral_id == row.id).order_by(ReferralNote.id)
            ).scalars()
            item["notes"] = [{"at": _iso(note.at), "text": note.text} for note in notes]
            outbox = session.execute(
                sa.select(OutboxMessage).where(OutboxMessage.referral_id == row.id).order_by(OutboxMessage.id)
            ).scalars()
            item["outbox"] = [
                {"kind": m.kind, "status": m.status, "attempts": m.attempts, "created_at": _iso(m.created_at),
                 "sent_at": _iso(m.sent_at)}
                for m in outbox
            ]
            referrals.append(item)
        held = session.execute(
            sa.select(HeldMessage.channel, HeldMessage.created_at)
            .where(HeldMessage.conversation_id == conversation_id).order_by(HeldMessage.id)
        ).all()
        channel = session.execute(
            sa.select(ChannelMessage.channel, ChannelMessage.kind, ChannelMessage.received_at)
            .where(ChannelMessage.conversation_id == conversation_id).order_by(ChannelMessage.id)
        ).all()
        for referral_id in [row.id for row in rows] or [None]:
            repository.log_access(session=session, actor=actor, action="export", referral_id=referral_id)
        return {
            "conversation_id": conversation_id,
            "exported_at": _iso(utcnow()),
            "referrals": referrals,
            "spooled_referrals": spooled_for_conversation(spool_dir, conversation_id),
            "held_messages": [{"channel": c, "created_at": _iso(at)} for c, at in held],
            "channel_messages": [{"channel": c, "kind": k, "received_at": _iso(at)} for c, k, at in channel],
            "not_included": EXPORT_NOT_INCLUDED,
        }


def conversation_counts(session_factory: sessionmaker, conversation_id: str) -> dict[str, int]:
    """How many rows of each kind the Wegwijs database holds for one conversation (what
    :func:`erase_conversation` removes): ``referrals``, ``notes``, ``outbox``,
    ``held_messages`` and ``channel_messages`` (rows still linked to the conversation)."""
    import sqlalchemy as sa

    from wegwijs.db.models import ChannelMessage, HeldMessage, OutboxMessage, ReferralNote

    def count(model: Any, condition: Any) -> int:
        return int(session.execute(sa.select(sa.func.count()).select_from(model).where(condition)).scalar_one())

    of_conversation = sa.select(Referral.id).where(Referral.conversation_id == conversation_id)
    with session_factory() as session:
        return {
            "referrals": count(Referral, Referral.conversation_id == conversation_id),
            "notes": count(ReferralNote, ReferralNote.referral_id.in_(of_conversation)),
            "outbox": count(OutboxMessage, OutboxMessage.referral_id.in_(of_conversation)),
            "held_messages": count(HeldMessage, HeldMessage.conversation_id == conversation_id),
            "channel_messages": count(ChannelMessage, ChannelMessage.conversation_id == conversation_id),
        }


def erase_conversation(session_factory: sessionmaker, conversation_id: str, *, actor: str,
                       spool_dir: Path | None = None) -> dict[str, int]:
    """Erase what Wegwijs keeps about one conversation (right to erasure, GDPR art. 17)
    with :func:`delete_conversation_data`, the same deletion as "delete my data": its
    files in the spool ``spool_dir``, referrals, their staff notes and outbox rows, held
    WhatsApp messages; channel rows lose their link to the conversation and their media
    id. Rasa's conversation events are another database: the caller
    (``wegwijs referrals erase``) deletes them after this returns.

    The ``access_log`` rows (``erase``, one per referral, or one without a referral when
    there is none) are committed *before* the deletion, so no erasure goes unaudited; they
    keep only the referral id (never reused), no data about the parent.

    Returns:
        :func:`conversation_counts` as it was before (``referrals``: how many were
        deleted), and ``spooled``: spool files deleted.
    """
    counts = conversation_counts(session_factory, conversation_id)
    with session_factory.begin() as session:
        ids = _referral_ids(session, conversation_id)
        for referral_id in ids or [None]:
            repository.log_access(session=session, actor=actor, action="erase", referral_id=referral_id)
    deleted = delete_conversation_data(session_factory, conversation_id, spool_dir=spool_dir)
    if deleted["referrals"] > len(ids):  # a referral stored meanwhile (a drain): its id is unknown here
        with session_factory.begin() as session:
            repository.log_access(session=session, actor=actor, action="erase", referral_id=None)
    return {**counts, "referrals": deleted["referrals"], "spooled": deleted["spooled"]}
