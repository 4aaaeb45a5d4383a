"""The places where Vocalis relies on Pipecat internals, because Pipecat 1.14 has no public hook for them.

Kept in this one module, and pinned: `tests/voice/test_workarounds.py` fails when Pipecat is upgraded, so whoever
upgrades checks each of these against the new version (and drops those the new version makes public).
"""

from typing import Any

from pipecat.services.stt_service import SegmentedSTTService
from pipecat.utils.text.base_text_aggregator import Aggregation, TextType
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator, _LookaheadState

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


async def cancel_segment_task(stt: SegmentedSTTService) -> None:
    """Cancel a segmented STT's transcription task. A call cancelled while its pipeline was still starting can start
    that task after the cancel went by, and Pipecat's own clean-up does not stop it."""
    await stt._cancel_segment_task()  # type: ignore[no-untyped-call]
