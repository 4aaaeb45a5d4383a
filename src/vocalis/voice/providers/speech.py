"""The offline speech services as Pipecat processors: Whisper (faster-whisper) STT, hibari and Piper TTS.

They share process-wide resources rather than owning them per call: one Whisper model per size and one hibari voice
(see `vocalis.voice.weights`), one Piper server (see `vocalis.voice.providers.piper`). Each counts what it consumes
into the call's `SpeechUsage`.
"""

import asyncio
import re
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import STTSettings, TTSSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from vocalis.config import Settings
from vocalis.voice.audio import SAMPLE_RATE, resample_pcm16
from vocalis.voice.providers.piper import PiperError, PiperServer
from vocalis.voice.recorder import spoken_sentence
from vocalis.voice.spoken import for_speech
from vocalis.voice.turns import SegmentTranscribedFrame
from vocalis.voice.usage import SpeechUsage
from vocalis.voice.weights import (
    HIBARI_VOICE,
    PIPER_VOICE,
    WHISPER_MODELS,
    WHISPER_TINY_EN,
    SpeechModelError,
    load_hibari,
    load_whisper,
)
from vocalis.voice.workarounds import cancel_segment_task, segment_audio

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_SAMPLE_RATE = 16_000  # what the model reads, whatever the pipeline's rate
# Segments Whisper rates as probably silence (its own default threshold) are dropped: it hallucinates there.
NO_SPEECH_THRESHOLD = 0.6
# The short window: speech plus a margin, never under 10 s (Whisper hallucinates in shorter windows), at most 25 s.
WINDOW_MARGIN_SECONDS = 1.0
SHORTEST_WINDOW_SECONDS = 10.0
LONGEST_SHORT_WINDOW_SECONDS = 25.0
# A short read is checked: more tokens than speech can hold, or text that compresses like a loop, is read again.
TOKENS_PER_SECOND = 8
MAX_COMPRESSION_RATIO = 2.4
# Speech end to final transcript, p99, on 2 cores: a ~2.5 s turn takes ~0.5 s (tiny.en) / ~1 s (base), more when
# queued behind another call's turn. Only a safety net: the transcripts are final, so turns end as they arrive.
TTFS_P99_SECONDS = {"base": 2.0, "tiny.en": 1.2}
TTS_FRAME_SECONDS = 0.04
# Transcription starts during a pause: after this much audio under QUIET_SHARE of the segment's loudest frame
# (-20 dB). The VAD declares the stop later (`end_of_speech_ms`); noise louder than that never starts one early.
EARLY_QUIET_SECONDS = 0.08
QUIET_SHARE = 0.1
# What Pipecat's segmented STT appends to each segment before transcription (its default): an early reading does too.
TRAILING_SILENCE_SECONDS = 0.5
# While the agent speaks, the caller's words so far are read after each this much more of their speech: words that
# ask for the floor ("Sorry, actually…") stop the agent well before a hum's length of voice would (`CallerTurnStart`).
OVER_AGENT_READING_SECONDS = 0.4

# One transcription at a time for the whole process: each already uses both cores, so running two side by side
# only makes both slower.
_whisper_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
# One sentence at a time for the whole process, beside the transcriptions: hibari's model runs on one core, and its
# text front end keeps state.
_hibari_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hibari")


def _base_language(language: str) -> str:
    return language.split("-")[0].lower()


def _transcribe(
    model: "WhisperModel", audio: np.ndarray[Any, np.dtype[np.float32]], language: str, vocabulary: str = ""
) -> str:
    """The words of one stretch of caller speech, read in a short window (Whisper's own path pads every segment to
    30 s, which is most of its time); the padded path for long speech, or when the short read looks wrong."""
    seconds = len(audio) / WHISPER_SAMPLE_RATE
    if seconds + WINDOW_MARGIN_SECONDS <= LONGEST_SHORT_WINDOW_SECONDS:
        text = _transcribe_short(model, audio, language, vocabulary, seconds)
        if text is not None:
            return text
    return _transcribe_padded(model, audio, language, vocabulary)


