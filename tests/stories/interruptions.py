"""Interruption stories for every language, built from that language's NLU examples.

An open intake or contact question is interrupted by a topic question, a fear of youth
care, a question out of scope, a thank-you, "are you a robot", an emergency, "what do you
know about me?" and a request to delete — each is answered as what it is, then the question comes back (or,
for the emergency, the conversation goes on where it was on the next message). The
user texts are the first training example of each intent in ``nlu_data/<lang>/`` so
the stories test the dialogue, in the parent's language, not the classifier's limits.
Built at test time (no committed copies to keep in sync).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wegwijs.content.loader import REPO_ROOT


def first_examples(lang: str) -> dict[str, str]:
    """``{intent: first example}`` from ``nlu_data/<lang>/*.yml``, ``nlu.yml`` first (an
    intent of its own file, like ``ask_my_data`` in ``nlu_privacy.yml``, is found there)."""
    out: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "nlu_data" / lang).glob("*.yml")):  # "nlu.yml" sorts before "nlu_*.yml"
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            intent = item.get("intent")
            lines = [ln[2:].strip() for ln in str(item.get("examples") or "").splitlines() if ln.strip().startswith("- ")]
            if intent and lines and intent not in out:
                out[intent] = lines[0]
    return out


def _user(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {"user": text + "\n", "intent": intent}
    if entities:
        step["entities"] = entities
    return step


def _start(ex: dict[str, str]) -> list[dict[str, Any]]:
    return [
        _user(ex["greet"], "greet"),
        {"action": "intake_form"},
        {"active_loop": "intake_form"},
        {"slot_was_set": [{"language_ok": True}, {"requested_slot": "consent"}]},
    ]


def stories_for(lang: str) -> dict[str, Any]:
    """The interruption stories of ``lang`` (Rasa 3.1 test-story document)."""
    ex = first_examples(lang)
    # the form's rejection is not written: `rasa test core` emulates it when the story's
    # next action is not the form
    stories = [
        {
            "story": f"a topic question during the privacy question is noted, then the question comes back ({lang})",
            "steps": _start(ex) + [
                _user(ex["topic_school"], "topic_school"),
                {"action": "action_remember_topic"},
                {"slot_was_set": [{"topic": "school"}]},
                {"action": "intake_form"},
                {"slot_was_set": [{"requested_slot": "consent"}]},
            ],
        },
        {
            "story": f"fear of youth care during the privacy question is reassured, then the question comes back ({lang})",
            "steps": _start(ex) + [
                _user(ex["topic_child_removal_fear"], "topic_child_removal_fear"),
                {"action": "action_remember_topic"},
                {"action": "intake_form"},
                {"slot_was_set": [{"requested_slot": "consent"}]},
            ],
        },
        {
            "story": f"a question out of scope, a thank-you and a robot question keep the privacy question open ({lang})",
            "steps": _start(ex) + [
                _user(ex["out_of_scope"], "out_of_scope"),
                {"action": "action_note_out_of_scope"},
                {"action": "intake_form"},
                {"slot_was_set": [{"requested_slot": "consent"}]},
                _user(ex["thanks"], "thanks"),
                {"action": "utter_thanks"},
                {"action": "intake_form"},
                {"slot_was_set": [{"requested_slot": "consent"}]},
                _user(ex["bot_challenge"], "bot_challenge"),
                {"action": "utter_bot_challenge"},
                {"action": "intake_form"},
                {"slot_was_set": [{"requested_slot": "consent"}]},
            ],
        },
        {
            "story": f"an emergency during the privacy question gets the numbers first, then the question goes on ({lang})",
            "steps": _start(ex) + [
                _user(ex["urgent_help"], "urgent_help"),
                {"action": "utter_urgent_help"},
                {"action": "action_urgent_referral"},
                _user(ex["affirm"], "affirm"),
                {"action": "intake_form"},
                {"slot_was_set": [{"consent": "yes"}, {"requested_slot": "children_ages"}]},
            ],
        },
        {
            "story": f"what do you know about me during the privacy question is shown, then the question comes back ({lang})",
            "steps": _start(ex) + [
                _user(ex["ask_my_data"], "ask_my_data"),
                {"action": "action_show_my_data"},
                {"action": "intake_form"},
                {"slot_was_set": [{"requested_slot": "consent"}]},
            ],
        },
        {
            "story": f"what do you know about me after the privacy question is shown, then the ages question comes back ({lang})",
            "steps": _start(ex) + [
                _user(ex["affirm"], "affirm"),
                {"action": "intake_form"},
                {"slot_was_set": [{"consent": "yes"}, {"requested_slot": "children_ages"}]},
                _user(ex["ask_my_data"], "ask_my_data"),
                {"action": "action_show_my_data"},
                {"action": "intake_form"},
                {"slot_was_set": [{"requested_slot": "children_ages"}]},
            ],
        },
        {
            "story": f"delete during the intake asks first; no keeps everything ({lang})",
            "steps": _start(ex) + [
                _user(ex["delete_my_data"], "delete_my_data"),
                {"action": "action_ask_delete"},
                {"slot_was_set": [{"delete_pending": True}]},
                {"action": "action_deactivate_loop"},
                {"active_loop": None},
                _user(ex["deny"], "deny"),
                {"action": "action_delete_cancelled"},
                {"slot_was_set": [{"delete_pending": False}]},
            ],
        },
        {
            "story": f"delete asks first; yes deletes, and the conversation can start again ({lang})",
            "steps": _start(ex) + [
                _user(ex["delete_my_data"], "delete_my_data"),
                {"action": "action_ask_delete"},
                {"slot_was_set": [{"delete_pending": True}]},
                {"action": "action_deactivate_loop"},
                {"active_loop": None},
                _user(ex["affirm"], "affirm"),
                {"action": "action_delete_my_data"},
                {"slot_was_set": [{"delete_pending": False}]},
                _user(ex["greet"], "greet"),
                {"action": "intake_form"},
                {"active_loop": "intake_form"},
            ],
        },
    ]
    return {"version": "3.1", "stories": stories}


def write_stories(lang: str, folder: Path) -> Path:
    """Write ``test_interruptions.yml`` for ``lang`` into ``folder``; returns the path."""
    path = folder / "test_interruptions.yml"
    path.write_text(yaml.safe_dump(stories_for(lang), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
