"""``wegwijs coverage``: what each language still lacks.

One row per language folder (supported, in progress, or just present): intents with
enough NLU examples, responses, topic titles, tips per topic and age group, safety
keywords, test stories, review status. Any gap in a *supported* language is an error
(exit code 1), so CI can gate on it; languages in progress are reported only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wegwijs.content.loader import LANGUAGES_DIR, REPO_ROOT, load_language, load_registry
from wegwijs.content.schema import ContentError, LanguagePack, Registry

#: Minimum NLU examples per intent per language (issue 2 / 3).
MIN_EXAMPLES = 15
#: Minimum safety keywords (keywords + misspellings) per category per language.
MIN_SAFETY_TERMS = 10
#: Test-story files every supported language must have (tests/stories/<lang>/).
REQUIRED_STORIES = ("test_happy_path.yml", "test_urgent.yml", "test_language_switch.yml")
NLU_DIR = REPO_ROOT / "nlu_data"
STORIES_DIR = REPO_ROOT / "tests" / "stories"
DOMAIN = REPO_ROOT / "bot" / "domain.yml"


@dataclass
class LanguageCoverage:
    """Counts for one language; ``gaps`` lists what is missing, in words."""

    code: str
    status: str
    review: str = "-"
    intents_ok: int = 0
    intents_total: int = 0
    responses_ok: int = 0
    responses_total: int = 0
    topics_ok: int = 0
    topics_total: int = 0
    tips_ok: int = 0
    tips_total: int = 0
    safety_ok: int = 0
    safety_total: int = 0
    stories_ok: int = 0
    stories_total: int = len(REQUIRED_STORIES)
    gaps: list[str] = field(default_factory=list)


def domain_intents(domain_file: Path = DOMAIN) -> list[str]:
    """Intent names declared in the domain."""
    data = yaml.safe_load(domain_file.read_text(encoding="utf-8"))
    return [i if isinstance(i, str) else next(iter(i)) for i in data.get("intents", [])]


def nlu_counts(code: str, nlu_dir: Path = NLU_DIR) -> dict[str, int]:
    """``{intent: number of examples}`` in ``nlu_data/<code>/*.yml``."""
    counts: dict[str, int] = {}
    for path in sorted((nlu_dir / code).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu", []) or []:
            if "intent" in item:
                examples = [l for l in str(item.get("examples") or "").splitlines() if l.strip().startswith("- ")]
                counts[item["intent"]] = counts.get(item["intent"], 0) + len(examples)
    return counts


def required_tip_cells(registry: Registry) -> list[tuple[str, str]]:
    """Every (topic, age group) that must have tips (all topics; pregnancy where it applies)."""
    cells = [(t, g) for t in registry.topics for g in registry.age_groups]
    cells += [(t, "pregnancy") for t in registry.pregnancy_tip_topics]
    return cells


def language_coverage(
    code: str, status: str, registry: Registry, reference: LanguagePack, intents: list[str],
    languages_dir: Path = LANGUAGES_DIR, nlu_dir: Path = NLU_DIR, stories_dir: Path = STORIES_DIR,
) -> LanguageCoverage:
    """Measure one language folder against the reference language and the registry."""
    cov = LanguageCoverage(code=code, status=status)
    counts = nlu_counts(code, nlu_dir)
    cov.intents_total = len(intents)
    thin = [i for i in intents if counts.get(i, 0) < MIN_EXAMPLES]
    cov.intents_ok = cov.intents_total - len(thin)
    if thin:
        cov.gaps.append(f"intents with < {MIN_EXAMPLES} examples: {', '.join(thin)}")
    cells = required_tip_cells(registry)
    cov.tips_total, cov.topics_total = len(cells), len(registry.topics)
    cov.responses_total = len(reference.responses)
    cov.safety_total = len(registry.safety_categories)
    present = {p.name for p in (stories_dir / code).glob("test_*.yml")} if (stories_dir / code).is_dir() else set()
    cov.stories_ok = sum(1 for s in REQUIRED_STORIES if s in present)
    if cov.stories_ok < cov.stories_total:
        cov.gaps.append("test stories missing: " + ", ".join(s for s in REQUIRED_STORIES if s not in present))
    try:
        pack = load_language(code, languages_dir)
    except ContentError as e:
        cov.gaps.append(f"content does not load: {e}")
        return cov
    cov.review = pack.meta.review
    untranslated = [k for k, r in pack.responses.items() if "UNTRANSLATED" in r.text]
    cov.responses_ok = sum(1 for k in reference.responses if k in pack.responses) - len(untranslated)
    if cov.responses_ok < cov.responses_total:
        missing = [k for k in reference.responses if k not in pack.responses] + untranslated
        cov.gaps.append(f"responses missing or untranslated: {', '.join(missing)}")
    cov.topics_ok = sum(1 for t in registry.topics if pack.topics.get(t) and "UNTRANSLATED" not in pack.topics[t])
    if cov.topics_ok < cov.topics_total:
        cov.gaps.append("topic titles missing")
    missing_tips = [
        f"{t}/{g}" for t, g in cells
        if not [x for x in pack.tips.get(t, {}).get(g, []) if "UNTRANSLATED" not in x]
    ]
    cov.tips_ok = cov.tips_total - len(missing_tips)
    if missing_tips:
        cov.gaps.append(f"tips missing: {', '.join(missing_tips)}")
    thin_safety = [c for c in registry.safety_categories
                   if len(pack.safety[c].all_terms() if c in pack.safety else []) < MIN_SAFETY_TERMS]
    cov.safety_ok = cov.safety_total - len(thin_safety)
    if thin_safety:
        cov.gaps.append(f"safety categories with < {MIN_SAFETY_TERMS} terms: {', '.join(thin_safety)}")
    if pack.meta.review == "untranslated":
        cov.gaps.append("review status: untranslated")
    return cov


def coverage_report(languages_dir: Path = LANGUAGES_DIR) -> list[LanguageCoverage]:
    """Coverage of every language folder; supported languages first, in registry order."""
    registry = load_registry(languages_dir)
    reference = load_language(registry.reference, languages_dir)
    intents = domain_intents()
    folders = sorted(p.name for p in Path(languages_dir).iterdir() if p.is_dir())
    order = [c for c in registry.supported] + [c for c in folders if c not in registry.supported]
    rows = []
    for code in order:
        status = "supported" if code in registry.supported else (
            "in progress" if code in registry.in_progress else "not registered")
        rows.append(language_coverage(code, status, registry, reference, intents, languages_dir))
    return rows


def format_table(rows: list[LanguageCoverage]) -> str:
    """A plain-text table, one row per language, then the gaps."""
    header = ("lang", "status", "review", "intents", "responses", "topics", "tips", "safety", "stories", "ok")
    lines = [header]
    for r in rows:
        lines.append((
            r.code, r.status, r.review,
            f"{r.intents_ok}/{r.intents_total}", f"{r.responses_ok}/{r.responses_total}",
            f"{r.topics_ok}/{r.topics_total}", f"{r.tips_ok}/{r.tips_total}",
            f"{r.safety_ok}/{r.safety_total}", f"{r.stories_ok}/{r.stories_total}",
            "yes" if not r.gaps else "NO",
        ))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in lines]
    for r in rows:
        for g in r.gaps:
            out.append(f"{r.code}: {g}")
    return "\n".join(out)
