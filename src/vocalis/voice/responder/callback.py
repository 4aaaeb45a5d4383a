"""Taking a callback request: the caller's name, then their number, then when suits them; confirmed back.

The responder keeps nothing between turns (one object may serve many calls), so the form lives in the
conversation: the agent's own earlier lines say what it asked and echo what it took down ("Thanks, Maria.",
"I have your number as 555 123 4567."), and `read_form` reads them back. A caller may give everything at once,
answer in any order, or change topic: a question gets answered, and the form is asked for once more, then dropped.
"""

import re
from dataclasses import dataclass, replace
from typing import Literal

from vocalis.voice.responder.words import (
    DIGIT_WORDS,
    FILLERS,
    FUNCTION_WORDS,
    LEAD_INS,
    QUESTION_PADDING,
    REPEATS,
    TEEN_WORDS,
    TENS_WORDS,
    stem,
    words_of,
)
from vocalis.voice.thinking import CallbackRequest, Message

ASK_NAME = "May I have your name, please?"
ASK_PHONE = "What's the best number to call you back on?"
ASK_CALL_TIME = "When is a good time to call you?"
ASK_BOOKING_TIME = "What day and time would suit you?"
ASK_WHOLE_NUMBER = "Sorry, I didn't get the whole number."
NOT_CAUGHT = "Sorry, I didn't catch that."
OFFER = "Or I can have someone call you back: just tell me your name and number."
BOOKING_OFFER = "Or I can have someone call you back to arrange it: just tell me your name and number."
CALLBACK_LEAD = "Of course, I can have someone call you back."
PERSON_LEAD = "I can't put you through myself, but I can have someone call you back."
BOOKING_LEAD = "I can't book appointments myself, but I can have someone call you back to arrange it."
OFFER_TAKEN = f"Great. {ASK_NAME}"
RESUME = "Now, for your callback: "
DROPPED = "No problem, I won't take a callback."
DECLINED = "No problem."
NAME_ECHO = "Thanks, {name}."
PHONE_ECHO = "I have your number as {phone}."
TIME_ECHO = "I've noted {time}."
CONFIRM_BOOKING = "Thanks, {name}. We'll call you on {phone} about {time}."
CONFIRM_CALL = "Thanks, {name}. We'll call you back on {phone}, {time}."
CONFIRM_SOON = "Thanks, {name}. We'll call you back on {phone} as soon as we can."

_STARTS = tuple(line.lower() for line in (OFFER, BOOKING_OFFER, CALLBACK_LEAD, PERSON_LEAD, BOOKING_LEAD))
_BOOKING_MARK = "to arrange it"
_ECHOED_NAME = re.compile(r"\bThanks, (?P<name>[A-Z][\w'-]*(?: [A-Z][\w'-]*){0,2})\.")
_ECHOED_PHONE = re.compile(r"\bnumber as (?P<phone>\+?\d[\d -]*\d)\.")
_ECHOED_TIME = re.compile(r"\bI've noted (?P<time>[^.!?]+)\.")

Field = Literal["offer", "name", "phone", "time"]


@dataclass(frozen=True)
class Form:
    """A callback request being taken: what the agent asked last, and what it has."""

    pending: Field  # what the agent's last line asked for ("offer": it offered a callback)
    name: str | None = None
    phone: str | None = None
    time: str | None = None
    booking: bool = False  # the callback is to book an appointment (the time is the appointment's)
    resumed: bool = False  # the last question was asked again after the caller changed topic


def read_form(messages: list[Message]) -> Form | None:
    """The callback request the agent's last line is taking, from its own earlier lines; None when it is not."""
    # The agent's lines as its context kept them (spaces may differ from how they were streamed).
    said = {i: " ".join(m.content.split()) for i, m in enumerate(messages[:-1]) if m.role == "assistant"}
    if not said:
        return None
    replies = list(said)
    last = said[replies[-1]]
    pending = _pending(last.lower())
    if pending is None:
        return None
    start = next((index for index in reversed(replies) if any(mark in said[index].lower() for mark in _STARTS)), None)
    if start is None:
        return None  # the agent's own opening line asks something: not a form this responder opened
    lines = [said[index] for index in replies if start <= index]
    form = Form(pending, booking=any(_BOOKING_MARK in line for line in lines), resumed=RESUME.lower() in last.lower())
    for line in lines:
        name, phone, time = _ECHOED_NAME.search(line), _ECHOED_PHONE.search(line), _ECHOED_TIME.search(line)
        form = replace(
            form,
            name=name["name"] if name else form.name,
            phone=phone["phone"] if phone else form.phone,
            time=time["time"] if time else form.time,
        )
    if form.time is None and start > 0 and messages[start - 1].role == "user":
        form = replace(form, time=time_in(messages[start - 1].content))  # "can I book for tomorrow at 3?"
    return form


