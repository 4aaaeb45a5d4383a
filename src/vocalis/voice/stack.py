"""The providers a call's settings name, made ready for one call: its speech-to-text, text-to-speech and thinker.

A new provider is a module in `voice/providers/` and a branch here (and its packages in `voice/catalog.py`).
Credentials are resolved by the caller and come in as plain values: the engine never reads the database.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from loguru import logger

from vocalis.config import Settings
from vocalis.kit.outbound import Outbound
from vocalis.voice.engine import CallServices
from vocalis.voice.providers.llm import OpenAIChat
from vocalis.voice.providers.piper import shared_piper_server
from vocalis.voice.providers.speech import HibariTTS, LocalWhisperSTT, OfflineTTS, PiperTTS
from vocalis.voice.responder import ExtractiveResponder
from vocalis.voice.settings import LanguageModel, SpeechToText, TextToSpeech, VoiceSettings
from vocalis.voice.thinking import Thinker
from vocalis.voice.usage import SpeechUsage
from vocalis.voice.weights import WHISPER_TINY_EN, load_hibari, load_whisper

OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class LLMEndpoint:
    """Where, and with which key, to reach an OpenAI-compatible LLM, for whom (`owner`, the tenant: its requests share
    the tenant's cap in kit/outbound.py). Keep it in memory only; its repr hides the key."""

    api_key: str = field(repr=False)
    base_url: str = OPENAI_BASE_URL
    owner: str = field(kw_only=True)


class ProviderUnavailable(Exception):
    """A call's provider cannot be used (no credential, say); the message is safe to show and store."""


# Builds the services of one call; the app holds one (tests and benchmarks may swap in stand-ins).
ServicesFactory = Callable[[Settings, VoiceSettings, LLMEndpoint | None], Awaitable[CallServices]]


def thinker_for(settings: Settings, llm: LanguageModel, endpoint: LLMEndpoint | None) -> Thinker:
    """The thinker the settings ask for: the offline extractive responder, or an LLM at `endpoint`."""
    if llm.provider == "extractive":
        return ExtractiveResponder()
    if endpoint is None:
        raise ProviderUnavailable(
            f"The agent uses the {llm.provider} LLM provider but the tenant has no '{llm.provider}' credential"
        )
    return OpenAIChat(
        api_key=endpoint.api_key,
        base_url=endpoint.base_url,
        model=llm.model,
        temperature=llm.temperature,
        max_tokens=llm.max_tokens,
        outbound=Outbound(settings, endpoint.owner),
    )


async def voice_for(tts: TextToSpeech, usage: SpeechUsage, language: str) -> OfflineTTS:
    """The offline voice the settings ask for (Piper's child process started if it is not running)."""
    if tts.provider == "piper":
        server = shared_piper_server()
        await server.start()
        return PiperTTS(server, tts.speed, usage=usage, language=language)
    return HibariTTS(tts.speed, usage=usage, language=language)


async def offline_services(settings: Settings, voice: VoiceSettings, endpoint: LLMEndpoint | None) -> CallServices:
    """Whisper and an offline voice on this machine, and the call's thinker."""
    usage = SpeechUsage()
    return CallServices(
        stt=LocalWhisperSTT(
            settings, voice.stt.model, voice.language, usage=usage, vocabulary=", ".join(voice.vocabulary)
        ),
        tts=await voice_for(voice.tts, usage, voice.language),
        thinker=thinker_for(settings, voice.llm, endpoint),
        speech_usage=usage,
    )


async def preload(settings: Settings) -> None:
    """Load the default offline models before the first call needs them (a call would otherwise wait seconds)."""
    try:
        for model in dict.fromkeys((SpeechToText().model, WHISPER_TINY_EN)):  # tiny.en reads words over the agent
            await asyncio.to_thread(load_whisper, settings, model)
        await asyncio.to_thread(load_hibari)
    except Exception:  # calls load what they need themselves; this only saves the first caller the wait
        logger.exception("Preloading the offline speech models failed")
