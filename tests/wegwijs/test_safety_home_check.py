"""`home_check` phrases: no emergency, but a question whether everyone is safe at home."""

from __future__ import annotations

from pathlib import Path

import pytest

from wegwijs.safety import KeywordMatcher

DOCS = {
    "en": {
        "categories": {"violence_at_home": {"keywords": ["husband hits me"]}},
        "not_urgent_context": ["haha"],
        "home_check": ["husband very angry", "he shouts at me all the time"],
    },
}


@pytest.mark.parametrize("text, phrase", [
    ("hello my husband very angry all the time", "husband very angry"),
    ("HE shouts at me all the time, what do i do with the kids", "he shouts at me all the time"),
    ("my son is very angry all the time", None),                  # a child's anger: a topic, not home safety
    ("he shouts at me all the time haha", None),                   # a joke silences it like the keywords
])
def test_home_check_phrases_are_found_apart_from_the_keywords(text: str, phrase: str | None) -> None:
    matcher = KeywordMatcher.from_mapping(DOCS)
    found = matcher.home_check_match(text)
    assert (found.text if found else None) == phrase
    assert matcher.match(text) is None  # never an emergency by itself


def test_every_language_has_home_check_phrases() -> None:
    matcher = KeywordMatcher.from_dir(Path(__file__).resolve().parents[2] / "languages")
    assert {k.lang for k in matcher.home_check} == set(matcher.languages())
    assert matcher.home_check_match("kocam hep sinirli, çocuklar korkuyor").lang == "tr"
