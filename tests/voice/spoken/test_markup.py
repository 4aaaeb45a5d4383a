"""Markup removed whatever the language: the voice must not say "asterisk", "hash" or an emoji's name."""

import pytest

from vocalis.voice.spoken.markup import without_markup


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("## Opening hours", "Opening hours."),
        ("# Prices #", "Prices."),
        ("- Haircut: 30\n- Beard: 15", "Haircut: 30. Beard: 15."),
        ("* one\n+ two\n\u2022 three", "one. two. three."),
        ("1. Book online\n2) Arrive early", "Book online. Arrive early."),
        ("| Service | Price |\n|---|:---:|\n| Haircut | 30 |", "Service, Price. Haircut, 30."),
        ("> Cash only.", "Cash only."),
        ("Intro\n\n---\n\nMore", "Intro. More"),
        ("Run this:\n```\nrm -rf /\n```\nDone.", "Run this: Done."),
        (
            "**Bold**, __strong__, *italic*, _emphasis_, ~~gone~~ and `code`.",
            "Bold, strong, italic, emphasis, gone and code.",
        ),
        ("[Book online](https://example.com/book) now.", "Book online now."),
        ("Book [here](https://example.com/book).", "Book https://example.com/book."),
        ("![Our salon](salon.png) is downtown.", "Our salon is downtown."),
        ("<p>Open <b>daily</b></p>", "Open daily"),
        ("Line<br>break", "Line, break"),
        ("Fish &amp; chips &lt;3", "Fish & chips <3"),
        ("Great \U0001f44d\U0001f3fd see you! \u2764\ufe0f", "Great see you!"),
        ("Acme\u00ae Cuts\u2122", "Acme Cuts"),
        ("First paragraph\n\nSecond one", "First paragraph. Second one"),
    ],
)
def test_markup_is_removed(written: str, spoken: str) -> None:
    assert without_markup(written) == spoken


@pytest.mark.parametrize(
    "text",
    [
        "We open at nine.",
        "Write to jane_doe@example.com or snake_case_name.",
        "Temperatures of 5 \u00b0C, prices like 3 \u20ac, and 2 * 3.",
        "Prix : 95 $",  # French spacing before a colon stays
        "3.5 stars, 2024. A year.",
        "Rates are 5% \u2014 low.",
    ],
)
def test_text_without_markup_is_left_alone(text: str) -> None:
    assert without_markup(text) == text
