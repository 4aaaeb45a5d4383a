"""Tenant rules: sign-up, platform administration, suspension, API keys and statistics.

Statistics gather each domain's own counts, so this domain sits above the others that own tenant data."""

import re
import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.agents import service as agents
from vocalis.audit import service as audit
from vocalis.auth import service as auth
from vocalis.auth.permissions import Permission
from vocalis.auth.principal import Principal
from vocalis.auth.service import Client
from vocalis.billing import service as billing
from vocalis.billing.service import Resource
from vocalis.calls import service as calls
from vocalis.config import Settings
from vocalis.kit.db import ALL_TENANTS, act_for, utcnow
from vocalis.kit.errors import Conflict, Forbidden, NotFound
from vocalis.kit.pagination import PageParams
from vocalis.kit.ratelimit import RateLimiter
from vocalis.knowledge import service as knowledge
from vocalis.models.tenant import Tenant, TenantStatus
from vocalis.models.user import Role, User
from vocalis.tenants import repository
from vocalis.tenants.schemas import (
    ApiKeyCreated,
    QuotaRead,
    RegisterRequest,
    TenantCreate,
    TenantFilters,
    TenantStatistics,
    TenantUpdate,
)
from vocalis.users import service as users
from vocalis.users.schemas import UserCreate


async def create_with_owner(
    session: AsyncSession,
    *,
    name: str,
    owner: UserCreate,
    plan: str,
    slug: str | None = None,
    contact_email: str | None = None,
    super_admin: bool = False,
) -> tuple[Tenant, User]:
    """Create a tenant on `plan` with its first user as owner."""
    # A platform path: slugs and emails are unique across tenants, so this transaction sees them all.
    await act_for(session, ALL_TENANTS)
    if slug is not None and await repository.slug_taken(session, slug):
        raise Conflict("A tenant with this slug already exists", details={"field": "slug"})
    tenant = Tenant(
        name=name,
        slug=slug or await _free_slug(session, name),
        status=TenantStatus.ACTIVE,
        contact_email=contact_email or owner.email,
    )
    session.add(tenant)
    await session.flush()
    await billing.subscribe(session, tenant.id, plan)
    user = await users.add(session, tenant.id, owner.model_copy(update={"role": Role.OWNER}), super_admin=super_admin)
    return tenant, user


async def sign_up(
    session: AsyncSession, settings: Settings, limiter: RateLimiter, data: RegisterRequest, client: Client
) -> tuple[User, Tenant]:
    """Sign up: a new tenant on the default plan with the registering user as its owner."""
    await limiter.hit(settings.register_limit_per_address, "register", client.ip_address or "-")
    await limiter.hit(settings.register_limit_per_account, "register", data.email.lower())
    owner = UserCreate(
        email=data.email,
        username=data.username,
        password=data.password,
        first_name=data.first_name,
        last_name=data.last_name,
        role=Role.OWNER,
    )
    name = data.tenant_name or f"{data.first_name or data.username}'s workspace"
    tenant, user = await create_with_owner(session, name=name, owner=owner, plan=settings.default_plan)
    await audit.record(
        session, "user.registered", tenant_id=tenant.id, actor_user_id=user.id, ip_address=client.ip_address
    )
    return user, tenant


