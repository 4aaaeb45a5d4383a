"""How `benchmarks.conversations` judges a call: from what the caller heard, not from what the server says it said.

The agent's audio, as it arrived, is cut into bursts (a gap of more than `BURST_GAP` s after the audio received so
far would have finished playing), and bursts into replies (a gap under `REPLY_GAP` s with no caller turn starting in
it joins them). A reply answers the last caller turn that started before it; one that starts before that turn's last
audio frame was sent was said over the caller. Each reply is transcribed (Whisper base, the full 30 s window, beam
search) and its expected facts are looked for in that transcript. The text the agent sent (its `transcript` events)
tells apart a fact the agent never said from one it said but the caller heard wrong.

Facts are matched on normalised words: lower case, no punctuation, number words as digits ("ninety-five" -> 95,
"five five five" -> 5 5 5), "$95" as "95 dollars", "8:00 a.m." as "8 am". A fact of digits only (a price, a phone
number) must be a run of whole numbers in the transcript ("555-014-2200" and "five five five, zero one four, two two
oh oh" both hold 5550142200; "1995" does not hold 95). Words may run together or apart ("DeltaDental", "Met Life"),
a plural says its singular ("Sundays" says "sunday"), and words of 5 letters or more may be spelled another way if
they sound the same (Soundex: "Ramen" for "Raman"): a caller hears sounds, not spellings.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from benchmarks._conversations_scenarios import Scenario, Turn

BYTES_PER_SECOND = 32_000
BURST_GAP = 0.25  # s of silence in the agent's audio that ends a burst
REPLY_GAP = 1.0  # s between bursts that makes them two replies
# s a reply may start before the caller's last word ends: people overlap this much at a turn's end (a reply to
# "That's all. Goodbye." starting on "-bye") without either being talked over.
OVERLAP_ALLOWED = 0.3
# A reply started in the caller's pause and stopped, within this many seconds, because they went on is a false start
# (what the issue asks for: the pending reply dropped, the fragments answered as one turn); counted, not a failure.
FALSE_START_SECONDS = 0.6
STOP_WITHIN = 1.5  # s from the caller's first word over a reply until it must have stopped (a barge-in)
KEEPS_TALKING_FOR = 1.0  # s past a backchannel's end that the reply under way must still be playing
STOP_GAP = 0.6  # a gap this long in the reply under way, while or just after a backchannel, is a stop
ENDS_WITHIN = 15.0  # s after its reply within which an ending call must have ended
END_REASON_OF_CALLER = "caller_hangup"
SOUNDS_FROM_LETTERS = 5  # words this long are compared by how they sound

# --- words


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000}
BOUNDARY = "|"  # ends a sentence: numbers on either side are not one number

_REWRITES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"[\u2018\u2019`]"), "'"),
    (re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)"), r"\1 dollars "),
    (re.compile(r"(\d),(\d{3})\b"), r"\1\2"),
    (re.compile(r"\b(\d+)[\s\-](hundred|thousand)\b"), lambda m: str(int(m[1]) * _SCALES[m[2]])),  # "24-thousand"
    (re.compile(r"\b(\d{1,2}):00\b"), r"\1"),
    (re.compile(r"\b(\d{1,2}):(\d{2})\b"), r"\1 \2"),
    (re.compile(r"\b(\d{1,2})\.(\d{2})(?=\s?[ap]\.?\s?m\b)"), r"\1 \2"),  # "7.30 a.m.", as a time is also written
    (re.compile(r"(\d)\.(\d)"), r"\1 point \2"),
    (re.compile(r"\b([ap])\.?\s?m\b\.?"), r" \1m "),
    (re.compile(r"(\d)(am|pm|st|nd|rd|th)\b"), r"\1 \2"),
    (re.compile(r"%"), " percent "),
    (re.compile(r"[.?!;:]+(?=\s|$)"), f" {BOUNDARY} "),
    (re.compile(r"[\-\u2010-\u2015/]"), " "),
]
_TOKEN = re.compile(rf"[a-z]+(?:'[a-z]+)?|\d+|\{BOUNDARY}")


def _numbers_as_digits(tokens: list[str]) -> list[str]:
    """Number words as digits: "ninety five" -> 95, "two hundred and fifty" -> 250, "five five" -> 5 5."""
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        starts = token in _UNITS or token in _TENS or (token == "a" and tokens[index + 1 : index + 2] == ["hundred"])
        if not starts:
            out.append(token)
            index += 1
            continue
        total, current, last = 0, 0, ""
        while index < len(tokens):
            token = tokens[index]
            if token == "a" and last == "":
                current, last = 1, "unit"
            elif token in _UNITS and (last in ("", "scale") or (last == "tens" and _UNITS[token] < 10)):
                current, last = current + _UNITS[token], "unit"
            elif token in _TENS and last in ("", "scale"):
                current, last = current + _TENS[token], "tens"
            elif token in _SCALES and last in ("unit", "tens"):
                if token == "hundred":
                    current *= 100
                else:
                    total, current = total + current * 1000, 0
                last = "scale"
            elif (
                token == "and"
                and last == "scale"
                and tokens[index + 1 : index + 2]
                and (tokens[index + 1] in _UNITS or tokens[index + 1] in _TENS)
            ):
                pass
            else:
                break
            index += 1
        out.append(str(total + current))
    # "oh" after a digit, before another digit, another "oh" or the end, is a zero ("five five five oh one four").
    for i, token in enumerate(out):
        following = out[i + 1] if i + 1 < len(out) else BOUNDARY
        if token == "oh" and i and out[i - 1].isdigit() and (following.isdigit() or following in ("oh", BOUNDARY)):
            out[i] = "0"
    return out


def tokens(text: str) -> list[str]:
    """Normalised words of `text`, with `BOUNDARY` where a sentence ends (see the module's docstring)."""
    text = text.lower()
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return _numbers_as_digits(_TOKEN.findall(text))


def _digit_runs(words: list[str]) -> list[list[str]]:
    runs: list[list[str]] = [[]]
    for word in words:
        if word.isdigit():
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def says(text: str, alternatives: Iterable[str]) -> bool:
    """Whether `text` says one of the alternatives (see the module's docstring for how)."""
    heard = tokens(text)
    words = [word for word in heard if word != BOUNDARY]
    for alternative in alternatives:
        wanted = [word for word in tokens(alternative) if word != BOUNDARY]
        if not wanted:
            continue
        if all(word.isdigit() for word in wanted):
            if _says_number(heard, "".join(wanted)):
                return True
        elif _says_words(words, wanted):
            return True
    return False


def _says_number(heard: list[str], digits: str) -> bool:
    """Whether consecutive numbers of one run (no word or sentence end between them) spell `digits`."""
    for run in _digit_runs(heard):
        if any("".join(run[i:j]) == digits for i in range(len(run)) for j in range(i + 1, len(run) + 1)):
            return True
    return False


def _says_words(words: list[str], wanted: list[str]) -> bool:
    words, wanted = [_singular(word) for word in words], [_singular(word) for word in wanted]
    if any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1)):
        return True
    if _run_together(words, "".join(wanted)):
        return True
    sounds, wanted_sounds = [_sound(word) for word in words], [_sound(word) for word in wanted]
    return any(sounds[i : i + len(wanted)] == wanted_sounds for i in range(len(words) - len(wanted) + 1))


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