def _transcribe_short(
    model: "WhisperModel",
    audio: np.ndarray[Any, np.dtype[np.float32]],
    language: str,
    vocabulary: str,
    seconds: float,
) -> str | None:
    """Greedy decoding over max(speech + 1 s, 10 s) of features; None when the output ran to its cap or repeats itself
    (shorter windows make Whisper hallucinate; figures in docs/decisions/0009)."""
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

    window = max(seconds + WINDOW_MARGIN_SECONDS, SHORTEST_WINDOW_SECONDS)
    features = pad_or_trim(model.feature_extractor(audio), int(window * 100))
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    prompt = model.get_prompt(tokenizer, [], without_timestamps=True, hotwords=vocabulary or None)
    most_tokens = int(TOKENS_PER_SECOND * seconds) + 8
    result = model.model.generate(
        model.encode(features),
        [prompt],
        beam_size=1,
        max_length=len(prompt) + most_tokens,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, (-1,)),
    )[0]
    tokens = result.sequences_ids[0]
    text = tokenizer.decode(tokens).strip()
    if len(tokens) >= most_tokens or (text and get_compression_ratio(text) > MAX_COMPRESSION_RATIO):
        return None
    return "" if result.no_speech_prob >= NO_SPEECH_THRESHOLD else text


def _transcribe_padded(
    model: "WhisperModel", audio: np.ndarray[Any, np.dtype[np.float32]], language: str, vocabulary: str
) -> str:
    segments, _ = model.transcribe(
        audio,
        language=language,
        beam_size=1,  # greedy: a fraction of beam search's cost, nearly the same accuracy on short turns
        temperature=0.0,  # no fallback re-decoding: it could triple a turn's latency
        condition_on_previous_text=False,  # each turn stands alone; avoids repetition loops
        without_timestamps=True,
        vad_filter=False,  # the pipeline's VAD already cut the segment
        hotwords=vocabulary or None,
    )
    # `segments` is a lazy generator: consuming it is the decoding, so it happens here, in the worker thread.
    kept = [segment.text.strip() for segment in segments if segment.no_speech_prob < NO_SPEECH_THRESHOLD]
    return " ".join(text for text in kept if text)