def asks(line: str) -> bool:
    """Whether one of the agent's lines asks for a callback's details (or offers to take them)."""
    return _pending(line.lower()) is not None


def _pending(line: str) -> Field | None:
    if ASK_NAME.lower() in line:
        return "name"
    if ASK_PHONE.lower() in line:
        return "phone"
    if ASK_CALL_TIME.lower() in line or ASK_BOOKING_TIME.lower() in line:
        return "time"
    if OFFER.lower() in line or BOOKING_OFFER.lower() in line:
        return "offer"
    return None


@dataclass(frozen=True)
class Details:
    """What the caller gave in one breath."""

    name: str | None = None
    phone: str | None = None
    time: str | None = None
    digits: bool = False  # some digits were said, too few for a phone number


@dataclass(frozen=True)
class Step:
    """The agent's next line in the form, and the request once it is complete."""

    text: str
    request: CallbackRequest | None = None


def start(lead: str, found: Details, booking: bool) -> Step:
    """Open the form after `lead`, keeping whatever the caller already gave in the same breath."""
    return _next(Form("offer", found.name, found.phone, found.time, booking), found, lead)


def advance(form: Form, found: Details) -> Step:
    """The next step once the caller answered: what they gave is echoed, then the next question or the confirmation.
    An answer to "when" that names no time ("as soon as you can") leaves the time open."""
    merged = Form(
        form.pending, found.name or form.name, found.phone or form.phone, found.time or form.time, form.booking
    )
    return _next(merged, found, "", time_answered=form.pending == "time")


def ask_again(form: Form) -> str:
    """The pending question, asked again after the caller's answer was not one."""
    return f"{NOT_CAUGHT} {_question(form)}"


def resume(form: Form) -> str:
    """The pending question after an answer to something else, once."""
    question = _question(form)
    return RESUME + question[0].lower() + question[1:]


def _question(form: Form) -> str:
    if form.pending in ("offer", "name"):
        return ASK_NAME
    if form.pending == "phone":
        return ASK_PHONE
    return ASK_BOOKING_TIME if form.booking else ASK_CALL_TIME


def _next(form: Form, found: Details, lead: str, time_answered: bool = False) -> Step:
    said = [lead] if lead else []
    if form.name and form.phone and (form.time or time_answered):
        confirmation = _confirmation(form.name, form.phone, form.time, form.booking)
        return Step(" ".join([*said, confirmation]), CallbackRequest(form.name, form.phone, form.time))
    if found.name:
        said.append(NAME_ECHO.format(name=found.name))
    if found.phone:
        said.append(PHONE_ECHO.format(phone=found.phone))
    if found.time:
        said.append(TIME_ECHO.format(time=found.time))
    if not form.name:
        said.append(ASK_NAME)
    elif not form.phone:
        said.append(ASK_PHONE)
    else:
        said.append(ASK_BOOKING_TIME if form.booking else ASK_CALL_TIME)
    return Step(" ".join(said))


def _confirmation(name: str, phone: str, time: str | None, booking: bool) -> str:
    if not time:
        return CONFIRM_SOON.format(name=name, phone=phone)
    if not booking:
        return CONFIRM_CALL.format(name=name, phone=phone, time=time)
    # "about tomorrow at 3", "about Tuesday"; "about a time after 5 pm"
    time = re.sub(r"^(?:on|at|for|around) ", "", time)
    if time.split(" ", 1)[0] in ("after", "before", "between", "from", "until", "in", "by"):
        time = f"a time {time}"
    return CONFIRM_BOOKING.format(name=name, phone=phone, time=time)


# --- the caller's details


