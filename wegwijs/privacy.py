"""What the assistant keeps about a parent, said in the parent's language (issue 10).

"What do you know about me?" is answered from the conversation's slots (what the
tracker holds, and what a referral is made of): one line per fact, each a
``utter_my_data_<fact>`` text of ``languages/<lang>/responses.yml`` with its
``{placeholders}`` filled. Choices are shown with the words the parent was offered: the
``labels`` of ``responses.yml`` (``person_type``, ``contact_channel``) or else the title of
the button that set the value in that question (``utter_ask_contact_gender``...), so no
second list of labels exists. Pure functions: no I/O.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from wegwijs.content.schema import PLACEHOLDER, LanguagePack

#: Zone of the times shown to a parent (the Dutch summary uses the same).
DISPLAY_TIMEZONE = "Europe/Amsterdam"
#: Slot values that are no answer: nothing is kept.
NOT_ANSWERED = (None, "", "skipped", [])
#: Contact wishes shown as the word of the question's choice (slot → answer values).
CHOICE_SLOTS = {
    "person_type": ("klantmanager", "sleutelpersoon", "either"),
    "contact_channel": ("whatsapp", "phone", "visit"),
    "contact_gender": ("woman", "man", "any"),
    "contact_setting": ("individual", "group", "any"),
    "interpreter": (True, False),
}
#: The line of each choice slot and the name of its placeholder.
CHOICE_LINES = {
    "person_type": ("utter_my_data_person", "person_label"),
    "contact_channel": ("utter_my_data_channel", "channel"),
    "contact_gender": ("utter_my_data_gender", "gender"),
    "contact_setting": ("utter_my_data_setting", "setting"),
    "interpreter": ("utter_my_data_interpreter", "interpreter"),
}
#: Payloads without an entity that answer a yes/no question (``utter_ask_interpreter``).
YES_NO_PAYLOADS = {"/affirm": True, "/deny": False}

#: One line: a response key and the values of its placeholders.
Fact = tuple[str, dict[str, str]]


def choice_label(pack: LanguagePack, slot: str, value: Any) -> str | None:
    """The parent's words for ``value`` of ``slot``: its label in ``responses.yml``, else the
    title of the button of ``utter_ask_<slot>`` that sets it; None when there is neither."""
    labels = pack.labels.get(slot) or {}
    if str(value) in labels:
        return labels[str(value)]
    response = pack.responses.get(f"utter_ask_{slot}")
    for button in response.buttons if response else []:
        if _payload_value(button.payload, slot) == value:
            return button.title
    return None


def _payload_value(payload: str, slot: str) -> Any:
    """The value a button payload gives ``slot`` (``/inform{"contact_gender":"woman"}``
    → ``"woman"``; ``/affirm`` → True); None when it gives none."""
    if payload in YES_NO_PAYLOADS:
        return YES_NO_PAYLOADS[payload]
    start = payload.find("{")
    if start < 0:
        return None
    try:
        entities = json.loads(payload[start:])
    except ValueError:
        return None
    return entities.get(slot) if isinstance(entities, dict) else None


def format_time(value: str | None) -> str | None:
    """``"2026-12-07T13:05:00+00:00"`` → ``"07-12-2026 14:05"`` (Dutch time); None when unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(DISPLAY_TIMEZONE))
    except Exception:  # no tz database on this machine: UTC
        moment = moment.astimezone(timezone.utc)
    return f"{moment:%d-%m-%Y %H:%M}"


#: Arabic-script forms of the separators (right-to-left packs).
RTL_SEPARATORS = {",": "،", ";": "؛"}


def _separator(pack: LanguagePack, mark: str) -> str:
    """``", "`` or ``"; "`` (``"، "`` / ``"؛ "`` in a right-to-left language)."""
    return (RTL_SEPARATORS[mark] if pack.meta.direction == "rtl" else mark) + " "


def _times_text(times: Any) -> str | None:
    """The parent's own words for the contact times (the Dutch normal form when there are none)."""
    if isinstance(times, dict):
        return times.get("text") or times.get("nl") or None
    if isinstance(times, str) and times not in NOT_ANSWERED:
        return times
    return None


def stored_facts(slots: Mapping[str, Any], pack: LanguagePack) -> list[Fact]:
    """The lines that say what is kept about the parent, in ``pack``'s language.

    The conversation language comes first, but only with something else: a conversation
    that holds no fact, no privacy choice and no referral gets ``[]`` (nothing stored).

    Args:
        slots: ``tracker.current_slot_values()``.
        pack: the conversation language's pack.
    """
    facts: list[Fact] = []
    consent = slots.get("consent")
    if consent == "yes":
        facts.append(("utter_my_data_consent_yes", {}))
    elif slots.get("handoff_consent") is True:
        facts.append(("utter_my_data_consent_handoff", {}))
    elif consent == "no":
        facts.append(("utter_my_data_consent_no", {}))
    when = format_time(slots.get("consent_at"))
    if facts and when:
        facts.append(("utter_my_data_consent_time", {"when": when}))
    ages = slots.get("children_ages")
    ages = [int(a) for a in ages if isinstance(a, (int, float))] if isinstance(ages, list) else []
    if ages:
        facts.append(("utter_my_data_children", {"ages": _separator(pack, ",").join(str(a) for a in ages)}))
    if slots.get("pregnant") is True:
        facts.append(("utter_my_data_pregnant", {}))
    municipality = slots.get("municipality")
    if municipality not in NOT_ANSWERED:
        facts.append(("utter_my_data_municipality", {"municipality": str(municipality)}))
    topics = [t for t in dict.fromkeys([*(slots.get("topics") or []), slots.get("topic")]) if t]
    if topics:
        # topic titles hold commas themselves ("Wellbeing, sleep, food")
        facts.append(("utter_my_data_topics", {"topics": _separator(pack, ";").join(pack.topics.get(t, t) for t in topics)}))
    if slots.get("concern_text") or slots.get("out_of_scope_questions"):
        facts.append(("utter_my_data_own_words", {}))
    for slot, allowed in CHOICE_SLOTS.items():
        value = slots.get(slot)
        label = choice_label(pack, slot, value) if value in allowed else None
        if label:
            key, placeholder = CHOICE_LINES[slot]
            facts.append((key, {placeholder: label}))
        times = _times_text(slots.get("contact_times")) if slot == "contact_channel" else None
        if times:  # the times right after the channel, as the questions come
            facts.append(("utter_my_data_times", {"times": times}))
    sent, held = slots.get("referral_reference"), slots.get("draft_reference")
    if sent:
        facts.append(("utter_my_data_referral_sent", {"reference": str(sent)}))
    if held and held != sent:
        facts.append(("utter_my_data_referral_held", {"reference": str(held)}))
    if not facts:
        return []
    language = slots.get("language_name") or pack.meta.name
    return [("utter_my_data_language", {"language_name": str(language)}), *facts]


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with its ``{placeholders}`` replaced by ``values`` (unknown ones left as they are)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def render_facts(pack: LanguagePack, facts: list[Fact]) -> str:
    """One message: a ``•`` line per fact, in ``pack``'s words."""
    return "\n".join(f"• {fill(pack.responses[key].text, values)}" for key, values in facts)
