"""Call audio: the engine's one sample rate, resampling, and WAV files."""

import io
import wave

import numpy as np
import soxr

# Every call's pipeline runs at this rate; transports convert at their edge (a phone line's 8 kHz, say).
SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2  # 16-bit PCM


def resample_pcm16(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """16-bit mono PCM converted from `from_rate` to `to_rate` (one-shot, for whole utterances)."""
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16)
    resampled: bytes = soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.int16).tobytes()
    return resampled


def wav(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()
