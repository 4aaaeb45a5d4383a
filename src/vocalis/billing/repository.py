"""Queries for plans, subscriptions and the usage each quota is measured against."""

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.calls import repository as calls_repository
from vocalis.kit.db import tenant_select
from vocalis.models.agent import Agent
from vocalis.models.billing import Plan, Subscription, UsageRecord
from vocalis.models.knowledge import Document, KnowledgeBase
from vocalis.models.user import User


async def plan_by_code(session: AsyncSession, code: str) -> Plan | None:
    result: Plan | None = await session.scalar(select(Plan).where(Plan.code == code))
    return result


async def subscription(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[Subscription, Plan] | None:
    stmt = tenant_select(Subscription, tenant_id).add_columns(Plan).join(Plan, Plan.id == Subscription.plan_id)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def count_users(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    stmt = tenant_select(User, tenant_id).where(User.deleted_at.is_(None))
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def count_knowledge_bases(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    stmt = tenant_select(KnowledgeBase, tenant_id)
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def count_agents(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    stmt = tenant_select(Agent, tenant_id)
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def count_live_calls(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Calls holding one of the tenant's concurrent-call slots (the rule lives with the calls)."""
    return await calls_repository.count_live(session, tenant_id)


async def count_documents(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[int, int]:
    """(documents, stored bytes) of a tenant."""
    documents = tenant_select(Document, tenant_id).subquery()
    count, size = (
        await session.execute(select(func.count(), func.coalesce(func.sum(documents.c.size_bytes), 0)))
    ).one()
    return int(count), int(size)


async def sum_usage(session: AsyncSession, tenant_id: uuid.UUID, metric: str, since: datetime) -> int:
    stmt = tenant_select(UsageRecord, tenant_id).where(UsageRecord.metric == metric, UsageRecord.recorded_at >= since)
    total = await session.scalar(select(func.coalesce(func.sum(stmt.subquery().c.quantity), 0)))
    return int(total or 0)
