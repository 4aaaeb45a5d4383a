"""Reading knowledge passages: their sentences, the headings they sit under, their lists, and text fit to say.

Passages are chunks of uploaded documents as their parsers left them: markdown, tables, and PDF text, where a title
is a line of its own with no punctuation ("Cancellation Policy"), sentences are hard-wrapped, and a price list or
opening hours are short lines. A title is never said: it only tells which topic the lines under it answer. Chunks
overlap and are cut anywhere, so a passage may start or end in the middle of a sentence.
"""

import functools
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from vocalis.voice.responder.words import FUNCTION_WORDS, implied_terms, terms_of, terms_of_words, words_of

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(\*\*|__)(?P<text>[^*_]+?)\1\s*:?\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u00b7\u25aa\u2013]|\d{1,2}[.)])\s+")
_QUOTE = re.compile(r"^\s*>\s?")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# Page furniture a PDF's text keeps: "Page 1 of 2", "- 3 -", a bare page number.
_PAGE_MARK = re.compile(r"^(?:page\s+\d+(?:\s+of\s+\d+)?|\d+\s+of\s+\d+|-?\s*\d{1,3}\s*-?)$", re.IGNORECASE)
_DAY_MENTION = re.compile(r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b", re.IGNORECASE)
_SMALL_TITLE_WORDS = frozenset({"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with", "&"})

_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<url>[^)\s]+)[^)]*\)")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\"']+", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|~~|\*|`)(?P<inner>\S(?:.*?\S)?)\1")
_STRAY_SYMBOLS = re.compile(r"[*`~]+|(?<!\w)_+|_+(?!\w)")
_NUMBER_SIGN = re.compile(r"#\s?(?=\d)")
_TIME = r"\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)?"
_NUMBER_RANGE = re.compile(rf"(?<![\d\-])(?P<low>{_TIME})\s?[-\u2013]\s?(?P<high>{_TIME})(?![\d\-])", re.IGNORECASE)
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|(?:mon|tue|wed|thu|fri|sat|sun)"
_DAY_RANGE = re.compile(rf"\b(?P<low>{_DAY})\s?[-\u2013]\s?(?P<high>{_DAY})\b", re.IGNORECASE)
_EN_DASH = re.compile(r"(?<=\w)\s?\u2013\s?(?=\w)")
_DASH_PAUSE = re.compile(r"\s+[\u2013\u2014-]+\s+|\u2014")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+(?=[,.;:!?])")
_REPEATED_PUNCTUATION = re.compile(r"([,;:])[\s,;:]*(?=[,;:.!?])|\.{2,}|\u2026")
_GENERIC_LINK_TEXT = {"here", "click here", "this", "this link", "link", "this page"}
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]*_]*\s+")
_ABBREVIATIONS = {
    "e.g", "i.e", "mr", "mrs", "ms", "dr", "st", "vs", "etc", "approx", "a.m", "p.m", "inc", "ltd", "jr", "sr", "mt",
    "ext", "tel", "no",
}  # fmt: skip
# A line of a list (opening hours, a price list, contact details) is short and has no full stop.
_MAX_ITEM_WORDS = 10
_MAX_TITLE_WORDS = 8
_MAX_NAME_WORDS = 3


def _short_url(url: str) -> str:
    """A URL as someone would say it: the site, plus the first part of its path when that is a short word."""
    trailing = ""
    while url and url[-1] in ".,;:!?":
        trailing, url = url[-1] + trailing, url[:-1]
    address = re.sub(r"^(https?://)?(www\.)?", "", url, flags=re.IGNORECASE)
    host, _, path = address.partition("/")
    section = re.split(r"[/?#]", path)[0]
    spoken = f"{host}/{section}" if re.fullmatch(r"[a-zA-Z-]{3,20}", section) else host
    return spoken.lower() + trailing


