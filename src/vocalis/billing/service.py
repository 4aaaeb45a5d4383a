"""Plans, subscriptions, metering and quotas: every domain asks `ensure_capacity` before it creates or starts
something, and records what it consumed with `meter`.

Billing is a leaf: it counts only the usage it metered. What other domains own (users, agents, documents, live
calls) they count themselves and pass in, as a number or as a function that counts when a limit needs it.
"""

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.billing import repository
from vocalis.kit.db import advisory_lock, utcnow
from vocalis.kit.errors import InvalidInput, NotFound, QuotaExceeded
from vocalis.models.billing import Plan, Subscription

PERIOD = timedelta(days=30)


class Metric(StrEnum):
    """What usage records measure."""

    CALLS = "calls"
    CALL_SECONDS = "call_seconds"
    STT_SECONDS = "stt_seconds"
    LLM_TOKENS = "llm_tokens"
    TTS_CHARACTERS = "tts_characters"


class Resource(StrEnum):
    """What a plan may limit."""

    USERS = "users"
    KNOWLEDGE_BASES = "knowledge_bases"
    DOCUMENTS = "documents"
    STORAGE_BYTES = "storage_bytes"
    AGENTS = "agents"
    CALLS = "calls"
    CALL_MINUTES = "call_minutes"
    CONCURRENT_CALLS = "concurrent_calls"


# The plan column that limits each resource; resources without one are counted but never limited.
_LIMIT_COLUMN: dict[Resource, str] = {
    Resource.USERS: "max_users",
    Resource.KNOWLEDGE_BASES: "max_knowledge_bases",
    Resource.DOCUMENTS: "max_documents",
    Resource.STORAGE_BYTES: "max_storage_bytes",
    Resource.AGENTS: "max_agents",
    Resource.CALL_MINUTES: "max_call_minutes_per_period",
    Resource.CONCURRENT_CALLS: "max_concurrent_calls",
}


# Resources measured by billing's own usage records; every other resource is counted by the domain that owns it.
METERED = frozenset({Resource.CALLS, Resource.CALL_MINUTES})
COUNTED = frozenset(Resource) - METERED

Count = Callable[[], Awaitable[int]]


@dataclass(frozen=True)
class Quota:
    resource: Resource
    used: int
    limit: int | None


@dataclass(frozen=True)
class Usage:
    plan: Plan
    period_start: datetime
    period_end: datetime
    quotas: dict[Resource, Quota]


async def subscribe(session: AsyncSession, tenant_id: uuid.UUID, plan_code: str) -> Subscription:
    """Put a new tenant on a plan, starting its first billing period now."""
    plan = await repository.plan_by_code(session, plan_code)
    if plan is None:
        raise InvalidInput(f"Unknown plan '{plan_code}'", details={"plan": plan_code})
    now = utcnow()
    subscription = Subscription(
        tenant_id=tenant_id,
        plan_id=plan.id,
        status="active",
        current_period_start=now,
        current_period_end=now + PERIOD,
    )
    session.add(subscription)
    await session.flush()
    return subscription


async def current_subscription(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[Subscription, Plan]:
    """The tenant's subscription and plan, with the billing period rolled forward to include now."""
    found = await repository.subscription(session, tenant_id)
    if found is None:
        raise NotFound("Subscription not found")
    subscription, plan = found
    now = utcnow()
    if subscription.current_period_end <= now:
        periods = (now - subscription.current_period_start) // PERIOD
        subscription.current_period_start += PERIOD * periods
        subscription.current_period_end = subscription.current_period_start + PERIOD
    return subscription, plan


async def _metered(session: AsyncSession, tenant_id: uuid.UUID, resource: Resource, since: datetime) -> int:
    if resource is Resource.CALL_MINUTES:
        seconds = await repository.sum_usage(session, tenant_id, Metric.CALL_SECONDS, since)
        return -(-seconds // 60)
    return await repository.sum_usage(session, tenant_id, Metric.CALLS, since)


async def usage(session: AsyncSession, tenant_id: uuid.UUID, counts: Mapping[Resource, int]) -> Usage:
    """Every resource's use beside its plan limit, for the current billing period; `counts` holds each counted
    resource's number, from the domain that owns it."""
    missing = COUNTED - counts.keys()
    if missing:
        raise ValueError(f"usage() needs the counts of {sorted(missing)}")
    subscription, plan = await current_subscription(session, tenant_id)
    since = subscription.current_period_start
    quotas = {
        resource: Quota(
            resource=resource,
            used=await _metered(session, tenant_id, resource, since) if resource in METERED else counts[resource],
            limit=_limit(plan, resource),
        )
        for resource in Resource
    }
    return Usage(plan, subscription.current_period_start, subscription.current_period_end, quotas)


def _limit(plan: Plan, resource: Resource) -> int | None:
    column = _LIMIT_COLUMN.get(resource)
    value: int | None = getattr(plan, column) if column else None
    return value


async def ensure_capacity(
    session: AsyncSession, tenant_id: uuid.UUID, resource: Resource, count: Count | None = None, adding: int = 1
) -> None:
    """Raise QuotaExceeded when adding `adding` of a resource would pass the tenant's plan limit. A counted resource
    comes with `count`, its owner's function that counts what the tenant has (called only when the plan limits it).

    A limited counted resource stays locked for the tenant until the caller's transaction ends, so parallel creates
    (on any replica) count one after another, each seeing what the one before it committed."""
    subscription, plan = await current_subscription(session, tenant_id)
    limit = _limit(plan, resource)
    if limit is None:
        return
    if resource in COUNTED:
        await advisory_lock(session, "quota", tenant_id, resource.value)
    if resource in METERED:
        used = await _metered(session, tenant_id, resource, subscription.current_period_start)
    elif count is None:
        raise ValueError(f"ensure_capacity({resource.value}) needs the owner's count")
    else:
        used = await count()
    if used + adding > limit:
        raise QuotaExceeded(
            f"Plan '{plan.code}' allows {limit} {resource.value.replace('_', ' ')}",
            details={"resource": resource.value, "limit": limit, "used": used, "plan": plan.code},
        )


async def remaining_call_seconds(session: AsyncSession, tenant_id: uuid.UUID) -> int | None:
    """Call seconds left in the tenant's billing period (None: the plan has no limit)."""
    subscription, plan = await current_subscription(session, tenant_id)
    limit = _limit(plan, Resource.CALL_MINUTES)
    if limit is None:
        return None
    used = await repository.sum_usage(session, tenant_id, Metric.CALL_SECONDS, subscription.current_period_start)
    return limit * 60 - used


async def change_plan(session: AsyncSession, tenant_id: uuid.UUID, plan_code: str) -> None:
    """Move a tenant to another plan; the current billing period carries on."""
    plan = await repository.plan_by_code(session, plan_code)
    if plan is None:
        raise InvalidInput(f"Unknown plan '{plan_code}'", details={"plan": plan_code})
    subscription, _ = await current_subscription(session, tenant_id)
    subscription.plan_id = plan.id


def meter(session: AsyncSession, tenant_id: uuid.UUID, quantities: Mapping[Metric, int], reference: str) -> None:
    """Record what one thing (a call, say: `reference` is its id) consumed; zero quantities are not recorded."""
    repository.add_usage(session, tenant_id, quantities.items(), reference, utcnow())


async def unmeter(session: AsyncSession, tenant_id: uuid.UUID, reference: str) -> None:
    """Forget what was metered for `reference` (before it is metered again with the final account)."""
    await repository.delete_usage(session, tenant_id, reference)
