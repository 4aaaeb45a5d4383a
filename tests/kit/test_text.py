import pytest

from vocalis.kit.text import display_text


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("invoice\u202eexe.txt", "invoiceexe.txt"),  # right-to-left override
        ("\u2066report\u2069 \u200f2024\u200e", "report 2024"),  # isolates and marks
        ("zero\u200bwidth\ufeff soft\u00adhyphen", "zerowidth softhyphen"),
        ("bell\x07 and\x7f delete\x9b", "bell and delete"),
        ("tab\tnew\nline\u2028end", "tab new line end"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("  Prix été 2024 — Ünïcödé 東京 مرحبا  ", "Prix été 2024 — Ünïcödé 東京 مرحبا"),
        ("\U0001f469\u200d\U0001f4bb notes", "\U0001f469\u200d\U0001f4bb notes"),  # the joiner stays
        # Persian "I want" keeps its non-joiner.
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
    ],
)
def test_display_text_drops_hidden_characters_and_keeps_normal_text(given: str, shown: str) -> None:
    assert display_text(given) == shown
