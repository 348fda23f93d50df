"""The sticky conversation-language rule."""

from __future__ import annotations

import pytest

from wegwijs.language import choose_language

SUPPORTED = ["nl", "en", "ar", "ti"]


@pytest.mark.parametrize(
    "current, detected, conf, text, choice, expected",
    [
        (None, "ar", 0.99, "مرحبا كيف الحال", None, "ar"),   # first message sets it
        (None, "am", 0.99, "ሰላም ነው", None, "en"),            # unsupported → default
        (None, "und", 0.0, "👍", None, "en"),
        ("ar", "en", 0.99, "ok", None, "ar"),                  # short: keep
        ("ar", "tr", 0.99, "salam", None, "ar"),
        ("ti", "am", 0.95, "እሺ አመሰግናለሁ በጣም", None, "ti"),    # unsupported: keep
        ("ar", "en", 0.97, "can we talk in English please", None, "en"),  # long + confident: switch
        ("ar", "en", 0.60, "can we talk in English please", None, "ar"),  # not confident: keep
        ("nl", "en", 0.99, '/inform{"language_choice":"ti"}', "ti", "ti"),  # menu choice wins
        ("nl", "en", 0.99, '/inform{"language_choice":"xx"}', "xx", "nl"),  # unknown choice ignored
    ],
)
def test_choose_language(current, detected, conf, text, choice, expected) -> None:
    got = choose_language(
        current=current, detected=detected, confidence=conf, text=text,
        choice=choice, supported=SUPPORTED, default="en",
    )
    assert got == expected
