"""The providers an agent's settings name, made ready for one call: its thinker, and its speech services."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.agents.schemas import AgentRead, SpeechToText
from vocalis.config import Settings
from vocalis.credentials import service as credentials
from vocalis.voice.models import load_whisper
from vocalis.voice.pipeline import CallServices
from vocalis.voice.providers.llm import OpenAIChat
from vocalis.voice.providers.piper import shared_piper_server
from vocalis.voice.providers.speech import LocalWhisperSTT, PiperTTS
from vocalis.voice.responder import ExtractiveResponder
from vocalis.voice.thinking import Thinker

OPENAI_BASE_URL = "https://api.openai.com/v1"

# Builds the services of one call; the app holds one (tests and benchmarks may swap in stand-ins).
ServicesFactory = Callable[[AsyncSession, Settings, uuid.UUID, AgentRead], Awaitable[CallServices]]


class ProviderUnavailable(Exception):
    """An agent's provider cannot be used (no credential, say); the message is safe to show and store."""


async def thinker_for(session: AsyncSession, settings: Settings, tenant_id: uuid.UUID, agent: AgentRead) -> Thinker:
    """The agent's thinker: the offline extractive responder, or an LLM with the tenant's credential."""
    if agent.llm.provider == "extractive":
        return ExtractiveResponder()
    credential = await credentials.resolve(session, settings, tenant_id, "openai")
    if credential is None:
        raise ProviderUnavailable("The agent uses the openai LLM provider but the tenant has no 'openai' credential")
    return OpenAIChat(
        api_key=credential.api_key,
        base_url=credential.base_url or OPENAI_BASE_URL,
        model=agent.llm.model,
        temperature=agent.llm.temperature,
        max_tokens=agent.llm.max_tokens,
    )


async def preload(settings: Settings) -> None:
    """Load the default offline models before the first call needs them (a call would otherwise wait seconds)."""
    try:
        await asyncio.to_thread(load_whisper, settings, SpeechToText().model)
        await shared_piper_server().start()
    except Exception:  # calls load what they need themselves; this only saves the first caller the wait
        logger.exception("Preloading the offline speech models failed")


async def offline_services(
    session: AsyncSession, settings: Settings, tenant_id: uuid.UUID, agent: AgentRead
) -> CallServices:
    """Whisper and Piper on this machine, and the agent's thinker."""
    server = shared_piper_server()
    await server.start()
    return CallServices(
        stt=LocalWhisperSTT(settings, agent.stt.model, agent.language),
        tts=PiperTTS(server, agent.tts.speed),
        thinker=await thinker_for(session, settings, tenant_id, agent),
    )