_SOUNDEX = {letter: str(code) for code, letters in enumerate(("bfpv", "cgjkqsxz", "dt", "l", "mn", "r"), 1)
            for letter in letters}  # fmt: skip


def _sound(word: str) -> str:
    """How a long word sounds (Soundex), so that a name spelled another way ("Ramen" for "Raman", "Medlife" for
    "MetLife") is still what was heard; shorter words, and numbers, must match exactly."""
    if len(word) < SOUNDS_FROM_LETTERS or not word.isalpha():
        return word
    codes = [_SOUNDEX.get(letter, "") for letter in word]
    kept = [code for index, code in enumerate(codes) if code and (index == 0 or code != codes[index - 1])]
    if kept and codes[0]:
        kept = kept[1:]
    return (word[0] + "".join(kept) + "000")[:4]


def _run_together(words: list[str], joined: str) -> bool:
    """Whether consecutive words, spaces dropped, spell `joined`: "DeltaDental" or "Met Life" for "delta dental" or
    "metlife" (a transcript's spacing of names is not what was heard)."""
    for start in range(len(words)):
        spelled = ""
        for word in words[start:]:
            spelled += word
            if spelled == joined:
                return True
            if not joined.startswith(spelled):
                break
    return False


def is_number(alternatives: Iterable[str]) -> bool:
    """Whether a fact is a number (a price, a time, a phone number): any of its alternatives holds digits."""
    return any(word.isdigit() for alternative in alternatives for word in tokens(alternative))


