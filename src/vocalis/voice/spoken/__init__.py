"""Written text turned into what the voice should say, one module of rules per language.

The transcript keeps the written form ("$95"); only the speech synthesiser gets the spoken one ("ninety-five
dollars"). Markup (markdown, HTML, emoji) is removed whatever the language; a language without its own module gets
only that.
"""

from collections.abc import Callable

from vocalis.voice.spoken import english
from vocalis.voice.spoken.markup import without_markup

_LANGUAGES: dict[str, Callable[[str], str]] = {"en": english.for_speech}


def base_language(language: str) -> str:
    """ "en-US", "en_GB", "EN" -> "en"."""
    return language.replace("_", "-").split("-")[0].lower()


def for_speech(text: str, language: str) -> str:
    """`text` as the voice should say it in `language` (a code such as "en" or "en-US"); given its own output, it
    returns it unchanged."""
    rules = _LANGUAGES.get(base_language(language))
    spoken = _one_pass(text, rules)
    # One rule can leave what another reads ("Sept ." tidied into "Sept."): a second pass over a changed sentence
    # settles it. It costs little: the first pass left words, which most rules skip on their trigger.
    return spoken if spoken == text else _one_pass(spoken, rules)


def _one_pass(text: str, rules: Callable[[str], str] | None) -> str:
    text = without_markup(text)
    return rules(text) if rules is not None else text


__all__ = ["base_language", "for_speech"]
