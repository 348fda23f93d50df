"""The conversation-language rule (BRIEF section 7: short messages carry too little signal).

Pure function, used by the ``action_set_language`` custom slot mapping.
"""

from __future__ import annotations

#: Minimum fastText confidence (0..1) to switch an ongoing conversation's language.
SWITCH_CONFIDENCE = 0.85
#: Minimum number of words in a message that may switch the language.
SWITCH_MIN_WORDS = 3


def choose_language(
    *,
    current: str | None,
    detected: str | None,
    confidence: float,
    text: str,
    choice: str | None,
    supported: list[str],
    default: str,
) -> str:
    """Decide the conversation language after one message.

    1. a language picked from the menu (``choice``) wins;
    2. no language yet → the detected one if supported, else ``default``;
    3. a long (≥ 3 words), confident (≥ 0.85) message in another supported
       language switches; everything else ("ok", "salam", "👍", a gemeente name)
       keeps the current language.

    Args:
        current: the conversation's language so far, or None.
        detected: the code fastText gave this message (may be unsupported or "und").
        confidence: fastText's probability for ``detected``, 0..1.
        text: the message text.
        choice: a language code chosen from the menu, or None.
        supported: codes the assistant can chat in.
        default: the language used when nothing better is known.

    Returns:
        A code from ``supported``.
    """
    if choice in supported:
        return choice  # type: ignore[return-value]
    if current not in supported:
        return detected if detected in supported else default  # type: ignore[return-value]
    words = len(text.split())
    if (
        detected in supported
        and detected != current
        and confidence >= SWITCH_CONFIDENCE
        and words >= SWITCH_MIN_WORDS
        and not text.startswith("/")
    ):
        return detected  # type: ignore[return-value]
    return current  # type: ignore[return-value]
