"""What the call engine runs a call with: the speech, thinking, turn-taking and limit settings of a voice agent.

These are the engine's own types: the agents domain stores them (and offers them in its API); a call gets a
`VoiceSettings` snapshot and nothing else of the agent.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

DEFAULT_SYSTEM_PROMPT = (
    "You are a friendly, concise phone assistant. Answer from the knowledge provided; when it does not hold the "
    "answer, say so and offer to help with something else. Keep answers to one or two short spoken sentences."
)


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpeechToText(_Group):
    provider: Literal["whisper"] = Field(default="whisper", description="`whisper`: offline faster-whisper")
    # tiny.en by measurement (ADR 0010): the same share of the conversation harness as base, and first audio ~150 ms
    # sooner on a 2-core machine.
    model: Literal["base", "tiny.en"] = Field(
        default="tiny.en", description="`tiny.en` (English, fastest) or `base` (multilingual, slower)"
    )
    keywords: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]] = Field(
        default_factory=list,
        max_length=100,
        description="Words callers say that recognition should expect (names, products, streets); added to those "
        "taken from the agent's knowledge bases",
    )


class LanguageModel(_Group):
    provider: Literal["extractive", "openai"] = Field(
        default="extractive",
        description="`extractive`: offline answers taken from the knowledge bases (it does not generate); "
        "`openai`: any OpenAI-compatible chat-completions endpoint, with the tenant's `openai` credential",
    )
    model: str = Field(default="extractive", min_length=1, max_length=100)
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=250, ge=1, le=4096)

    # Here rather than on the agent, so an update that replaces the `llm` group is checked the same way.
    @model_validator(mode="after")
    def _model_fits_provider(self) -> "LanguageModel":
        if self.provider == "extractive":
            self.model = "extractive"
        elif self.model == "extractive":
            raise ValueError("name the chat model for the openai provider (such as gpt-4o-mini, or llama3.2 on Ollama)")
        return self


TTSVoice = Literal["heart", "en_US-joe-medium"]
# Each offline voice provider's voices (the first is its default); only voices installed with the platform.
TTS_VOICES: dict[str, tuple[TTSVoice, ...]] = {"hibari": ("heart",), "piper": ("en_US-joe-medium",)}


class TextToSpeech(_Group):
    provider: Literal["hibari", "piper"] = Field(
        default="hibari",
        description="`hibari`: offline, in process, the fastest to first audio (American female voice); "
        "`piper`: offline Piper voice, out of process (American male voice)",
    )
    voice: TTSVoice = Field(
        default="heart", description="`heart` (hibari) or `en_US-joe-medium` (piper); the provider's own if omitted"
    )
    speed: float = Field(default=1.0, ge=0.5, le=2.0)

    # Here rather than on the agent, so an update that replaces the `tts` group is checked the same way.
    @model_validator(mode="after")
    def _voice_fits_provider(self) -> "TextToSpeech":
        voices = TTS_VOICES[self.provider]
        if "voice" not in self.model_fields_set:
            self.voice = voices[0]
        elif self.voice not in voices:
            raise ValueError(f"the {self.provider} provider has the voice {', '.join(voices)}, not {self.voice}")
        return self


class TurnTaking(_Group):
    interruptions: bool = Field(default=True, description="Whether the caller can interrupt (barge in on) the agent")
    interruption_min_words: int = Field(
        default=0, ge=0, le=20, description="Words the caller must say before an interruption counts (0: any speech)"
    )
    interruption_min_seconds: float = Field(
        default=0.8,
        ge=0,
        le=5,
        description="Seconds of caller voice while the agent talks before it stops; shorter sounds stop it only "
        "with words that ask for the floor ('wait', 'sorry', 'what…'): 'uh-huh' and 'okay' are backchannels",
    )
    end_of_speech_ms: int = Field(
        default=200,
        ge=100,
        le=2000,
        description="Silence that ends a stretch of caller speech (the VAD's stop); the turn detector (Smart Turn) "
        "then judges from the voice whether the caller has finished",
    )
    end_of_turn_silence_ms: int = Field(
        # 800 ms held callers' 0.6-0.7 s mid-sentence pauses in the harness, but the voice benchmark's p95 was 1,258 ms
        # (818 ms at 500: Smart Turn thinks some finished turns unfinished); at 500 a caller who goes on has the reply
        # dropped and is joined.
        default=500,
        ge=100,
        le=5000,
        description="Silence after which the caller's turn is over even when the turn detector thinks they have "
        "more to say",
    )


class CallLimits(_Group):
    max_duration_seconds: int = Field(default=600, ge=10, le=4 * 3600)
    silence_timeout_seconds: int = Field(
        default=20, ge=3, le=600, description="Caller silence before the agent reprompts, and again before it hangs up"
    )
    silence_reprompt: str = Field(default="Are you still there?", min_length=1, max_length=300)


class VoiceSettings(BaseModel):
    """One call's settings, as the engine needs them (taken from the agent when the call starts)."""

    model_config = ConfigDict(from_attributes=True)

    language: str = "en"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    first_message: str | None = None
    # The business the agent answers for (the tenant's name), and whom callers asking for a person are given.
    business_name: str | None = None
    transfer_to: str | None = None
    # The words speech recognition should expect: the agent's keywords, then its knowledge bases' names (set per call).
    vocabulary: list[str] = Field(default_factory=list)
    end_call_phrases: list[str] = Field(default_factory=list)
    recording_enabled: bool = False
    stt: SpeechToText = SpeechToText()
    llm: LanguageModel = LanguageModel()
    tts: TextToSpeech = TextToSpeech()
    turn_taking: TurnTaking = TurnTaking()
    limits: CallLimits = CallLimits()