def speakable(text: str) -> str:
    """Text with markdown, HTML, long URLs and symbols a voice would stumble on turned into plain words."""
    # Each rewrite runs only when its trigger character is there: most text has none, and this keeps a turn fast.
    if "&" in text:
        text = html.unescape(text)
    if "](" in text:
        text = _IMAGE.sub(lambda m: m["alt"], text)
        text = _LINK.sub(lambda m: _short_url(m["url"]) if m["text"].lower() in _GENERIC_LINK_TEXT else m["text"], text)
    if "://" in text or "www." in text.lower():
        text = _URL.sub(lambda m: _short_url(m[0]), text)
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    if any(symbol in text for symbol in "*_`~"):
        text = _EMPHASIS.sub(lambda m: m["inner"], text)
        text = _STRAY_SYMBOLS.sub(" ", text)
    if "#" in text:
        text = _NUMBER_SIGN.sub("number ", text)
    if any(dash in text for dash in "-\u2013\u2014"):
        text = _NUMBER_RANGE.sub(lambda m: f"{m['low']} to {m['high']}", text)
        text = _DAY_RANGE.sub(lambda m: f"{m['low']} to {m['high']}", text)
        text = _EN_DASH.sub(" to ", text)  # an en dash between words or numbers is a range
        text = _DASH_PAUSE.sub(", ", text)
    text = text.replace("&", " and ").replace("e.g.", "for example").replace("i.e.", "that is")
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCTUATION.sub("", text)
    text = _REPEATED_PUNCTUATION.sub(lambda m: m[1] or ".", text)
    return text.strip(" ,;:-")


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, not fooled by "a.m." or "Dr." or "$4.50"."""
    sentences: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        last_word = text[max(text.rfind(" ", start, end.start()) + 1, start) : end.start()].lower().lstrip("(\"'*_")
        following = text[end.end() : end.end() + 1]
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()) or following.islower():
            continue
        sentences.append(text[start : end.end()].strip())
        start = end.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


def finished(sentence: str) -> str:
    """A sentence ending in a full stop (or its own ! or ?), so the voice drops its pitch at the end."""
    sentence = sentence.rstrip(" ,;:-")
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def is_title(sentence: str) -> bool:
    """A few words with no function word ("Returns policy.") name a topic rather than say something."""
    words = words_of(sentence)
    return 0 < len(words) <= 4 and not any(word in FUNCTION_WORDS or word.isdigit() for word in words)


def _is_title_line(line: str) -> bool:
    """A PDF title: a short line without punctuation, digits or days, in Title Case or capitals ("Opening Hours",
    "BRIGHT SMILE DENTAL - FAQ"), or a few words with no function word ("Opening hours")."""
    if not line[0].isupper() or line[-1] in ".!?,;:" or any(c.isdigit() or c in "@$%" for c in line):
        return False
    words = [word for word in re.split(r"[\s/-]+", line) if word]
    if not words or len(words) > _MAX_TITLE_WORDS or _DAY_MENTION.search(line):
        return False
    title_case = all(word[0].isupper() or word.lower() in _SMALL_TITLE_WORDS for word in words if word[0].isalpha())
    return title_case or is_title(line)


@dataclass(frozen=True)
class Piece:
    """A sentence of a passage (or a line of one of its lists), with what it can match."""

    text: str  # as written: only the few pieces picked are cleaned for speech
    key: str  # its words, lower case: the same sentence in two overlapping chunks has the same key
    own: frozenset[str]  # stems of its words, and what it states without the word (a price, hours)
    heading: frozenset[str]  # stems of the title it sits under
    group: int | None  # the list it belongs to, within its passage: a list's lines can be said together
    partial: bool  # the chunk cut it: its start or end is missing


def _continues(paragraph: list[str], line: str) -> bool:
    """Hard-wrapped text (PDFs, plain text) continues a sentence on the next line; a list without bullets does not."""
    if not paragraph:
        return False
    previous = paragraph[-1]
    last_word = previous.rsplit(" ", 1)[-1].lower()
    return line[0].islower() or previous.endswith((",", ";")) or last_word in FUNCTION_WORDS


@functools.lru_cache(maxsize=2048)  # a call's turns retrieve the same few chunks again and again
def read_passage(passage: str) -> tuple[Piece, ...]:
    """The pieces of a passage in reading order; titles and page furniture are context, never pieces."""
    pieces = list(_pieces(passage))
    if pieces and pieces[-1].text[-1] not in ".!?":
        last = pieces[-1]  # the chunk may end in the middle of it
        pieces[-1] = Piece(last.text, last.key, last.own, last.heading, last.group, partial=True)
    return tuple(pieces)


def _pieces(passage: str) -> Iterator[Piece]:
    heading: frozenset[str] = frozenset()
    paragraph: list[str] = []
    group: int | None = None  # the open list, while its lines follow each other
    groups = 0
    first = True

    def new_group() -> int:
        nonlocal group, groups
        if group is None:
            groups += 1
            group = groups
        return group

    def flush() -> Iterator[Piece]:
        nonlocal group, first
        if not paragraph:
            return
        text = " ".join(paragraph)
        starts_cut = first and not (text[0].isupper() or text[0].isdigit() or text[0] in "$£€(\"'")
        one_line = len(paragraph) == 1
        first = False
        paragraph.clear()
        if one_line and len(text.split()) <= _MAX_ITEM_WORDS and text[-1] not in ".!?" and not starts_cut:
            yield _piece(text, heading, new_group())
            return
        group = None
        sentences = split_sentences(text)
        local_heading = heading
        if len(sentences) > 1 and is_title(sentences[0]):
            local_heading = heading | terms_of(sentences.pop(0))  # "Returns policy. You can return..."
        for index, sentence in enumerate(sentences):
            yield _piece(sentence, local_heading, None, partial=index == 0 and starts_cut)

    lines = [_QUOTE.sub("", raw).strip() for raw in passage.splitlines()]
    names = _listed_names(lines)
    for index, line in enumerate(lines):
        if not line or _FENCE.match(line) or _TABLE_RULE.match(line):
            yield from flush()
            continue
        if _PAGE_MARK.match(line):
            continue  # a page ends; the sentence may go on on the next one
        title = _HEADING.match(line) or _BOLD_LINE.match(line)
        table_header = line.startswith("|") and index + 1 < len(lines) and _TABLE_RULE.match(lines[index + 1])
        if title or table_header or (line.endswith(":") and len(line.split()) <= 6):
            yield from flush()
            heading = (
                (heading | terms_of(line)) if table_header else frozenset(terms_of(title["text"] if title else line))
            )
            group = None
            first = False
            continue
        if _BULLET.match(line) or line.startswith("|"):
            yield from flush()
            cells = [cell for cell in (cell.strip() for cell in _BULLET.sub("", line).strip("|").split("|")) if cell]
            # A two-column row reads as "Haircut: $30"; wider rows as a list.
            yield _piece((": " if len(cells) == 2 and line.startswith("|") else ", ").join(cells), heading, new_group())
            first = False
            continue
        if _continues(paragraph, line):
            paragraph.append(line)
            continue
        if _is_title_line(line) and index not in names:
            yield from flush()
            heading = frozenset(terms_of(line))
            group = None
            first = False
            continue
        yield from flush()
        paragraph.append(line)
    yield from flush()


def _listed_names(lines: list[str]) -> set[int]:
    """The lines that look like titles but list names under one ("Insurance", then "Aetna", "Delta Dental",
    "MetLife" on lines of their own): three or more short ones in a row after the title."""
    listed: set[int] = set()
    run: list[int] = []
    for index, line in enumerate([*lines, "."]):
        if line and _PAGE_MARK.match(line):
            continue
        if line and line[-1] not in ".!?" and _is_title_line(line):
            run.append(index)
            continue
        items = run[1:]
        if len(items) >= 3 and all(len(lines[item].split()) <= _MAX_NAME_WORDS for item in items):
            listed.update(items)
        run = []
    return listed


def _piece(text: str, heading: frozenset[str], group: int | None, partial: bool = False) -> Piece:
    words = words_of(text)
    return Piece(text, " ".join(words), frozenset(terms_of_words(words) | implied_terms(text)), heading, group, partial)
