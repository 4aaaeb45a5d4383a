"""Markup a voice must not read out, removed whatever the language: markdown, HTML and emoji.

LLMs write markdown even when told not to; Piper would say "asterisk" or "hash", or stumble over an emoji. Structural
lines (headings, list items, table rows) end in a full stop so the voice pauses between them.
"""

import html
import re

_CODE_BLOCK = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)  # code is not said
_FENCE = re.compile(r"^[ \t]*(?:```|~~~).*$", re.MULTILINE)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(?P<text>.*?)[ \t#]*$", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*(?:(?:[-*+\u2022\u25aa\u25cf\u00b7]|\d{1,2}[.)])[ \t]+)+(?P<text>.*)$", re.MULTILINE)
_TABLE_RULE = re.compile(r"^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|?)+[ \t]*$", re.MULTILINE)
_TABLE_ROW = re.compile(r"^[ \t]*\|(?P<cells>.*?)\|?[ \t]*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<url>[^)\s]*)[^)]*\)")
_GENERIC_LINK_TEXT = {"here", "click here", "this", "this link", "link", "this page"}
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_LINE_BREAK_TAG = re.compile(r"<(?:br|/p|/li|/h[1-6]|/div|/tr)\b[^>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_STRONG = re.compile(r"(\*\*|__|~~)(?=\S)(?P<inner>.+?)(?<=\S)\1")
_ASTERISK = re.compile(r"(?<![\w*])\*(?=[^\s*])(?P<inner>.+?)(?<=[^\s*])\*(?![\w*])")
_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(?P<inner>.+?)(?<=[^\s_])_(?![\w_])")
_CODE = re.compile(r"`+(?P<inner>[^`]+?)`+")
_STRAY = re.compile(r"\*{2,}|(?<!\s)\*|\*(?!\s)|`+|~~")  # a "*" between spaces is a multiplication
# Pictographs, dingbats, keycap and skin-tone parts, variation selectors and joiners, and the (c)/(R)/TM marks.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\ufe0e\ufe0f\u200d\u20e3\u00a9\u00ae\u2122"
    "\U000e0020-\U000e007f]+"
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_SPACES = re.compile(r"[ \t\r\n\u00a0\u2009\u202f]+")
_SPACE_BEFORE_COMMA = re.compile(r" +,")
_LINE_MARKS = frozenset("#>-*+|_`~\u2022\u25aa\u25cf\u00b7")
_TERMINAL = (".", "!", "?", ":", ";", ",")


def _finished(line: str) -> str:
    """A structural line ending in a full stop (or its own punctuation), so the voice pauses after it."""
    line = line.strip()
    return line if not line or line.endswith(_TERMINAL) else line + "."


def _lines(text: str) -> str:
    if "```" in text or "~~~" in text:
        text = _CODE_BLOCK.sub("", text)
        text = _FENCE.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _RULE.sub("", text)
    text = _QUOTE.sub("", text)
    text = _HEADING.sub(lambda m: _finished(m["text"]), text)
    text = _BULLET.sub(lambda m: _finished(m["text"]), text)
    return _TABLE_ROW.sub(lambda m: _finished(", ".join(c.strip() for c in m["cells"].split("|") if c.strip())), text)


def _link(match: re.Match[str]) -> str:
    # "Book [here](https://maplesalon.com/book)": the text alone would lose the address, so the address is said.
    return match["url"] if match["text"].strip().lower() in _GENERIC_LINK_TEXT else match["text"]


def without_markup(text: str) -> str:
    """Text without markdown, HTML tags and entities, or emoji; text without any is returned as it is."""
    original = text
    # Each rewrite runs only when its trigger is there: most sentences have none, and this runs for every sentence.
    if "<" in text:  # first: a tag can stand before a line's own markup ("<p>## Hours")
        text = _LINE_BREAK_TAG.sub(", ", text)
        text = _HTML_TAG.sub(" ", text)
    if "\n" in text or (text.lstrip()[:1] in _LINE_MARKS) or (text.lstrip()[:1].isdigit() and "." in text[:4]):
        paragraphs = [paragraph for paragraph in _PARAGRAPH_BREAK.split(_lines(text)) if paragraph.strip()]
        # A paragraph ends with a pause; the last keeps whatever ending it had.
        text = " ".join([*(_finished(paragraph) for paragraph in paragraphs[:-1]), *paragraphs[-1:]])
    if "](" in text:
        text = _IMAGE.sub(lambda m: m["alt"], text)
        text = _LINK.sub(_link, text)
    if "&" in text and _ENTITY.search(text):
        text = html.unescape(text)
    if "*" in text or "_" in text or "`" in text or "~~" in text:
        text = _STRONG.sub(lambda m: m["inner"], text)
        text = _ASTERISK.sub(lambda m: m["inner"], text)
        text = _UNDERSCORE.sub(lambda m: m["inner"], text)
        text = _CODE.sub(lambda m: m["inner"], text)
        text = _STRAY.sub(" ", text)
    if not text.isascii():
        text = _EMOJI.sub(" ", text)
    if text == original:
        return text
    # Spaces before other punctuation stay: French writes "Prix :".
    text = _SPACE_BEFORE_COMMA.sub(",", _SPACES.sub(" ", text))
    return text.strip(" ,")
