"""Queries for agents."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.kit.db import contains_pattern, count_rows, tenant_select
from vocalis.kit.pagination import PageParams, paginate
from vocalis.models.agent import Agent


async def get(session: AsyncSession, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> Agent | None:
    agent: Agent | None = await session.scalar(tenant_select(Agent, tenant_id).where(Agent.id == agent_id))
    return agent


async def list_agents(
    session: AsyncSession, tenant_id: uuid.UUID, search: str | None, page: PageParams
) -> tuple[list[Agent], int]:
    stmt = tenant_select(Agent, tenant_id)
    if search:
        stmt = stmt.where(Agent.name.ilike(contains_pattern(search), escape="\\"))
    return await paginate(session, stmt.order_by(Agent.created_at, Agent.id), page)


async def count(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    return await count_rows(session, tenant_select(Agent, tenant_id))