class LocalWhisperSTT(SegmentedSTTService):
    """Whisper (base or tiny.en) transcribing each VAD-delimited segment, on the process-wide shared model.

    It starts reading during the caller's pause rather than at the VAD's stop (`EARLY_QUIET_SECONDS` of audio well
    below the segment's loudness): when the stop follows with no more speech, that reading is the transcript, ready
    ~100 ms sooner; speech that resumes discards it. `vocabulary` (the business's own words: names, insurers,
    streets) is given to Whisper as the words it may hear. After each segment, with or without words, it sends a
    `SegmentTranscribedFrame` (the turn's end waits for it). The audio it transcribes is counted into `usage`.
    """

    marks_segments = True

    def __init__(
        self,
        settings: Settings,
        model: str,
        language: str = "en",
        usage: SpeechUsage | None = None,
        vocabulary: str = "",
        **kwargs: Any,
    ) -> None:
        if model not in WHISPER_MODELS:
            raise SpeechModelError(
                f"Unknown Whisper model {model!r}; this installation has {', '.join(WHISPER_MODELS)}"
            )
        if model == WHISPER_TINY_EN and _base_language(language) != "en":
            raise SpeechModelError(f"Whisper {model} transcribes English only, not {language!r}")
        kwargs.setdefault("ttfs_p99_latency", TTFS_P99_SECONDS[model])
        super().__init__(settings=STTSettings(model=model, language=language), **kwargs)
        self._app_settings = settings
        self._model_name = model
        self._model: WhisperModel | None = None
        # Words over the agent are read with the fastest model that knows the language: only whether they ask for the
        # floor depends on them, and the sooner that is known the sooner the agent stops.
        self._quick_model_name = WHISPER_TINY_EN if _base_language(language) == "en" else model
        self._quick_model: WhisperModel | None = None
        self.usage = usage or SpeechUsage()
        self.vocabulary = vocabulary
        self._speaking = False
        self._loudest = 0.0
        self._quiet_seconds = 0.0
        self._early: asyncio.Future[str] | None = None
        self._agent_speaking = False
        self._spoken_seconds = 0.0  # of the segment being spoken
        self._read_over_agent_at = 0.0  # ...when its words were last read over the agent
        self._reading_over_agent: asyncio.Task[None] | None = None

    @property
    def wants_wav_segments(self) -> bool:
        # Raw PCM: the model reads samples, and a WAV header would be read as audio.
        return False

    def can_generate_metrics(self) -> bool:
        return True

    def language_to_service_language(self, language: Language) -> str | None:
        return _base_language(str(language.value))

    async def load(self) -> None:
        """Load (once per process) the shared model; done at pipeline start so the first turn does not wait."""
        if self._model is None:
            self._model = await asyncio.to_thread(load_whisper, self._app_settings, self._model_name)
        if self._quick_model is None:
            self._quick_model = await asyncio.to_thread(load_whisper, self._app_settings, self._quick_model_name)

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.load()

    async def cleanup(self) -> None:
        # A call cancelled while its pipeline was still starting can start this task after the cancel went by.
        await cancel_segment_task(self)
        if self._reading_over_agent is not None:
            await self.cancel_task(self._reading_over_agent)
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking, self._loudest, self._quiet_seconds, self._early = True, 0.0, 0.0, None
            self._spoken_seconds = self._read_over_agent_at = 0.0
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._agent_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._agent_speaking = False
        await super().process_frame(frame, direction)

    async def process_audio_frame(self, frame: InputAudioRawFrame, direction: FrameDirection) -> None:
        await super().process_audio_frame(frame, direction)
        if not self._speaking or self._model is None or not frame.audio:
            return
        self._spoken_seconds += len(frame.audio) / (2 * frame.sample_rate)
        if self._agent_speaking:
            self._read_over_agent(frame.sample_rate)
        samples = np.frombuffer(frame.audio, dtype=np.int16).astype(np.float32)
        loudness = float(np.sqrt(np.mean(samples * samples)))
        self._loudest = max(self._loudest, loudness)
        if loudness > QUIET_SHARE * self._loudest:
            self._quiet_seconds, self._early = 0.0, None  # speaking again: a reading started in the pause is stale
            return
        self._quiet_seconds += len(frame.audio) / (2 * frame.sample_rate)
        if self._early is None and self._quiet_seconds >= EARLY_QUIET_SECONDS:
            audio = segment_audio(self) + bytes(int(frame.sample_rate * TRAILING_SILENCE_SECONDS) * 2)
            self._early = asyncio.ensure_future(self._read(audio, frame.sample_rate))

    def _read_over_agent(self, rate: int) -> None:
        """Reads the caller's words so far, once `OVER_AGENT_READING_SECONDS` more of them are spoken and no reading
        is under way; the words go on as an interim transcript."""
        under_way = self._reading_over_agent is not None and not self._reading_over_agent.done()
        if under_way or self._spoken_seconds - self._read_over_agent_at < OVER_AGENT_READING_SECONDS:
            return
        self._read_over_agent_at = self._spoken_seconds
        # The segment's audio is copied only when it is read, not for every frame.
        padded = segment_audio(self) + bytes(int(rate * TRAILING_SILENCE_SECONDS) * 2)
        self._reading_over_agent = self.create_task(self._push_words_so_far(padded, rate), "over-agent reading")

    async def _push_words_so_far(self, audio: bytes, rate: int) -> None:
        assert self._quick_model is not None
        text = await self._read(audio, rate, self._quick_model)
        logger.debug("{}: over the agent so far [{}]", self, text)
        if text and self._speaking:  # once the segment is over, its final transcript decides
            language = _pipecat_language(str(self._settings.language or "en"))
            await self.push_frame(InterimTranscriptionFrame(text, self._user_id, time_now_iso8601(), language))

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        # The VAD's stop came after the pause in which the early reading started, with no speech since.
        early, self._early = self._early, None
        if early is not None:
            logger.debug("{}: the segment was read during the pause", self)
        async for frame in self._transcribe_segment(audio, early):
            yield frame
        yield SegmentTranscribedFrame()

    async def _read(self, audio: bytes, rate: int, model: "WhisperModel | None" = None) -> str:
        model = model or self._model
        assert model is not None
        language = str(self._settings.language or "en")
        pcm = resample_pcm16(audio, rate, WHISPER_SAMPLE_RATE)
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        return await asyncio.get_running_loop().run_in_executor(
            _whisper_executor, _transcribe, model, samples, language, self.vocabulary
        )

    async def _transcribe_segment(
        self, audio: bytes, early: "asyncio.Future[str] | None" = None
    ) -> AsyncGenerator[Frame | None, None]:
        if not audio:
            return
        await self.load()
        # Before the pipeline sets the rate up (the service driven directly), audio is taken as 16 kHz.
        rate = self.sample_rate or SAMPLE_RATE
        self.usage.stt_seconds += len(audio) / (2 * rate)
        language = str(self._settings.language or "en")
        await self.start_processing_metrics()
        text = await early if early is not None else await self._read(audio, rate)
        await self.stop_processing_metrics()
        if text:
            logger.debug("{}: transcribed [{}]", self, text)
            transcript = TranscriptionFrame(text, self._user_id, time_now_iso8601(), _pipecat_language(language))
            transcript.interruptible = False  # the caller's words survive a barge-in (which they may have started)
            yield transcript


def _pipecat_language(language: str) -> Language | None:
    try:
        return Language(language)
    except ValueError:
        return None


class SynthesisError(Exception):
    """A voice could not say a sentence; the message says why."""


