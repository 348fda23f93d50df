"""The Dutch handoff summary (BRIEF section 9) a klantmanager or sleutelpersoon reads.

The layout is the Jinja2 template ``templates/summary_nl.j2`` (Dutch text for
professionals, not parent-facing, so it is not under ``languages/``); this module
turns a referral into plain Dutch values for it. Dutch topic and language names
come from the content files through :func:`load_dutch_names`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SUMMARY_TEMPLATE = "summary_nl.j2"

#: Times in the summary are shown in Dutch local time.
DISPLAY_TIMEZONE = "Europe/Amsterdam"

PERSON_TYPE_NL = {
    "klantmanager": "klantmanager",
    "sleutelpersoon": "sleutelpersoon",
    "either": "klantmanager of sleutelpersoon (de ouder heeft geen voorkeur)",
    "not_said": "niet gezegd",
}
CONTACT_CHANNEL_NL = {
    "whatsapp": "WhatsApp",
    "phone": "telefonisch (bellen)",
    "visit": "persoonlijk gesprek",
}
CONTACT_GENDER_NL = {
    "woman": "liever een vrouw",
    "man": "liever een man",
    "any": "geen voorkeur",
}
CONTACT_SETTING_NL = {
    "individual": "individueel",
    "group": "in een groep met andere ouders",
    "any": "geen voorkeur",
}
#: Safety categories (docs/design.md safety.yml) used as urgency reasons.
URGENCY_REASON_NL = {
    "violence_at_home": "geweld in huis",
    "child_abuse": "kindermishandeling",
    "self_harm": "zelfbeschadiging of gedachten aan zelfdoding",
    "medical_emergency": "medisch noodgeval",
    "child_missing": "kind vermist",
    "urgent_help": "de ouder vroeg om dringende hulp",
}


@dataclass(frozen=True)
class DutchNames:
    """Dutch names of topics (id → name) and languages (code → name)."""

    topics: Mapping[str, str] = field(default_factory=dict)
    languages: Mapping[str, str] = field(default_factory=dict)

    def topic(self, topic_id: str) -> str:
        """Dutch name of a topic; the id itself when unknown."""
        return self.topics.get(topic_id) or topic_id

    def language(self, code: str) -> str:
        """Dutch name of a language; the code itself when unknown."""
        return self.languages.get(code) or code


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_dutch_names(languages_dir: Path | str) -> DutchNames:
    """Read Dutch names from ``languages_dir``.

    Topics come from ``nl/topics.yml`` (``topics:`` mapping id → name), language
    names from ``<code>/meta.yml`` (``dutch_name``). Missing files are skipped (the
    summary then shows ids and codes); a file with the wrong shape raises.

    Raises:
        ValueError: a file exists but does not have the documented shape.
    """
    root = Path(languages_dir)
    topics: dict[str, str] = {}
    topics_file = root / "nl" / "topics.yml"
    if topics_file.is_file():
        data = _read_yaml(topics_file) or {}
        mapping = data.get("topics") if isinstance(data, dict) else None
        if not isinstance(mapping, dict):
            raise ValueError(f"{topics_file}: expected a 'topics:' mapping of id to name")
        topics = {str(key): str(value) for key, value in mapping.items()}

    languages: dict[str, str] = {}
    if root.is_dir():
        for meta_file in sorted(root.glob("*/meta.yml")):
            data = _read_yaml(meta_file) or {}
            if not isinstance(data, dict):
                raise ValueError(f"{meta_file}: expected a mapping")
            code = str(data.get("code") or meta_file.parent.name)
            dutch_name = data.get("dutch_name")
            if dutch_name:
                languages[code] = str(dutch_name)
    return DutchNames(topics=topics, languages=languages)


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text for a terminal or e-mail body, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _display_zone() -> Any:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(DISPLAY_TIMEZONE)
    except Exception:  # no tz database on this machine: fall back to UTC
        return timezone.utc


def format_datetime_nl(value: datetime | None) -> str | None:
    """Format an aware datetime as ``29-11-2026 10:18 (Nederlandse tijd)``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    zone = _display_zone()
    local = value.astimezone(zone)
    label = "Nederlandse tijd" if zone is not timezone.utc else "UTC"
    return f"{local:%d-%m-%Y %H:%M} ({label})"


def join_nl(items: Iterable[str]) -> str:
    """Join as Dutch enumeration: ``a, b en c``."""
    items = [item for item in items if item]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " en " + items[-1]


def format_ages_nl(ages: Iterable[int]) -> str:
    """``[0, 3, 7]`` → ``jonger dan 1 jaar, 3 en 7 jaar``."""
    ages = list(ages)
    babies = sum(1 for age in ages if age == 0)
    years = [str(age) for age in ages if age != 0]
    parts = []
    if babies:
        parts.append("jonger dan 1 jaar" if babies == 1 else f"{babies}× jonger dan 1 jaar")
    if years:
        parts.append(join_nl(years) + " jaar")
    return ", ".join(parts)


