"""Finding what to say in the passages: the sentence that best answers each part of a question, said first.

Sentences are scored by the share of the question's content words they cover (their own words, what they state
without the word such as a price or opening hours, and the title they sit under); rarer words weigh more, and a
word no sentence has weighs the most, so a question about something the knowledge never mentions falls below the
threshold instead of matching on its common words.
"""

import difflib
import math
import re
from dataclasses import dataclass

from vocalis.voice.responder.reading import finished, read_passage, speakable, split_sentences
from vocalis.voice.responder.words import (
    DURATION,
    EMAIL,
    EMAIL_ADDRESS,
    PHONE,
    PHONE_NUMBER,
    PRICE,
    RELATED,
    stem,
    terms_of,
    words_of,
)

# A sentence is an answer only when it covers this share of the question's (weighted) content words.
MIN_SCORE = 0.35
# A second sentence must score at least this share of the best one, so a strong answer is not diluted.
RELATIVE_SCORE = 0.6
# Speech recognition misspells the business's words ("Wicening" for "whitening", "loner" for "loaner"): a part of a
# question is answered with its long unknown words respelled as the knowledge's word most like them (when at least
# this alike).
RESPELL_LETTERS = 5
RESPELL_LIKENESS = 0.8
# Below this, a near miss ("I don't see Cigna...") is a better answer than the best sentence.
NEAR_MISS_PREFERRED = 0.7
# A word that matches only through a related word ("pay" for "payment") counts this much of its weight...
RELATED_MATCH = 0.75
# ...and the verbs a question is framed with ("do you take...", "do you have...") this much: the topic is elsewhere.
FRAME_WEIGHT = 0.5
_FRAME_STEMS = frozenset(stem(word) for word in ("accept", "take", "have", "carry", "stock", "sell", "service", "see",
                                                 "treat", "use", "support", "do", "any"))  # fmt: skip
# A word found only in the sentence's title counts this much: "A routine cleaning costs $95" answers "how much is a
# cleaning?" better than a sentence about cleanings under the title "Prices", even from a lower-ranked passage.
HEADING_MATCH = 0.8
# A list said as one sentence ("Mon-Fri 8am-6pm; Saturday 9am-1pm") keeps to this many of its lines.
MAX_LIST_ITEMS = 8
_SHORT_LINE_WORDS = 6

NEAR_MISS = "I don't see {name} in what I have."


@dataclass(frozen=True)
class Sentence:
    text: str  # as written
    terms: frozenset[str]  # what it can match: its own terms and its title's
    own: frozenset[str]  # its own words' stems and what it states without them
    heading: frozenset[str]  # the title it sits under: its section
    rank: int  # the passage it came from (0 = best)
    position: int  # across all passages, in reading order
    group: tuple[int, int] | None  # (passage, list) for the lines of a list
    partial: bool  # its chunk cut it (its start or end is missing)


class Knowledge:
    """The distinct sentences of a turn's passages (neighbouring chunks overlap, so a sentence may come twice)."""

    def __init__(self, passages: list[str]) -> None:
        found: dict[str, Sentence] = {}
        for rank, passage in enumerate(passages):
            for piece in read_passage(passage):
                key = piece.key
                if not key:
                    continue
                seen = found.get(key)
                if seen is not None:
                    # The other copy may have been cut from its title: it keeps the richer context.
                    heading = seen.heading | piece.heading
                    terms = seen.own | heading
                    found[key] = Sentence(
                        seen.text, terms, seen.own, heading, seen.rank, seen.position, seen.group, False
                    )
                    continue
                group = (rank, piece.group) if piece.group is not None else None
                terms = piece.own | piece.heading
                found[key] = Sentence(
                    piece.text, terms, piece.own, piece.heading, rank, len(found), group, piece.partial
                )
        # A sentence a chunk cut short is dropped when another chunk holds it whole.
        self.sentences = [
            sentence for key, sentence in found.items() if not sentence.partial or not _inside_another(key, found)
        ]
        self.vocabulary: frozenset[str] = frozenset().union(*(sentence.terms for sentence in self.sentences))
        self.long_words = sorted(
            {word for sentence in self.sentences for word in words_of(sentence.text) if len(word) >= RESPELL_LETTERS}
        )

    def group_of(self, sentence: Sentence) -> list[Sentence]:
        return [other for other in self.sentences if sentence.group is not None and other.group == sentence.group]