async def _free_slug(session: AsyncSession, name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "tenant"
    slug = base
    while await repository.slug_taken(session, slug):
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def _scope(principal: Principal, permission: Permission) -> uuid.UUID | None:
    """Platform admins reach every tenant; anyone else only their own, with `permission`."""
    if principal.is_super_admin:
        return None
    principal.require(permission)
    return principal.tenant_id


async def _get(session: AsyncSession, tenant_id: uuid.UUID, scope: uuid.UUID | None) -> Tenant:
    tenant = await repository.get(session, tenant_id, scope=scope)
    if tenant is None:
        raise NotFound("Tenant not found")
    return tenant


async def list_tenants(
    session: AsyncSession, principal: Principal, filters: TenantFilters, page: PageParams
) -> tuple[list[Tenant], int]:
    """Every tenant on the platform (platform admins only)."""
    principal.require(Permission.PLATFORM_ADMIN)
    return await repository.list_tenants(session, filters, page)


async def current_tenant(session: AsyncSession, principal: Principal) -> Tenant:
    """The caller's own tenant."""
    return await _get(session, principal.tenant_id, principal.tenant_id)


async def get_tenant(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID) -> Tenant:
    return await _get(session, tenant_id, _scope(principal, Permission.TENANT_READ))


async def create_tenant(
    session: AsyncSession, principal: Principal, data: TenantCreate, default_plan: str
) -> tuple[Tenant, User]:
    """A platform admin creates a tenant with its first owner."""
    principal.require(Permission.PLATFORM_ADMIN)
    owner = UserCreate(**data.owner.model_dump(), role=Role.OWNER)
    tenant, user = await create_with_owner(
        session,
        name=data.name,
        owner=owner,
        plan=data.plan or default_plan,
        slug=data.slug,
        contact_email=data.contact_email,
    )
    await _audit(session, principal, "tenant.created", tenant)
    return tenant, user


async def update_tenant(
    session: AsyncSession, principal: Principal, tenant_id: uuid.UUID, data: TenantUpdate
) -> Tenant:
    """Rename a tenant or change its contact; platform admins may also change its plan."""
    tenant = await _get(session, tenant_id, _scope(principal, Permission.TENANT_WRITE))
    if data.name is not None:
        tenant.name = data.name
    if "contact_email" in data.model_fields_set:
        tenant.contact_email = data.contact_email
    if data.plan is not None:
        if not principal.is_super_admin:
            raise Forbidden("Only platform admins change a tenant's plan")
        await billing.change_plan(session, tenant.id, data.plan)
        await _audit(session, principal, "tenant.plan_changed", tenant, {"plan": data.plan})
    await session.flush()
    return tenant


async def delete_tenant(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID) -> None:
    """Soft-delete a tenant: it disappears, its sessions and keys stop working, its data is kept."""
    tenant = await _get(session, tenant_id, _scope(principal, Permission.TENANT_WRITE))
    if principal.is_super_admin and tenant.id == principal.tenant_id:
        raise Conflict("Platform admins cannot delete their own tenant")
    tenant.status = TenantStatus.DELETED
    tenant.deleted_at = utcnow()
    await _end_access(session, tenant, "tenant_deleted")
    # Its users go with it, which also frees their emails for new sign-ups.
    await users.delete_all_in_tenant(session, tenant.id)
    await _audit(session, principal, "tenant.deleted", tenant)
    await session.flush()


async def suspend_tenant(
    session: AsyncSession, principal: Principal, tenant_id: uuid.UUID, reason: str | None
) -> Tenant:
    """Suspend a tenant (platform admins only): its users and API key get 403 until reactivated."""
    principal.require(Permission.PLATFORM_ADMIN)
    tenant = await _get(session, tenant_id, None)
    if tenant.id == principal.tenant_id:
        raise Conflict("Platform admins cannot suspend their own tenant")
    if tenant.status != TenantStatus.SUSPENDED:
        tenant.status = TenantStatus.SUSPENDED
        tenant.suspended_at = utcnow()
        tenant.suspension_reason = reason
        await _audit(session, principal, "tenant.suspended", tenant, {"reason": reason})
        await auth.forget_principals(session, tenant_id=tenant.id)
    await session.flush()
    return tenant


async def reactivate_tenant(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID) -> Tenant:
    """Lift a suspension (platform admins only)."""
    principal.require(Permission.PLATFORM_ADMIN)
    tenant = await _get(session, tenant_id, None)
    if tenant.status == TenantStatus.SUSPENDED:
        tenant.status = TenantStatus.ACTIVE
        tenant.suspended_at = None
        tenant.suspension_reason = None
        await _audit(session, principal, "tenant.reactivated", tenant)
        await auth.forget_principals(session, tenant_id=tenant.id)
    await session.flush()
    return tenant


async def regenerate_api_key(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID) -> ApiKeyCreated:
    """Replace the tenant's API key: the old one stops working at once, the new one is shown only now."""
    tenant = await _get(session, tenant_id, _scope(principal, Permission.TENANT_API_KEYS))
    raw, key = await auth.replace_api_key(session, tenant.id, principal.user_id)
    await _audit(session, principal, "tenant.api_key_regenerated", tenant, {"prefix": key.prefix})
    return ApiKeyCreated(api_key=raw, prefix=key.prefix, scopes=key.scopes, created_at=key.created_at)


async def tenant_statistics(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID) -> TenantStatistics:
    """The tenant's use of each resource this billing period, beside its plan's limit."""
    tenant = await _get(session, tenant_id, _scope(principal, Permission.TENANT_READ))
    usage = await plan_usage(session, tenant.id)
    return TenantStatistics(
        tenant_id=tenant.id,
        plan=usage.plan.code,
        period_start=usage.period_start,
        period_end=usage.period_end,
        usage={resource: QuotaRead(used=q.used, limit=q.limit) for resource, q in usage.quotas.items()},
    )


async def plan_usage(session: AsyncSession, tenant_id: uuid.UUID) -> billing.Usage:
    """The tenant's use of every resource its plan limits, counted by the domains that own them."""
    counts: dict[Resource, int] = {}
    for quota_counts in (users.quota_counts, knowledge.quota_counts, agents.quota_counts, calls.quota_counts):
        counts.update(await quota_counts(session, tenant_id))
    return await billing.usage(session, tenant_id, counts)


async def _end_access(session: AsyncSession, tenant: Tenant, reason: str) -> None:
    await auth.revoke_sessions(session, tenant_id=tenant.id, reason=reason)
    await auth.revoke_api_keys(session, tenant.id)


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    tenant: Tenant,
    details: dict[str, object] | None = None,
) -> None:
    await audit.record(
        session,
        action,
        tenant_id=tenant.id,
        actor_user_id=principal.user_id,
        actor_api_key_id=principal.api_key_id,
        target_type="tenant",
        target_id=tenant.id,
        details=details,
    )
