"""The call recorder's barge-in cut: an interrupted agent turn keeps only what the caller heard of it.

The recorder is driven through its observer entry point with the frames a call's pipeline pushes: the TTS's audio
(tagged with its sentence), and what the output transport passes on once it has played it.
"""

import uuid
from typing import Any

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.utils.text.base_text_aggregator import TextType

from vocalis.voice.events import CallEvent, Transcript
from vocalis.voice.recorder import CallRecorder, TurnRecord
from vocalis.voice.turns import BackchannelFrame

RATE = 16_000
FRAME_BYTES = 1280  # 40 ms of 16-bit audio at 16 kHz, the grain the TTS sends
FIRST = "Our salon opens at nine."
SECOND = "We close at six on weekdays and at four on Saturdays."  # 11 words
SIZES = (12_800, 22_000)  # audio bytes of FIRST and SECOND


class Call:
    """A recorder wired as in a call, and the two processors whose pushes it watches."""

    def __init__(self) -> None:
        self.recorder = CallRecorder()
        self.tts = FrameProcessor(name="tts")
        self.output = FrameProcessor(name="output")
        self.recorder.output = self.output
        self.sink = FrameProcessor(name="sink")
        self.frames: list[TTSAudioRawFrame] = []

    async def push(self, frame: Frame, source: FrameProcessor, *, first_push: bool = True) -> None:
        destination = self.output if source is self.tts else self.sink
        pushed = FramePushed(source, destination, frame, FrameDirection.DOWNSTREAM, 0, first_push)
        await self.recorder.on_push_frame(pushed)

    async def synthesise(self, text: str, size: int) -> None:
        """The TTS's frames of one sentence, tagged as `spoken_sentence()` in voice/providers/speech.py tags them."""
        metadata: dict[str, Any] = {"sentence": text, "sentence_bytes": size, "sentence_key": uuid.uuid4().hex}
        for offset in range(0, size, FRAME_BYTES):
            frame = TTSAudioRawFrame(b"\0" * min(FRAME_BYTES, size - offset), RATE, 1)
            frame.metadata.update(metadata)
            self.frames.append(frame)
            await self.push(frame, self.tts)

    async def play(self, size: int) -> None:
        """The output transport passes on `size` more bytes of the synthesised audio: the caller heard them."""
        while size > 0:
            frame = self.frames.pop(0)
            played = TTSAudioRawFrame(frame.audio[:size], RATE, 1)
            await self.push(played, self.output, first_push=False)
            size -= len(played.audio)

    async def said(self, text: str) -> None:
        await self.push(TTSTextFrame(text, TextType.SENTENCE), self.output, first_push=False)

    async def started(self) -> None:
        await self.push(BotStartedSpeakingFrame(), self.output)

    async def stopped(self) -> None:
        await self.push(BotStoppedSpeakingFrame(), self.output)

    async def caller_said(self, text: str) -> None:
        await self.push(TranscriptionFrame(text, "caller", "2026-12-03T00:00:00Z"), self.sink)

    async def caller_took_the_floor(self) -> None:
        """The turn-start strategy started the caller's turn (over the agent: a barge-in)."""
        await self.push(UserStartedSpeakingFrame(), self.sink)

    async def caller_did_not_take_the_floor(self, text: str) -> None:
        await self.push(BackchannelFrame(text), self.sink)

    async def interrupted(self) -> None:
        await self.push(InterruptionFrame(), self.output)

    def agent_turns(self) -> list[TurnRecord]:
        return [turn for turn in self.recorder.turns if turn.role == "agent"]


async def two_sentence_turn() -> Call:
    call = Call()
    await call.started()
    await call.synthesise(FIRST, SIZES[0])
    await call.synthesise(SECOND, SIZES[1])
    return call


async def test_a_fully_played_turn_keeps_every_sentence() -> None:
    call = await two_sentence_turn()
    await call.play(SIZES[0])
    await call.said(FIRST)
    await call.play(SIZES[1])
    await call.said(SECOND)
    await call.stopped()

    [turn] = call.agent_turns()
    assert (turn.text, turn.interrupted) == (f"{FIRST} {SECOND}", False)
    assert turn.ended_ms is not None


