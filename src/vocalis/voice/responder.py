"""The offline default thinker: answers a caller from the retrieved knowledge passages, without generating text.

It picks the passage sentences that best match the caller's latest words (content-word overlap with light stemming,
rarer words counting more), cleans them for speech and streams them sentence by sentence. Greetings, thanks and
goodbyes get short fixed lines; anything the passages do not cover gets a polite fallback.
"""

import functools
import html
import math
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from vocalis.voice.thinking import EndCall, Prompt, TokenUsage

GREETING = "Hello! How can I help you today?"
GOODBYE = "Thank you for calling. Goodbye!"
YOU_ARE_WELCOME = "You're welcome! Is there anything else I can help with?"
ANYTHING_ELSE = "Is there anything else I can help with?"
NOT_HEARD = "Sorry, I didn't catch that. Could you say it again?"
FALLBACK = "I'm sorry, I don't have information about that. Is there anything else I can help with?"

# A sentence is an answer only when it covers this share of the question's (weighted) content words.
MIN_SCORE = 0.35
# Further sentences must score at least this share of the best one, so a strong answer is not diluted.
RELATIVE_SCORE = 0.6

# --- what the caller said

_GREETING_WORDS = {"hi", "hello", "hey", "hiya", "howdy", "greetings", "morning", "afternoon", "evening"}
_THANKS_WORDS = {"thanks", "thank", "cheers", "appreciate", "appreciated"}
_ACK_WORDS = {
    "ok", "okay", "yes", "yeah", "yep", "sure", "right", "alright", "great", "cool", "perfect", "fine", "got", "see",
    "understood", "good", "nice", "awesome", "wonderful", "excellent", "lovely", "brilliant", "i", "it", "that's",
}  # fmt: skip
# Words that may pad a greeting, thanks or acknowledgement without turning it into a question.
_PADDING = {
    "um", "uh", "er", "oh", "so", "well", "there", "you", "very", "much", "a", "lot", "how", "are", "is", "anyone",
    "doing", "today", "this", "that", "all", "and", "again", "for", "your", "help", "the", "info", "information",
}  # fmt: skip
# Said without a question mark, these end a conversation on any agent (the agent's own phrases are added to them).
_BUILTIN_GOODBYES = (
    "bye", "goodbye", "good bye", "bye bye", "farewell", "see you", "see ya", "talk to you later", "have a nice day",
    "have a good day", "have a great day", "that's all", "that is all", "that's everything", "nothing else",
)  # fmt: skip

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[0-9]+")


def _words(text: str) -> list[str]:
    """Lower-case words and numbers; contractions stay whole ("that's")."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _says_phrase(words: list[str], phrase: str) -> bool:
    """Whether the phrase occurs as whole words, ignoring case and punctuation."""
    wanted = _words(phrase)
    if not wanted:
        return False
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


def _only(words: list[str], required: set[str], allowed: set[str]) -> bool:
    """Whether the utterance has one of the required words and nothing beyond the allowed ones."""
    return any(word in required for word in words) and all(word in required or word in allowed for word in words)


# --- matching

_FUNCTION_WORDS = {
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "anyone", "anything", "are", "as", "at",
    "be", "because", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "done",
    "each", "else", "even", "ever", "every", "for", "from", "get", "gets", "getting", "give", "go", "going", "got",
    "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it",
    "its", "just", "know", "let", "like", "look", "looking", "me", "more", "most", "much", "many", "my", "need", "no",
    "not", "now", "of", "off", "on", "one", "only", "or", "other", "our", "out", "over", "please", "really", "say",
    "she", "should", "so", "some", "something", "still", "such", "tell", "than", "thank", "thanks", "that", "the",
    "their", "them", "then", "there", "these", "they", "thing", "things", "this", "those", "to", "too", "up", "us",
    "very", "want", "was", "way", "we", "well", "were", "what", "when", "where", "which", "while", "who", "whom",
    "whose", "why", "will", "with", "would", "yes", "yet", "you", "your", "yours", "hi", "hello", "hey", "okay", "ok",
    "um", "uh", "oh", "don", "doesn", "didn", "isn", "aren", "wasn", "won", "wouldn", "couldn", "can't", "cannot",
}  # fmt: skip
# Words callers wrap a question in that say nothing about its topic.
_QUESTION_PADDING = {
    "wonder", "wondering", "question", "ask", "asking", "help", "info", "information", "detail", "details", "policy",
    "policies", "time", "possible", "able", "maybe", "actually", "kind", "sort", "guys", "someone", "long", "take",
    "takes", "bring", "offer", "provide", "available", "allowed", "allow",
}  # fmt: skip
_STOP_WORDS = _FUNCTION_WORDS | _QUESTION_PADDING


@functools.lru_cache(maxsize=65536)  # callers and documents reuse a small vocabulary
def _stem(word: str) -> str:
    """A light suffix stripper: enough to meet "opening"/"opens"/"opened" and "prices"/"pricing" on one stem."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "est", "ed", "ly", "er", "y", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # "shipp" (from shipping) -> "ship"
    return word


