"""The places where Vocalis relies on Pipecat internals, because Pipecat 1.14 has no public hook for them.

Kept in this one module, and pinned: `tests/voice/test_workarounds.py` fails when Pipecat is upgraded, so whoever
upgrades checks each of these against the new version (and drops those the new version makes public).
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.frames.frames import (
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.utils.text.base_text_aggregator import Aggregation, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator, _LookaheadState

from vocalis.voice.turns import OPENER_PAUSE_SECONDS, SegmentTranscribedFrame, is_opener

PIPECAT_VERSION = "1.14.0"

# A reply's first sentence is spoken in two chunks when its first clause has at least this many words.
FIRST_CLAUSE_MIN_WORDS = 6
CLAUSE_PUNCTUATION = (",", ";", ":")


class FirstClauseAggregator(SimpleTextAggregator):
    """Sentences, except that a reply's first sentence is cut after its first clause when that is long enough.

    Piper returns a chunk's audio only once all of it is synthesised, so the time to the first audio grows with the
    first chunk: "We are open Monday to Friday from 9 am to 6 pm," is heard while the rest is still being made.
    Used through `LLMTextProcessor(text_aggregator=...)`, Pipecat's public hook; but no public hook tells a clause
    boundary, so it extends the sentence check and reads the aggregator's private text and lookahead state.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self._first_chunk = True

    async def _check_sentence_with_lookahead(self, char: str, *, protected_end: int = 0) -> Aggregation | None:
        result = await super()._check_sentence_with_lookahead(char, protected_end=protected_end)
        if result is not None:
            self._first_chunk = False
            return result
        if (
            self._first_chunk
            and char == " "
            and self._text[-2:-1] in CLAUSE_PUNCTUATION
            and self._lookahead_state is _LookaheadState.IDLE
            and len(self._text.split()) >= FIRST_CLAUSE_MIN_WORDS
        ):
            self._first_chunk = False
            clause, self._text = self._text.strip(), ""
            return Aggregation(text=clause, type=TextType.SENTENCE)
        return None

    async def flush(self) -> Aggregation | None:
        self._first_chunk = True
        return await super().flush()

    async def handle_interruption(self) -> None:
        self._first_chunk = True
        await super().handle_interruption()  # type: ignore[no-untyped-call]


def caller_voicing(vad: VADAnalyzer) -> Callable[[], bool]:
    """Whether the VAD hears the caller's voice in its latest frame (starting or going on). Its speech events lag the
    voice by `start_secs` and `stop_secs`; the frame-by-frame state they come from has no public accessor."""
    return lambda: vad._vad_state in (VADState.STARTING, VADState.SPEAKING)


def segment_audio(stt: SegmentedSTTService) -> bytes:
    """The audio a segmented STT holds for the segment being spoken (with its lead-in): what it will transcribe at the
    VAD's stop, read earlier to start transcribing during the pause."""
    return bytes(stt._audio_buffer)


async def cancel_segment_task(stt: SegmentedSTTService) -> None:
    """Cancel a segmented STT's transcription task. A call cancelled while its pipeline was still starting can start
    that task after the cancel went by, and Pipecat's own clean-up does not stop it."""
    await stt._cancel_segment_task()  # type: ignore[no-untyped-call]


class SegmentAwareTurnStop(TurnAnalyzerUserTurnStopStrategy):
    """Smart Turn's end of turn, waiting for the words of every stretch of the caller's speech.

    Pipecat's strategy ends the turn on the first final transcript after Smart Turn says "complete". With a segmented
    STT each pause makes a segment, and a segment's transcript can arrive while the caller already speaks the next:
    "Hi there. ⟨pause⟩ Are you open on Saturday?" then ended on "Hi there." and the question was answered a turn late.
    Here a transcript counts as final only once every segment the VAD closed has been transcribed (the STT sends a
    `SegmentTranscribedFrame` after each). A turn of only a greeting ends no sooner than `OPENER_PAUSE_SECONDS` after
    the caller went quiet, so the question that usually follows is part of it. A turn Smart Turn judged unfinished
    (ended by the silence limit), or whose words trail off, is noted in `unfinished_since` for the reply. It reads
    and sets the strategy's private turn state, and overrides its private trigger.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._untranscribed_segments = 0
        self._said: list[str] = []
        self._first_turn = True
        self._quiet_since = 0.0  # time.time() when the caller last stopped speaking
        self._judged_unfinished = False  # Smart Turn's verdict when they did
        # When the caller went quiet (time.time()), if the turn that ended last may be unfinished; else None.
        self.unfinished_since: float | None = None
        self._hold: asyncio.Task[None] | None = None

    async def handle_user_turn_started(self) -> None:
        self._said = []
        self._cancel_hold()
        await super().handle_user_turn_started()  # type: ignore[no-untyped-call]

    async def handle_user_turn_stopped(self) -> None:
        self._said, self._first_turn = [], False
        self._cancel_hold()
        await super().handle_user_turn_stopped()  # type: ignore[no-untyped-call]

    async def cleanup(self) -> None:
        self._cancel_hold()
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._untranscribed_segments += 1
            self._transcript_finalized = False  # an earlier segment's words do not cover this one
            self._quiet_since = frame.timestamp - frame.stop_secs
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._cancel_hold()
        result: ProcessFrameResult = await super().process_frame(frame)
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._judged_unfinished = not self._turn_complete  # the analysis at the stop has just run
        elif isinstance(frame, SegmentTranscribedFrame):
            self._untranscribed_segments = max(self._untranscribed_segments - 1, 0)
            if self._untranscribed_segments == 0 and self._text:
                self._transcript_finalized = True
                await self._maybe_trigger_user_turn_stopped()
        return result

    async def _handle_transcription(self, frame: TranscriptionFrame) -> None:
        # The words are kept; whether they end the turn is decided when their segment's marker follows.
        self._text = frame.text
        self._said.append(frame.text)

    async def _maybe_trigger_user_turn_stopped(self) -> None:
        if self._hold is not None:
            return
        wait = self._quiet_since + OPENER_PAUSE_SECONDS - time.time()
        opener = is_opener(" ".join(self._said), first_turn=self._first_turn)
        if self._turn_complete and self._transcript_finalized and wait > 0 and opener:
            self._hold = asyncio.create_task(self._trigger_after(wait))
            return
        await super()._maybe_trigger_user_turn_stopped()  # type: ignore[no-untyped-call]

    async def trigger_user_turn_stopped(self, *, enable_user_speaking_frames: bool | None = None) -> None:
        # Whisper ends a sentence it heard finish with its punctuation; speech that trails off ("So, um, I was
        # wondering") it leaves open.
        trailed_off = not self._text.rstrip().endswith((".", "?", "!"))
        self.unfinished_since = self._quiet_since if self._judged_unfinished or trailed_off else None
        await super().trigger_user_turn_stopped(enable_user_speaking_frames=enable_user_speaking_frames)

    async def _trigger_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._hold = None
        # Speech since then has reset the turn's completion: the turn goes on.
        await super()._maybe_trigger_user_turn_stopped()  # type: ignore[no-untyped-call]

    def _cancel_hold(self) -> None:
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
