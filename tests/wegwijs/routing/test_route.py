"""route(): the table of cases of issue 9 (role, language, man/woman, gemeente, queue, default)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from wegwijs.routing import load_routing, route
from wegwijs.routing.rules import add_working_days

#: Wednesday 2 December 2026, 10:00 UTC (11:00 in the Netherlands).
CREATED = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def table():
    return load_routing()  # the example files of municipalities/routing/


def referral(**fields):
    base = dict(municipality="Utrecht", person_type="sleutelpersoon", language="ti",
                contact_gender=None, created_at=CREATED, language_name_nl=None)
    base.update(fields)
    return SimpleNamespace(**base)


CASES = [
    # (id, referral fields, assignee_key, route_queue, words the reason must contain or None)
    ("tigrinya sleutelpersoon", {}, "utrecht-sp-senait", "Utrecht", None),
    ("tigrinya, a woman", {"contact_gender": "woman"}, "utrecht-sp-senait", "Utrecht", None),
    ("tigrinya, a man: nobody", {"contact_gender": "man", "language_name_nl": "Tigrinya"}, None, "Utrecht",
     "Geen sleutelpersoon van Utrecht die Tigrinya (ti) spreekt is een man"),
    ("arabic klantmanager", {"person_type": "klantmanager", "language": "ar"}, "utrecht-km-youssef", "Utrecht", None),
    ("arabic klantmanager woman: nobody", {"person_type": "klantmanager", "language": "ar", "contact_gender": "woman"},
     None, "Utrecht", "is een vrouw"),
    ("arabic sleutelpersoon woman", {"language": "ar", "contact_gender": "woman"}, "utrecht-sp-amina", "Utrecht", None),
    ("dutch, either role: first in file order", {"person_type": "either", "language": "nl"}, "utrecht-km-sanne", "Utrecht", None),
    ("not said, man, english", {"person_type": "not_said", "language": "en", "contact_gender": "man"},
     "utrecht-km-youssef", "Utrecht", None),
    ("either, tigrinya: the sleutelpersoon", {"person_type": "either"}, "utrecht-sp-senait", "Utrecht", None),
    ("turkish: nobody speaks it", {"language": "tr", "language_name_nl": "Turks"}, None, "Utrecht",
     "Geen sleutelpersoon van Utrecht spreekt Turks (tr)"),
    ("dari is not persian", {"language": "prs"}, "utrecht-sp-ahmad", "Utrecht", None),
    ("gemeente in any case", {"municipality": "utrecht"}, "utrecht-sp-senait", "Utrecht", None),
    ("tigrinya in amsterdam", {"municipality": "Amsterdam"}, "amsterdam-sp-mehret", "Amsterdam", None),
    ("no sleutelpersoon in zwolle", {"municipality": "Zwolle", "language": "nl"}, None, "Zwolle",
     "Geen sleutelpersoon van Zwolle neemt verwijzingen aan"),
    ("gemeente without routing → default", {"municipality": "Zaanstad"}, None, "default",
     "Gemeente Zaanstad heeft (nog) geen routering"),
    ("gemeente not said → default", {"municipality": None}, None, "default", "Gemeente niet gezegd"),
    ("unknown language code → queue", {"language": "und"}, None, "Utrecht", "spreekt und"),
]


@pytest.mark.parametrize("fields, assignee, queue, reason", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_route_table(table, fields, assignee, queue, reason) -> None:
    result = route(referral(**fields), table)
    assert result.assignee_key == assignee
    assert result.route_queue == queue
    if reason is None:
        assert result.route_reason is None
    else:
        assert reason in result.route_reason
        assert result.route_reason.endswith("wachtrij." if queue == "default" else f"Naar de wachtrij van {queue}.")


def test_inactive_staff_are_skipped(table) -> None:
    utrecht = table.gemeenten["Utrecht"]
    staff = [m.copy(update={"active": False}) if m.key == "utrecht-sp-senait" else m for m in utrecht.staff]
    changed = type(table)(default=table.default, gemeenten={**table.gemeenten, "Utrecht": utrecht.copy(update={"staff": staff})})
    result = route(referral(), changed)
    assert result.assignee_key is None and "spreekt" in result.route_reason


def test_contact_description_person(table) -> None:
    described = route(referral(language_name_nl="Tigrinya"), table).contact_description
    assert (described.role, described.first_name, described.language) == ("sleutelpersoon", "Senait", "ti")
    assert described.contact_by == date(2026, 12, 7)  # Wednesday + 3 working days = Monday
    assert described.nl() == "Senait (sleutelpersoon) neemt uiterlijk 07-12-2026 contact op."


def test_contact_description_without_first_name(table) -> None:
    described = route(referral(language="ar", contact_gender="woman"), table).contact_description
    assert described.first_name is None  # Amina has show_first_name: false
    assert described.nl("Arabisch") == "Een sleutelpersoon die Arabisch spreekt neemt uiterlijk 07-12-2026 contact op."


def test_contact_description_queue(table) -> None:
    described = route(referral(municipality=None), table).contact_description
    assert described.role is None and described.team == "Landelijke wachtrij Wegwijs"
    assert described.contact_by == date(2026, 12, 9)  # 5 working days


@pytest.mark.parametrize("start, days, expected", [
    (date(2026, 12, 4), 1, date(2026, 12, 7)),   # Friday + 1 → Monday
    (date(2026, 12, 5), 1, date(2026, 12, 7)),   # Saturday + 1 → Monday
    (date(2026, 12, 2), 5, date(2026, 12, 9)),
])
def test_add_working_days(start, days, expected) -> None:
    assert add_working_days(start, days) == expected