def _terms(text: str) -> set[str]:
    """The stems of the content words of a text."""
    terms = set()
    for word in _words(text):
        word = word.split("'")[0]
        if word not in _STOP_WORDS and (len(word) > 1 or word.isdigit()):
            terms.add(_stem(word))
    return terms


def _related() -> dict[str, frozenset[str]]:
    """Question stems that should also match other stems: callers and documents rarely use the same word."""
    both_ways = [
        ("price", "prices", "cost", "costs", "fee", "fees", "charge", "pricing", "rate", "rates"),
        ("hours", "open", "opening", "close", "closing", "closed"),
        ("refund", "return", "exchange"),
        ("delivery", "deliver", "ship", "shipping", "postage"),
        ("book", "booking", "appointment", "reservation", "reserve"),
        ("cancel", "cancellation"),
        ("address", "located", "location", "directions"),
        ("phone", "telephone", "contact", "call"),
        ("parking", "car"),
    ]
    one_way = {"weekend": ("saturday", "sunday"), "weekday": ("monday", "tuesday", "wednesday", "thursday", "friday")}
    related: dict[str, set[str]] = {}
    for group in both_ways:
        stems = {_stem(word) for word in group}
        for stem in stems:
            related.setdefault(stem, set()).update(stems)
    for word, others in one_way.items():
        related.setdefault(_stem(word), set()).update(_stem(other) for other in others)
    return {stem: frozenset(others) for stem, others in related.items()}


_RELATED = _related()

# --- reading passages and cleaning them for speech

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(\*\*|__)(?P<text>[^*_]+?)\1\s*:?\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u00b7\u25aa\u2013]|\d{1,2}[.)])\s+")
_QUOTE = re.compile(r"^\s*>\s?")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
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
    "ext", "tel",
}  # fmt: skip


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


def _speakable(text: str) -> str:
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


def _split_sentences(text: str) -> list[str]:
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


def _finished(sentence: str) -> str:
    """A sentence ending in a full stop (or its own ! or ?), so the voice drops its pitch at the end."""
    sentence = sentence.rstrip(" ,;:-")
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def _shorten(sentence: str, max_words: int) -> str:
    """A sentence cut to max_words, at a clause boundary when there is one in its second half."""
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    cut = " ".join(words[:max_words])
    boundary = max(cut.rfind(", "), cut.rfind("; "), cut.rfind(": "))
    if boundary > len(cut) // 2:
        cut = cut[:boundary]
    return _finished(cut)


def _is_title(sentence: str) -> bool:
    """A few words with no function word ("Returns policy.") name a topic rather than say something."""
    words = _words(sentence)
    return 0 < len(words) <= 4 and not any(word in _FUNCTION_WORDS or word.isdigit() for word in words)


@dataclass(frozen=True)
class _Sentence:
    text: str  # as written: only the few sentences picked are cleaned for speech
    terms: frozenset[str]  # its own stems plus those of the heading it sits under
    rank: int  # the passage it came from (0 = best)
    position: int  # across all passages, so picked sentences are read in document order


def _units(passage: str) -> Iterator[tuple[str, frozenset[str]]]:
    """(text, heading terms) for each paragraph, list item or table row of a passage; headings are context only."""
    heading: frozenset[str] = frozenset()
    paragraph: list[str] = []

    def flush() -> Iterator[tuple[str, frozenset[str]]]:
        if paragraph:
            yield " ".join(paragraph), heading
            paragraph.clear()

    lines = [_QUOTE.sub("", raw).strip() for raw in passage.splitlines()]
    for index, line in enumerate(lines):
        if not line or _FENCE.match(line) or _TABLE_RULE.match(line):
            yield from flush()
            continue
        title = _HEADING.match(line) or _BOLD_LINE.match(line)
        table_header = line.startswith("|") and index + 1 < len(lines) and _TABLE_RULE.match(lines[index + 1])
        if title or table_header or (line.endswith(":") and len(line.split()) <= 6):
            yield from flush()
            heading = (heading | _terms(line)) if table_header else frozenset(_terms(title["text"] if title else line))
            continue
        if _BULLET.match(line) or line.startswith("|"):
            yield from flush()
            cells = [cell for cell in (cell.strip() for cell in _BULLET.sub("", line).strip("|").split("|")) if cell]
            # A two-column row reads as "Haircut: $30"; wider rows as a list.
            yield (": " if len(cells) == 2 and line.startswith("|") else ", ").join(cells), heading
            continue
        # Hard-wrapped text (PDFs, plain text) continues a sentence on the next line; a list without bullets does not.
        previous = paragraph[-1] if paragraph else ""
        last_word = previous.rsplit(" ", 1)[-1].lower()
        continues = line[0].islower() or previous.endswith((",", ";")) or last_word in _FUNCTION_WORDS
        if paragraph and not continues:
            yield from flush()
        paragraph.append(line)
    yield from flush()


