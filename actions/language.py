"""Conversation language: the sticky rule, the language menu, the switch."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_entity, latest_intent, pack_for, store
from wegwijs.language import choose_language, script_of


def typed_language_name(text: str, s: Any) -> str | None:
    """The code of a language whose name the parent typed ("العربية", "Arabic", "Arabisch"), else None.

    Only short messages (≤ 3 words) that are a language's own, English or Dutch name count,
    so a parent without buttons can still pick a language from the menu.
    """
    norm = " ".join(text.lower().split())
    if not norm or len(norm.split()) > 3:
        return None
    for code, pack in s.packs.items():
        names = {pack.meta.name.lower(), pack.meta.english_name.lower(), pack.meta.dutch_name.lower(), code}
        if norm in names:
            return code
    return None


class ActionSetLanguage(Action):
    """Custom slot mapping of ``language``; runs after every user message.

    Reads the fastText result the NLU pipeline put into the message
    (``language: {code, confidence}``) and applies :func:`wegwijs.language.choose_language`.
    Also resets ``fallback_count`` once a message is understood again.
    """

    def name(self) -> str:
        return "action_set_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        s = store()
        msg = tracker.latest_message or {}
        detected = msg.get("language") or {}
        current = tracker.get_slot("language")
        text = msg.get("text") or ""
        new = choose_language(
            current=current,
            detected=detected.get("code"),
            confidence=float(detected.get("confidence") or 0.0),
            text=text,
            choice=latest_entity(tracker, "language_choice") or typed_language_name(text, s),
            supported=s.registry.supported,
            default=s.registry.reference,
            scripts={c: script_of(p.meta.name) or "" for c, p in s.packs.items()},
        )
        events: list[dict[str, Any]] = []
        if new != current:
            events.append(SlotSet("language", new))
        name = s.pack(new).meta.name
        if tracker.get_slot("language_name") != name:
            events.append(SlotSet("language_name", name))
        if latest_intent(tracker) != "nlu_fallback" and (tracker.get_slot("fallback_count") or 0) > 0:
            events.append(SlotSet("fallback_count", 0.0))
        return events


def language_menu_buttons() -> list[dict[str, str]]:
    """One button per supported language, titled in its own name and script."""
    s = store()
    return [
        {"title": s.packs[c].meta.name, "payload": f'/inform{{"language_choice":"{c}"}}'}
        for c in s.registry.supported
    ]


class ActionAskLanguageOk(Action):
    """The welcome: asks to confirm the language — or, when the parent wrote in a language
    we do not support yet (fastText knows ckb, kmr, fr, uk, ru...), shows the language menu
    in the default language (English) straight away.
    """

    def name(self) -> str:
        return "action_ask_language_ok"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        detected = (tracker.latest_message or {}).get("language") or {}
        code, confidence = detected.get("code"), float(detected.get("confidence") or 0.0)
        if code not in store().registry.supported and code not in (None, "und") and confidence >= 0.5:
            dispatcher.utter_message(response="utter_ask_language_choice", buttons=language_menu_buttons())
            return []
        dispatcher.utter_message(response="utter_ask_language_ok")
        return []


class ActionLanguageMenu(Action):
    """Shows every supported language in its own name and script."""

    def name(self) -> str:
        return "action_language_menu"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_ask_language_choice", buttons=language_menu_buttons())
        return [SlotSet("offered_person", False)]


class ActionLanguageChanged(Action):
    """Confirms the language picked from the menu, in that language."""

    def name(self) -> str:
        return "action_language_changed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_language_changed", language_name=pack_for(tracker).meta.name)
        return [SlotSet("language_ok", True)]