def _inside_another(key: str, found: dict[str, Sentence]) -> bool:
    return any(key != other and key in other for other in found)


def say(sentence: str) -> str:
    """A passage sentence cleaned for speech, starting with a capital (a chunk may start mid-sentence)."""
    text = finished(speakable(sentence))
    return text[0].upper() + text[1:] if text and text[0].islower() else text


# --- the question

_CORRECTION = re.compile(
    r"[,.?!]?\s*(?:\bno\b[,.]?\s*)?(?:\bsorry\b[,.]?\s*)?\b(?:i mean|i meant|or rather|no wait|scratch that)\b[,.]?",
    re.IGNORECASE,
)
_IDIOMS = [
    (re.compile(r"\b(?:at )?(?:the )?last minute\b", re.I), " short notice "),
    (re.compile(r"\bwalk[- ]ins?\b", re.I), " walkin "),
    (re.compile(r"\bcheck[- ]ups?\b", re.I), " checkup "),
    (re.compile(r"\be-mail\b", re.I), " email "),
]
_AUXILIARY = (
    r"(?:do|does|did|is|are|was|can|could|will|would|should|may|have|has|what|what's|whats|when|where|how|who|which|"
    r"if|any|i|also)"
)
# Any case: Whisper sometimes writes a fast caller's words in Title Case ("Do You Guys Take Aetna, And How Much...").
_JOINED_QUESTION = re.compile(
    rf",?\s+\b(?:and|also|plus)\s+(?={_AUXILIARY}\b)|,\s+(?=(?:what|when|where|how|do|does)\b)", re.IGNORECASE
)
_COMPARISON = re.compile(r"^(?P<frame>.*?)\bbetween\s+(?P<first>.+?)\s+and\s+(?P<second>.+)$", re.IGNORECASE)
_COMPARING_WORDS = re.compile(r"\b(?:the\s+)?(?:difference|different|compare|comparison|versus|vs)\b", re.IGNORECASE)
_MAX_PARTS = 3
# A question that only asks what something costs or how long it takes, of "that" or "it", is about the part before.
_BACK_REFERENCE = re.compile(r"\b(?:that|it|this|those|them|these)\b", re.IGNORECASE)
_ABOUT_IT = frozenset({PRICE, DURATION, *(stem(word) for word in ("cost", "take", "charge", "pay"))})


def corrected(text: str) -> str:
    """A question the caller corrected mid-way ("open on Saturday, no, sorry, I mean Sunday?") as they meant it."""
    matches = list(_CORRECTION.finditer(text))
    if not matches:
        return text
    match = matches[-1]
    before, after = text[: match.start()].rstrip(" ?.,!"), text[match.end() :].strip()
    after_terms = terms_of(after)
    if not after_terms:
        return text
    if len(after_terms) >= 3 or not terms_of(before):
        return after
    # The correction replaces the last thing named: drop it from what was said before.
    words = before.split()
    for index in range(len(words) - 1, -1, -1):
        if terms_of(words[index]):
            del words[index]
            break
    return " ".join([*words, after])


def parts_of(question: str) -> list[str]:
    """The questions in what the caller said: "what are your hours and do you take walk-ins?" is two; so is "the
    difference in price between whitening and a cleaning" (one about each)."""
    text = corrected(question)
    for pattern, replacement in _IDIOMS:
        text = pattern.sub(replacement, text)
    parts: list[str] = []
    # A question mark ends a question even before a lower-case word (Whisper: "How much is a cleaning? and do...").
    for sentence in (piece for chunk in re.split(r"(?<=\?)\s+", text) for piece in split_sentences(chunk)):
        comparison = _COMPARISON.match(sentence)
        if comparison and _COMPARING_WORDS.search(comparison["frame"]):
            frame = _COMPARING_WORDS.sub(" ", comparison["frame"])
            parts += [f"{frame} {comparison['first']}", f"{frame} {comparison['second']}"]
            continue
        parts += _JOINED_QUESTION.split(sentence)
    asking: list[str] = []
    for part in parts:
        terms = _question_terms(part)
        if not terms:
            continue
        if asking and _BACK_REFERENCE.search(part) and set(terms) <= _ABOUT_IT:
            asking[-1] = f"{asking[-1]} {part}"  # "...the whitening. How much does that cost?" asks about it
        else:
            asking.append(part)
    return asking[:_MAX_PARTS] if asking else [text]


