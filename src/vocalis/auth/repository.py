"""Queries for users by email, login sessions, refresh tokens and API keys."""

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.auth.cache import invalidate
from vocalis.kit.db import tenant_select, tenant_update, utcnow
from vocalis.models.tenant import ApiKey, Tenant
from vocalis.models.user import AuthSession, RefreshToken, User


async def user_by_email(session: AsyncSession, email: str) -> tuple[User, Tenant] | None:
    """The live user with this email (case-insensitive) and its tenant; logins are by email across tenants."""
    stmt = (
        select(User, Tenant)
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(func.lower(User.email) == email.lower(), User.deleted_at.is_(None))
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def user_for_access(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> tuple[User, AuthSession, Tenant] | None:
    """The user behind an access token with its login session and tenant, in one query."""
    stmt = (
        select(User, AuthSession, Tenant)
        .join(AuthSession, AuthSession.user_id == User.id)
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(User.id == user_id, AuthSession.id == session_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2]) if row else None


async def refresh_token_for_update(session: AsyncSession, token_hash: str) -> tuple[RefreshToken, AuthSession] | None:
    """A refresh token and its session, locked so two concurrent uses cannot both rotate it."""
    stmt = (
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_hash == token_hash)
        .with_for_update()
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def revoke_sessions(
    session: AsyncSession,
    *,
    reason: str,
    tenant_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    except_session_id: uuid.UUID | None = None,
) -> None:
    """Revoke the live sessions matching the given filters (a user's, a tenant's, or one)."""
    stmt = update(AuthSession).where(AuthSession.revoked_at.is_(None))
    if tenant_id is not None:
        stmt = stmt.where(AuthSession.tenant_id == tenant_id)
    if user_id is not None:
        stmt = stmt.where(AuthSession.user_id == user_id)
    if session_id is not None:
        stmt = stmt.where(AuthSession.id == session_id)
    if except_session_id is not None:
        stmt = stmt.where(AuthSession.id != except_session_id)
    await session.execute(stmt.values(revoked_at=utcnow(), revoked_reason=reason))
    scopes = [f"{kind}:{value}" for kind, value in (("tenant", tenant_id), ("user", user_id), ("session", session_id))]
    await invalidate(session, *(scope for scope in scopes if not scope.endswith(":None")))


async def api_key_by_hash(session: AsyncSession, key_hash: str) -> tuple[ApiKey, Tenant] | None:
    stmt = (
        select(ApiKey, Tenant)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def revoke_api_keys(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    stmt = tenant_update(ApiKey, tenant_id).where(ApiKey.revoked_at.is_(None))
    await session.execute(stmt.values(revoked_at=utcnow()))
    await invalidate(session, f"tenant:{tenant_id}")


async def touch_api_key(session: AsyncSession, key: ApiKey, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))


async def active_api_key(session: AsyncSession, tenant_id: uuid.UUID) -> ApiKey | None:
    stmt = tenant_select(ApiKey, tenant_id).where(ApiKey.revoked_at.is_(None)).order_by(ApiKey.created_at.desc())
    key: ApiKey | None = await session.scalar(stmt.limit(1))
    return key
