"""What a call leaves behind: its transcript as the caller heard it, per-turn latency, and live events for the client.

The recorder watches the frames of a call's pipeline (a Pipecat observer), so it changes nothing in their flow.
Agent words are taken from the text frames the output transport passes on after it has played their audio: a
sentence cut off by the caller is not in the transcript, which is what "what the caller actually heard" means here.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from vocalis.voice.audio import SAMPLE_RATE
from vocalis.voice.events import AgentSpeaking, AgentStopped, CallEvent, Transcript
from vocalis.voice.turns import BackchannelFrame

Send = Callable[[CallEvent], Awaitable[None]]


def spoken_sentence(text: str, audio_bytes: int) -> dict[str, Any]:
    """Metadata for each audio frame of a synthesised sentence, which every TTS provider attaches: the recorder
    uses it to work out how much of the sentence the caller heard before interrupting."""
    return {"sentence": text, "sentence_bytes": audio_bytes, "sentence_key": uuid.uuid4().hex}


@dataclass
class TurnRecord:
    role: str
    text: str
    started_ms: int
    ended_ms: int | None = None
    interrupted: bool = False
    latency: dict[str, int] | None = None


@dataclass
class _PendingReply:
    """Timestamps (time.time()) of one reply, from the end of the caller's speech to the first agent audio."""

    speech_end: float
    transcribed: float | None = None
    thinking: float | None = None
    first_text: float | None = None
    first_audio: float | None = None


def _ms(start: float | None, end: float | None) -> int | None:
    return round((end - start) * 1000) if start is not None and end is not None else None


