"""The caller's side of `benchmarks.conversations`: synthetic voices, background noise, the telephone band, and a web
caller that keeps the agent's audio.

Voices (GPL programs run only as processes of their own):
- `piper`: the offline Piper voice (`PiperServer.synthesize(text, speed)`, the session server of `tests.voice.speech`)
  at its natural pace times the scenario's `speed`;
- `espeak`: espeak-ng's `en-us` voice (`espeak-ng -v en-us -s <wpm> --stdout`), `ESPEAK_WPM` words a minute times
  the scenario's `speed`.
Every phrase is trimmed of its silence (`benchmarks.voice.trim_silence`), so "sent" means "said", and the pauses a
scenario asks for are exact.

The line (`Line`) is what a telephone adds between the caller and the agent. Every microphone frame, speech or the
silence between, gets the background noise (seeded pink noise, continuous for the whole call, `snr` dB below the
caller's active speech level), then, on `--band phone`, the telephone band: 16 kHz -> 8 kHz (a 3.4 kHz low-pass),
G.711 mu-law and back (`PhoneBand`, streaming, so frame by frame it equals the whole at once). The agent's audio is
passed through the same band before it is transcribed: the caller hears it through the same line.
"""

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from tests.calls.webcall import WebCaller, calling
from tests.voice.speech import session_piper_server, silence
from websockets.asyncio.client import ClientConnection

from benchmarks.voice import TRIM_THRESHOLD, trim_silence
from vocalis.voice.audio import resample_pcm16

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = 2 * SAMPLE_RATE
VOICES = ("piper", "espeak")
ESPEAK_WPM = 170  # espeak-ng's default pace is 175: a little slower, as a caller on the phone
ESPEAK_TIMEOUT = 30.0

Samples = np.ndarray[Any, np.dtype[np.float64]]


def describe_voices(voices: list[str]) -> str:
    described = {"piper": "piper (en_US-joe-medium, its own pace)", "espeak": f"espeak (en-us, {ESPEAK_WPM} wpm)"}
    return ", ".join(described[voice] for voice in voices)


# Voices


def wav_samples(wav: bytes) -> tuple[bytes, int]:
    """PCM and sample rate of a 16-bit mono WAV as espeak-ng streams it (its sizes say 0x7fffffff: read to the end)."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV file")
    rate = int.from_bytes(wav[24:28], "little")
    start = wav.find(b"data", 12)
    if start < 0:
        raise RuntimeError("espeak-ng wrote a WAV file without data")
    pcm = wav[start + 8 :]
    return pcm[: len(pcm) // 2 * 2], rate


async def espeak(text: str, speed: float) -> tuple[bytes, int]:
    """`text` spoken by espeak-ng (a subprocess: GPL), text on stdin so that no word is read as an option."""
    process = await asyncio.create_subprocess_exec(
        "espeak-ng",
        "-v",
        "en-us",
        "-s",
        str(round(ESPEAK_WPM * speed)),
        "--stdout",
        "--stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    wav, errors = await asyncio.wait_for(process.communicate(text.encode()), ESPEAK_TIMEOUT)
    if process.returncode != 0:
        raise RuntimeError(f"espeak-ng failed ({process.returncode}): {errors.decode(errors='replace')[-300:]}")
    return wav_samples(wav)


async def phrase(voice: str, text: str, speed: float) -> bytes:
    """`text` said by `voice` at `speed`, as 16 kHz mono PCM without leading or trailing silence."""
    if voice == "piper":
        pcm, rate = await session_piper_server().synthesize(text, speed)
    elif voice == "espeak":
        pcm, rate = await espeak(text, speed)
    else:
        raise ValueError(f"unknown voice {voice!r}; there are {', '.join(VOICES)}")
    return trim_silence(resample_pcm16(pcm, rate, SAMPLE_RATE))


async def utterance(voice: str, fragments: tuple[str | float, ...], speed: float) -> bytes:
    """A caller turn: its phrases, with the scenario's pauses (seconds) between them."""
    parts = [await phrase(voice, item, speed) if isinstance(item, str) else silence(item) for item in fragments]
    return b"".join(parts)


# Noise


NOISE_SECONDS = 30  # the noise loops: made by inverse FFT, it is periodic, so the loop has no seam
ACTIVE_FRAME_RMS = TRIM_THRESHOLD / 2  # 20 ms frames louder than this count toward the speech level