def details_in(said: str, expecting: Field | None, known_terms: frozenset[str] = frozenset()) -> Details:
    """The name, phone number and time in what the caller said (any of them, in any order)."""
    tokens = _tokens(said)
    phone, phone_span = _phone(tokens)
    rest = tokens if phone_span is None else [*tokens[: phone_span[0]], ("", ","), *tokens[phone_span[1] :]]
    return Details(
        name=_name(rest, expecting == "name", known_terms),
        phone=phone,
        time=_time([word for word, _ in rest]),
        digits=phone is None and any(word.isdigit() for word, _ in tokens),
    )


_TOKEN = re.compile(r"\d{1,2}:\d{2}\b|[A-Za-z][A-Za-z'\u2019-]*|\d+|[^\sA-Za-z\d]")
_CLOCK = re.compile(r"\d{1,2}:\d{2}")
_MERIDIEM = re.compile(r"\b([ap])\.?\s?m\b\.?", re.IGNORECASE)


def _tokens(said: str) -> list[tuple[str, str]]:
    """(lower-case word, number words as digits; as written) for each spoken number, word and punctuation mark, so
    "five five five" and "555" read alike."""
    said = _MERIDIEM.sub(lambda m: f" {m[1].lower()}m", said.replace("\u2019", "'"))
    written = [token.strip("-") or token for token in _TOKEN.findall(said)]
    lowered = [token.lower() for token in written]
    result: list[tuple[str, str]] = []
    index = 0
    while index < len(lowered):
        word, following = lowered[index], lowered[index + 1] if index + 1 < len(lowered) else ""
        if word in REPEATS and (following in DIGIT_WORDS or (following.isdigit() and len(following) == 1)):
            digit = DIGIT_WORDS.get(following, following)  # "double five"
            result.append((digit * REPEATS[word], f"{written[index]} {written[index + 1]}"))
            index += 2
            continue
        if word in TENS_WORDS and following in DIGIT_WORDS and following not in ("oh", "o", "zero"):
            result.append((TENS_WORDS[word] + DIGIT_WORDS[following], f"{written[index]} {written[index + 1]}"))
            index += 2
            continue
        if word in TENS_WORDS:
            word = TENS_WORDS[word] + "0"
        elif word in TEEN_WORDS:
            word = TEEN_WORDS[word]
        elif word in DIGIT_WORDS and (word not in ("oh", "o") or _beside_digit(lowered, index)):
            word = DIGIT_WORDS[word]
        result.append((word, written[index]))
        index += 1
    return result


def _beside_digit(lowered: list[str], index: int) -> bool:
    """Whether "oh" is a zero: said next to digits, not as an exclamation."""
    neighbours = [lowered[i] for i in (index - 1, index + 1) if 0 <= i < len(lowered)]
    return any(word.isdigit() or (word in DIGIT_WORDS and word not in ("oh", "o")) for word in neighbours)


_SEPARATORS = frozenset({",", "-", ".", "(", ")", "+", "/"})


def _phone(tokens: list[tuple[str, str]]) -> tuple[str | None, tuple[int, int] | None]:
    """The longest run of digits (with separators between) that makes a phone number: 7 to 15 digits."""
    best: tuple[int, str, tuple[int, int]] | None = None  # (digits, as written back, where)
    index = 0
    while index < len(tokens):
        if not tokens[index][0].isdigit():
            index += 1
            continue
        end, digits = index, ""
        while end < len(tokens) and (tokens[end][0].isdigit() or tokens[end][0] in _SEPARATORS):
            if tokens[end][0].isdigit():
                digits += tokens[end][0]
            end += 1
        if 7 <= len(digits) <= 15 and (best is None or len(digits) > best[0]):
            groups = [word for word, _ in tokens[index:end] if word.isdigit()]
            # Digits written in groups ("555 0142 2200") keep the caller's grouping; digits said one by one get ours.
            grouped = len(groups) > 1 and all(len(group) > 1 for group in groups)
            best = (len(digits), " ".join(groups) if grouped else format_phone(digits), (index, end))
        index = end
    return (best[1], best[2]) if best else (None, None)


