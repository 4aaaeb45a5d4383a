"""The platform as `benchmarks.voice` serves it: `create_app` under uvicorn, in a process of its own.

    python -m benchmarks._voice_server --port P --data-dir D --database-url URL [--log-level L]
                                       [--stand-ins QUESTION [--answer-seconds S]]

The database is the benchmark's embedded PostgreSQL (already migrated); the app's lifespan runs the job worker, as
`vocalis serve` does. With `--stand-ins`, every call gets instant stand-in speech services in place of Whisper and
Piper, so a density run measures only the platform's own work (transport, VAD, turn detection, pipeline, retrieval,
the extractive responder, call records):

- `InstantSTT` transcribes every caller segment, at once, as QUESTION;
- `ToneTTS` speaks every sentence, at once, as S seconds of a quiet tone, in 40 ms frames carrying the same
  `spoken_sentence` metadata as Piper's (the call recorder reads it);
- the thinker is the real `ExtractiveResponder`.

`GET /bench/loop-lag` (benchmark only) tells how late the server's event loop runs (see `LoopLag`).
"""

import argparse
import asyncio
import math
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from pipecat.frames.frames import Frame, TranscriptionFrame, TTSAudioRawFrame
from pipecat.services.settings import STTSettings, TTSSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from vocalis.app import create_app
from vocalis.config import Settings
from vocalis.kit.logging import configure_logging
from vocalis.voice.audio import SAMPLE_RATE, resample_pcm16
from vocalis.voice.engine import CallServices
from vocalis.voice.providers.speech import TTS_FRAME_SECONDS
from vocalis.voice.recorder import spoken_sentence
from vocalis.voice.responder import ExtractiveResponder
from vocalis.voice.settings import VoiceSettings
from vocalis.voice.stack import LLMEndpoint, ServicesFactory
from vocalis.voice.usage import SpeechUsage

HOST = "127.0.0.1"
SECRET_KEY = "benchmark-signing-key-" + "x" * 32
ANSWER_SECONDS = 2.5
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.1


def tone(seconds: float = ANSWER_SECONDS, rate: int = SAMPLE_RATE) -> bytes:
    """A quiet sine tone with 10 ms fades, as 16-bit mono PCM."""
    count = int(seconds * rate)
    samples = np.sin(2 * math.pi * TONE_HZ * np.arange(count) / rate) * TONE_AMPLITUDE
    fade = min(count // 2, rate // 100)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        samples[:fade] *= ramp
        samples[-fade:] *= ramp[::-1]
    pcm: bytes = (samples * 32767).astype(np.int16).tobytes()
    return pcm


class InstantSTT(SegmentedSTTService):
    """Transcribes every VAD-delimited segment as the same question, at once; counts usage as Whisper does."""

    def __init__(self, question: str, usage: SpeechUsage, **kwargs: Any) -> None:
        # Above the VAD's 0.2 s stop (as Whisper's is): the turn still ends as soon as the transcript is in.
        kwargs.setdefault("ttfs_p99_latency", 0.3)
        super().__init__(settings=STTSettings(model="stand-in", language="en"), **kwargs)
        self._question = question
        self.usage = usage

    @property
    def wants_wav_segments(self) -> bool:
        return False

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        if not audio:
            return
        self.usage.stt_seconds += len(audio) / (2 * (self.sample_rate or SAMPLE_RATE))
        yield TranscriptionFrame(self._question, self._user_id, time_now_iso8601(), Language.EN)


class ToneTTS(TTSService):
    """Speaks every sentence, at once, as the same pre-made audio, framed like `PiperTTS`; counts usage as Piper."""

    def __init__(self, pcm: bytes, usage: SpeechUsage, **kwargs: Any) -> None:
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice="stand-in", language=None),
            **kwargs,
        )
        self._pcm = pcm
        self.usage = usage

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        self.usage.tts_characters += len(text)
        await self.start_tts_usage_metrics(text)
        await self.stop_ttfb_metrics()
        rate = self.sample_rate or SAMPLE_RATE
        audio = resample_pcm16(self._pcm, SAMPLE_RATE, rate)
        step = int(rate * TTS_FRAME_SECONDS) * 2
        sentence = spoken_sentence(text, len(audio))
        for offset in range(0, len(audio), step):
            frame = TTSAudioRawFrame(audio[offset : offset + step], rate, 1, context_id=context_id)
            frame.metadata.update(sentence)
            yield frame


def stand_in_services(question: str, answer: bytes) -> ServicesFactory:
    """The app's call-services factory with the stand-ins (the agent's own STT and TTS settings are ignored)."""

    async def services(_settings: Settings, _voice: VoiceSettings, _endpoint: LLMEndpoint | None) -> CallServices:
        usage = SpeechUsage()
        return CallServices(
            stt=InstantSTT(question, usage),
            tts=ToneTTS(answer, usage),
            thinker=ExtractiveResponder(),
            speech_usage=usage,
        )

    return services


class LoopLag:
    """How late the event loop wakes a timer, sampled every 10 ms: audio frames queue behind the same delays.

    Started by the first `GET /bench/loop-lag`, which (like every later one) returns the figures since the last and
    starts afresh.
    """

    INTERVAL = 0.01

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.INTERVAL
            await asyncio.sleep(self.INTERVAL)
            self.samples.append(loop.time() - due)

    async def read(self) -> dict[str, float]:
        if self._task is None:
            self._task = asyncio.create_task(self._sample())
        samples, self.samples = sorted(self.samples), []
        if not samples:
            return {"samples": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        return {
            "samples": len(samples),
            "p50_ms": 1000 * samples[len(samples) // 2],
            "p99_ms": 1000 * samples[min(len(samples) - 1, int(0.99 * len(samples)))],
            "max_ms": 1000 * samples[-1],
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._voice_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--stand-ins", metavar="QUESTION", help="instant stand-in STT (hearing QUESTION) and TTS")
    parser.add_argument("--answer-seconds", type=float, default=ANSWER_SECONDS, help="the stand-in TTS's audio")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    settings = Settings(
        data_dir=args.data_dir,
        database_url=args.database_url,
        secret_key=SECRET_KEY,
        redis_url=None,
        log_level=args.log_level,
        # The stand-in server never uses Whisper or Piper: nothing to load.
        preload_voice_models=args.stand_ins is None,
    )
    configure_logging(settings.log_level, json=False, log_dir=None)
    app = create_app(settings)
    if args.stand_ins is not None:
        app.state.call_services = stand_in_services(args.stand_ins, tone(args.answer_seconds))
    app.add_api_route("/bench/loop-lag", LoopLag().read, methods=["GET"], include_in_schema=False)
    uvicorn.run(app, host=HOST, port=args.port, log_config=None, ws_per_message_deflate=False)  # as `vocalis serve`


if __name__ == "__main__":
    main()
