"""Unicode bidi isolation for right-to-left texts.

When an Arabic, Persian or Pashto sentence contains Latin words or numbers
("bel \u2068112\u2069", "de gemeente Utrecht"), the Unicode Bidirectional Algorithm
(UAX #9) can reorder neighbouring punctuation and digits. Wrapping each
left-to-right run in FIRST STRONG ISOLATE (U+2068) ... POP DIRECTIONAL ISOLATE
(U+2069), as UAX #9 section 2.7 recommends for embedded text, keeps phone numbers
such as 0800-2000 and names such as "Veilig Thuis" intact. Translators need not
type these invisible characters: the content loader adds them.
"""

from __future__ import annotations

import re

FSI = "\u2068"
PDI = "\u2069"

# A left-to-right run: starts and ends with a Latin letter, a digit or a {placeholder};
# may contain spaces, hyphens, dots, slashes, colons, apostrophes and + inside.
_LTR_RUN = re.compile(
    r"(?:\{[a-z_]+\}|[A-Za-z0-9\u00C0-\u024F+])"
    r"(?:[A-Za-z0-9\u00C0-\u024F\-./:'’ +]*(?:\{[a-z_]+\}|[A-Za-z0-9\u00C0-\u024F]))?"
)


def isolate_ltr_runs(text: str) -> str:
    """Wrap each left-to-right run of ``text`` in FSI ... PDI.

    Runs already inside an isolate are left alone, so the function is idempotent.

    Args:
        text: a right-to-left text, possibly with Latin words, digits, placeholders.

    Returns:
        The text with every left-to-right run isolated.
    """
    out: list[str] = []
    depth = 0
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == FSI:
            depth += 1
        elif ch == PDI:
            depth = max(0, depth - 1)
        if depth == 0:
            m = _LTR_RUN.match(text, pos)
            if m:
                out.append(FSI + m.group(0) + PDI)
                pos = m.end()
                continue
        out.append(ch)
        pos += 1
    return "".join(out)


def strip_isolates(text: str) -> str:
    """``text`` without FSI/PDI characters (for comparisons and logs)."""
    return text.replace(FSI, "").replace(PDI, "")