def pink_noise(seconds: float = NOISE_SECONDS, seed: int = 7) -> Samples:
    """Seeded pink (1/f) noise at unit RMS: closer to a street, a car or a room than white noise."""
    count = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(count))
    frequencies = np.fft.rfftfreq(count, 1 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(frequencies, 20.0))
    spectrum[0] = 0
    noise: Samples = np.fft.irfft(spectrum, count)
    return noise / float(np.sqrt(np.mean(noise**2)))


def speech_level(utterances: list[bytes]) -> float:
    """The RMS of the caller's active speech (20 ms frames above a floor), as 16-bit sample values."""
    samples = np.frombuffer(b"".join(utterances), dtype=np.int16).astype(np.float64)
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
    if not len(frames):
        return 0.0
    levels = np.sqrt(np.mean(frames**2, axis=1))
    active = frames[levels > ACTIVE_FRAME_RMS]
    return float(np.sqrt(np.mean(active**2))) if len(active) else 0.0


class Noise:
    """Continuous background noise at `snr` dB below `speech_rms`, handed out frame after frame."""

    def __init__(self, snr: float, speech_rms: float) -> None:
        self.snr = snr
        self._samples = pink_noise() * speech_rms / 10 ** (snr / 20)
        self._position = 0

    def next(self, count: int) -> Samples:
        indices = (self._position + np.arange(count)) % len(self._samples)
        self._position = (self._position + count) % len(self._samples)
        chunk: Samples = self._samples[indices]
        return chunk


# The telephone band


MU_LAW_BIAS = 0x84
MU_LAW_CLIP = 32635
BAND_TAPS = 63
BAND_CUTOFF_HZ = 3400.0


