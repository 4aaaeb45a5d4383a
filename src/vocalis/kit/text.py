"""Text taken from users for display (names, titles, file names)."""

import unicodedata

from pydantic import AfterValidator

# Control (Cc), format (Cf: bidi overrides such as U+202E, zero-width and invisible characters), surrogate (Cs) and
# line/paragraph separator (Zl, Zp) characters: they hide or reorder what a reader sees, or break lines and logs.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# The joiners are format characters, but normal text needs them (Persian and Indic words, emoji sequences).
_JOINERS = frozenset({"\u200c", "\u200d"})


def display_text(text: str) -> str:
    """`text` without control, format and separator characters (whitespace among them becomes a space), trimmed."""
    kept = []
    for ch in text:
        if ch in _JOINERS or unicodedata.category(ch) not in _HIDDEN:
            kept.append(ch)
        elif ch.isspace():
            kept.append(" ")
    return "".join(kept).strip()


# For schema fields shown to people: `Annotated[str, DisplayText, StringConstraints(...)]`.
DisplayText = AfterValidator(display_text)