def _yes_no(value: bool | None, unknown: str) -> str:
    if value is None:
        return unknown
    return "ja" if value else "nee"


def _route_queue_nl(queue: str | None) -> str | None:
    if not queue:
        return None
    return "landelijke wachtrij" if queue == "default" else f"gemeente {queue}"


def summary_context(referral: Any) -> dict[str, Any]:
    """Plain Dutch values for the template, from a referral (ORM row or similar)."""
    names: Mapping[str, str] = getattr(referral, "language_names_nl", None) or {}
    language_name = names.get(referral.language) or getattr(
        referral, "language_name_nl", None
    ) or referral.language

    topics = list(referral.topics or [])
    topics_nl = list(getattr(referral, "topics_nl", None) or [])
    topic_rows = [
        {"id": topic_id, "name": topics_nl[index] if index < len(topics_nl) else topic_id}
        for index, topic_id in enumerate(topics)
    ]

    concerns = []
    for item in referral.concern_text or []:
        lang = item.get("lang") if isinstance(item, Mapping) else getattr(item, "lang", None)
        text = item.get("text") if isinstance(item, Mapping) else getattr(item, "text", "")
        lang = lang or referral.language
        concerns.append({"text": text, "language_name": names.get(lang) or lang})

    ages = list(referral.children_ages or [])
    children_count = referral.children_count
    if children_count is None and ages:
        children_count = len(ages)

    reason = referral.urgency_reason
    reason_nl = None
    if reason:
        reason_nl = URGENCY_REASON_NL.get(reason)
        reason_nl = f"{reason_nl} ({reason})" if reason_nl else reason

    from wegwijs.referrals.voice_notes import voice_notes_of

    voice_notes = [
        {"at": format_datetime_nl(note.received_at), "kind": note.kind_nl, "channel": note.channel_nl,
         "media_id": note.media_id, "media_url": note.media_url, "listen": note.listen_nl}
        for note in voice_notes_of(referral)
    ]

    return {
        "reference": referral.reference,
        "created_at": format_datetime_nl(referral.created_at),
        "municipality": referral.municipality,
        "person_type": PERSON_TYPE_NL.get(referral.person_type, referral.person_type),
        "language": referral.language,
        "language_name": language_name,
        "interpreter": _yes_no(referral.interpreter_needed, "niet gevraagd"),
        "children_count": children_count,
        "ages": format_ages_nl(ages) if ages else None,
        "pregnant": bool(referral.pregnant),
        "topics": topic_rows,
        "concerns": concerns,
        "urgent": referral.urgency == "urgent",
        "urgency_reason": reason_nl,
        "urgency_words": [c["text"] for c in concerns][-1:] if referral.urgency == "urgent" else [],
        "contact_channel": CONTACT_CHANNEL_NL.get(
            referral.contact_channel or "", referral.contact_channel
        ),
        "contact_times": referral.contact_times,
        "contact_times_text": getattr(referral, "contact_times_text", None),
        "pregnancy_months": getattr(referral, "pregnancy_months", None),
        "contact_caution": getattr(referral, "contact_caution", None),
        "out_of_scope": [
            {"text": (q.get("text") if isinstance(q, Mapping) else getattr(q, "text", "")),
             "language_name": names.get((q.get("lang") if isinstance(q, Mapping) else getattr(q, "lang", None)) or "")
             or (q.get("lang") if isinstance(q, Mapping) else getattr(q, "lang", ""))}
            for q in (getattr(referral, "out_of_scope_questions", None) or [])
        ],
        "contact_gender": CONTACT_GENDER_NL.get(
            referral.contact_gender or "", referral.contact_gender
        ),
        "contact_setting": CONTACT_SETTING_NL.get(
            referral.contact_setting or "", referral.contact_setting
        ),
        "consent_at": format_datetime_nl(referral.consent_at),
        "conversation_id": referral.conversation_id,
        # routing (wegwijs.routing): absent on objects that were never routed
        "route_queue": _route_queue_nl(getattr(referral, "route_queue", None)),
        "assignee_key": getattr(referral, "assignee_key", None),
        "route_reason": getattr(referral, "route_reason", None),
        # the conversation's voice notes (Referral.voice_note_rows), before or after the referral
        "voice_notes": voice_notes,
    }


def render_summary_nl(referral: Any) -> str:
    """Render the Dutch handoff summary of ``referral`` (BRIEF section 9).

    ``referral`` is a :class:`wegwijs.db.models.Referral` or any object with the
    same attributes (``language_names_nl`` may be absent; then
    ``language_name_nl`` is used).
    """
    template = _environment().get_template(SUMMARY_TEMPLATE)
    return template.render(**summary_context(referral)).strip() + "\n"
