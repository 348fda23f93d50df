"""The conversation-language rule (BRIEF section 7: short messages carry too little signal).

Pure function, used by the ``action_set_language`` custom slot mapping.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Iterable

#: Minimum fastText confidence (0..1) to switch an ongoing conversation's language.
SWITCH_CONFIDENCE = 0.85
#: Minimum number of words in a message that may switch the language.
SWITCH_MIN_WORDS = 3
#: Minimum number of words to switch away from a language the parent chose (typed or
#: tapped), or from a non-Latin-script language to one in Latin letters (Finglish
#: "na merci, zakhire nakonid" is Persian; "بلی، مشکل نیست" from a Pashto father who chose
#: Pashto is a Dari word in his Pashto).
SWITCH_MIN_WORDS_STICKY = 6
#: Minimum confidence for the first message to set the language ("salam" is too unsure).
FIRST_CONFIDENCE = 0.7
#: A first message of at most this many words does not set the language (it is asked).
FIRST_MIN_WORDS = 2
#: A digit inside or at the edge of a Latin word ("ma3lumati", "la2", "7abibi"), not a number.
_DIGIT_LETTERS = re.compile(r"[a-z][2356789][a-z]|\b[2356789][a-z]{2,}|[a-z]{2,}[2356789]\b")


def script_of(text: str) -> str | None:
    """The writing system most letters of ``text`` belong to ("ARABIC", "ETHIOPIC", "LATIN", ...).

    Uses the first word of each letter's Unicode character name; None without letters.
    """
    counts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            counts[unicodedata.name(ch, "UNKNOWN").split(" ")[0]] += 1
    return counts.most_common(1)[0][0] if counts else None


def has_script(text: str, script: str) -> bool:
    """True when ``text`` has at least one letter of ``script`` ("ARABIC", "LATIN", ...)."""
    return any(ch.isalpha() and unicodedata.name(ch, "").startswith(script + " ") for ch in text)


def choose_language(
    *,
    current: str | None,
    detected: str | None,
    confidence: float,
    text: str,
    choice: str | None,
    supported: list[str],
    default: str,
    scripts: dict[str, str] | None = None,
    confirmed: bool = True,
    hint: str | None = None,
    confusable: list[list[str]] | None = None,
    digit_letter_languages: Iterable[str] = (),
    chosen: bool = False,
) -> str:
    """Decide the conversation language after one message.

    1. a language picked from the menu (``choice``) wins;
    2. no language yet, or only a guess nobody confirmed (``confirmed`` false: the first
       message was too short and the parent was offered a choice) → a short message
       (≤ 2 words) gives ``hint`` (the one language whose parents type its words in
       Latin letters: "hallo", "ja" → nl) or keeps the guess; a longer one gives the
       detected language if supported and confident (≥ 0.7); else ``default``;
    3. a long (≥ 3 words; ≥ 6 when ``chosen`` or into Latin letters from another
       script), confident (≥ 0.85) message in another supported
       language, written in that language's script and (when the current language
       has a non-Latin script) without letters of the current script, switches; everything else
       ("ok", "salam", "👍", a gemeente name, Tigrinya with Dutch words in it)
       keeps the current language.

    Args:
        current: the conversation's language so far, or None.
        detected: the code fastText gave this message (may be unsupported or "und").
        confidence: fastText's probability for ``detected``, 0..1.
        text: the message text.
        choice: a language code chosen from the menu, or None.
        supported: codes the assistant can chat in.
        default: the language used when nothing better is known.
        scripts: ``{code: script}`` (see :func:`script_of`); a switch needs the
            message's script to match the new language's.
        confirmed: False while ``current`` is only the guess made after a message too
            short to tell (the welcome with its language choice was not shown yet).
        hint: a supported language the message's words point to alone, or None.
        confusable: groups of languages the detector cannot tell apart (registry
            ``confusable``, e.g. fa and prs): within a group a message never switches;
            only the parent's choice does.
        digit_letter_languages: languages written in Latin letters with digits (registry
            ``digit_letter_languages``; Arabizi): such a message keeps them.
        chosen: the parent chose ``current`` (typed its name or tapped it): a switch then
            needs :data:`SWITCH_MIN_WORDS_STICKY` words, as does a switch from a
            non-Latin-script language to a Latin-script one (transliteration).

    Returns:
        A code from ``supported``.
    """
    if choice in supported:
        return choice  # type: ignore[return-value]
    if current not in supported or not confirmed:
        guess = current if current in supported else default
        if len(text.split()) <= FIRST_MIN_WORDS and not text.startswith("/"):
            # "salam", "merci", "ok": too short to tell; the welcome asks
            return hint if hint in supported else guess  # type: ignore[return-value]
        if detected in supported and confidence >= FIRST_CONFIDENCE:
            return detected  # type: ignore[return-value]
        return guess  # type: ignore[return-value]
    words = len(text.split())
    if current in digit_letter_languages and _DIGIT_LETTERS.search(text.lower()):
        return current  # type: ignore[return-value]  # Arabizi ("imsa7 kel ma3lumati") read as Somali stays Arabic
    same_script = True
    new_script, cur_script = (scripts or {}).get(detected or ""), (scripts or {}).get(current or "")
    sticky = chosen or (cur_script not in (None, "", "LATIN") and new_script == "LATIN")
    if scripts:
        if new_script and not has_script(text, new_script):
            same_script = False  # e.g. Arabizi: Arabic in Latin letters does not switch to Arabic script
        if cur_script not in (None, "LATIN", new_script) and has_script(text, cur_script):
            same_script = False  # Ge'ez or Arabic text with Dutch words mixed in stays
    if any(detected in group and current in group for group in confusable or []):
        return current  # type: ignore[return-value]  # Dari read as Persian: the parent chose Dari
    if (
        detected in supported
        and detected != current
        and confidence >= SWITCH_CONFIDENCE
        and words >= (SWITCH_MIN_WORDS_STICKY if sticky else SWITCH_MIN_WORDS)
        and same_script
        and not text.startswith("/")
    ):
        return detected  # type: ignore[return-value]
    return current  # type: ignore[return-value]