async def test_an_interruption_in_the_second_sentence_keeps_the_words_played_of_it() -> None:
    call = await two_sentence_turn()
    await call.play(SIZES[0])
    await call.said(FIRST)
    # 40 % of the second sentence's audio: 4 of its 11 words were heard.
    await call.play(SIZES[1] * 4 // 10)
    await call.interrupted()
    await call.stopped()

    [turn] = call.agent_turns()
    assert turn.text == f"{FIRST} We close at six"
    assert turn.interrupted


async def test_a_turn_interrupted_before_any_audio_was_played_keeps_nothing() -> None:
    call = await two_sentence_turn()
    await call.interrupted()
    await call.stopped()
    assert call.agent_turns() == []


@pytest.mark.parametrize(
    ("short_by", "heard"),
    [
        # Output transports pad and re-chunk audio: up to one 40 ms frame short of its end, a sentence was heard.
        (0, FIRST),
        (FRAME_BYTES, FIRST),
        # Any more missing and only the played share of its words is kept (4.5 of its 5 words: 4).
        (FRAME_BYTES + 2, "Our salon opens at"),
    ],
)
async def test_a_sentence_is_heard_up_to_one_frame_short_of_its_end(short_by: int, heard: str) -> None:
    call = await two_sentence_turn()
    await call.play(SIZES[0] - short_by)
    await call.interrupted()
    await call.stopped()

    [turn] = call.agent_turns()
    # Bytes the first sentence fell short by are not counted towards the second: none of it was heard.
    assert (turn.text, turn.interrupted) == (heard, True)


async def test_words_said_over_a_reply_come_after_what_was_heard_of_it() -> None:
    call = Call()
    await call.caller_said("What time do you open?")
    await call.started()
    await call.synthesise(FIRST, SIZES[0])
    await call.play(SIZES[0])  # heard; its text frame has not come back from the output yet
    await call.caller_said("And on Saturday?")  # the words that take the floor, so before the turn's start
    await call.caller_took_the_floor()
    await call.interrupted()
    await call.stopped()
    assert [(turn.role, turn.text) for turn in call.recorder.turns] == [
        ("user", "What time do you open?"),
        ("agent", FIRST),
        ("user", "And on Saturday?"),
    ]


async def test_words_said_over_a_reply_that_did_not_take_the_floor_are_not_a_turn() -> None:
    call = Call()
    await call.caller_said("What time do you open?")
    await call.started()
    await call.synthesise(FIRST, SIZES[0])
    await call.play(SIZES[0] // 2)
    await call.caller_said("and the major men.")  # what Whisper made of a hum
    await call.caller_did_not_take_the_floor("and the major men.")
    await call.play(SIZES[0] // 2)
    await call.said(FIRST)
    await call.stopped()
    await call.caller_took_the_floor()
    await call.caller_said("And on Saturday?")
    assert [(turn.role, turn.text) for turn in call.recorder.turns] == [
        ("user", "What time do you open?"),
        ("agent", FIRST),
        ("user", "And on Saturday?"),
    ]


async def test_words_so_far_are_shown_live_unless_said_over_the_agent() -> None:
    call = Call()
    sent: list[CallEvent] = []

    async def send(event: CallEvent) -> None:
        sent.append(event)

    call.recorder.send = send
    await call.push(InterimTranscriptionFrame("What time", "caller", "2026-12-03T00:00:00Z"), call.sink)
    await call.caller_said("What time do you open?")
    await call.started()
    await call.synthesise(FIRST, SIZES[0])
    await call.play(SIZES[0] // 2)
    await call.push(InterimTranscriptionFrame("and the major", "caller", "2026-12-03T00:00:00Z"), call.sink)
    interim = [event for event in sent if isinstance(event, Transcript) and not event.final]
    assert [(event.role, event.text) for event in interim] == [("user", "What time")]


async def test_a_reply_cut_before_a_word_was_heard_leaves_the_callers_words_one_turn() -> None:
    call = Call()
    await call.caller_said("Hi there.")
    await call.started()
    await call.synthesise(FIRST, SIZES[0])
    await call.caller_took_the_floor()  # the caller went on in the reply's first second: at once
    await call.caller_said("Are you open on Saturday?")
    await call.interrupted()
    await call.stopped()
    assert [(turn.role, turn.text) for turn in call.recorder.turns] == [("user", "Hi there. Are you open on Saturday?")]


async def test_what_the_caller_heard_of_a_reply_outlasts_the_reply_until_their_next_turn_ends() -> None:
    call = await two_sentence_turn()
    await call.play(RATE * 2)  # one second
    await call.interrupted()
    await call.stopped()
    # The barge-in stopped the agent before the joiner asks.
    assert call.recorder.reply_heard() == (1.0, f"{FIRST} We close at six on weekdays and at four")
    await call.push(UserStoppedSpeakingFrame(), call.sink)
    assert call.recorder.reply_heard() == (0.0, "")
