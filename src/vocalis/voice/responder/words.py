"""Words as the responder compares them: lower-case tokens, the caller's fillers, light stems and related words.

Callers' words come from speech recognition (no punctuation guarantees, "um", "so", "five five five"), documents'
from PDFs and markdown; both meet on stems, and on a few groups of words that mean the same to a receptionist.
"""

import functools
import re

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[0-9]+")


def words_of(text: str) -> list[str]:
    """Lower-case words and numbers; contractions stay whole ("that's")."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def says_phrase(words: list[str], phrase: str) -> bool:
    """Whether the phrase occurs as whole words, ignoring case and punctuation."""
    wanted = words_of(phrase)
    if not wanted:
        return False
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


# Sounds and lead-ins that carry nothing: speech recognition writes them, and callers start with them.
FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "mm", "mhm", "huh"})
LEAD_INS = frozenset(
    {"so", "well", "okay", "ok", "oh", "yeah", "yes", "right", "alright", "actually", "sorry", "and", "but", "just",
     "hey", "hi", "hello", "there", "wait", "listen", "look", "quick", "question", "anyway"}
)  # fmt: skip

FUNCTION_WORDS = frozenset(
    {
        "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "anyone", "anything", "are", "as",
        "at", "be", "because", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing",
        "done", "each", "else", "even", "ever", "every", "for", "from", "get", "gets", "getting", "give", "go",
        "going", "got", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "i", "if", "in",
        "into", "is", "it", "its", "just", "know", "let", "like", "look", "looking", "me", "more", "most", "much",
        "many", "my", "need", "no", "not", "now", "of", "off", "on", "one", "only", "or", "other", "our", "out",
        "over", "please", "really", "say", "she", "should", "so", "some", "something", "still", "such", "tell",
        "than", "thank", "thanks", "that", "the", "their", "them", "then", "there", "these", "they", "thing",
        "things", "this", "those", "to", "too", "up", "us", "very", "want", "was", "way", "we", "well", "were", "what",
        "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "yes", "yet", "you",
        "your", "yours", "hi", "hello", "hey", "okay", "ok", "um", "uh", "oh", "don", "doesn", "didn", "isn", "aren",
        "wasn", "won", "wouldn", "couldn", "can't", "cannot", "what's", "i'm", "i'd", "it's", "that's", "there's",
        "you're", "we're", "i've", "we've", "don't", "doesn't", "didn't", "isn't", "aren't", "won't", "mine", "she's",
        "he's", "they're", "who's", "where's", "how's", "when's", "let's", "gonna", "wanna", "guys",
    }
)  # fmt: skip
# Words callers wrap a question in that say nothing about its topic ("quick question, how much...", "at the clinic").
QUESTION_PADDING = frozenset(
    {
        "wonder", "wondering", "question", "ask", "asking", "help", "info", "information", "detail", "details",
        "policy", "policies", "possible", "able", "maybe", "actually", "kind", "sort", "someone", "long", "bring",
        "offer", "provide", "available", "allowed", "allow", "quick", "quickly", "happen", "happens", "work", "works",
        "exactly", "currently", "usually", "generally", "clinic", "office", "practice", "shop", "store", "place",
        "business", "company", "sorry", "wait", "mean", "idea", "find", "salon", "garage", "surgery", "studio",
        "restaurant", "centre", "center", "time", "times", "option", "options", "method", "methods", "way", "ways",
        "type", "types", "choice", "choices",
    }
)  # fmt: skip
STOP_WORDS = FUNCTION_WORDS | QUESTION_PADDING | FILLERS

# Digits said as words ("five five five", "oh", "double two"), for phone numbers and times.
DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
TEEN_WORDS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
    "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
TENS_WORDS = {
    "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7", "eighty": "8",
    "ninety": "9",
}  # fmt: skip
REPEATS = {"double": 2, "triple": 3}

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ABBREVIATIONS = {
    "mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip


@functools.lru_cache(maxsize=65536)  # callers and documents reuse a small vocabulary
def stem(word: str) -> str:
    """A light suffix stripper: "opening"/"opens"/"opened", "prices"/"pricing", "cancelled"/"cancellation" meet."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ation", "ing", "est", "ed", "ly", "er", "y", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and (word[-1] not in "aeiouls" or (len(word) > 5 and word[-1] == "l")):
        word = word[:-1]  # "shipp" (from shipping) -> "ship", "cancell" -> "cancel"; "call", "pass" stay
    return word


def terms_of(text: str) -> set[str]:
    """The stems of the content words of a text."""
    return terms_of_words(words_of(text))


def terms_of_words(words: list[str]) -> set[str]:
    """The stems of the content words among `words` (from `words_of`)."""
    terms = set()
    for word in words:
        if "'" in word:
            word = word[: word.index("'")]
        if word not in STOP_WORDS and (len(word) > 1 or word.isdigit()):
            terms.add(stem(word))
    return terms


_PAYMENT_METHODS = ("check", "checks", "cheque", "cheques", "card", "cards", "debit", "paypal")