class CallRecorder(BaseObserver):
    """Builds the transcript and latency of a call from its frames, and tells the client what happens."""

    def __init__(self, send: Send | None = None) -> None:
        super().__init__()
        self.send = send
        # The output transport: frames it passes on have been played to the caller.
        self.output: FrameProcessor | None = None
        self.started = time.time()
        self.turns: list[TurnRecord] = []
        self._pending: _PendingReply | None = None
        self._agent_turn: TurnRecord | None = None
        self._user_started_ms: int | None = None
        self._agent_started_ms: int | None = None
        # Words the caller said over the agent, until the turn-start strategy decides whether they take the floor
        # (the caller's turn starts) or not (a `BackchannelFrame`: not a turn of the conversation).
        self._undecided: list[str] = []
        # The sentences synthesised for the agent's current turn (text, audio bytes), and the bytes played so far.
        self._sentences: list[tuple[str, int]] = []
        self._sentence_key: str | None = None
        self._played_bytes = 0
        # The agent's audio played since the caller's turn last stopped, and the words of it (once the agent stopped):
        # what they heard of the reply to that turn.
        self._reply_played_bytes = 0
        self._reply_heard_words = ""
        # How many times the caller's speech has interrupted the pipeline (each turn's start does).
        self.interruptions = 0
        # Set while the agent is audible; `spoke` is set the first time it starts after being cleared.
        self.quiet = asyncio.Event()
        self.quiet.set()
        self.spoke = asyncio.Event()

    def reply_heard(self) -> tuple[float, str]:
        """How long, and which words, of the reply to their last turn the caller has heard (the agent may have been
        stopped since)."""
        words = self._reply_heard_words
        if self._agent_turn is not None:
            words = f"{words} {self._heard() or self._agent_turn.text}".strip()
        return self._reply_played_bytes / (2 * SAMPLE_RATE), words

    def now_ms(self) -> int:
        return round((time.time() - self.started) * 1000)

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if not data.first_push and not self._from_output(data):
            return
        await self._observe(frame, data)

    def _from_output(self, data: FramePushed) -> bool:
        return data.source is self.output and data.direction is FrameDirection.DOWNSTREAM

    async def _observe(self, frame: Frame, data: FramePushed) -> None:
        now = time.time()
        if isinstance(frame, UserStartedSpeakingFrame):
            self._user_started_ms = self.now_ms()
            took_the_floor, self._undecided = self._undecided, []
            for text in took_the_floor:
                await self._user_said(text, now)
        elif isinstance(frame, BackchannelFrame):
            if frame.text.strip() in self._undecided:
                self._undecided.remove(frame.text.strip())
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._reply_played_bytes, self._reply_heard_words = 0, ""
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            # The caller fell silent `stop_secs` before the VAD could tell.
            self._pending = _PendingReply(speech_end=frame.timestamp - frame.stop_secs)
        elif isinstance(frame, InterimTranscriptionFrame):
            if not self._over_the_agent():  # words over the agent are shown once they have taken the floor
                await self._send(Transcript(role="user", text=frame.text, final=False))
        elif isinstance(frame, TranscriptionFrame):
            await self._user_said(frame.text, now)
        elif isinstance(frame, LLMContextFrame):
            if self._pending and self._pending.thinking is None:
                self._pending.thinking = now
        elif isinstance(frame, LLMTextFrame):
            if self._pending and self._pending.first_text is None:
                self._pending.first_text = now
        elif isinstance(frame, TTSAudioRawFrame) and self._from_output(data):
            self._played_bytes += len(frame.audio)
            self._reply_played_bytes += len(frame.audio)
        elif isinstance(frame, TTSAudioRawFrame):
            self._synthesized(frame)
            if self._pending and self._pending.first_audio is None and self._pending.first_text is not None:
                self._pending.first_audio = now
        elif isinstance(frame, BotStartedSpeakingFrame) and self._from_output(data):
            await self._agent_started(now)
        elif isinstance(frame, TTSTextFrame) and self._from_output(data):
            await self._agent_said(frame.text)
        elif isinstance(frame, BotStoppedSpeakingFrame) and self._from_output(data):
            await self._agent_stopped()
        elif isinstance(frame, InterruptionFrame):
            self.interruptions += 1
            if self._agent_turn is not None:
                self._agent_turn.interrupted = True

    async def _user_said(self, text: str, now: float) -> None:
        text = text.strip()
        if not text:
            return
        if self._over_the_agent():
            self._undecided.append(text)
            return
        if self._pending is not None and self._pending.transcribed is None:
            self._pending.transcribed = now
        started = self._user_started_ms if self._user_started_ms is not None else self.now_ms()
        if self._agent_turn is not None and self._agent_turn not in self.turns:
            self.turns.append(self._agent_turn)  # the reply the caller spoke over comes before their words
        last = self.turns[-1] if self.turns else None
        if last is not None and last.role == "user":  # one turn of the caller's, in several stretches of speech
            last.text = f"{last.text} {text}"
        else:
            self.turns.append(TurnRecord(role="user", text=text, started_ms=started))
        self.turns[-1].ended_ms = self.now_ms()
        await self._send(Transcript(role="user", text=text, final=True))

    def _over_the_agent(self) -> bool:
        """Whether the caller's words came over the agent's latest turn (or after it) without their turn starting."""
        agent = self._agent_started_ms
        return agent is not None and (self._user_started_ms is None or self._user_started_ms < agent)

    async def _agent_started(self, now: float) -> None:
        self.quiet.clear()
        self.spoke.set()
        self._agent_turn = TurnRecord(role="agent", text="", started_ms=self.now_ms())
        self._agent_started_ms = self._agent_turn.started_ms
        pending, self._pending = self._pending, None
        if pending is not None and pending.transcribed is not None:
            latency = {
                "total_ms": _ms(pending.speech_end, now),
                "stt_ms": _ms(pending.speech_end, pending.transcribed),
                "turn_ms": _ms(pending.transcribed, pending.thinking),
                "llm_ms": _ms(pending.thinking, pending.first_text),
                "tts_ms": _ms(pending.first_text, pending.first_audio),
            }
            self._agent_turn.latency = {key: value for key, value in latency.items() if value is not None}
        await self._send(AgentSpeaking())

    async def _agent_said(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if self._agent_turn is None:
            self._agent_turn = TurnRecord(role="agent", text="", started_ms=self.now_ms())
        if self._agent_turn not in self.turns:
            self.turns.append(self._agent_turn)
        self._agent_turn.text = f"{self._agent_turn.text} {text}".strip()
        await self._send(Transcript(role="agent", text=text, final=True))

    async def _agent_stopped(self) -> None:
        turn, self._agent_turn = self._agent_turn, None
        if turn is not None:
            turn.ended_ms = self.now_ms()
            heard = self._heard()
            if heard is not None:
                turn.text = heard
            self._reply_heard_words = f"{self._reply_heard_words} {turn.text}".strip()
            if turn.text and turn not in self.turns:
                self.turns.append(turn)
            elif not turn.text and turn in self.turns:
                self._drop(turn)
        self._sentences, self._sentence_key, self._played_bytes = [], None, 0
        self.quiet.set()
        await self._send(AgentStopped())

    def _drop(self, turn: TurnRecord) -> None:
        """Drop an agent turn cut before a word of it was heard; the caller's words either side are one turn."""
        at = self.turns.index(turn)
        del self.turns[at]
        if 0 < at < len(self.turns) and self.turns[at - 1].role == self.turns[at].role == "user":
            before, after = self.turns[at - 1], self.turns.pop(at)
            before.text, before.ended_ms = f"{before.text} {after.text}", after.ended_ms

    def _synthesized(self, frame: TTSAudioRawFrame) -> None:
        key = frame.metadata.get("sentence_key")
        if key is not None and key != self._sentence_key:
            self._sentence_key = key
            self._sentences.append((frame.metadata["sentence"], frame.metadata["sentence_bytes"]))

    def _heard(self) -> str | None:
        """The words of the turn's sentences whose audio was played (None when the TTS does not say)."""
        if not self._sentences:
            return None
        heard: list[str] = []
        remaining = self._played_bytes
        for text, size in self._sentences:
            # Output transports pad and re-chunk audio: a sentence within one 40 ms frame of its end was heard.
            if remaining >= size - 1280:
                heard.append(text)
                remaining -= size
                continue
            words = text.split()
            spoken = words[: int(len(words) * max(remaining, 0) / size)] if size else []
            if spoken:
                heard.append(" ".join(spoken))
            break
        return " ".join(heard)

    async def _send(self, event: CallEvent) -> None:
        if self.send is not None:
            await self.send(event)
