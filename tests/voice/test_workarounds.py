import importlib.metadata
import inspect

from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.tts_service import TextAggregationMode
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.utils.text.simple_text_aggregator import _LookaheadState

from vocalis.voice.workarounds import PIPECAT_VERSION, FirstClauseAggregator, caller_voicing


async def chunks(*replies: list[str]) -> list[list[str]]:
    """What the aggregator hands the TTS for each reply (a reply ends with a flush, as Pipecat does)."""
    aggregator = FirstClauseAggregator(aggregation_type=TextAggregationMode.SENTENCE)
    spoken: list[list[str]] = []
    for pieces in replies:
        reply: list[str] = []
        for piece in pieces:
            reply += [aggregation.text async for aggregation in aggregator.aggregate(piece)]
        rest = await aggregator.flush()
        if rest is not None and rest.text:
            reply.append(rest.text)
        spoken.append(reply)
    return spoken


async def test_a_long_first_clause_is_spoken_on_its_own() -> None:
    said = await chunks(
        [
            "We are open Monday to Friday from 9 am to 6 pm, and on Saturday from 10 am to 4 pm.",
            " Closed Sundays, sorry.",
        ]
    )
    assert said == [
        [
            "We are open Monday to Friday from 9 am to 6 pm,",
            "and on Saturday from 10 am to 4 pm.",
            "Closed Sundays, sorry.",
        ]
    ]


async def test_short_clauses_and_later_sentences_stay_whole() -> None:
    said = await chunks(["Yes, we do.", " Our express delivery, which costs more, arrives tomorrow."])
    assert said == [["Yes, we do.", "Our express delivery, which costs more, arrives tomorrow."]]


async def test_streamed_tokens_and_every_reply_get_the_same_treatment() -> None:
    tokens = ["Our ", "couriers ", "deliver ", "every ", "day ", "of the week", ", from ", "8 am to 8 pm."]
    said = await chunks(tokens, tokens)
    assert said == [["Our couriers deliver every day of the week,", "from 8 am to 8 pm."]] * 2


async def test_an_interruption_starts_the_next_reply_afresh() -> None:
    aggregator = FirstClauseAggregator(aggregation_type=TextAggregationMode.SENTENCE)
    _ = [a async for a in aggregator.aggregate("We deliver to every town in the county, and")]
    await aggregator.handle_interruption()
    spoken = [a.text async for a in aggregator.aggregate("Returns are free within thirty days of purchase, always. ")]
    assert spoken[0] == "Returns are free within thirty days of purchase,"


def test_pipecat_is_the_version_the_workarounds_were_checked_against() -> None:
    """Fails on a Pipecat upgrade: check each workaround in vocalis/voice/workarounds.py against the new version
    (and drop those it makes public), then move the pin."""
    assert importlib.metadata.version("pipecat-ai") == PIPECAT_VERSION


def test_the_private_names_the_workarounds_use_exist() -> None:
    aggregator = FirstClauseAggregator()
    assert isinstance(aggregator._text, str)
    assert aggregator._lookahead_state is _LookaheadState.IDLE
    assert inspect.iscoroutinefunction(SegmentedSTTService._cancel_segment_task)
    assert inspect.iscoroutinefunction(TurnAnalyzerUserTurnStopStrategy._maybe_trigger_user_turn_stopped)
    assert inspect.iscoroutinefunction(TurnAnalyzerUserTurnStopStrategy._handle_transcription)
    stop = TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())
    assert (stop._text, stop._turn_complete, stop._transcript_finalized) == ("", False, False)
    vad = SileroVADAnalyzer()
    vad.set_sample_rate(16000)  # as the call's VAD controller does when the pipeline starts
    voicing = caller_voicing(vad)
    assert vad._vad_state is VADState.QUIET and not voicing()
    vad._vad_state = VADState.STOPPING
    assert not voicing()
    vad._vad_state = VADState.SPEAKING
    assert voicing()
    vad._vad_state = VADState.STARTING
    assert voicing()
