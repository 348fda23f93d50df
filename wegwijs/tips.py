"""Choose the tips to show for a topic and the children's ages."""

from __future__ import annotations

from typing import Any

from wegwijs.content.schema import LanguagePack, Registry
from wegwijs.intake.parsing import age_groups_for

#: With unknown ages we show this many tips per age group (a small "welcome package", BRIEF R6).
TIPS_PER_GROUP_UNKNOWN_AGES = 1


def select_tips(
    pack: LanguagePack, topic: str, ages: list[int], pregnant: bool, registry: Registry,
    text: str = "", words: Any = None,
) -> list[tuple[str, list[str]]]:
    """Tips of ``topic`` for the age groups of ``ages`` — or of the child the message is about.

    When ``text`` (the parent's latest message) names ages itself ("my 4-year-old won't
    sleep"), only those children's groups are used, not every child's.

    Args:
        pack: the conversation language's content.
        topic: topic id (``"school"``).
        ages: children's ages in years; empty when unknown or skipped.
        pregnant: include the ``pregnancy`` group when the topic has one.
        registry: gives the age groups and their bounds.
        text: the message the tips answer (optional).
        words: :class:`wegwijs.intake.extract.Words` to read ages in ``text`` with.

    Returns:
        ``[(age_group_id, [tip, ...]), ...]`` in registry order; empty when the
        topic has no tips in this language yet.
    """
    by_group = pack.tips.get(topic) or {}
    if not by_group:
        return []
    if text and words is not None:
        from wegwijs.intake.extract import extract

        named = extract(text, words).children_ages
        if named:
            ages = named
    groups = age_groups_for(ages, registry.age_groups)
    if pregnant or topic == "pregnancy":
        groups = ["pregnancy", *groups]
    if groups:
        chosen = [(g, by_group[g]) for g in groups if by_group.get(g)]
        if chosen:
            return chosen
    # unknown ages (or no tips for them): one tip from each group we have
    return [(g, tips[:TIPS_PER_GROUP_UNKNOWN_AGES]) for g, tips in by_group.items() if tips]
