"""Queries for plans, subscriptions and metered usage. Billing counts nothing of other domains: they pass it in."""

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.kit.db import tenant_delete, tenant_select
from vocalis.models.billing import Plan, Subscription, UsageRecord


async def plan_by_code(session: AsyncSession, code: str) -> Plan | None:
    result: Plan | None = await session.scalar(select(Plan).where(Plan.code == code))
    return result


async def subscription(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[Subscription, Plan] | None:
    stmt = tenant_select(Subscription, tenant_id).add_columns(Plan).join(Plan, Plan.id == Subscription.plan_id)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def sum_usage(session: AsyncSession, tenant_id: uuid.UUID, metric: str, since: datetime) -> int:
    stmt = tenant_select(UsageRecord, tenant_id).where(UsageRecord.metric == metric, UsageRecord.recorded_at >= since)
    total = await session.scalar(select(func.coalesce(func.sum(stmt.subquery().c.quantity), 0)))
    return int(total or 0)


def add_usage(
    session: AsyncSession, tenant_id: uuid.UUID, quantities: Iterable[tuple[str, int]], reference: str, now: datetime
) -> None:
    for metric, quantity in quantities:
        if quantity:
            session.add(
                UsageRecord(tenant_id=tenant_id, metric=metric, quantity=quantity, recorded_at=now, reference=reference)
            )


async def delete_usage(session: AsyncSession, tenant_id: uuid.UUID, reference: str) -> None:
    await session.execute(tenant_delete(UsageRecord, tenant_id).where(UsageRecord.reference == reference))