class OfflineTTS(TTSService):
    """An offline voice speaking each sentence into the pipeline, resampled to its output rate, in ~40 ms frames.

    `speed` 1.0 is the voice's natural pace (0.5-2.0). The text is turned into its spoken form first (`language`'s
    rules: "$95" -> "ninety-five dollars"); the characters spoken are counted into `usage`. Subclasses synthesise.
    """

    def __init__(
        self, voice: str, speed: float = 1.0, usage: SpeechUsage | None = None, language: str = "en", **kwargs: Any
    ) -> None:
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice=voice, language=None),
            **kwargs,
        )
        self.speed = speed
        self.usage = usage or SpeechUsage()
        self.language = language

    def can_generate_metrics(self) -> bool:
        return True

    async def synthesize(self, spoken: str) -> tuple[bytes, int]:
        """16-bit mono PCM of `spoken` and its sample rate; raises `SynthesisError`."""
        raise NotImplementedError

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        # The voice says the spoken form; the transcript and the recorder's metadata keep the written `text`.
        spoken = for_speech(text, self.language)
        try:
            pcm, rate = await self.synthesize(spoken)
        except SynthesisError as exc:
            logger.error("{}: {}", self, exc)
            yield ErrorFrame(error=f"Speech synthesis failed: {exc}")
            return
        self.usage.tts_characters += len(spoken)  # what was synthesised
        await self.start_tts_usage_metrics(spoken)
        await self.stop_ttfb_metrics()
        # Before the pipeline sets the rate up (the service driven directly), the voice's own rate is kept.
        out_rate = self.sample_rate or rate
        audio = resample_pcm16(pcm, rate, out_rate)
        # ~40 ms frames, as a streaming provider would send: downstream processors and interruptions work at that grain.
        step = int(out_rate * TTS_FRAME_SECONDS) * 2
        sentence = spoken_sentence(text, len(audio))
        for offset in range(0, len(audio), step):
            frame = TTSAudioRawFrame(audio[offset : offset + step], out_rate, 1, context_id=context_id)
            frame.metadata.update(sentence)
            yield frame


class PiperTTS(OfflineTTS):
    """Piper speech through the shared `PiperServer` (a child process: Piper is GPL)."""

    def __init__(self, server: PiperServer, speed: float = 1.0, **kwargs: Any) -> None:
        super().__init__(PIPER_VOICE, speed, **kwargs)
        self._server = server

    async def synthesize(self, spoken: str) -> tuple[bytes, int]:
        try:
            return await self._server.synthesize(spoken, self.speed)
        except PiperError as exc:
            raise SynthesisError(str(exc)) from exc


# Names hibari's guess at unknown words says wrongly ("Aetna" as "Eetna"), in its phoneme alphabet (misaki's), written
# inline as its text front end reads them.
HIBARI_PRONUNCIATIONS = {"aetna": "ˈɛtnə", "invisalign": "ˈɪnvɪzəlˌIn"}  # noqa: RUF001 (IPA)
_MISPRONOUNCED = re.compile(rf"\b({'|'.join(HIBARI_PRONUNCIATIONS)})\b", re.IGNORECASE)


def _pronounced(text: str) -> str:
    return _MISPRONOUNCED.sub(lambda match: f"[{match[0]}](/{HIBARI_PRONUNCIATIONS[match[0].lower()]}/)", text)


class HibariTTS(OfflineTTS):
    """hibari (Apache-2.0, its voice inside its wheel) in this process, on the process-wide model: a sentence in
    ~30-90 ms on one core, against ~300 ms through the Piper child on the same machine (ADR 0010)."""

    def __init__(self, speed: float = 1.0, **kwargs: Any) -> None:
        super().__init__(HIBARI_VOICE, speed, **kwargs)

    async def load(self) -> None:
        """Load (once per process) the shared model; done at pipeline start so the first sentence does not wait."""
        await asyncio.get_running_loop().run_in_executor(_hibari_executor, load_hibari)

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.load()

    async def synthesize(self, spoken: str) -> tuple[bytes, int]:
        try:
            return await asyncio.get_running_loop().run_in_executor(_hibari_executor, _hibari_pcm, spoken, self.speed)
        except Exception as exc:  # the model or its text front end: the call goes on without this sentence
            raise SynthesisError(f"{type(exc).__name__}: {exc}") from exc


def _hibari_pcm(text: str, speed: float) -> tuple[bytes, int]:
    voice = load_hibari()
    samples = np.clip(voice(_pronounced(text), speed=speed), -1.0, 1.0)
    return (samples * 32767).astype(np.int16).tobytes(), int(voice.sample_rate)
