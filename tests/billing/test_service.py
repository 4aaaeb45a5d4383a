"""The billing service: subscriptions, billing periods, usage and the quota checks every domain relies on."""

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import unique
from tests.factories import PASSWORD
from vocalis.billing import service as billing
from vocalis.billing.service import PERIOD, Resource
from vocalis.kit.db import utcnow
from vocalis.kit.errors import InvalidInput, NotFound, QuotaExceeded
from vocalis.models.billing import Plan, Subscription, UsageRecord
from vocalis.models.tenant import Tenant
from vocalis.models.user import Role
from vocalis.tenants import service as tenants
from vocalis.users import service as users
from vocalis.users.schemas import UserCreate


def new_user(role: Role = Role.MEMBER) -> UserCreate:
    name = unique()
    return UserCreate(email=f"{name}@example.com", username=name, password=PASSWORD, role=role)


async def new_tenant(session: AsyncSession, plan: str = "free") -> uuid.UUID:
    """A tenant on `plan` with one user, its owner."""
    tenant, _ = await tenants.create_with_owner(session, name=f"Billing {unique()}", owner=new_user(), plan=plan)
    return tenant.id


async def subscription_of(session: AsyncSession, tenant_id: uuid.UUID) -> Subscription:
    found = await session.scalar(select(Subscription).where(Subscription.tenant_id == tenant_id))
    assert found is not None
    return found


async def record(session: AsyncSession, tenant_id: uuid.UUID, metric: str, quantity: int, at: datetime) -> None:
    session.add(UsageRecord(tenant_id=tenant_id, metric=metric, quantity=quantity, recorded_at=at))
    await session.flush()


async def move_period(session: AsyncSession, tenant_id: uuid.UUID, start: datetime) -> Subscription:
    """Set the tenant's billing period to begin at `start` (and last one PERIOD)."""
    subscription = await subscription_of(session, tenant_id)
    subscription.current_period_start = start
    subscription.current_period_end = start + PERIOD
    await session.flush()
    return subscription


# --- subscribe ----------------------------------------------------------------------------------------------------


async def test_a_new_tenant_starts_a_period_now(session: AsyncSession) -> None:
    before = utcnow()
    tenant_id = await new_tenant(session)
    subscription, plan = await billing.current_subscription(session, tenant_id)
    assert plan.code == "free"
    assert subscription.status == "active"
    assert before <= subscription.current_period_start <= utcnow()
    assert subscription.current_period_end - subscription.current_period_start == PERIOD


async def test_subscribe_to_an_unknown_plan_raises_invalid_input(session: AsyncSession) -> None:
    tenant = Tenant(name="No plan", slug=f"no-plan-{uuid.uuid4().hex[:8]}")
    session.add(tenant)
    await session.flush()
    with pytest.raises(InvalidInput) as raised:
        await billing.subscribe(session, tenant.id, "platinum")
    assert raised.value.details == {"plan": "platinum"}


async def test_a_tenant_without_subscription_is_not_found(session: AsyncSession) -> None:
    tenant = Tenant(name="Unsubscribed", slug=f"unsubscribed-{uuid.uuid4().hex[:8]}")
    session.add(tenant)
    await session.flush()
    with pytest.raises(NotFound):
        await tenants.plan_usage(session, tenant.id)


# --- ensure_capacity ----------------------------------------------------------------------------------------------


def users_of(session: AsyncSession, tenant_id: uuid.UUID) -> billing.Count:
    """The users domain's count, as it hands it to billing (billing counts nothing of other domains itself)."""

    async def count() -> int:
        return (await users.quota_counts(session, tenant_id))[Resource.USERS]

    return count


