"""The call engine: one real-time call of a voice agent over any transport, from greeting to end reason.

transport in -> STT -> user turns (Silero VAD, Smart Turn, interruptions, idle timer) -> reply (thinker)
-> LLM text aggregation -> TTS (sentence by sentence) -> transport out -> recording -> assistant context

`prepare_call` is the entry point. It takes resolved services, the call's `VoiceSettings`, a `retrieve` callable for
the agent's knowledge and a time limit, and gives a `VoiceCall` whose `run` returns a typed `CallOutcome` (and whose
`stop` ends it from outside); it knows nothing of databases, tenants or billing (the calls domain does that around it).
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

from loguru import logger
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    OutputTransportMessageUrgentFrame,
    TTSSpeakFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.aggregators.llm_text_processor import LLMTextProcessor
from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.turns.user_start import MinWordsUserTurnStartStrategy
from pipecat.turns.user_start.base_user_turn_start_strategy import BaseUserTurnStartStrategy
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from vocalis.voice.audio import SAMPLE_RATE
from vocalis.voice.events import CallEvent, farewell
from vocalis.voice.recorder import CallRecorder, TurnRecord
from vocalis.voice.settings import VoiceSettings
from vocalis.voice.thinking import (
    CallbackRequest,
    EndCall,
    Message,
    Thinker,
    ThinkerError,
    Unanswered,
    build_prompt,
)
from vocalis.voice.transports import CallTransport
from vocalis.voice.turns import UNFINISHED_HOLD_SECONDS, CallerTurnStart, TurnJoiner
from vocalis.voice.usage import ProviderUsage, SpeechUsage
from vocalis.voice.workarounds import FirstClauseAggregator, SegmentAwareTurnStop, caller_voicing

Retrieve = Callable[[str], Awaitable[list[str]]]

MAX_DURATION_GOODBYE = "I'm sorry, we have reached the time limit for this call. Thank you for calling, goodbye!"
# How long an ending call waits for the agent's last words to start, and to finish.
SPEECH_START_WAIT_SECONDS = 3.0
SPEECH_END_WAIT_SECONDS = 60.0
SILENCE_GOODBYE = "I haven't heard anything, so I'll hang up now. Goodbye!"
STOPPED_GOODBYE = "I'm sorry, this call has to end now. Goodbye!"
TROUBLE_GOODBYE = "I'm sorry, I'm having technical difficulties. Please call again later. Goodbye!"
# Speech the VAD must hear before it says the caller started speaking.
VAD_START_SECONDS = 0.2


@dataclass
class CallServices:
    """What a call listens, speaks and thinks with; `speech_usage` is what its STT and TTS count into."""

    stt: STTService
    tts: TTSService
    thinker: Thinker
    speech_usage: SpeechUsage

    def usage(self) -> ProviderUsage:
        return ProviderUsage(
            stt_seconds=round(self.speech_usage.stt_seconds, 3),
            llm_prompt_tokens=self.thinker.usage.prompt_tokens,
            llm_completion_tokens=self.thinker.usage.completion_tokens,
            tts_characters=self.speech_usage.tts_characters,
        )


@dataclass(frozen=True)
class TimeLimit:
    """How long the call may last, and the end reason when it does (its own maximum, or the plan's last minutes)."""

    seconds: float
    reason: str = "max_duration"


@dataclass
class CallOutcome:
    end_reason: str
    error: str | None
    turns: list[TurnRecord]
    usage: ProviderUsage
    # 16 kHz mono PCM16 of both sides, when recording was on.
    recording: bytes | None
    # Whether the client has been told the call ended (else the caller tells it, once the record is final).
    farewell_sent: bool
    # What the agent took down for the business (a callback request), as stored on the call record.
    collected: dict[str, Any] = field(default_factory=dict)


async def prepare_call(
    transport: CallTransport, services: CallServices, settings: VoiceSettings, retrieve: Retrieve, limit: TimeLimit
) -> "VoiceCall":
    """One call, ready to `run` (its listening models are loaded in a thread)."""
    detection = await asyncio.to_thread(turn_detection, settings, getattr(services.stt, "marks_segments", False))
    return VoiceCall(settings, transport, services, retrieve, detection, limit)


def context_messages(context: LLMContext) -> list[Message]:
    """The caller's and agent's words in a Pipecat context, in order; what one side said in a row is one message."""
    messages: list[Message] = []
    for message in context.get_messages():
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        if role not in ("user", "assistant") or not isinstance(content, str) or not content.strip():
            continue
        if messages and messages[-1].role == role:
            messages[-1] = Message(role=role, content=f"{messages[-1].content} {content.strip()}")
        else:
            messages.append(Message(role=role, content=content.strip()))
    return messages


class ReplyProcessor(FrameProcessor):
    """Answers each finished caller turn with the agent's thinker, streaming its text on to the TTS.

    An interruption cancels the frame being processed (Pipecat restarts the processing task), which closes the
    thinker's stream and so stops the rest of the reply. A caller who was finishing their previous turn has it
    joined to this one first (`TurnJoiner`). A reply that does not answer (`Unanswered`) a turn that may be unfinished
    (`unfinished_since`: when the caller went quiet) waits until `UNFINISHED_HOLD_SECONDS` after: if they go on, it
    is dropped unheard.
    """

    def __init__(
        self,
        settings: VoiceSettings,
        thinker: Thinker,
        retrieve: Retrieve,
        joiner: TurnJoiner,
        on_end: Callable[[str, str | None], Awaitable[None]],
        on_callback: Callable[[CallbackRequest], None],
        unfinished_since: Callable[[], float | None] = lambda: None,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._thinker = thinker
        self._retrieve = retrieve
        self._joiner = joiner
        self._on_end = on_end
        self._on_callback = on_callback
        self._unfinished_since = unfinished_since

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._reply(frame.context, self._unfinished_since())
        else:
            await self.push_frame(frame, direction)

    async def _reply(self, context: LLMContext, unfinished_since: float | None) -> None:
        self._joiner.join(context)
        messages = context_messages(context)
        if not messages or messages[-1].role != "user":
            return
        passages = await self._retrieve(messages[-1].content)
        ended: EndCall | None = None
        await self.push_frame(LLMFullResponseStartFrame())
        try:
            async for piece in self._thinker.reply(build_prompt(self._settings, messages, passages)):
                if isinstance(piece, EndCall):
                    ended = piece
                elif isinstance(piece, CallbackRequest):
                    self._on_callback(piece)
                elif isinstance(piece, Unanswered):
                    if unfinished_since is not None:
                        await asyncio.sleep(max(0.0, unfinished_since + UNFINISHED_HOLD_SECONDS - time.time()))
                else:
                    await self.push_frame(LLMTextFrame(piece))
        except ThinkerError as error:
            await self.push_frame(LLMFullResponseEndFrame())
            await self._on_end("provider_error", str(error))
            return
        await self.push_frame(LLMFullResponseEndFrame())
        if ended is not None:
            await self._on_end(ended.reason, None)


@dataclass
class TurnDetection:
    """A call's own listening models (Silero VAD, Smart Turn): loading their ONNX sessions blocks for up to a few
    hundred milliseconds, so callers build them in a thread rather than stall every call on the event loop."""

    vad: SileroVADAnalyzer
    strategies: UserTurnStrategies

    def unfinished_since(self) -> float | None:
        """When the caller went quiet, if the turn that ended last may be unfinished (see `SegmentAwareTurnStop`)."""
        stops = self.strategies.stop or []
        return stops[0].unfinished_since if stops and isinstance(stops[0], SegmentAwareTurnStop) else None


def turn_detection(settings: VoiceSettings, segmented: bool) -> TurnDetection:
    """The VAD and the turn start/stop strategies the call's turn-taking settings ask for (blocking). `segmented`: the
    STT transcribes each stretch of speech and marks it done (the turn's end then waits for every stretch)."""
    turn_taking = settings.turn_taking
    start: BaseUserTurnStartStrategy
    vad = SileroVADAnalyzer(
        sample_rate=SAMPLE_RATE,
        params=VADParams(start_secs=VAD_START_SECONDS, stop_secs=turn_taking.end_of_speech_ms / 1000),
    )
    if turn_taking.interruption_min_words > 0:
        start = MinWordsUserTurnStartStrategy(
            min_words=turn_taking.interruption_min_words, enable_interruptions=turn_taking.interruptions
        )
    else:
        start = CallerTurnStart(
            barge_in_seconds=turn_taking.interruption_min_seconds,
            voicing=caller_voicing(vad),
            enable_interruptions=turn_taking.interruptions,
        )
    analyzer = LocalSmartTurnAnalyzerV3(
        params=SmartTurnParams(stop_secs=max(turn_taking.end_of_turn_silence_ms / 1000, 0.3))
    )
    stop_strategy = SegmentAwareTurnStop if segmented else TurnAnalyzerUserTurnStopStrategy
    return TurnDetection(vad, UserTurnStrategies(start=[start], stop=[stop_strategy(turn_analyzer=analyzer)]))


class VoiceCall:
    """One real-time call over a transport, run to its end; `end`, `stop` and `hang_up` stop it from inside or
    outside."""

    def __init__(
        self,
        settings: VoiceSettings,
        transport: CallTransport,
        services: CallServices,
        retrieve: Retrieve,
        detection: TurnDetection,
        limit: TimeLimit,
    ) -> None:
        self.settings = settings
        self.services = services
        self.recorder = CallRecorder(self._send)
        self._transport = transport
        self._limit = limit
        self._end_reason: str | None = None
        self._error: str | None = None
        self._joiner = TurnJoiner()
        self._collected: dict[str, Any] = {}
        self._silences = 0
        self._caller_has_spoken = False
        # Whether the client has been (or is about to be) told the call ended.
        self._farewell_sent = False
        self._ending: asyncio.Task[None] | None = None
        # For an ending the caller can stop by speaking: the count of interruptions when it was decided.
        self._ending_spoken_over: int | None = None
        # Hang-ups reported by the transport's receive task, which ending the call cancels: they run as tasks.
        self._tasks: set[asyncio.Task[None]] = set()

        context = LLMContext()
        self._context = context
        self._aggregators = LLMContextAggregatorPair(
            context,
            user_params=LLMUserAggregatorParams(
                vad_analyzer=detection.vad,
                user_turn_strategies=detection.strategies,
                user_idle_timeout=settings.limits.silence_timeout_seconds,
            ),
        )
        self._recording = (
            AudioBufferProcessor(sample_rate=SAMPLE_RATE, num_channels=1) if settings.recording_enabled else None
        )
        self._recorded = bytearray()
        pipecat_transport = transport.pipecat(self._hung_up)
        processors: list[FrameProcessor] = [
            pipecat_transport.input(),
            services.stt,
            self._aggregators.user(),
            ReplyProcessor(
                settings,
                services.thinker,
                retrieve,
                self._joiner,
                self._thinker_ended,
                self._took_callback,
                detection.unfinished_since,
            ),
            LLMTextProcessor(text_aggregator=FirstClauseAggregator()),
            services.tts,
            pipecat_transport.output(),
        ]
        if self._recording is not None:
            processors.append(self._recording)
        processors.append(self._aggregators.assistant())
        self.recorder.output = pipecat_transport.output()
        self.worker = PipelineWorker(
            Pipeline(processors),
            params=PipelineParams(audio_in_sample_rate=SAMPLE_RATE, audio_out_sample_rate=SAMPLE_RATE),
            observers=[self.recorder],
            idle_timeout_secs=None,
            enable_rtvi=False,
            enable_turn_tracking=False,
        )
        self._aggregators.user().add_event_handler("on_user_turn_idle", self._caller_silent)
        self._aggregators.user().add_event_handler("on_user_turn_started", self._caller_spoke)
        self._aggregators.user().add_event_handler("on_user_turn_stopped", self._caller_done)
        if self._recording is not None:
            self._recording.add_event_handler("on_audio_data", self._recorded_audio)

    async def run(self) -> CallOutcome:
        """Greet the caller and run the call until it ends; always returns, whatever went wrong."""
        loop = asyncio.get_running_loop()
        limit = loop.call_later(
            self._limit.seconds, lambda: self._soon(self.end(self._limit.reason, MAX_DURATION_GOODBYE))
        )
        # Pipecat's silence timer starts when the agent stops speaking: with no greeting to stop, nothing would start
        # it, and a caller who never speaks would hold the line until the time limit.
        silence = self.settings.limits.silence_timeout_seconds
        opening_silence = None if self.settings.first_message else loop.call_later(silence, self._opening_silence)
        if self._recording is not None:
            await self._recording.start_recording()  # type: ignore[no-untyped-call]
        if self.settings.first_message:
            self._context.add_message({"role": "assistant", "content": self.settings.first_message})
            await self.worker.queue_frame(TTSSpeakFrame(self.settings.first_message, append_to_context=False))
        try:
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(self.worker)
            await runner.run()
        except Exception as error:  # the call must end with a record, whatever failed
            logger.exception("Call pipeline failed")
            self._end_reason, self._error = self._end_reason or "error", self._error or str(error)
        finally:
            for timer in (limit, opening_silence):
                if timer is not None:
                    timer.cancel()
            for task in [self._ending, *self._tasks]:
                if task is not None:
                    task.cancel()
        if self._recording is not None:
            await self._recording.stop_recording()  # type: ignore[no-untyped-call]
        return CallOutcome(
            end_reason=self._end_reason or "caller_hangup",
            error=self._error,
            turns=self.recorder.turns,
            usage=self.services.usage(),
            recording=bytes(self._recorded) if self._recording is not None else None,
            farewell_sent=self._farewell_sent,
            collected=self._collected,
        )

    async def end(self, reason: str, goodbye: str | None = None, *, unless_caller_speaks: bool = False) -> None:
        """End the call politely: say `goodbye` if given, let what the agent is saying finish, then hang up.
        `unless_caller_speaks`: a caller who starts speaking before then keeps the call (their turn is answered)."""
        if self._end_reason is not None and self._ending_spoken_over is None:
            return
        if self._ending is not None:  # an ending the caller could still stop: this one replaces it
            self._ending.cancel()
        self._end_reason = reason
        self.recorder.spoke.clear()
        if goodbye:
            await self.worker.queue_frame(TTSSpeakFrame(goodbye, append_to_context=False))
        self._ending_spoken_over = self.recorder.interruptions if unless_caller_speaks else None
        self._ending = asyncio.create_task(self._end_after_speech(self._ending_spoken_over))

    async def stop(self, reason: str) -> None:
        """End the call from outside (for the calls domain's reasons, such as a suspended tenant), politely."""
        await self.end(reason, STOPPED_GOODBYE)

    async def _end_after_speech(self, interruptions: int | None) -> None:
        # Speech still being synthesised starts within moments; then wait for the agent to fall quiet.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.recorder.spoke.wait(), SPEECH_START_WAIT_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.recorder.quiet.wait(), SPEECH_END_WAIT_SECONDS)
        if interruptions is not None and self.recorder.interruptions > interruptions:
            # The caller spoke over the goodbye ("That's all. ⟨pause⟩ Goodbye."): they are not done, and are answered.
            self._end_reason, self._ending, self._ending_spoken_over = None, None, None
            return
        self._ending_spoken_over = None  # too late to stop it now
        self._farewell_sent = True
        for event in farewell(self._end_reason or "agent_ended", self._error):
            await self._send(event)
        await self.worker.queue_frame(EndFrame())

    async def hang_up(self, reason: str, error: str | None = None) -> None:
        """Stop the call now (the caller is gone, or broke the protocol)."""
        if self._end_reason is None:
            self._end_reason, self._error = reason, error
        if not self._farewell_sent:
            # Said straight away: cancelling the pipeline closes the connection before queued events could leave.
            self._farewell_sent = True
            await self._transport.send(farewell(self._end_reason, self._error))
        await self.worker.cancel(reason=reason)

    async def _hung_up(self, reason: str, error: str | None) -> None:
        self._soon(self.hang_up(reason, error))

    def _soon(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, event: CallEvent) -> None:
        # Urgent: ahead of any audio still queued for the caller.
        await self.worker.queue_frame(OutputTransportMessageUrgentFrame(message=event))

    async def _thinker_ended(self, reason: str, error: str | None) -> None:
        if error is not None:
            self._error = error
            await self.end(reason, TROUBLE_GOODBYE)
            return
        # The goodbye the thinker just said is queued ahead of the end, so it still plays.
        await self.end(reason, unless_caller_speaks=True)

    async def _caller_silent(self, _aggregator: Any) -> None:
        self._silences += 1
        if self._silences == 1:
            reprompt = self.settings.limits.silence_reprompt
            await self.worker.queue_frame(TTSSpeakFrame(reprompt, append_to_context=False))
        else:
            await self.end("silence_timeout", SILENCE_GOODBYE)

    async def _caller_spoke(self, *_args: Any) -> None:
        self._silences = 0
        self._caller_has_spoken = True
        self._joiner.turn_started(*self.recorder.reply_heard())

    async def _caller_done(self, *_args: Any) -> None:
        self._joiner.turn_stopped()

    def _took_callback(self, request: CallbackRequest) -> None:
        self._collected["callback"] = asdict(request)

    def _opening_silence(self) -> None:
        if not self._caller_has_spoken:
            self._soon(self._caller_silent(None))

    async def _recorded_audio(self, _processor: Any, audio: bytes, _rate: int, _channels: int) -> None:
        self._recorded.extend(audio)