def show(alternatives: Iterable[str]) -> str:
    return " | ".join(f'"{alternative}"' for alternative in alternatives)


# --- what happened on a call


@dataclass
class CallerTurn:
    """One caller turn as it went: `start` and `end` (time.monotonic()) of its audio; a silence starts and ends when
    the caller fell silent. `over_reply`: seconds of agent audio the caller had heard of the reply under way when a
    `while_agent_speaks` turn started (None when that reply had already ended)."""

    index: int
    words: str
    start: float
    end: float
    silent: bool = False
    over_reply: float | None = None


@dataclass
class Reply:
    start: float  # the first frame's arrival (time.monotonic())
    end: float  # when its last frame has finished playing
    pcm: bytes
    gaps: list[tuple[float, float]] = field(default_factory=list)  # silences between its bursts
    turn: int = -1  # the caller turn it answers (-1: none yet, the greeting)
    over_caller: bool = False  # it started while the caller was still saying that turn, and went on
    false_start: bool = False  # it started in the caller's pause and stopped within moments, as they went on
    said: str = ""  # the agent's text, from its transcript events
    heard: str = ""  # what the caller heard: the audio, transcribed

    @property
    def seconds(self) -> float:
        return len(self.pcm) / BYTES_PER_SECOND


@dataclass
class CallLog:
    """Everything a call left to judge it by."""

    scenario: str
    voice: str
    call_id: str | None = None
    opened: float = 0.0  # time.monotonic() when the WebSocket opened
    turns: list[CallerTurn] = field(default_factory=list)
    audio: list[tuple[float, bytes]] = field(default_factory=list)
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    record: dict[str, Any] | None = None
    error: str | None = None  # the harness could not run the call (setup refused, the call never started)


def split_replies(audio: list[tuple[float, bytes]], turns: list[CallerTurn]) -> list[Reply]:
    """The agent's audio as replies, each given the caller turn it answers (see the module's docstring)."""
    bursts: list[Reply] = []
    for at, pcm in audio:
        if bursts and at <= bursts[-1].end + BURST_GAP:
            burst = bursts[-1]
            burst.end = max(at, burst.end) + len(pcm) / BYTES_PER_SECOND
            burst.pcm += pcm
        else:
            bursts.append(Reply(start=at, end=at + len(pcm) / BYTES_PER_SECOND, pcm=pcm))
    replies: list[Reply] = []
    for burst in bursts:
        previous = replies[-1] if replies else None
        # A caller turn starting between them, or ending between their starts (a false start, then the answer).
        caller_between = previous is not None and any(
            previous.end <= turn.start < burst.start
            or (not turn.silent and previous.start < turn.end - OVERLAP_ALLOWED <= burst.start)
            for turn in turns
        )
        if previous is not None and burst.start - previous.end < REPLY_GAP and not caller_between:
            previous.gaps.append((previous.end, burst.start))
            previous.end, previous.pcm = burst.end, previous.pcm + burst.pcm
        else:
            replies.append(burst)
    for reply in replies:
        started = [turn for turn in turns if turn.start <= reply.start]
        if started:
            reply.turn = started[-1].index
            spoken = started[-1]
            if not spoken.silent and reply.start < spoken.end - OVERLAP_ALLOWED:
                reply.false_start = reply.end <= spoken.end and reply.seconds <= FALSE_START_SECONDS
                reply.over_caller = not reply.false_start
    return replies


