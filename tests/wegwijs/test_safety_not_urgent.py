"""`not_urgent` phrases cancel only the keyword occurrences they overlap."""

from __future__ import annotations

from pathlib import Path

import pytest

from wegwijs.safety import KeywordMatcher

DOCS = {
    "nl": {
        "categories": {"child_missing": {"keywords": ["kind kwijt"]}, "violence_at_home": {"keywords": ["man slaat mij"]}},
        "not_urgent": ["kwijt te raken"],
    },
}


@pytest.mark.parametrize(
    "text, category",
    [
        ("ik ben bang mijn kind kwijt te raken", None),           # fear of youth care: a topic
        ("help mijn kind kwijt in de stad", "child_missing"),     # a missing child: urgent
        ("mijn man slaat mij en ik ben bang mijn kind kwijt te raken", "violence_at_home"),
    ],
)
def test_not_urgent_cancels_overlapping_keywords_only(text: str, category: str | None) -> None:
    match = KeywordMatcher.from_mapping(DOCS).match(text)
    assert (match.category if match else None) == category


def test_real_content_fear_of_youth_care_is_not_urgent() -> None:
    m = KeywordMatcher.from_dir(Path(__file__).resolve().parents[2] / "languages")
    assert m.match("ik ben bang mijn kind kwijt te raken") is None
    assert m.match("they will take my child away") is None
    assert m.match("mijn kind is kwijt").category == "child_missing"
