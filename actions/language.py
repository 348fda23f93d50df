"""Conversation language: the sticky rule, the language menu, the switch."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_entity, latest_intent, pack_for, store
from wegwijs.language import choose_language, script_of


class ActionSetLanguage(Action):
    """Custom slot mapping of ``language``; runs after every user message.

    Reads the fastText result the NLU pipeline put into the message
    (``language: {code, confidence}``) and applies :func:`wegwijs.language.choose_language`.
    A language named with an interpreter ("yes arabic interpreter") is the interpreter's
    language, not a choice of the conversation's language.

    Also resets ``fallback_count`` once a message is understood again, and sets
    ``home_check`` to "due" on the first message with a ``home_check`` phrase
    (:func:`actions.common.home_check_events` asks the question).
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
            choice=None if latest_entity(tracker, "interpreter") is not None else latest_entity(tracker, "language_choice"),
            supported=s.registry.supported,
            default=s.registry.reference,
            scripts={c: script_of(p.meta.name) or "" for c, p in s.packs.items()},
            confirmed=language_settled(tracker),
            hint=short_message_hint(text, detected.get("code")),
            confusable=s.registry.confusable,
            digit_letter_languages=s.registry.digit_letter_languages,
            chosen=language_chosen(tracker),
        )
        events: list[dict[str, Any]] = []
        if new != current:
            events.append(SlotSet("language", new))
        name = s.pack(new).meta.name
        if tracker.get_slot("language_name") != name:
            events.append(SlotSet("language_name", name))
        intent = latest_intent(tracker)
        understood = bool(msg.get("entities")) or intent not in ("nlu_fallback", "inform")
        if understood and (tracker.get_slot("fallback_count") or 0) > 0:
            events.append(SlotSet("fallback_count", 0.0))
        if msg.get("home_check") and not tracker.get_slot("home_check"):
            events.append(SlotSet("home_check", "due"))  # asked by the next reply that gives tips or a menu
        if tracker.get_slot("delete_pending") and intent not in ("affirm", "deny", "delete_my_data"):
            events.append(SlotSet("delete_pending", False))  # the delete question was not answered
        # "بلی پاک کنین" (yes, delete it) to "shall I delete?" reads as delete_my_data: a yes
        return events


def language_chosen(tracker: Tracker) -> bool:
    """Whether an earlier message of the parent chose the language (typed its name or
    tapped it: a ``language_choice`` entity)."""
    for event in tracker.events:
        if event.get("event") == "user" and any(
                e.get("entity") == "language_choice" for e in (event.get("parse_data") or {}).get("entities") or []):
            return True
    return False


def language_settled(tracker: Tracker) -> bool:
    """False while the language is only a guess: nothing shown yet, or only the choice of
    languages after a first message too short to tell (``language_ok`` is then set but
    the privacy question was not asked yet)."""
    asked = tracker.get_slot("asked") or {}
    return bool(tracker.get_slot("language_ok")) and int(asked.get("consent", 0)) > 0