def attach_text(replies: list[Reply], events: list[tuple[float, dict[str, Any]]]) -> None:
    """Give each reply the agent text sent while (or just after) it played."""
    for at, event in events:
        if event.get("type") != "transcript" or event.get("role") != "agent" or not event.get("final"):
            continue
        playing = [reply for reply in replies if reply.start - 0.2 <= at <= reply.end + 1.0]
        before = [reply for reply in replies if reply.start <= at]
        target = playing[0] if playing else (before[-1] if before else None)
        if target is not None:
            target.said = f"{target.said} {event['text']}".strip()


# --- verdicts


@dataclass(frozen=True)
class Failure:
    check: str  # answered, talked over, extra reply, facts, misheard, behind, not heard, barge-in, backchannel, ...
    turn: int | None  # 0-based caller turn, None for the whole call
    detail: str

    def __str__(self) -> str:
        where = f"turn {self.turn + 1}: " if self.turn is not None else ""
        return f"{self.check}: {where}{self.detail}"


@dataclass
class TurnResult:
    said: str
    replies: list[Reply]
    latency_ms: float | None  # the turn's last audio frame sent -> its reply's first frame received


@dataclass
class Verdict:
    scenario: str
    voice: str
    call_id: str | None
    failures: list[Failure]
    turns: list[TurnResult]
    greeting: str
    behind: int  # turns whose answer came in a later reply
    false_starts: int  # replies begun in a caller's pause and dropped as they went on
    numbers_said: int  # number facts the agent said
    numbers_misheard: int  # ...that the caller did not hear as said
    end_reason: str | None
    # What the server understood and said, turn by turn (the call record's), to tell a mishearing from a wrong answer.
    record_turns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def latencies_ms(self) -> list[float]:
        return [turn.latency_ms for turn in self.turns if turn.latency_ms is not None]


def _text(replies: list[Reply], attribute: str) -> str:
    return " ".join(getattr(reply, attribute) for reply in replies)


