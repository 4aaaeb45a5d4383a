"""The agents service as other domains use it: loading a tenant's agent, and the agent count behind the quota."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import unique
from tests.factories import PASSWORD
from vocalis.agents import service as agents
from vocalis.agents.schemas import AgentCreate
from vocalis.auth.permissions import permissions_for
from vocalis.auth.principal import Principal
from vocalis.billing.service import Resource
from vocalis.kit.errors import NotFound
from vocalis.knowledge import service as knowledge
from vocalis.models.knowledge import KnowledgeBase
from vocalis.models.user import Role
from vocalis.tenants import service as tenants
from vocalis.users.schemas import UserCreate


async def _owner(session: AsyncSession) -> Principal:
    name = unique()
    owner = UserCreate(email=f"{name}@example.com", username=name, password=PASSWORD, role=Role.OWNER)
    tenant, user = await tenants.create_with_owner(session, name=f"Agents {name}", owner=owner, plan="free")
    return Principal(tenant_id=tenant.id, permissions=permissions_for(Role.OWNER), user_id=user.id, role=Role.OWNER)


async def test_load_agent_loads_the_tenants_own_agent_only(session: AsyncSession) -> None:
    owner, other = await _owner(session), await _owner(session)
    agent = await agents.create_agent(session, owner, AgentCreate(name="Front desk"))
    assert (await agents.load_agent(session, owner.tenant_id, agent.id)).name == "Front desk"
    with pytest.raises(NotFound, match="Agent not found"):
        await agents.load_agent(session, other.tenant_id, agent.id)
    with pytest.raises(NotFound):
        await agents.load_agent(session, owner.tenant_id, uuid.uuid4())


async def test_agents_count_against_the_plan(session: AsyncSession) -> None:
    owner = await _owner(session)
    assert (await tenants.plan_usage(session, owner.tenant_id)).quotas[Resource.AGENTS].used == 0
    for number in range(2):
        await agents.create_agent(session, owner, AgentCreate(name=f"Agent {number}"))
    quota = (await tenants.plan_usage(session, owner.tenant_id)).quotas[Resource.AGENTS]
    assert (quota.used, quota.limit) == (2, 3)


async def test_stored_settings_are_plain_json(session: AsyncSession) -> None:
    owner = await _owner(session)
    agent = await agents.create_agent(session, owner, AgentCreate(name="x"))
    assert agent.stt == {"provider": "whisper", "model": "tiny.en", "keywords": []}
    assert agent.limits["max_duration_seconds"] == 600
    assert agent.knowledge_base_ids == []


async def test_unknown_base_ids_keep_their_order_once_each(session: AsyncSession) -> None:
    owner, other = await _owner(session), await _owner(session)
    own = KnowledgeBase(
        tenant_id=owner.tenant_id,
        name="Own",
        embedding_provider="local",
        embedding_model="minilm",
        embedding_dimension=384,
        chunk_size=256,
        chunk_overlap=38,
    )
    session.add(own)
    await session.flush()
    missing = uuid.uuid4()
    assert await knowledge.unknown_base_ids(session, owner.tenant_id, []) == []
    assert await knowledge.unknown_base_ids(session, owner.tenant_id, [own.id]) == []
    assert await knowledge.unknown_base_ids(session, owner.tenant_id, [missing, own.id, missing]) == [missing]
    assert await knowledge.unknown_base_ids(session, other.tenant_id, [own.id]) == [own.id]