def _sentences(passages: list[str]) -> list[_Sentence]:
    """Every distinct sentence of the passages, with the terms it can match."""
    sentences: list[_Sentence] = []
    seen: set[str] = set()  # neighbouring chunks overlap, so the same sentence may come twice
    for rank, passage in enumerate(passages):
        for unit, heading in _units(passage):
            texts = _split_sentences(unit)
            if len(texts) > 1 and _is_title(texts[0]):
                heading = heading | _terms(texts.pop(0))  # "Returns policy. You can return..." opens with a title
            for text in texts:
                key = " ".join(_words(text))
                if not key or key in seen:
                    continue
                seen.add(key)
                sentences.append(_Sentence(text, frozenset(_terms(text)) | heading, rank, len(sentences)))
    return sentences


def answer(question: str, passages: list[str], max_sentences: int = 3, max_words: int = 50) -> list[str]:
    """The passage sentences that best answer the question, in reading order; empty when none covers it."""
    query = _terms(question)
    sentences = _sentences(passages)
    if not query or not sentences:
        return []
    alternatives = {term: _RELATED.get(term, frozenset()) | {term} for term in query}
    # Rarer words say more about what the caller wants; a word no sentence has weighs the most, so a question about
    # something the knowledge never mentions falls below the threshold instead of matching on its common words.
    weights = {}
    for term, alike in alternatives.items():
        frequency = sum(1 for sentence in sentences if alike & sentence.terms)
        weights[term] = 1.0 + math.log((len(sentences) + 1) / (frequency + 1))
    total = sum(weights.values())

    def score(sentence: _Sentence) -> float:
        covered = sum(weights[term] for term, alike in alternatives.items() if alike & sentence.terms)
        return covered / total / (1.0 + 0.05 * sentence.rank)  # passages come ranked best-first

    ranked = sorted(((score(s), s) for s in sentences), key=lambda pair: (-pair[0], pair[1].position))
    best = ranked[0][0]
    if best < MIN_SCORE:
        return []
    picked: list[tuple[int, str]] = []  # (position, text to say)
    words = 0
    for value, sentence in ranked:
        if value < RELATIVE_SCORE * best or len(picked) == max_sentences:
            break
        text = _finished(_speakable(sentence.text))
        length = len(text.split())
        if not _words(text):
            continue  # nothing left once cleaned (an image, a bare link)
        if not picked:
            text, length = _shorten(text, max_words), min(length, max_words)
        elif words + length > max_words:
            continue
        picked.append((sentence.position, text))
        words += length
    return [text for _, text in sorted(picked)]


# --- the thinker


class ExtractiveResponder:
    """Answers from the retrieved passages alone: no model, no tokens, a few milliseconds per turn."""

    def __init__(self, max_sentences: int = 3, max_words: int = 50) -> None:
        self.usage = TokenUsage()  # stays zero: nothing is generated
        self.max_sentences = max_sentences
        self.max_words = max_words

    async def reply(self, prompt: Prompt) -> AsyncIterator[str | EndCall]:
        """Stream a greeting, a goodbye then EndCall, the best passage sentences one by one, or a fallback."""
        said = next((m.content for m in reversed(prompt.messages) if m.role == "user"), "")
        words = _words(said)
        is_question = "?" in said
        goodbyes = [*prompt.end_call_phrases, *([] if is_question else _BUILTIN_GOODBYES)]
        if any(_says_phrase(words, phrase) for phrase in goodbyes):
            yield GOODBYE
            yield EndCall("caller_goodbye")
            return
        if not words:
            yield NOT_HEARD
        elif _only(words, _GREETING_WORDS, _PADDING | _ACK_WORDS):
            daytime = next((word for word in words if word in ("morning", "afternoon", "evening")), None)
            yield f"Good {daytime}! How can I help you today?" if daytime else GREETING
        elif _only(words, _THANKS_WORDS, _PADDING | _ACK_WORDS):
            yield YOU_ARE_WELCOME
        elif _only(words, _ACK_WORDS, _PADDING):
            yield ANYTHING_ELSE
        else:
            # Pure Python on a few short passages takes about a millisecond, so it runs on the event loop.
            sentences = answer(said, prompt.passages, self.max_sentences, self.max_words)
            if not sentences:
                yield FALLBACK
            # Pieces are joined as they come (like an LLM's tokens), so each sentence after the first brings its space.
            for index, sentence in enumerate(sentences):
                yield sentence if index == 0 else f" {sentence}"
