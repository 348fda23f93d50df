"""Intake answer parsing: ages in any script and language, gemeenten (wegwijs.intake.extract / gemeenten)."""

from __future__ import annotations

import pytest

from wegwijs.intake.extract import Words, extract
from wegwijs.intake.gemeenten import GemeenteMatcher
from wegwijs.intake.parsing import age_groups_for

WORDS = {"ten": 10, "عشر": 10, "ዓሰርተ": 10, "two": 2, "three": 3, "twee": 2, "drie": 3, "ثلاثة": 3, "اربعة": 4, "ሰለስተ": 3, "ክልተ": 2}
MONTHS = ["months", "maanden", "شهور", "ኣዋርሕ"]
PREGNANT = ["pregnant", "zwanger", "حامل", "ነፍሰ ጾር"]


def words(number_words=WORDS, connectors=()) -> Words:
    return Words.from_parsing([{"number_words": number_words, "months_words": MONTHS, "pregnancy_words": PREGNANT,
                                "number_connectors": list(connectors)}])


def ages_of(text: str, w: Words) -> tuple[list[int], bool]:
    """Ages said as ages, or bare numbers (ages while the ages question is open)."""
    got = extract(text, w)
    return got.children_ages or got.numbers or [], bool(got.pregnant)


@pytest.mark.parametrize(
    "text, ages, pregnant",
    [
        ("3 and 8", [3, 8], False),
        ("I have 2 kids, 4 and 9 years", [4, 9], False),
        ("twee kinderen van 3 en 7", [3, 7], False),
        ("ik heb een baby van 8 maanden", [0], False),
        ("عندي ولدين ٣ و ٧", [3, 7], False),
        ("ابني عمره ثلاثة سنين و بنتي ١٢", [3, 12], False),
        ("وثلاثة", [3], False),
        ("ክልተ ቆልዑ ፫ን ፲፪ን", [3, 12], False),
        ("ሰለስተ ዓመት", [3], False),
        ("ዓሰርተ ክልተ ዓመት", [12], False),
        ("بنتي عمرها ثلاثة عشر", [13], False),
        ("two ten", [12], False),
        ("I am pregnant", [], True),
        ("zwanger en een zoon van 4", [4], True),
        ("my son is 25", [], False),
        ("no idea", [], False),
    ],
)
def test_parse_ages(text: str, ages: list[int], pregnant: bool) -> None:
    assert ages_of(text, words()) == (ages, pregnant)


def test_spoken_teens_with_a_connector() -> None:
    w = words({"laba": 2, "afar": 4, "sagaal": 9, "toban": 10}, connectors=["iyo"])
    assert ages_of("wiil laba iyo toban jir ah", w)[0] == [12]
    assert ages_of("afar iyo sagaal", w)[0] == [4, 9]


def test_age_groups_follow_registry_bounds() -> None:
    groups = {"0-4": (0, 4), "4-12": (4, 12), "12-18": (12, 18)}
    assert age_groups_for([0, 4, 11], groups) == ["0-4", "4-12"]
    assert age_groups_for([17], groups) == ["12-18"]
    assert age_groups_for([], groups) == []


@pytest.fixture
def gemeenten() -> GemeenteMatcher:
    return GemeenteMatcher.from_mapping({
        "gemeenten": ["Utrecht", "Den Helder", "'s-Hertogenbosch", "Ede"],
        "aliases": {"den bosch": "'s-Hertogenbosch", "اوترخت": "Utrecht"},
    })


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Utrecht", "Utrecht"),
        ("wij wonen in utrecht!", "Utrecht"),
        ("in Den Bosch", "'s-Hertogenbosch"),
        ("نسكن في اوترخت", "Utrecht"),
        ("Den Helder", "Den Helder"),
        ("we need help", None),  # 'Ede' must not match inside 'need'
    ],
)
def test_municipality_found_on_word_boundaries(gemeenten: GemeenteMatcher, text: str, expected: str | None) -> None:
    found = gemeenten.find(text)
    assert (found.gemeente if found else None) == expected
