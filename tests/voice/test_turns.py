import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from vocalis.voice import turns
from vocalis.voice.engine import context_messages
from vocalis.voice.thinking import Message
from vocalis.voice.turns import (
    CONTINUATION_HEARD_SECONDS,
    BackchannelFrame,
    CallerTurnStart,
    TurnJoiner,
    is_opener,
    takes_the_floor,
)


@pytest.mark.parametrize(
    "said",
    ["Uh-huh.", "okay", "Mm-hm", "Yeah.", "Right, right.", "Oh, okay.", "I see.", "MMA.", "Collar", "M.M.H.M.",
     "M-M-H-M", "and the major men.", "I. T. A.", ""],
)  # fmt: skip
def test_a_listeners_sounds_do_not_take_the_floor(said: str) -> None:
    assert not takes_the_floor(said)


@pytest.mark.parametrize(
    "said",
    ["Wait, what about Sunday?", "Okay, and do you take Cigna?", "No", "Stop", "Sorry?", "Hello?", "How much?"],
)
def test_words_that_ask_for_the_floor_or_make_a_sentence_take_it(said: str) -> None:
    assert takes_the_floor(said)


@pytest.mark.parametrize("said", ["Hi there.", "Hello?", "Hey, um", "Good morning.", "Oh hi", "OK.", "Sorry, actually"])
def test_a_greeting_alone_opens_a_turn_that_may_go_on(said: str) -> None:
    assert is_opener(said)


@pytest.mark.parametrize("said", ["Hi, are you open on Saturday?", "Yes.", "Bye.", ""])
def test_a_turn_that_says_something_is_not_just_an_opener(said: str) -> None:
    assert not is_opener(said)


class Caller:
    """Frames into a `CallerTurnStart` while the agent speaks, with the VAD's frame-by-frame verdict set by hand."""

    def __init__(self) -> None:
        self.barged_in = False
        self.start = CallerTurnStart(barge_in_seconds=0.6, voicing=lambda: self.voicing)
        self.voicing = False

        async def barged_in(*_: object) -> None:
            self.barged_in = True

        async def pushed(_: object, frame: Frame, *__: object) -> None:
            self.pushed.append(frame)

        self.pushed: list[Frame] = []
        self.start.add_event_handler("on_user_turn_started", barged_in)
        self.start.add_event_handler("on_push_frame", pushed)

    async def frame(self, frame: object) -> None:
        await self.start.process_frame(frame)  # type: ignore[arg-type]

    async def speaks(self, voiced: float, quiet: float = 0.0) -> None:
        """A stretch of speech: `voiced` seconds the VAD hears a voice in, then `quiet`."""
        await self.frame(VADUserStartedSpeakingFrame(start_secs=0.2))
        await self.audio(voiced, voicing=True)
        await self.audio(quiet, voicing=False)

    async def audio(self, seconds: float, *, voicing: bool) -> None:
        self.voicing = voicing
        for _ in range(round(seconds / 0.02)):
            await self.frame(InputAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=1))


@pytest.fixture
async def caller(monkeypatch: pytest.MonkeyPatch) -> Caller:
    monkeypatch.setattr(turns, "CONTINUATION_HEARD_SECONDS", 0.0)  # the reply has been heard for a while
    caller = Caller()
    await caller.frame(BotStartedSpeakingFrame())
    return caller


async def test_speech_that_lasts_while_the_agent_speaks_is_a_barge_in(caller: Caller) -> None:
    await caller.speaks(voiced=0.5)
    assert not caller.barged_in
    await caller.audio(0.1, voicing=True)
    assert caller.barged_in


async def test_a_short_sound_is_not_a_barge_in_however_late_the_vad_says_it_ended(caller: Caller) -> None:
    # "Mm-hm.": 0.5 s of voice, and the VAD reports the end of speech only `end_of_speech_ms` after it.
    await caller.speaks(voiced=0.5, quiet=1.0)
    await caller.frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await caller.speaks(voiced=0.5, quiet=0.5)  # another, timed on its own
    assert not caller.barged_in


async def test_voice_after_a_short_pause_adds_up(caller: Caller) -> None:
    # "Wait, ⟨pause⟩ what are your hours", with "Wait," too short for the VAD to start on its own.
    await caller.audio(0.3, voicing=True)
    await caller.audio(0.3, voicing=False)
    await caller.speaks(voiced=0.3)
    assert caller.barged_in