def _related() -> dict[str, frozenset[str]]:
    """Question stems that should also match other stems: callers and documents rarely use the same word."""
    both_ways = [
        ("price", "prices", "cost", "costs", "fee", "fees", "charge", "pricing", "rate", "rates", "expensive"),
        ("hours", "open", "opening", "close", "closing", "closed"),
        ("refund", "return", "exchange"),
        ("delivery", "deliver", "ship", "shipping", "postage"),
        ("book", "booking", "appointment", "appointments", "reservation", "reserve", "schedule"),
        ("cancel", "cancellation", "cancelled", "canceled", "cancelling", "canceling"),
        ("address", "located", "location", "directions"),
        ("phone", "telephone", "call", "number", "ring"),
        ("accept", "take", "takes", "taking"),
        ("car", "cars", "vehicle", "vehicles"),
        ("payment", "pay", "paying", "paid", "cash"),
        ("card", "cards", "credit", "debit", "visa", "mastercard", "amex"),
        ("insurance", "insurer", "insurers", "insured", "coverage"),
        ("dental", "dentist", "dentists", "dentistry"),
        ("child", "children", "kid", "kids", "daughter", "son", "toddler", "baby"),
        ("senior", "seniors", "elderly", "pensioner", "pensioners", "retired"),
        ("main", "principal", "head", "lead", "chief"),
        ("email", "mail", "e-mail"),
        ("emergency", "emergencies", "urgent", "pain"),
        ("walk", "walkin", "walkins"),
    ]
    one_way = {
        "weekend": ("saturday", "sunday"),
        "weekday": ("monday", "tuesday", "wednesday", "thursday", "friday"),
        "night": ("outside", "evening", "late"),
        "contact": ("phone", "call", "number", "email", "address"),
        "reschedule": ("move", "cancel", "change"),
        # "We do not accept checks" answers "which payment methods?" as much as the list of cards does.
        "payment": _PAYMENT_METHODS,
    }
    related: dict[str, set[str]] = {}
    for group in both_ways:
        stems = {stem(word) for word in group}
        for each in stems:
            related.setdefault(each, set()).update(stems)
    for word, others in one_way.items():
        related.setdefault(stem(word), set()).update(stem(other) for other in others)
    return {each: frozenset(others) for each, others in related.items()}


RELATED = _related()
# What a question asks for, for sentences that state it without the word ("A filling starts at $150").
PRICE, HOURS, PHONE, EMAIL, DURATION = stem("price"), stem("hours"), stem("phone"), stem("email"), "duration"
# A number to call or an address to write to, written out (not only the words "phone" or "email").
PHONE_NUMBER, EMAIL_ADDRESS = "<phone number>", "<email address>"

_DIGIT = re.compile(r"\d")
_NOT_DIGIT = re.compile(r"\D")
_CURRENCY = re.compile(r"[$£€]\s?\d|\b\d+(?:[.,]\d+)?\s?(?:dollars|euros|pounds|usd|eur|gbp)\b|\b\d+\s?%", re.I)
_CLOCK = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)|\b\d{1,2}:\d{2}\b|\bnoon\b|\bmidnight\b", re.I)
_PHONE_NUMBER = re.compile(r"(?:\+?\d[\d ().-]{5,}\d)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_SPAN = re.compile(r"\b\d+\s?(?:-|to|\u2013)?\s?\d*\s?(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\b", re.I)
_CLOCK_MARKS = ("am", "pm", "a.m", "p.m", ":")
_CURRENCY_WORDS = ("dollar", "euro", "pound", "usd", "eur", "gbp")
_UNITS = ("min", "hour", "hr", "day", "week", "month")
_DAY_STARTS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "week")
_DAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?s?"
_DAY_RANGE = re.compile(rf"\b(?P<first>{_DAY})\s?(?:-|\u2013|to|through|thru|until)\s?(?P<last>{_DAY})\b", re.I)
_DAY_WORD = re.compile(rf"\b{_DAY}\b|\bweekdays?\b|\bweekends?\b", re.I)


def _day_index(word: str) -> int | None:
    word = word.lower().rstrip("s") if len(word) > 4 else word.lower()
    for index, name in enumerate(_DAY_NAMES):
        if word == name or word == name[:-3]:
            return index
    return _DAY_ABBREVIATIONS.get(word)


def implied_terms(text: str) -> set[str]:
    """Terms a sentence answers without saying them: an amount is a price, "8am-6pm" opening hours, "Mon-Fri"
    every weekday, a phone number a way to call, "45 minutes" a duration."""
    # Each pattern runs only when a cheap check says it may match: this runs on every sentence of every passage.
    terms: set[str] = set()
    lowered = text.lower()
    digits = len(_DIGIT.findall(text))
    if digits:
        currency = any(sign in text for sign in "$£€%") or any(word in lowered for word in _CURRENCY_WORDS)
        if currency and _CURRENCY.search(text):
            terms.add(PRICE)
        if any(mark in lowered for mark in _CLOCK_MARKS) and _CLOCK.search(text):
            terms.add(HOURS)
        if any(unit in lowered for unit in _UNITS) and _SPAN.search(text):
            terms.add(DURATION)
        if digits >= 7 and any(len(_NOT_DIGIT.sub("", number)) >= 7 for number in _PHONE_NUMBER.findall(text)):
            terms.update((PHONE, stem("number"), PHONE_NUMBER))
    elif "noon" in lowered:
        terms.add(HOURS)
    if "@" in text and _EMAIL.search(text):
        terms.update((EMAIL, EMAIL_ADDRESS))
    if any(day in lowered for day in _DAY_STARTS):
        for match in _DAY_RANGE.finditer(text):
            first, last = _day_index(match["first"]), _day_index(match["last"])
            if first is not None and last is not None:
                days = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
                terms.update(stem(_DAY_NAMES[day]) for day in days)
        for word in _DAY_WORD.findall(text):
            day = word.lower()
            if day.startswith("weekday"):
                terms.update(stem(name) for name in _DAY_NAMES[:5])
            elif day.startswith("weekend"):
                terms.update(stem(name) for name in _DAY_NAMES[5:])
            elif (index := _day_index(day)) is not None:
                terms.add(stem(_DAY_NAMES[index]))
    return terms
