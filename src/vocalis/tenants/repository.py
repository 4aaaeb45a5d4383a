"""Queries for tenants. A tenant is its own scope: a caller limited to one tenant can only ever match that one."""

import uuid

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.kit.db import contains_pattern
from vocalis.kit.pagination import PageParams, paginate
from vocalis.models.tenant import Tenant
from vocalis.tenants.schemas import TenantFilters


def _live(scope: uuid.UUID | None) -> Select[Tenant]:
    stmt = select(Tenant).where(Tenant.deleted_at.is_(None))
    return stmt if scope is None else stmt.where(Tenant.id == scope)


async def get(session: AsyncSession, tenant_id: uuid.UUID, *, scope: uuid.UUID | None) -> Tenant | None:
    tenant: Tenant | None = await session.scalar(_live(scope).where(Tenant.id == tenant_id))
    return tenant


async def list_tenants(session: AsyncSession, filters: TenantFilters, page: PageParams) -> tuple[list[Tenant], int]:
    stmt = _live(None)
    if filters.status is not None:
        stmt = stmt.where(Tenant.status == filters.status)
    if filters.search:
        pattern = contains_pattern(filters.search)
        stmt = stmt.where(or_(Tenant.name.ilike(pattern, escape="\\"), Tenant.slug.ilike(pattern, escape="\\")))
    return await paginate(session, stmt.order_by(Tenant.created_at, Tenant.id), page)


async def slug_taken(session: AsyncSession, slug: str) -> bool:
    return await session.scalar(_live(None).where(Tenant.slug == slug).limit(1)) is not None