async def test_words_that_do_not_take_the_floor_are_dropped(caller: Caller) -> None:
    await caller.speaks(voiced=0.3, quiet=0.3)
    await caller.frame(TranscriptionFrame("and the major men.", "caller", "2026-12-03T00:00:00Z"))
    assert not caller.barged_in
    assert [type(frame) for frame in caller.pushed] == [BackchannelFrame]


async def test_words_that_take_the_floor_barge_in_however_short(caller: Caller) -> None:
    await caller.speaks(voiced=0.2, quiet=0.3)
    await caller.frame(TranscriptionFrame("Wait.", "caller", "2026-12-03T00:00:00Z"))
    assert caller.barged_in and not caller.pushed


async def test_words_so_far_that_take_the_floor_barge_in_before_the_caller_is_done(caller: Caller) -> None:
    await caller.speaks(voiced=0.4)
    await caller.frame(InterimTranscriptionFrame("and the major", "caller", "2026-12-03T00:00:00Z"))
    assert not caller.barged_in and not caller.pushed  # the rest may still ask for the floor
    await caller.frame(InterimTranscriptionFrame("Sorry, act", "caller", "2026-12-03T00:00:00Z"))
    assert caller.barged_in


async def test_a_caller_still_speaking_when_the_reply_ends_has_the_floor(caller: Caller) -> None:
    await caller.speaks(voiced=0.3)
    await caller.frame(BotStoppedSpeakingFrame())
    assert caller.barged_in


async def test_words_said_over_a_reply_are_judged_even_once_it_has_ended(caller: Caller) -> None:
    await caller.speaks(voiced=0.3, quiet=0.3)
    await caller.frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await caller.frame(BotStoppedSpeakingFrame())
    assert not caller.barged_in
    await caller.frame(TranscriptionFrame("Which one?", "caller", "2026-12-03T00:00:00Z"))
    assert caller.barged_in


def conversation(*messages: tuple[str, str]) -> LLMContext:
    return LLMContext(messages=[{"role": role, "content": content} for role, content in messages])  # type: ignore[misc]


def test_a_caller_who_goes_on_has_the_reply_dropped_and_their_words_joined() -> None:
    context = conversation(
        ("assistant", "Hello! How can I help?"),
        ("user", "Hi there."),
        ("assistant", "Hello!"),
        ("user", "Open Saturday?"),
    )
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=0.4)
    joiner.join(context)
    assert context_messages(context) == [
        Message("assistant", "Hello! How can I help?"),
        Message("user", "Hi there. Open Saturday?"),
    ]
    # Once only: the next turn is a turn of its own.
    context.add_message({"role": "assistant", "content": "We open at 10."})
    context.add_message({"role": "user", "content": "Thanks."})
    joiner.join(context)
    assert context_messages(context)[-2:] == [Message("assistant", "We open at 10."), Message("user", "Thanks.")]


def test_a_caller_who_heard_the_reply_answers_it() -> None:
    context = conversation(("user", "What time do you open?"), ("assistant", "At 9 am."), ("user", "And Saturday?"))
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=CONTINUATION_HEARD_SECONDS + 0.5)
    joiner.join(context)
    assert [message.role for message in context_messages(context)] == ["user", "assistant", "user"]


def test_a_caller_who_speaks_long_after_their_turn_starts_a_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 110.0])
    monkeypatch.setattr("vocalis.voice.turns.time.monotonic", lambda: next(clock))
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=0.0)
    context = conversation(("user", "Hi."), ("assistant", "Hello!"), ("user", "Bye."))
    joiner.join(context)
    assert len(context_messages(context)) == 3


def test_a_caller_who_barged_in_has_the_words_they_heard_before_their_own() -> None:
    # Pipecat keeps a reply's sentence in the context only once all of it was played.
    context = conversation(("user", "Tell me about cancelling."), ("user", "Sorry, how much is whitening?"))
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=2.2, heard_words="Please give us at least 24 hours'")
    joiner.join(context)
    assert context_messages(context) == [
        Message("user", "Tell me about cancelling."),
        Message("assistant", "Please give us at least 24 hours'"),
        Message("user", "Sorry, how much is whitening?"),
    ]


def test_the_heard_words_are_not_added_twice() -> None:
    context = conversation(("user", "Hours?"), ("assistant", "We open at nine"), ("user", "And Sunday?"))
    joiner = TurnJoiner()
    joiner.turn_stopped()
    joiner.turn_started(heard_seconds=2.0, heard_words="We open at nine")
    joiner.join(context)
    assert [message.role for message in context_messages(context)] == ["user", "assistant", "user"]
