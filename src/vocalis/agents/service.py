"""Agent rules: an agent's configuration, checked against what this installation can run and what the tenant set up.

`load_agent` is how the calls domain loads the agent a call runs with.
"""

import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.agents import repository
from vocalis.agents.schemas import AgentCreate, AgentUpdate
from vocalis.auth.permissions import Permission
from vocalis.auth.principal import Principal
from vocalis.billing import service as billing
from vocalis.billing.service import Resource
from vocalis.credentials import service as credentials
from vocalis.kit.errors import InvalidInput, NotFound
from vocalis.kit.pagination import PageParams
from vocalis.knowledge import service as knowledge
from vocalis.models.agent import Agent
from vocalis.models.tenant import Tenant
from vocalis.voice import catalog
from vocalis.voice.settings import LanguageModel, SpeechToText, TextToSpeech

# The nested settings groups, stored as JSON documents.
_GROUPS = ("stt", "llm", "tts", "turn_taking", "limits")


async def create_agent(session: AsyncSession, principal: Principal, data: AgentCreate) -> Agent:
    """Create an agent after checking its knowledge bases, speech models and LLM credential."""
    principal.require(Permission.AGENTS_WRITE)
    await billing.ensure_capacity(
        session, principal.tenant_id, Resource.AGENTS, partial(repository.count, session, principal.tenant_id)
    )
    await _check(session, principal.tenant_id, data.knowledge_base_ids, data.stt, data.llm, data.tts)
    agent = Agent(
        tenant_id=principal.tenant_id,
        name=data.name,
        language=data.language,
        system_prompt=data.system_prompt,
        first_message=data.first_message,
        business_name=data.business_name or await _tenant_name(session, principal.tenant_id),
        transfer_to=data.transfer_to,
        knowledge_base_ids=list(data.knowledge_base_ids),
        end_call_phrases=list(data.end_call_phrases),
        recording_enabled=data.recording_enabled,
        **{group: getattr(data, group).model_dump(mode="json") for group in _GROUPS},
    )
    session.add(agent)
    await session.flush()
    return agent


async def list_agents(
    session: AsyncSession, principal: Principal, search: str | None, page: PageParams
) -> tuple[list[Agent], int]:
    principal.require(Permission.AGENTS_READ)
    return await repository.list_agents(session, principal.tenant_id, search, page)


async def get_agent(session: AsyncSession, principal: Principal, agent_id: uuid.UUID) -> Agent:
    principal.require(Permission.AGENTS_READ)
    return await load_agent(session, principal.tenant_id, agent_id)


async def update_agent(session: AsyncSession, principal: Principal, agent_id: uuid.UUID, data: AgentUpdate) -> Agent:
    """Change an agent; the groups given are checked as on creation and replace the stored ones whole."""
    principal.require(Permission.AGENTS_WRITE)
    agent = await load_agent(session, principal.tenant_id, agent_id)
    await _check(session, principal.tenant_id, data.knowledge_base_ids or [], data.stt, data.llm, data.tts)
    changes: dict[str, Any] = {
        field: value
        for field, value in {
            "name": data.name,
            "language": data.language,
            "system_prompt": data.system_prompt,
            "knowledge_base_ids": data.knowledge_base_ids,
            "end_call_phrases": data.end_call_phrases,
            "recording_enabled": data.recording_enabled,
        }.items()
        if value is not None
    }
    if "first_message" in data.model_fields_set:
        changes["first_message"] = data.first_message  # null: the agent waits for the caller to speak first
    if "transfer_to" in data.model_fields_set:
        changes["transfer_to"] = data.transfer_to  # null: no contact of the agent's own
    if data.business_name is not None:
        changes["business_name"] = data.business_name
    for group in _GROUPS:
        if (settings := getattr(data, group)) is not None:
            changes[group] = settings.model_dump(mode="json")
    for field, value in changes.items():
        setattr(agent, field, value)
    await session.flush()
    return agent


async def delete_agent(session: AsyncSession, principal: Principal, agent_id: uuid.UUID) -> None:
    """Delete an agent; its past calls are kept (they carry a snapshot of its settings)."""
    principal.require(Permission.AGENTS_WRITE)
    agent = await load_agent(session, principal.tenant_id, agent_id)
    await session.delete(agent)
    await session.flush()


# For other domains


async def quota_counts(session: AsyncSession, tenant_id: uuid.UUID) -> dict[Resource, int]:
    """What the tenant has of the resources its plan limits and this domain owns."""
    return {Resource.AGENTS: await repository.count(session, tenant_id)}


async def load_agent(session: AsyncSession, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> Agent:
    """The tenant's agent; NotFound when it is missing or another tenant's."""
    agent = await repository.get(session, tenant_id, agent_id)
    if agent is None:
        raise NotFound("Agent not found")
    return agent


async def _tenant_name(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    """The name the tenant signed up with: by default, the business its agents answer for."""
    tenant = await session.get(Tenant, tenant_id)
    return tenant.name if tenant is not None else None


async def _check(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    knowledge_base_ids: Sequence[uuid.UUID],
    stt: SpeechToText | None,
    llm: LanguageModel | None,
    tts: TextToSpeech | None,
) -> None:
    """Refuse (422) choices the agent could not run with: knowledge bases the tenant does not have, speech models
    whose packages are not installed, an LLM provider without the tenant's credential."""
    unknown = await knowledge.unknown_base_ids(session, tenant_id, knowledge_base_ids)
    if unknown:
        raise InvalidInput(
            f"Unknown knowledge base ids: {', '.join(map(str, unknown))}",
            details={"field": "knowledge_base_ids", "unknown_ids": [str(base_id) for base_id in unknown]},
        )
    if stt is not None:
        _ensure_installed("stt", "speech-to-text", stt.provider, stt.model)
    if tts is not None:
        _ensure_installed("tts", "text-to-speech", tts.provider, tts.voice)
    if llm is not None and llm.provider == "openai" and not await credentials.has(session, tenant_id, "openai"):
        raise InvalidInput(
            "Add an 'openai' credential (POST /api/v1/credentials) before choosing the openai LLM provider",
            details={"field": "llm.provider", "missing_credential": "openai"},
        )


def _ensure_installed(kind: str, label: str, provider: str, model: str) -> None:
    missing = catalog.missing_packages(kind, provider, model)
    if missing:
        raise InvalidInput(
            f"The {label} choice {provider} '{model}' needs packages that are not installed: {', '.join(missing)}",
            details={"field": kind, "provider": provider, "model": model, "missing_packages": missing},
        )