def _quote(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return f'"{text[:limit]}{"..." if len(text) > limit else ""}"'


def _under_way(replies: list[Reply], turn: CallerTurn) -> Reply | None:
    """The reply the agent was saying when the caller started `turn`."""
    before = [reply for reply in replies if reply.start < turn.start]
    return before[-1] if before and before[-1].end > turn.start - BURST_GAP else None


def _ended(log: CallLog) -> tuple[float, str] | None:
    return next(((at, str(event.get("reason"))) for at, event in log.events if event.get("type") == "call.ended"), None)


def judge(scenario: Scenario, log: CallLog, replies: list[Reply]) -> Verdict:
    """The verdict on one call of `scenario`: its failures (in the order a caller met them) and its figures."""
    failures: list[Failure] = []
    results: list[TurnResult] = []
    behind = numbers_said = numbers_misheard = 0
    ended = _ended(log)
    if log.error is not None:
        failures.append(Failure("call", None, log.error))
    for index, (turn, spoken) in enumerate(zip(scenario.turns, log.turns, strict=False)):
        own = [reply for reply in replies if reply.turn == index]
        proper = [reply for reply in own if not (reply.over_caller or reply.false_start)]
        later = [reply for reply in replies if reply.turn > index]
        latency = None if spoken.silent or not proper else 1000 * (proper[0].start - spoken.end)
        results.append(TurnResult(spoken.words, own, latency))
        failures += _reply_count(turn, index, spoken, own, proper)
        heard, said = _text(proper, "heard"), _text(proper, "said")
        for fact in turn.expect.heard:
            number = is_number(fact)
            if number and says(said, fact):
                numbers_said += 1
            if says(heard, fact):
                continue
            if says(said, fact):
                numbers_misheard += number
                failures.append(Failure("misheard", index, f"said {show(fact)} but the caller heard {_quote(heard)}"))
            elif any(
                says(reply.heard, fact) and fact not in scenario.turns[reply.turn].expect.heard for reply in later
            ):
                behind += 1
                failures.append(Failure("behind", index, f"{show(fact)} came only in a later reply"))
            elif proper:
                failures.append(Failure("facts", index, f"{show(fact)} not heard in {_quote(heard)}"))
        for fact in turn.expect.not_heard:
            if says(heard, fact):
                failures.append(Failure("not heard", index, f"heard {show(fact)} in {_quote(heard)}"))
        failures += _overlap(turn, index, spoken, replies)
    failures += _call_end(scenario, log, replies)
    if log.error is None and log.record is not None:
        failures += _record(scenario, log.record)
        if scenario.callback is not None:
            failures += _callback(scenario, log.record)
    greeting = _text([reply for reply in replies if reply.turn < 0], "heard")
    return Verdict(
        scenario=scenario.name,
        voice=log.voice,
        call_id=log.call_id,
        failures=failures,
        turns=results,
        greeting=greeting,
        behind=behind,
        false_starts=sum(reply.false_start for reply in replies),
        numbers_said=numbers_said,
        numbers_misheard=numbers_misheard,
        end_reason=ended[1] if ended else None,
        record_turns=[
            {key: turn.get(key) for key in ("role", "text", "interrupted", "latency")}
            for turn in (log.record or {}).get("turns") or []
        ],
    )


def _reply_count(turn: Turn, index: int, spoken: CallerTurn, own: list[Reply], proper: list[Reply]) -> list[Failure]:
    failures = []
    for reply in own:
        if reply.over_caller:
            early = f"{spoken.end - reply.start:.1f} s before the caller had finished"
            failures.append(Failure("talked over", index, f"the agent started {early}: {_quote(reply.heard, 80)}"))
    expected = turn.replies
    if expected == "one" and not proper:
        failures.append(Failure("answered", index, "no reply"))
    elif expected in ("one", "optional") and len(proper) > 1:
        extra = "; ".join(_quote(reply.heard, 60) for reply in proper)
        failures.append(Failure("extra reply", index, f"{len(proper)} replies: {extra}"))
    elif expected == "none" and proper:
        failures.append(Failure("extra reply", index, f"a reply where none was due: {_quote(proper[0].heard, 80)}"))
    return failures


def _overlap(turn: Turn, index: int, spoken: CallerTurn, replies: list[Reply]) -> list[Failure]:
    """Barge-in (the reply under way stops) and backchannel (it goes on) checks."""
    if not (turn.expect.stops_talking or turn.expect.keeps_talking):
        return []
    under_way = _under_way(replies, spoken)
    if under_way is None or spoken.over_reply is None:
        check = "barge-in" if turn.expect.stops_talking else "backchannel"
        return [Failure(check, index, "not tested: the agent's reply had ended before the caller spoke")]
    if turn.expect.stops_talking:
        late = under_way.end - spoken.start
        if late > STOP_WITHIN:
            return [Failure("barge-in", index, f"the agent went on for {late:.1f} s after the caller spoke over it")]
        return []
    until = spoken.end + KEEPS_TALKING_FOR
    stops = [gap for gap in under_way.gaps if gap[1] - gap[0] > STOP_GAP and gap[1] > spoken.start and gap[0] < until]
    if under_way.end < until or stops:
        stopped = stops[0][0] if stops else under_way.end
        after = f"{stopped - spoken.start:.1f} s after the caller's {spoken.words!r}"
        return [Failure("backchannel", index, f"the agent stopped {after}")]
    return []


def _call_end(scenario: Scenario, log: CallLog, replies: list[Reply]) -> list[Failure]:
    """The call ends when, and only when, a turn expects the agent to end it (within `ENDS_WITHIN` s of its reply)."""
    ended = _ended(log)
    by_agent = ended is not None and ended[1] != END_REASON_OF_CALLER
    ending = next((index for index, turn in enumerate(scenario.turns) if turn.expect.ends_call), None)
    if ending is None or ending >= len(log.turns):
        if not by_agent:
            return [] if ending is None else [Failure("ends call", ending, "the caller never got to this turn")]
        assert ended is not None
        cut = next((turn.index for turn in log.turns if turn.end > ended[0]), None)
        if cut is None and len(log.turns) < len(scenario.turns):
            cut = len(log.turns)
        if cut is None:
            return [Failure("call ended", None, f"the agent ended the call ({ended[1]}) unasked")]
        return [Failure("call ended", cut, f"the agent ended the call ({ended[1]}) before the caller was done")]
    spoken = log.turns[ending]
    if ended is None or not by_agent:
        return [Failure("ends call", ending, "the agent did not end the call")]
    if ended[0] < spoken.start:
        return [Failure("call ended", ending, f"the call ended ({ended[1]}) before this turn")]
    after = max([reply.end for reply in replies if reply.turn == ending] or [spoken.end])
    if ended[0] - after > ENDS_WITHIN:
        return [Failure("ends call", ending, f"the call ended only {ended[0] - after:.0f} s after the reply")]
    return []


def _record(scenario: Scenario, record: dict[str, Any]) -> list[Failure]:
    """The call record: finished cleanly, one agent turn after each caller turn that needs one, each with its
    latency."""
    failures = []
    if record.get("status") != "completed":
        failures.append(Failure("record", None, f"status {record.get('status')}: {record.get('error')}"))
    turns = record.get("turns") or []
    answers = [i for i in range(1, len(turns)) if turns[i]["role"] == "agent" and turns[i - 1]["role"] == "user"]
    # A reply the caller spoke over is one only if it was due (a barge-in), not if they were going on (a false start).
    whole = [i for i in answers if not (turns[i].get("interrupted") and i + 1 < len(turns))]
    needed = sum(turn.replies == "one" for turn in scenario.turns)
    allowed = needed + sum(turn.replies in ("optional", "any") for turn in scenario.turns)
    if not (needed <= len(answers) and len(whole) <= allowed):
        roles = " ".join("A" if turn["role"] == "agent" else "U" for turn in turns)
        wanted = f"{needed}" if needed == allowed else f"{needed}-{allowed}"
        replies = f"{len(answers)} agent replies to caller turns, {wanted} expected"
        failures.append(Failure("record", None, f"{replies} (turns: {roles})"))
    missing = [i for i in answers if not (turns[i].get("latency") or {}).get("total_ms")]
    if missing:
        failures.append(Failure("record", None, f"{len(missing)} agent turns without their latency"))
    return failures


def _callback(scenario: Scenario, record: dict[str, Any]) -> list[Failure]:
    expected = scenario.callback
    assert expected is not None
    taken = (record.get("collected") or {}).get("callback")
    if not isinstance(taken, dict):
        return [Failure("callback", None, "no callback on the call record")]
    problems = []
    if not says(str(taken.get("name") or ""), expected.name):
        problems.append(f"name {taken.get('name')!r}, expected {show(expected.name)}")
    digits, wanted = re.sub(r"\D", "", str(taken.get("phone") or "")), re.sub(r"\D", "", expected.phone)
    if not digits.endswith(wanted) or len(digits) > len(wanted) + 3:
        problems.append(f"phone {taken.get('phone')!r}, expected {expected.phone}")
    if expected.preferred_time is not None and not says(
        str(taken.get("preferred_time") or ""), expected.preferred_time
    ):
        problems.append(f"preferred time {taken.get('preferred_time')!r}, expected {show(expected.preferred_time)}")
    return [Failure("callback", None, "; ".join(problems))] if problems else []