def mu_law_encode(samples: np.ndarray[Any, np.dtype[np.int16]]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """G.711 mu-law bytes of 16-bit samples."""
    values = samples.astype(np.int32)
    sign = np.where(values < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(values), MU_LAW_CLIP) + MU_LAW_BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    encoded: np.ndarray[Any, np.dtype[np.uint8]] = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return encoded


def mu_law_decode(encoded: np.ndarray[Any, np.dtype[np.uint8]]) -> np.ndarray[Any, np.dtype[np.int16]]:
    """16-bit samples of G.711 mu-law bytes."""
    values = ~encoded.astype(np.int32) & 0xFF
    exponent = (values >> 4) & 0x07
    magnitude = (((values & 0x0F) << 3) + MU_LAW_BIAS) << exponent
    decoded: np.ndarray[Any, np.dtype[np.int16]] = np.where(
        values & 0x80, MU_LAW_BIAS - magnitude, magnitude - MU_LAW_BIAS
    ).astype(np.int16)
    return decoded


def _low_pass() -> Samples:
    """A windowed-sinc FIR low-pass at `BAND_CUTOFF_HZ` (16 kHz), unity gain: the anti-alias filter of 8 kHz."""
    middle = (BAND_TAPS - 1) / 2
    taps: Samples = np.sinc(2 * BAND_CUTOFF_HZ / SAMPLE_RATE * (np.arange(BAND_TAPS) - middle)) * np.kaiser(
        BAND_TAPS, 8.0
    )
    normalised: Samples = taps / taps.sum()
    return normalised


class PhoneBand:
    """16 kHz -> 8 kHz G.711 mu-law -> 16 kHz, in chunks of an even number of samples; the filters keep their state
    between chunks, so streaming frame by frame gives the same audio as the whole at once (2 ms later)."""

    def __init__(self) -> None:
        self._taps = _low_pass()
        self._down: Samples = np.zeros(BAND_TAPS - 1)
        self._up: Samples = np.zeros(BAND_TAPS - 1)

    def _filter(self, state: Samples, samples: Samples) -> tuple[Samples, Samples]:
        joined = np.concatenate([state, samples])
        filtered: Samples = np.convolve(joined, self._taps, mode="valid")
        return filtered, joined[len(joined) - (BAND_TAPS - 1) :]

    def samples(self, samples: Samples) -> Samples:
        if len(samples) % 2:
            raise ValueError("the phone band takes an even number of samples")
        narrow, self._down = self._filter(self._down, samples)
        coded = mu_law_decode(mu_law_encode(np.clip(np.round(narrow[::2]), -32768, 32767).astype(np.int16)))
        stuffed = np.zeros(len(samples))
        stuffed[::2] = 2.0 * coded  # zero-stuffing halves the level
        wide, self._up = self._filter(self._up, stuffed)
        return wide

    def pcm(self, pcm: bytes) -> bytes:
        """16-bit PCM through the band (a trailing odd sample is dropped)."""
        samples = np.frombuffer(pcm[: len(pcm) // 4 * 4], dtype=np.int16).astype(np.float64)
        return to_pcm(self.samples(samples))


def to_pcm(samples: Samples) -> bytes:
    pcm: bytes = np.clip(np.round(samples), -32768, 32767).astype(np.int16).tobytes()
    return pcm


# The caller


class Line:
    """The caller's side of the call's WebSocket, as a telephone line: what the microphone sends gets the noise and
    the band; what comes back is passed on as it is (the agent's audio is also kept, for the caller to file)."""

    def __init__(self, connection: ClientConnection, noise: Noise | None, band: str) -> None:
        self.connection = connection
        self.noise = noise
        self.band = PhoneBand() if band == "phone" else None
        self.received: deque[bytes] = deque()

    def transmit(self, pcm: bytes) -> bytes:
        if self.noise is None and self.band is None:
            return pcm
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
        if self.noise is not None:
            samples = samples + self.noise.next(len(samples))
        if self.band is not None:
            samples = self.band.samples(samples)
        return to_pcm(samples)

    async def send(self, message: str | bytes) -> None:
        await self.connection.send(self.transmit(message) if isinstance(message, bytes) else message)

    async def close(self) -> None:
        await self.connection.close()

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        async for message in self.connection:
            if isinstance(message, bytes):
                self.received.append(message)
            yield message


@dataclass
class ConversationCaller(WebCaller):
    """A `WebCaller` on a `Line` that keeps the agent's audio (arrival time, bytes) and when it will have played."""

    line: Line | None = None
    agent_audio: list[tuple[float, bytes]] = field(default_factory=list)
    played_until: float = 0.0  # time.monotonic() when the agent audio received so far has finished playing

    def heard_audio(self, at: float, size: int) -> None:
        super().heard_audio(at, size)
        if self.line is not None:
            self.agent_audio.append((at, self.line.received.popleft()))
        self.played_until = max(at, self.played_until) + size / BYTES_PER_SECOND

    def heard_since(self, since: float) -> bool:
        return bool(self.agent_audio) and self.agent_audio[-1][0] >= since

    def audio_seconds_after(self, since: float) -> float:
        return sum(len(pcm) for at, pcm in self.agent_audio if at >= since) / BYTES_PER_SECOND

    async def reply_heard(self, after: float, within: float, quiet: float) -> bool:
        """Wait for agent audio after `after` (up to `within` s), then until the agent has been quiet for `quiet` s
        (or the call closed); whether any came."""
        deadline = time.monotonic() + within
        while not self.heard_since(after):
            if time.monotonic() > deadline or self.closed.is_set():
                return False
            await asyncio.sleep(0.02)
        await self.quiet(quiet)
        return True

    async def quiet(self, seconds: float) -> None:
        """Wait until the agent has been quiet for `seconds` (or the call closed)."""
        while not self.closed.is_set():
            left = seconds - (time.monotonic() - self.played_until)
            if left <= 0:
                return
            await asyncio.sleep(left)

    async def heard_for(self, seconds: float, after: float, within: float) -> bool:
        """Wait until `seconds` of agent audio arrived after `after`, or it fell quiet first, or `within` passed;
        whether that much came."""
        deadline = time.monotonic() + within
        while self.audio_seconds_after(after) < seconds:
            quiet = self.heard_since(after) and time.monotonic() - self.played_until > 1.0
            if time.monotonic() > deadline or self.closed.is_set() or quiet:
                return False
            await asyncio.sleep(0.01)
        return True


def conversation_call(url: str, noise: Noise | None, band: str) -> AbstractAsyncContextManager[ConversationCaller]:
    """A call's WebSocket with a `ConversationCaller` on a `Line` (noise, band) in front of it."""

    def make(connection: ClientConnection) -> ConversationCaller:
        line = Line(connection, noise, band)
        # The caller only sends on its connection and iterates it: the line does both.
        return ConversationCaller(cast(ClientConnection, line), line=line)

    return calling(url, make)