async def test_a_counted_resource_needs_its_owners_count(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    with pytest.raises(ValueError, match="needs the owner's count"):
        await billing.ensure_capacity(session, tenant_id, Resource.USERS)


async def test_ensure_capacity_allows_up_to_the_limit_and_refuses_at_it(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)  # free plan: 5 users, the owner is the first
    for _ in range(3):
        await users.add(session, tenant_id, new_user())
    # Four users: one more fits, exactly up to the limit.
    await billing.ensure_capacity(session, tenant_id, Resource.USERS, users_of(session, tenant_id))
    await users.add(session, tenant_id, new_user())

    with pytest.raises(QuotaExceeded) as raised:
        await billing.ensure_capacity(session, tenant_id, Resource.USERS, users_of(session, tenant_id))
    assert raised.value.status_code == 402
    assert raised.value.code == "quota_exceeded"
    assert raised.value.details == {"resource": "users", "limit": 5, "used": 5, "plan": "free"}

    # And the user service asks it before adding anyone.
    with pytest.raises(QuotaExceeded):
        await users.add(session, tenant_id, new_user())


async def test_ensure_capacity_counts_what_is_being_added(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)  # 1 of 5 users
    await billing.ensure_capacity(session, tenant_id, Resource.USERS, users_of(session, tenant_id), adding=4)
    with pytest.raises(QuotaExceeded) as raised:
        await billing.ensure_capacity(session, tenant_id, Resource.USERS, users_of(session, tenant_id), adding=5)
    assert raised.value.details["used"] == 1


async def test_ensure_capacity_on_call_minutes(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)  # free plan: 300 call minutes per period
    await record(session, tenant_id, "call_seconds", 299 * 60, utcnow())
    await billing.ensure_capacity(session, tenant_id, Resource.CALL_MINUTES)

    await record(session, tenant_id, "call_seconds", 1, utcnow())  # 299 min 1 s: 300 minutes, rounded up
    with pytest.raises(QuotaExceeded) as raised:
        await billing.ensure_capacity(session, tenant_id, Resource.CALL_MINUTES)
    assert raised.value.details == {"resource": "call_minutes", "limit": 300, "used": 300, "plan": "free"}


async def test_unlimited_resources_never_raise(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session, plan="enterprise")
    await billing.ensure_capacity(session, tenant_id, Resource.USERS, users_of(session, tenant_id), adding=1_000_000)
    await billing.ensure_capacity(session, tenant_id, Resource.CALL_MINUTES, adding=1_000_000)

    # A resource without a plan column is counted but never limited, on any plan.
    free = await new_tenant(session)
    await record(session, free, "calls", 10_000, utcnow())
    await billing.ensure_capacity(session, free, Resource.CALLS, adding=1_000_000)


async def test_ensure_capacity_is_per_tenant(session: AsyncSession) -> None:
    full = await new_tenant(session)
    for _ in range(4):
        await users.add(session, full, new_user())
    other = await new_tenant(session)
    with pytest.raises(QuotaExceeded):
        await billing.ensure_capacity(session, full, Resource.USERS, users_of(session, full))
    await billing.ensure_capacity(session, other, Resource.USERS, users_of(session, other), adding=4)


# --- usage --------------------------------------------------------------------------------------------------------


async def test_usage_sums_call_seconds_of_the_current_period_into_minutes(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    subscription = await subscription_of(session, tenant_id)
    start = subscription.current_period_start
    await record(session, tenant_id, "call_seconds", 90, start + timedelta(seconds=1))
    await record(session, tenant_id, "call_seconds", 31, utcnow())
    # Ignored: before this period, another metric, another tenant.
    await record(session, tenant_id, "call_seconds", 6000, start - timedelta(seconds=1))
    await record(session, tenant_id, "stt_seconds", 6000, utcnow())
    await record(session, await new_tenant(session), "call_seconds", 6000, utcnow())

    usage = await tenants.plan_usage(session, tenant_id)
    quota = usage.quotas[Resource.CALL_MINUTES]
    assert quota.used == 3  # 121 seconds, rounded up
    assert quota.limit == 300


async def test_usage_rounds_call_minutes_up_only_past_a_whole_minute(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    assert (await tenants.plan_usage(session, tenant_id)).quotas[Resource.CALL_MINUTES].used == 0
    await record(session, tenant_id, "call_seconds", 120, utcnow())
    assert (await tenants.plan_usage(session, tenant_id)).quotas[Resource.CALL_MINUTES].used == 2
    await record(session, tenant_id, "call_seconds", 1, utcnow())
    assert (await tenants.plan_usage(session, tenant_id)).quotas[Resource.CALL_MINUTES].used == 3


async def test_usage_reports_every_resource_with_the_plans_limits(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    await users.add(session, tenant_id, new_user())
    await record(session, tenant_id, "calls", 4, utcnow())

    usage = await tenants.plan_usage(session, tenant_id)
    free = await session.scalar(select(Plan).where(Plan.code == "free"))
    assert free is not None
    assert usage.plan.code == "free"
    assert set(usage.quotas) == set(Resource)
    assert (usage.quotas[Resource.USERS].used, usage.quotas[Resource.USERS].limit) == (2, free.max_users)
    assert usage.quotas[Resource.CALLS].used == 4
    assert usage.quotas[Resource.CALLS].limit is None
    assert usage.quotas[Resource.STORAGE_BYTES].limit == free.max_storage_bytes
    assert usage.quotas[Resource.CONCURRENT_CALLS].limit == free.max_concurrent_calls
    for resource in (Resource.KNOWLEDGE_BASES, Resource.DOCUMENTS, Resource.STORAGE_BYTES, Resource.AGENTS):
        assert usage.quotas[resource].used == 0


async def test_usage_does_not_count_soft_deleted_users(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    user = await users.add(session, tenant_id, new_user())
    assert (await tenants.plan_usage(session, tenant_id)).quotas[Resource.USERS].used == 2
    user.deleted_at = utcnow()
    await session.flush()
    assert (await tenants.plan_usage(session, tenant_id)).quotas[Resource.USERS].used == 1


# --- billing periods ----------------------------------------------------------------------------------------------


async def test_the_billing_period_rolls_forward_when_it_has_ended(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    old_start = utcnow() - 2 * PERIOD - timedelta(days=5)
    await move_period(session, tenant_id, old_start)

    subscription, _ = await billing.current_subscription(session, tenant_id)
    now = utcnow()
    # Whole periods later, so the period boundaries stay where they were.
    assert subscription.current_period_start == old_start + 2 * PERIOD
    assert subscription.current_period_end == subscription.current_period_start + PERIOD
    assert subscription.current_period_start <= now < subscription.current_period_end

    # And the new period is what is stored.
    await session.flush()
    session.expire(subscription)
    stored = await subscription_of(session, tenant_id)
    assert stored.current_period_start == old_start + 2 * PERIOD


async def test_a_running_period_is_left_alone(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    start = utcnow() - PERIOD + timedelta(minutes=5)
    await move_period(session, tenant_id, start)
    subscription, _ = await billing.current_subscription(session, tenant_id)
    assert subscription.current_period_start == start
    assert subscription.current_period_end == start + PERIOD


async def test_usage_of_a_rolled_period_ignores_the_old_periods_records(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    old_start = utcnow() - PERIOD - timedelta(days=10)
    await move_period(session, tenant_id, old_start)
    await record(session, tenant_id, "call_seconds", 600, old_start + timedelta(days=1))  # last period
    await record(session, tenant_id, "call_seconds", 60, utcnow() - timedelta(days=1))  # this period

    usage = await tenants.plan_usage(session, tenant_id)
    assert usage.period_start == old_start + PERIOD
    assert usage.period_end == old_start + 2 * PERIOD
    assert usage.quotas[Resource.CALL_MINUTES].used == 1


# --- change_plan --------------------------------------------------------------------------------------------------


async def test_change_plan_moves_the_tenant_and_keeps_the_period(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    before, _ = await billing.current_subscription(session, tenant_id)
    start, end = before.current_period_start, before.current_period_end

    await billing.change_plan(session, tenant_id, "pro")
    await session.flush()

    usage = await tenants.plan_usage(session, tenant_id)
    assert usage.plan.code == "pro"
    assert usage.quotas[Resource.USERS].limit == 50
    assert (usage.period_start, usage.period_end) == (start, end)


async def test_change_plan_lifts_a_quota(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    with pytest.raises(QuotaExceeded):
        await billing.ensure_capacity(session, tenant_id, Resource.USERS, users_of(session, tenant_id), adding=5)
    await billing.change_plan(session, tenant_id, "pro")
    await session.flush()
    await billing.ensure_capacity(session, tenant_id, Resource.USERS, users_of(session, tenant_id), adding=5)


async def test_change_plan_to_an_unknown_plan_raises_invalid_input(session: AsyncSession) -> None:
    tenant_id = await new_tenant(session)
    with pytest.raises(InvalidInput) as raised:
        await billing.change_plan(session, tenant_id, "platinum")
    assert raised.value.status_code == 422
    assert raised.value.details == {"plan": "platinum"}
    assert (await tenants.plan_usage(session, tenant_id)).plan.code == "free"