def _question_terms(text: str) -> dict[str, frozenset[str]]:
    """The question's terms, each with the stems that also answer it."""
    terms = terms_of(text)
    lowered = " ".join(words_of(text))
    if re.search(r"\bhow much\b(?! time)|\bhow expensive\b", lowered):
        terms.add(PRICE)
    if re.search(r"\bhow long\b|\bhow much time\b", lowered):
        terms.add(DURATION)
    if not terms and re.search(r"\bwhere\b", lowered):
        terms.add(stem("address"))
    if re.search(r"\be ?mail\b", lowered):
        terms.add(EMAIL)
    return {term: RELATED.get(term, frozenset()) | {term} for term in terms}


# --- scoring and answering


@dataclass(frozen=True)
class _Scored:
    score: float
    own: float
    sentence: Sentence


def _ranked(knowledge: Knowledge, alternatives: dict[str, frozenset[str]]) -> list[_Scored]:
    sentences = knowledge.sentences
    weights = {}
    for term, alike in alternatives.items():
        frequency = sum(1 for sentence in sentences if alike & sentence.terms)
        weights[term] = 1.0 + math.log((len(sentences) + 1) / (frequency + 1))
        if term in _FRAME_STEMS:
            weights[term] *= FRAME_WEIGHT
    total = sum(weights.values())
    scored = []
    for sentence in sentences:
        covered = own = 0.0
        for term, alike in alternatives.items():
            if alike & sentence.terms:
                weight = weights[term] if term in sentence.terms else weights[term] * RELATED_MATCH
                if alike & sentence.own:
                    own += weight
                else:
                    weight *= HEADING_MATCH
                covered += weight
        discount = 1.0 + 0.05 * sentence.rank  # passages come ranked best-first
        scored.append(_Scored(covered / total / discount, own / total, sentence))
    # Ties go to the sentence that says the words itself rather than under its title, then to reading order.
    scored.sort(key=lambda item: (-item.score, -item.own, item.sentence.position))
    return scored


def _said(knowledge: Knowledge, best: _Scored, ranked: list[_Scored]) -> tuple[str, set[int]]:
    """The best sentence as said; a list line with others as good ("Mon-Fri 8am-6pm", "Saturday 9am-1pm" for the
    opening hours) is said with them, as one sentence."""
    if best.sentence.group is None:
        return say(best.sentence.text), {best.sentence.position}
    as_good = {item.sentence.position for item in ranked if item.score >= best.score - 1e-9}
    lines = [line for line in knowledge.group_of(best.sentence) if line.position in as_good][:MAX_LIST_ITEMS]
    return _list(lines), {line.position for line in lines}


def _list(lines: list[Sentence]) -> str:
    """Lines of a list as said together: short ones as one sentence ("Mon to Fri 8am to 6pm; Saturday 9am to 1pm"),
    longer ones (bullets that are sentences) one after the other."""
    texts = [speakable(line.text).rstrip(".") for line in lines]
    if all(len(text.split()) <= _SHORT_LINE_WORDS for text in texts):
        return say("; ".join(texts))
    return " ".join(say(text) for text in texts)


def _shorten(sentence: str, max_words: int, keep: set[str]) -> str:
    """A sentence cut to about max_words at a clause boundary, never before a clause holding a number or one of the
    question's words (the fee, the price): a long sentence is better than a fact lost."""
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    clauses = re.split(r"(?<=[,;:])\s+", sentence)
    needed = 0
    for index, clause in enumerate(clauses):
        if any(character.isdigit() for character in clause) or terms_of(clause) & keep:
            needed = index
    kept: list[str] = []
    for index, clause in enumerate(clauses):
        if index > needed and len(" ".join([*kept, clause]).split()) > max_words:
            break
        kept.append(clause)
    if len(" ".join(kept).split()) > max_words * 2:  # no clause boundary: cut at the word limit
        kept = [" ".join(words[:max_words])]
    return finished(" ".join(kept))


