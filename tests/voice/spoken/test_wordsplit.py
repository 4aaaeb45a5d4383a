"""Joined words in web addresses split apart only when every piece is a common word."""

import pytest

from vocalis.voice.spoken.wordsplit import split_words


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("maplesalon", ["maple", "salon"]),
        ("thecutbarbershop", ["the", "cut", "barbershop"]),
        ("brightsmiledental", ["bright", "smile", "dental"]),
        ("hairbyjen", ["hair", "by", "jen"]),
        # Brands the word list does not know stay whole rather than cut into rare pieces ("lumi ere", "vocal is").
        ("lumiere", ["lumiere"]),
        ("vocalis", ["vocalis"]),
        ("acmehvac", ["acmehvac"]),
        ("facebook", ["facebook"]),
        # Short labels are words already; digits are not split.
        ("info", ["info"]),
        ("salon24", ["salon24"]),
    ],
)
def test_joined_words_split_only_into_common_words(label: str, words: list[str]) -> None:
    assert split_words(label) == words
