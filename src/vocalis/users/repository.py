"""Queries for users, always through the tenant-scoping helper."""

import uuid
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.kit.db import ALL_TENANTS, acting_for, contains_pattern, count_rows, tenant_select, tenant_update
from vocalis.kit.pagination import PageParams, paginate
from vocalis.models.user import Role, User
from vocalis.users.schemas import UserFilters


def _live(tenant_id: uuid.UUID) -> Select[User]:
    return tenant_select(User, tenant_id).where(User.deleted_at.is_(None))


async def get(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    user: User | None = await session.scalar(_live(tenant_id).where(User.id == user_id))
    return user


async def list_users(
    session: AsyncSession, tenant_id: uuid.UUID, filters: UserFilters, page: PageParams
) -> tuple[list[User], int]:
    stmt = _live(tenant_id)
    if filters.role is not None:
        stmt = stmt.where(User.role == filters.role)
    if filters.is_active is not None:
        stmt = stmt.where(User.is_active == filters.is_active)
    if filters.is_verified is not None:
        stmt = stmt.where(User.is_verified == filters.is_verified)
    if filters.search:
        pattern = contains_pattern(filters.search)
        stmt = stmt.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (User.email, User.username, User.first_name, User.last_name)
                )
            )
        )
    return await paginate(session, stmt.order_by(User.created_at, User.id), page)


async def email_taken(session: AsyncSession, email: str, *, excluding: uuid.UUID | None = None) -> bool:
    """Emails are unique across the platform, so this check looks across tenants (it tells only yes or no)."""
    stmt = select(User.id).where(func.lower(User.email) == email.lower(), User.deleted_at.is_(None))
    if excluding is not None:
        stmt = stmt.where(User.id != excluding)
    async with acting_for(session, ALL_TENANTS):
        return await session.scalar(stmt.limit(1)) is not None


async def username_taken(
    session: AsyncSession, tenant_id: uuid.UUID, username: str, *, excluding: uuid.UUID | None = None
) -> bool:
    stmt = _live(tenant_id).where(func.lower(User.username) == username.lower())
    if excluding is not None:
        stmt = stmt.where(User.id != excluding)
    return await session.scalar(stmt.limit(1)) is not None


async def count_live(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    return await count_rows(session, _live(tenant_id))


async def count_active_owners(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    return await count_rows(session, _live(tenant_id).where(User.role == Role.OWNER, User.is_active.is_(True)))


async def lock_tenant_owners(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Lock the tenant's live owners, so two concurrent demotions cannot both leave it without one."""
    await session.execute(_live(tenant_id).where(User.role == Role.OWNER).with_for_update())


async def soft_delete_all(session: AsyncSession, tenant_id: uuid.UUID, when: datetime) -> None:
    stmt = tenant_update(User, tenant_id).where(User.deleted_at.is_(None))
    await session.execute(stmt.values(deleted_at=when, is_active=False))