def _answer_part(
    knowledge: Knowledge, part: str, max_sentences: int, max_words: int
) -> tuple[list[str], set[int]] | None:
    alternatives = _question_terms(part)
    if not alternatives or not knowledge.sentences:
        return None
    ranked = _ranked(knowledge, alternatives)
    best = ranked[0]
    if best.score < NEAR_MISS_PREFERRED:
        near_miss = _near_miss(knowledge, part, alternatives)
        if near_miss or best.score < MIN_SCORE:
            return near_miss
    first, used = _said(knowledge, best, ranked)
    keep = {term for alike in alternatives.values() for term in alike}
    said = [_shorten(first, max_words, keep)]
    words = len(said[0].split())
    # A second sentence must say, in its own words, all the best one says of the question ("cleaning" and a price
    # for "how much is a cleaning?"; not a sentence about cleanings under the title "Prices").
    needed = [alike for alike in alternatives.values() if alike & best.sentence.own]
    covered = {term for term, alike in alternatives.items() if alike & best.sentence.terms}
    for item in ranked[1:]:
        if len(said) >= max_sentences or item.score < RELATIVE_SCORE * best.score:
            break
        sentence = item.sentence
        if sentence.position in used or (sentence.group is not None and sentence.group == best.sentence.group):
            continue
        if not all(alike & sentence.own for alike in needed):
            continue
        # From the same section, unless it answers more of the question (the fee after the cancellation notice, not
        # the cancellation fee after the price list).
        adds = any(alike & sentence.terms for term, alike in alternatives.items() if term not in covered)
        if sentence.heading != best.sentence.heading and not adds:
            continue
        text = say(sentence.text)
        if words + len(text.split()) > max_words or not words_of(text):
            continue
        said.append(text)
        used.add(sentence.position)
        words += len(text.split())
    return said, used


# Near miss: the caller names something the passages never mention ("do you take Cigna?") in a question whose other
# words match a list of such things ("We accept Aetna, Delta Dental and MetLife"). The list is the answer: it says
# what is taken, and the caller can tell theirs is not in it. Only then: the unknown words must be few and look like
# a name (capitalised in what the caller said, unless they also named the list's topic, "Cigna insurance"), and the
# matching sentence must be an enumeration of names. A question about something else entirely ("do you sell cars?",
# "what's the weather?") has no such list, and gets the polite fallback rather than a random passage.
_LIST_SEPARATOR = re.compile(r",\s*|\s+(?:and|or)\s+")


def _listed_names(text: str) -> int:
    """How many names a sentence lists ("We accept Aetna, Delta Dental, MetLife and Guardian dental plans": 3)."""
    items = _LIST_SEPARATOR.split(text)[1:]
    return sum(1 for item in items if item[:1].isupper())


def _near_miss(
    knowledge: Knowledge, part: str, alternatives: dict[str, frozenset[str]]
) -> tuple[list[str], set[int]] | None:
    unknown = {term for term, alike in alternatives.items() if not alike & knowledge.vocabulary}
    known = set(alternatives) - unknown
    if not known or not 1 <= len(unknown) <= 2:
        return None
    original = re.findall(r"[A-Za-z][\w'&-]*", part)
    names = [word for word in original if stem(word.lower().split("'")[0]) in unknown]
    capitalised = all(word[0].isupper() for word in names) and bool(names) and original[0] not in names
    if not names or not (capitalised or known - _FRAME_STEMS):
        return None
    # The list that says the question's words itself ("We service most makes, including...") before one under a
    # matching title (a price list under "Service"), then the longest.
    best: tuple[tuple[bool, int], str, set[int]] | None = None
    for sentence in knowledge.sentences:
        if not all(alternatives[term] & sentence.terms for term in known):
            continue
        says_it = all(alternatives[term] & sentence.own for term in known)
        group = knowledge.group_of(sentence)
        if len(group) >= 2 and all(all(alternatives[term] & line.terms for term in known) for line in group):
            found = ((says_it, len(group)), _list(group[:MAX_LIST_ITEMS]), {line.position for line in group})
        elif (count := _listed_names(sentence.text)) >= 2:
            found = ((says_it, count), say(sentence.text), {sentence.position})
        else:
            continue
        if best is None or found[0] > best[0]:
            best = found
    if best is None:
        return None
    if not capitalised:  # not clearly a name ("do you have evening hours?"): the list alone answers
        return [best[1]], best[2]
    return [NEAR_MISS.format(name=" ".join(names)), best[1]], best[2]


def answer(question: str, passages: list[str], max_sentences: int = 2, max_words: int = 50) -> list[str]:
    """What to say from the passages: the sentence that best answers the question first (one or two sentences;
    one for each part of a question with several), or a near miss; empty when the passages do not cover it."""
    return answer_from(Knowledge(passages), question, max_sentences, max_words)