def format_phone(digits: str) -> str:
    """Digits grouped the way they are read out (and as the speech normaliser reads them): 555 123 4567."""
    if len(digits) == 10:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if len(digits) == 11 and digits[0] == "1":
        return f"1 {digits[1:4]} {digits[4:7]} {digits[7:]}"
    if len(digits) == 7:
        return f"{digits[:3]}-{digits[3:]}"
    head, tail = digits[:-4], digits[-4:]
    return " ".join([*(head[i : i + 3] for i in range(0, len(head), 3)), tail])


# A name follows "my name is", "this is", "it's", "I'm"; after "this is"/"it's"/"I'm" it must be written with a
# capital (speech recognition capitalises names), unless the agent just asked for the name.
_NAME_LEADS = (("my", "name", "is"), ("my", "name's"), ("name", "is"), ("name's",), ("this", "is"), ("it's",),
               ("it", "is"), ("i'm",), ("i", "am"), ("its",))  # fmt: skip
_LOOSE_LEADS = {("my", "name", "is"), ("my", "name's"), ("name", "is"), ("name's",)}
_NOT_NAMES = frozenset(
    {"calling", "looking", "wondering", "trying", "here", "fine", "good", "great", "sorry", "not", "just", "new",
     "patient", "interested", "sure", "happy", "ok", "okay", "yes", "yeah", "no", "confusing", "frustrating",
     "ridiculous", "phoning", "ringing", "asking", "about", "still", "really", "hoping", "afraid", "glad",
     "available", "free", "busy", "well", "me", "him", "her", "them", "today", "tomorrow", "tonight",
     "morning", "afternoon", "evening", "night", "noon", "monday", "tuesday", "wednesday", "thursday", "friday",
     "saturday", "sunday", "mornings", "afternoons", "evenings", "weekend", "week", "next", "any", "anytime",
     "whenever", "best", "after", "before", "around", "am", "pm", "number", "phone", "mobile", "cell", "please",
     "thanks", "thank", "hi", "hello", "hey", "bye", "goodbye", "right", "correct", "that", "wrong", "hold", "wait",
     "sec", "second", "moment", "minute", "mr", "mrs", "ms", "miss", "dr", "actually", "um", "uh", "the", "a"}
)  # fmt: skip
_NAME_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*")
_MAX_NAME_WORDS = 3


def _name_word(lowered: str, written: str) -> bool:
    return (
        bool(_NAME_TOKEN.fullmatch(written))
        and lowered not in _NOT_NAMES
        and lowered not in FUNCTION_WORDS
        and lowered not in FILLERS
        and lowered not in DIGIT_WORDS
        and lowered not in TEEN_WORDS
        and lowered not in TENS_WORDS
    )


def _name_at(tokens: list[tuple[str, str]], index: int, capitalised: bool) -> str | None:
    words: list[str] = []
    while index < len(tokens) and len(words) < _MAX_NAME_WORDS:
        lowered, written = tokens[index]
        if not _name_word(lowered, written) or (capitalised and not written[0].isupper()):
            break
        words.append(written if not written.islower() else written.capitalize())
        index += 1
    if not words:
        return None
    following = tokens[index][0] if index < len(tokens) else ""
    ends = (",", ".", "!", "?", ";", "and", "my", "i", "i'm", "phone", "number", "-")
    if following and following not in ends and not following.isdigit() and len(words) == _MAX_NAME_WORDS:
        return None  # more words follow: a sentence, not a name
    return " ".join(words)


def _name(tokens: list[tuple[str, str]], expected: bool, known_terms: frozenset[str]) -> str | None:
    lowered = [word for word, _ in tokens]
    for index in range(len(lowered)):
        for lead in _NAME_LEADS:
            if tuple(lowered[index : index + len(lead)]) != lead:
                continue
            name = _name_at(tokens, index + len(lead), capitalised=lead not in _LOOSE_LEADS and not expected)
            if name:
                return name
    if not expected:
        return None
    # Just the name, after the agent asked for it ("Maria", "uh, Maria Lopez").
    start = 0
    while start < len(tokens) and (lowered[start] in LEAD_INS or lowered[start] in FILLERS or lowered[start] in ",."):
        start += 1
    name = _name_at(tokens, start, capitalised=False)
    if name is None:
        return None
    end = start + len(name.split())
    if end < len(tokens) and lowered[end] not in (",", ".", "!", ";", "and") and not lowered[end].isdigit():
        return None  # "hold on a second", "what are your hours": not a name
    # A lone lower-case word the knowledge uses ("whitening") is a topic, not a name.
    said_lower = all(tokens[start + i][1].islower() for i in range(len(name.split())))
    if said_lower and any(
        stem(word.lower()) in known_terms or word.lower() in QUESTION_PADDING for word in name.split()
    ):
        return None
    return name


