"""Caller speech for tests: phrases spoken by the offline Piper voice, as a telephone-grade pipeline hears them.

`caller_audio` shares one Piper server per test session (stopped by `stop_session_piper_server`, which the voice
tests' conftest calls; the server is also stopped when the process exits).
"""

import re

from vocalis.voice.audio import resample_pcm16
from vocalis.voice.providers.piper import PiperServer

SAMPLE_RATE = 16_000

_server = PiperServer()
_spoken: dict[str, bytes] = {}


def session_piper_server() -> PiperServer:
    """The session's Piper server (started on first use)."""
    return _server


async def stop_session_piper_server() -> None:
    await _server.stop()


async def caller_audio(text: str) -> bytes:
    """`text` spoken by Piper as 16 kHz mono 16-bit PCM (cached per text for the session)."""
    audio = _spoken.get(text)
    if audio is None:
        pcm, rate = await _server.synthesize(text)
        audio = _spoken[text] = resample_pcm16(pcm, rate, SAMPLE_RATE)
    return audio


def silence(seconds: float) -> bytes:
    """Silence in the same format (a VAD needs some after speech to decide the caller stopped)."""
    return bytes(int(SAMPLE_RATE * seconds) * 2)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, to compare a transcript with what was said."""
    return re.findall(r"[a-z0-9']+", text.lower())