def answer_from(knowledge: Knowledge, question: str, max_sentences: int = 2, max_words: int = 50) -> list[str]:
    """`answer` on passages already read (a turn looks in them for several things)."""
    parts = parts_of(question)
    if len(parts) == 1:
        found = _answer_heard(knowledge, parts[0], max_sentences, max_words)
        return found[0] if found else []
    said: list[str] = []
    used: set[int] = set()
    for part in parts:
        found = _answer_heard(knowledge, part, 1, max_words)
        if found and not found[1] <= used:
            said += [sentence for sentence in found[0] if sentence not in said]
            used |= found[1]
    return said


def _answer_heard(
    knowledge: Knowledge, part: str, max_sentences: int, max_words: int
) -> tuple[list[str], set[int]] | None:
    """`_answer_part` for the part respelled (`_respelled`) when that finds an answer, else for the part as heard (a
    misheard name must not be taken for a near miss: "I don't see Wicening in what I have")."""
    respelled = _respelled(knowledge, part)
    found = _answer_part(knowledge, respelled, max_sentences, max_words) if respelled is not None else None
    return found or _answer_part(knowledge, part, max_sentences, max_words)


def _respelled(knowledge: Knowledge, part: str) -> str | None:
    """The part with each long word the knowledge lacks replaced by the knowledge's word most like it; None when no
    word was."""
    changed = False

    def respell(match: re.Match[str]) -> str:
        nonlocal changed
        word = match.group(0).lower()
        if len(word) < RESPELL_LETTERS or stem(word) in knowledge.vocabulary:
            return match.group(0)
        alike = difflib.get_close_matches(word, knowledge.long_words, n=1, cutoff=RESPELL_LIKENESS)
        if not alike:
            return match.group(0)
        changed = True
        return alike[0]

    respelled = re.sub(r"[A-Za-z]+", respell, part)
    return respelled if changed else None


# --- sentences for the receptionist's tasks

_SPEAK = frozenset(stem(word) for word in ("speak", "talk", "reach", "contact"))
_REACH = frozenset(stem(word) for word in ("call", "ring", "phone", "email"))
_STAFF = frozenset(stem(word) for word in ("team", "staff", "member", "person", "desk", "reception", "receptionist",
                                           "office", "manager", "front", "someone"))  # fmt: skip
_AFTER_HOURS = frozenset(stem(word) for word in ("emergency", "emergencies", "outside", "on-call", "call-out"))
_BOOK = stem("book")
_APPOINTMENT = stem("appointment")
_HOW_TO_BOOK = frozenset({PHONE, EMAIL, *(stem(word) for word in ("call", "phone", "online", "website", "web", "app"))})
_CANCEL = RELATED[stem("cancel")]


def contact_sentence(knowledge: Knowledge, said: str) -> str | None:
    """The passages' way to reach a person: a sentence or line with a phone number or e-mail, best one that talks
    about reaching the team, and one that fits what the caller asked for ("someone at the front desk")."""
    asked = terms_of(said)
    best: tuple[float, int, Sentence] | None = None
    for sentence in knowledge.sentences:
        if not {PHONE_NUMBER, EMAIL_ADDRESS} & sentence.own:
            continue
        own = sentence.own
        score = 3.0 * bool(_SPEAK & own) + bool(_REACH & own) + 2.0 * bool(_STAFF & own) + (PHONE_NUMBER in own)
        score += len(asked & sentence.terms) - 3.0 * bool(_AFTER_HOURS & (sentence.own - asked))
        if best is None or (score, -sentence.position) > (best[0], -best[1]):
            best = (score, sentence.position, sentence)
    return say(best[2].text) if best else None


def booking_sentence(knowledge: Knowledge) -> str | None:
    """What the passages say about how to book ("You can book an appointment by phone or on our website")."""
    best: tuple[int, Sentence] | None = None
    for sentence in knowledge.sentences:
        own = sentence.own
        if own & _CANCEL or not (_BOOK in own or (_APPOINTMENT in own and own & _HOW_TO_BOOK)):
            continue
        score = 2 * (_BOOK in own) + bool(own & _HOW_TO_BOOK)
        if best is None or score > best[0]:
            best = (score, sentence)
    return say(best[1].text) if best else None
