"""The places where Vocalis relies on Pipecat internals, because Pipecat 1.14 has no public hook for them.

Kept in this one module, and pinned: `tests/voice/test_workarounds.py` fails when Pipecat is upgraded, so whoever
upgrades checks each of these against the new version (and drops those the new version makes public).
"""

from typing import Any

from pipecat.frames.frames import Frame, TranscriptionFrame, VADUserStoppedSpeakingFrame
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.utils.text.base_text_aggregator import Aggregation, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator, _LookaheadState

from vocalis.voice.turns import SegmentTranscribedFrame

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
    `SegmentTranscribedFrame` after each). It reads and sets the strategy's private turn state.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._untranscribed_segments = 0

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._untranscribed_segments += 1
            self._transcript_finalized = False  # an earlier segment's words do not cover this one
        result: ProcessFrameResult = await super().process_frame(frame)
        if isinstance(frame, SegmentTranscribedFrame):
            self._untranscribed_segments = max(self._untranscribed_segments - 1, 0)
            if self._untranscribed_segments == 0 and self._text:
                self._transcript_finalized = True
                await self._maybe_trigger_user_turn_stopped()  # type: ignore[no-untyped-call]
        return result

    async def _handle_transcription(self, frame: TranscriptionFrame) -> None:
        # The words are kept; whether they end the turn is decided when their segment's marker follows.
        self._text = frame.text