def said_enough_before(tracker: Tracker) -> bool:
    """Whether an earlier message (not the latest) was long enough to tell the language:
    then a short one now ("yes agree" after an emergency came first) is no reason to
    offer the choice of languages again."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    return any(len((e.get("text") or "").split()) > SHORT_MESSAGE_WORDS and not (e.get("text") or "").startswith("/")
               for e in users[:-1])


def short_message_hint(text: str, detected: str | None) -> str | None:
    """The language to write in after a message too short to tell, until the parent picks
    one: in Latin letters the one language that types its words ("hallo", "na3am"), else
    None (English); in another script one of that script's languages, the detected one if
    it is among them ("የቐንየለይ" → Tigrinya, not English)."""
    script = script_of(text)
    if script and script != "LATIN":
        choices = script_choices(script)
        return detected if detected in choices else (choices[0] if choices else None)
    return only(latin_word_languages(text))


def only(codes: list[str]) -> str | None:
    """The one element of ``codes``, else None (no hint when several languages fit)."""
    return codes[0] if len(codes) == 1 else None


def language_menu_buttons() -> list[dict[str, str]]:
    """One button per supported language, titled in its own name and script."""
    s = store()
    return [
        {"title": s.packs[c].meta.name, "payload": f'/inform{{"language_choice":"{c}"}}'}
        for c in s.registry.supported
    ]


def script_choices(script: str | None) -> list[str]:
    """Supported languages written in ``script`` (their own name's script), in menu order:
    what a message too short to tell is offered (BRIEF §3)."""
    s = store()
    return [c for c in s.registry.supported if script and script_of(s.packs[c].meta.name) == script]


def latin_word_languages(text: str) -> list[str]:
    """Supported languages whose parents type ``text`` in Latin letters as a short message.

    ``text`` (lower-cased, punctuation and emoji removed) or one of its words is in the
    language's ``parsing.yml`` ``latin_short_words`` ("salam" → ar, fa, prs, ps, so;
    "selam" → tr, ti, am). Empty for text in another script.
    """
    if script_of(text) != "LATIN":
        return []
    clean = " ".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())
    candidates = {clean, *clean.split()}
    s = store()
    return [c for c in s.registry.supported
            if candidates & {w.lower() for w in s.packs[c].parsing.latin_short_words}]


def confusable_with(code: str | None) -> list[str]:
    """``code`` and the languages the detector mixes it up with (registry ``confusable``)."""
    for group in store().registry.confusable:
        if code in group:
            return [code, *[c for c in group if c != code]]
    return [code] if code else []
#: The choice after a short message asks its question in at most this many of the
#: languages offered (one line each): "سلام" alone cannot tell Arabic from Pashto.
PROMPT_LANGUAGES = 4


def choice_prompt(codes: list[str]) -> str:
    """``utter_language_choice_short`` in each of the first :data:`PROMPT_LANGUAGES`
    distinct languages of ``codes`` (in menu order, the languages that type the word first), one line each: a parent
    who typed "سلام" is asked in Arabic, Persian, Dari and Pashto, not in a guess."""
    s = store()
    lines: list[str] = []
    for code in dict.fromkeys(c for c in codes if c in s.packs):
        text = s.packs[code].responses["utter_language_choice_short"].text
        if text not in lines:
            lines.append(text)
        if len(lines) == PROMPT_LANGUAGES:
            break
    return "\n".join(lines)


#: At most this many languages on one choice (a WhatsApp list holds 10 rows, one is "other").
MAX_CHOICES = 9
#: A first message with at most this many words is "too short to tell".
SHORT_MESSAGE_WORDS = 2


def language_buttons(codes: list[str], with_other: bool = True) -> list[dict[str, str]]:
    """Buttons choosing each language in ``codes`` (own name), plus "other language"."""
    s = store()
    seen = [c for c in dict.fromkeys(codes) if c in s.packs]
    buttons = [{"title": s.packs[c].meta.name, "payload": f'/inform{{"language_choice":"{c}"}}'} for c in seen]
    if with_other:
        ref = s.pack(None)
        buttons.append({"title": ref.label("menu", "other_language"), "payload": "/change_language"})
    return buttons


class ActionAskLanguageOk(Action):
    """The welcome and the language check, as a choice of languages (never a yes/no question).

    - a first message too short to tell (≤ 2 words: "salam", "ok", "ሰላም") gets the
      languages of its script to choose from, never a confident guess — a Latin-letter
      word that parents of another language type ("salam", "selam") adds that language;
    - otherwise the welcome says which language it will write in, with that language,
      Dutch and English as buttons (Persian and Dari: both, the detector mixes them up);
    - a language we do not support yet, or a message without letters (an emoji), gets
      the full language menu.
    The parent may also just go on writing: any answer confirms the language.
    """

    def name(self) -> str:
        return "action_ask_language_ok"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        s = store()
        msg = tracker.latest_message or {}
        detected = msg.get("language") or {}
        code, confidence = detected.get("code"), float(detected.get("confidence") or 0.0)
        text = msg.get("text") or ""
        current = tracker.get_slot("language")
        if tracker.get_slot("language_choice"):
            dispatcher.utter_message(response="utter_ask_language_ok",
                                     buttons=language_buttons([current, "nl", "en"]))
            return []
        if code not in s.registry.supported and code not in (None, "und") and confidence >= 0.5:
            dispatcher.utter_message(response="utter_ask_language_choice", buttons=language_menu_buttons())
            return []
        words = len(text.split())
        if text and not text.startswith("/") and words <= SHORT_MESSAGE_WORDS and not said_enough_before(tracker):
            script = script_of(text)
            # the languages that type this word in Latin letters first ("salam": Arabic,
            # Persian, Dari, Pashto, Somali), then the rest of the script's languages
            choices = list(dict.fromkeys(latin_word_languages(text) + script_choices(script)))[:MAX_CHOICES]
            if choices:
                dispatcher.utter_message(response="utter_language_choice_short", buttons=language_buttons(choices),
                                         text=choice_prompt(choices))
                return []
            if not any(ch.isalpha() for ch in text):
                # "😢", "👍", "?": no letters, no script to go by: every language, each in its own name
                dispatcher.utter_message(response="utter_ask_language_choice", buttons=language_menu_buttons())
                return []
        offer = confusable_with(current) + ["nl", "en"]
        dispatcher.utter_message(response="utter_ask_language_ok", buttons=language_buttons(offer))
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
        return [SlotSet("language_ok", True), SlotSet("language_choice", None)]
