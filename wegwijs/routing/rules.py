"""Who gets a referral: :func:`route` (pure: a referral and the routing table in, a Route out).

Rules (the product owner's words in issue 9: "a referral goes to the person who fits the
request (role asked for, language, man/woman, municipality), else to the municipality's
queue with the reason in the summary; unknown municipality → a national/default queue,
never dropped"):

1. The referral's ``municipality`` (CBS name) selects the gemeente's routing file. Not said,
   or no routing file for it → the default queue (``route_queue="default"``), no person.
2. Among the gemeente's *active* staff, in file order, the first person who fits all of:
   * role: ``person_type`` klantmanager / sleutelpersoon asks for that role; ``either`` and
     ``not_said`` take either role;
   * language: the person speaks the conversation ``language`` (codes of
     ``languages/registry.yml``; Persian ``fa`` and Dari ``prs`` are different codes);
   * man/woman: ``contact_gender`` woman / man asks for that gender; ``any`` or not said
     takes either.
   The municipality controls who comes first by the order of its ``staff:`` list.
3. Nobody fits → the gemeente's queue (``route_queue`` = its CBS name), no person, and a Dutch
   ``route_reason`` naming the first criterion nobody met (it is printed in the summary).

The parent is told who will contact them and by when (:class:`ContactDescription`):
role and first name of the person (or only "a sleutelpersoon who speaks Tigrinya" when
the person's ``show_first_name`` is false, or the team when it went to a queue), and a
date ``response_days`` working days (Monday-Friday; public holidays are not counted out)
after the referral's creation day in Dutch time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional

from wegwijs.routing.loader import RoutingTable
from wegwijs.routing.schema import RoutingFile, StaffMember

ROLE_NL = {
    "klantmanager": "klantmanager",
    "sleutelpersoon": "sleutelpersoon",
    "either": "klantmanager of sleutelpersoon",
    "not_said": "klantmanager of sleutelpersoon",
}
GENDER_NL = {"woman": "vrouw", "man": "man"}


@dataclass(frozen=True)
class ContactDescription:
    """What the parent may be told about who contacts them and by when; no private details.

    Attributes:
        role: ``"klantmanager"`` or ``"sleutelpersoon"`` of the person; None when it went
            to a team queue (then ``team`` names it).
        first_name: the person's first name; None when not shown or no person.
        language: the parent's language code when the person speaks it and it is not Dutch
            ("a sleutelpersoon who speaks Tigrinya"); else None.
        team: the queue's name (``"Team Nieuwkomers en Gezin Utrecht"``) when no person.
        response_days: working days promised (the routing file's ``response_days``).
        contact_by: the date by which someone contacts the parent.
    """

    role: Optional[str]
    first_name: Optional[str]
    language: Optional[str]
    team: Optional[str]
    response_days: int
    contact_by: date

    def nl(self, language_name_nl: str | None = None) -> str:
        """A Dutch sentence (for staff, tests and the owner's wording), e.g.
        ``"Senait (sleutelpersoon) neemt uiterlijk 07-12-2026 contact op."``."""
        by = f"{self.contact_by:%d-%m-%Y}"
        if self.role is None:
            return f"Iemand van {self.team} neemt uiterlijk {by} contact op."
        if self.first_name:
            return f"{self.first_name} ({self.role}) neemt uiterlijk {by} contact op."
        speaks = f" die {language_name_nl or self.language} spreekt" if self.language else ""
        return f"Een {self.role}{speaks} neemt uiterlijk {by} contact op."


@dataclass(frozen=True)
class Route:
    """Where a referral goes; the first three are the ``referrals`` columns of the same name."""

    assignee_key: Optional[str]
    route_queue: str
    route_reason: Optional[str]
    contact_description: ContactDescription


def add_working_days(start: date, days: int) -> date:
    """``start`` plus ``days`` working days (Monday-Friday; holidays not excluded)."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def _local_day(moment: datetime | None) -> date:
    from wegwijs.referrals.summary import _display_zone

    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(_display_zone()).date()


def _fits_role(member: StaffMember, person_type: str) -> bool:
    return person_type not in ("klantmanager", "sleutelpersoon") or member.role == person_type


def _fits_gender(member: StaffMember, wanted: str | None) -> bool:
    return wanted not in ("woman", "man") or member.gender == wanted


def _queue_route(routing: RoutingFile, reason: str, day: date) -> Route:
    return Route(
        assignee_key=None,
        route_queue=routing.queue_key,
        route_reason=reason,
        contact_description=ContactDescription(
            role=None, first_name=None, language=None, team=routing.queue.name,
            response_days=routing.response_days,
            contact_by=add_working_days(day, routing.response_days),
        ),
    )


def route(referral: Any, routing: RoutingTable) -> Route:
    """Route ``referral`` (a :class:`~wegwijs.db.models.Referral` or any object with
    ``municipality``, ``person_type``, ``language``, ``contact_gender`` and optionally
    ``created_at`` and ``language_name_nl``) by the rules of the module docstring.

    Never raises for a referral's values: whatever they are, a queue is found.
    """
    day = _local_day(getattr(referral, "created_at", None))
    municipality = getattr(referral, "municipality", None)
    if not municipality:
        return _queue_route(routing.default, "Gemeente niet gezegd: naar de landelijke wachtrij.", day)
    gemeente = routing.for_gemeente(municipality)
    if gemeente is None:
        return _queue_route(
            routing.default,
            f"Gemeente {municipality} heeft (nog) geen routering in Wegwijs: naar de landelijke wachtrij.",
            day,
        )

    person_type = getattr(referral, "person_type", None) or "not_said"
    language = getattr(referral, "language", None) or "und"
    language_nl = getattr(referral, "language_name_nl", None) or language
    wanted_gender = getattr(referral, "contact_gender", None)
    role_nl = ROLE_NL.get(person_type, ROLE_NL["not_said"])
    queue_note = f" Naar de wachtrij van {gemeente.gemeente}."

    by_role = [m for m in gemeente.staff if m.active and _fits_role(m, person_type)]
    if not by_role:
        return _queue_route(
            gemeente, f"Geen {role_nl} van {gemeente.gemeente} neemt verwijzingen aan via Wegwijs." + queue_note, day
        )
    by_language = [m for m in by_role if language in m.languages]
    if not by_language:
        return _queue_route(
            gemeente, f"Geen {role_nl} van {gemeente.gemeente} spreekt {language_nl} ({language})." + queue_note, day
        )
    fitting = [m for m in by_language if _fits_gender(m, wanted_gender)]
    if not fitting:
        gender_nl = GENDER_NL[wanted_gender]
        return _queue_route(
            gemeente,
            f"Geen {role_nl} van {gemeente.gemeente} die {language_nl} ({language}) spreekt is een {gender_nl}"
            f" (de ouder wil liever een {gender_nl})." + queue_note,
            day,
        )
    person = fitting[0]
    return Route(
        assignee_key=person.key,
        route_queue=gemeente.queue_key,
        route_reason=None,
        contact_description=ContactDescription(
            role=person.role,
            first_name=person.first_name if person.show_first_name else None,
            language=language if language != "nl" else None,
            team=None,
            response_days=gemeente.response_days,
            contact_by=add_working_days(day, gemeente.response_days),
        ),
    )