# --- times: "tomorrow at 3", "Tuesday afternoon", "after 5 pm", "mornings", "next week"

_TIME_WORDS = frozenset(
    {"today", "tonight", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
     "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays", "morning", "mornings",
     "afternoon", "afternoons", "evening", "evenings", "night", "noon", "midday", "lunchtime", "lunch", "weekend",
     "weekends", "week", "asap", "am", "pm", "o'clock", "oclock", "anytime", "later", "weekday", "weekdays", "month",
     "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
     "december"}
)  # fmt: skip
_BEFORE_TIME = frozenset(
    {"at", "on", "in", "after", "before", "around", "by", "from", "until", "till", "next", "this", "early", "late",
     "any", "sometime", "between", "the", "about", "say"}
)  # fmt: skip
_INSIDE_TIME = _BEFORE_TIME | {"and", "or", "to", "time", "past", "half", "quarter", "ish", "of"}
_CLOCK_AFTER = frozenset({"at", "after", "before", "around", "by", "from", "until", "till", "between", "about", "to"})
_NO_PREFERENCE = re.compile(r"^(?:any ?time|whenever|any|either|no preference|doesn't matter|don't mind|not fussy)\b")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _is_time_word(words: list[str], index: int) -> bool:
    word = words[index]
    if word in _TIME_WORDS:
        return word != "may" or (index > 0 and words[index - 1] in ("in", "of"))
    if _CLOCK.fullmatch(word):
        return True
    if word.isdigit() and len(word) <= 2 and 0 < int(word) <= 12:
        before = words[index - 1] if index > 0 else ""
        after = words[index + 1] if index + 1 < len(words) else ""
        return before in _CLOCK_AFTER or after in ("am", "pm", "o'clock", "oclock", "ish", "30", "15", "45")
    return word.isdigit() and len(word) == 2 and index > 0 and words[index - 1].isdigit()  # 3 30


def _time(words: list[str]) -> str | None:
    """The time the caller named, in their words ("tomorrow at 3", "after 5 pm"); None when there is none."""
    anchors = [index for index in range(len(words)) if _is_time_word(words, index)]
    if not anchors:
        return None
    spans: list[tuple[int, int]] = []
    for anchor in anchors:
        if spans and anchor <= spans[-1][1] + 3 and all(w in _INSIDE_TIME for w in words[spans[-1][1] : anchor]):
            spans[-1] = (spans[-1][0], anchor + 1)
            continue
        first = anchor
        while first > 0 and words[first - 1] in _BEFORE_TIME:
            first -= 1
        spans.append((first, anchor + 1))
    first, end = max(spans, key=lambda span: (span[1] - span[0], span[0]))
    said = words[first:end]
    while said and said[0] in ("the", "say", "and", "or", "of", "on", "for"):
        said = said[1:]
    text = _written_time(said)
    without_preference = _NO_PREFERENCE.sub("", text).strip()
    if without_preference != text:
        return without_preference or None
    return text or None


def _written_time(words: list[str]) -> str:
    out: list[str] = []
    for index, word in enumerate(words):
        if word.isdigit() and len(word) == 2 and index > 0 and words[index - 1].isdigit() and out:
            out[-1] = f"{out[-1]}:{word}"  # "3 30" -> "3:30"
        elif word in _DAYS or word.rstrip("s") in _DAYS:
            out.append(word.capitalize())
        elif word == "oclock":
            out.append("o'clock")
        else:
            out.append(word)
    return " ".join(out)


def time_in(said: str) -> str | None:
    """The time named in a caller's words, if any."""
    return details_in(said, None).time


def no_preference(said: str) -> bool:
    """ "Any time", "whenever", "no preference": an answer to "when?" that leaves the time open."""
    return bool(_NO_PREFERENCE.match(" ".join(words_of(said))))
