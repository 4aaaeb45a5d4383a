"""What a call's providers consumed, for metering: counted by the providers as they work."""

from dataclasses import dataclass


@dataclass
class SpeechUsage:
    """Shared by a call's speech-to-text (audio it transcribed) and text-to-speech (characters it spoke)."""

    stt_seconds: float = 0.0
    tts_characters: int = 0


@dataclass(frozen=True)
class ProviderUsage:
    """A finished call's consumption: speech, and the thinker's tokens."""

    stt_seconds: float = 0.0
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    tts_characters: int = 0
