"""Age groups of the children (the tips' registry bounds).

The intake facts themselves are read by :mod:`wegwijs.intake.extract` (ages, pregnancy,
contact preferences) and :mod:`wegwijs.intake.gemeenten` (the gemeente).
"""

from __future__ import annotations

from typing import Iterable


def age_groups_for(ages: Iterable[int], groups: dict[str, tuple[int, int]]) -> list[str]:
    """Age-group ids (``"0-4"``) the given ages fall in, in the registry's order."""
    ages = list(ages)
    return [gid for gid, (lo, hi) in groups.items() if any(lo <= a < hi for a in ages)]
