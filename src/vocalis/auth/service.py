"""Authentication rules: login, token refresh and rotation, logout, password changes, turning an access token or
API key into a Principal, and the calls other domains make to end access (revoke sessions and API keys, issue a new
key, forget cached principals)."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.audit import service as audit
from vocalis.auth import repository
from vocalis.auth.cache import PrincipalCache, invalidate
from vocalis.auth.passwords import ensure_acceptable_password, hash_password, verify_password
from vocalis.auth.permissions import API_KEY_DEFAULT_SCOPES, Permission, permissions_for
from vocalis.auth.principal import Principal
from vocalis.auth.schemas import TokenResponse, UserRead
from vocalis.auth.tokens import create_access_token, digest, new_api_key, new_refresh_token
from vocalis.config import Settings
from vocalis.kit.db import ALL_TENANTS, act_for, advisory_lock, utcnow, write_independently
from vocalis.kit.errors import Forbidden, TenantSuspended, Unauthorized
from vocalis.kit.ratelimit import RateLimiter
from vocalis.models.tenant import ApiKey, Tenant, TenantStatus
from vocalis.models.user import AuthSession, RefreshToken, Role, User

# API keys record their last use at most this often, so busy keys do not write on every request.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Client:
    ip_address: str | None
    user_agent: str | None


def ensure_tenant_usable(tenant: Tenant) -> None:
    if tenant.status == TenantStatus.SUSPENDED:
        raise TenantSuspended("This tenant is suspended", details={"tenant_id": str(tenant.id)})
    if tenant.status != TenantStatus.ACTIVE:
        raise Unauthorized("Invalid credentials")


async def login(
    session: AsyncSession, settings: Settings, limiter: RateLimiter, email: str, password: str, client: Client
) -> TokenResponse:
    """Check credentials and start a session. The same password work is done whether or not the email exists."""
    address = client.ip_address or "-"
    account = email.lower()
    await limiter.hit(settings.login_limit_per_address, "login", address)
    # Failures count per account *and* address, so an attacker elsewhere cannot lock the real user out.
    await limiter.check(settings.login_failures_per_account, "login-failed", account, address)

    await act_for(session, ALL_TENANTS)  # a login is by email, across tenants
    found = await repository.user_by_email(session, account)
    valid, upgraded_hash = await verify_password(password, found[0].password_hash if found else None)
    if found is None or not valid:
        await limiter.hit(settings.login_failures_per_account, "login-failed", account, address)
        # Audited although the request fails: written in a transaction of its own.
        write_independently(
            session,
            partial(
                audit.record,
                action="auth.login_failed",
                tenant_id=found[1].id if found else None,
                target_type="user" if found else None,
                target_id=found[0].id if found else None,
                ip_address=client.ip_address,
            ),
        )
        raise Unauthorized("Invalid email or password")

    user, tenant = found
    await act_for(session, tenant.id)
    if not user.is_active:
        raise Forbidden("This account is disabled")
    ensure_tenant_usable(tenant)
    if upgraded_hash:
        user.password_hash = upgraded_hash
    user.last_login_at = utcnow()
    await limiter.clear(settings.login_failures_per_account, "login-failed", account, address)
    await audit.record(session, "auth.login", tenant_id=tenant.id, actor_user_id=user.id, ip_address=client.ip_address)
    return await _start_session(session, settings, user, client)


async def _start_session(session: AsyncSession, settings: Settings, user: User, client: Client) -> TokenResponse:
    now = utcnow()
    auth_session = AuthSession(
        id=uuid.uuid4(),
        tenant_id=user.tenant_id,
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        last_used_at=now,
        user_agent=(client.user_agent or "")[:300] or None,
        ip_address=client.ip_address,
    )
    session.add(auth_session)
    return await _issue_tokens(session, settings, user.id, user.tenant_id, auth_session.id)


async def _issue_tokens(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID, tenant_id: uuid.UUID, session_id: uuid.UUID
) -> TokenResponse:
    refresh_token = new_refresh_token()
    session.add(RefreshToken(session_id=session_id, token_hash=digest(refresh_token), created_at=utcnow()))
    await session.flush()
    access_token = create_access_token(settings, user_id=user_id, tenant_id=tenant_id, session_id=session_id)
    return TokenResponse(
        access_token=access_token, refresh_token=refresh_token, expires_in=settings.access_token_ttl_seconds
    )


async def refresh(session: AsyncSession, settings: Settings, refresh_token: str) -> TokenResponse:
    """Rotate a refresh token. Presenting an already-rotated token revokes its whole session family."""
    await act_for(session, ALL_TENANTS)  # the token names its session, and so its tenant
    found = await repository.refresh_token_for_update(session, digest(refresh_token))
    if found is None:
        raise Unauthorized("Invalid refresh token")
    token, auth_session = found
    await act_for(session, auth_session.tenant_id)
    now = utcnow()
    if auth_session.revoked_at is not None or auth_session.expires_at <= now:
        raise Unauthorized("Session has ended")
    if token.used_at is not None:
        # The revocation must stand although the request fails: written in a transaction of its own.
        write_independently(
            session, partial(_revoke_replayed, auth_session.id, auth_session.tenant_id, auth_session.user_id)
        )
        raise Unauthorized("Refresh token was already used; the session has been revoked")

    user = await session.get(User, auth_session.user_id)
    tenant = await session.get(Tenant, auth_session.tenant_id)
    if user is None or tenant is None or not user.is_active or user.deleted_at is not None:
        raise Unauthorized("Session has ended")
    ensure_tenant_usable(tenant)
    token.used_at = now
    auth_session.last_used_at = now
    return await _issue_tokens(session, settings, user.id, user.tenant_id, auth_session.id)


async def _revoke_replayed(
    session_id: uuid.UUID, tenant_id: uuid.UUID, user_id: uuid.UUID, session: AsyncSession
) -> None:
    """End the login session whose spent refresh token was presented again (someone else may hold a copy)."""
    await repository.revoke_sessions(session, session_id=session_id, reason="refresh_reuse")
    await audit.record(
        session,
        "auth.refresh_reuse",
        tenant_id=tenant_id,
        actor_user_id=user_id,
        target_type="session",
        target_id=session_id,
    )


async def logout(session: AsyncSession, principal: Principal | None, refresh_token: str | None) -> None:
    """End a session, identified by the caller's access token or by a refresh token."""
    session_id = principal.session_id if principal else None
    if refresh_token is not None:
        if principal is None:
            await act_for(session, ALL_TENANTS)  # the token names its session, and so its tenant
        found = await repository.refresh_token_for_update(session, digest(refresh_token))
        if found is None or (session_id is not None and found[1].id != session_id):
            raise Unauthorized("Invalid refresh token")
        session_id = found[1].id
    if session_id is None:
        raise Unauthorized("Log out with an access token or a refresh token")
    await repository.revoke_sessions(session, session_id=session_id, reason="logout")


async def current_user(session: AsyncSession, cache: PrincipalCache, principal: Principal) -> UserRead:
    """The calling user: from the principal cache, else as loaded while authenticating (the identity map)."""
    cached = cache.get(f"session:{principal.session_id}")
    if cached is not None and cached.user is not None:
        return UserRead.model_construct(**cached.user)
    user = await session.get(User, principal.require_user())
    if user is None:
        raise Unauthorized()
    return UserRead.model_validate(user)


async def change_password(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    limiter: RateLimiter,
    current_password: str,
    new_password: str,
) -> None:
    """Change the caller's password and end every other session of theirs. Wrong current passwords are limited per
    account as failed logins are, so a stolen session cannot be used to guess the password."""
    user = await session.get(User, principal.require_user())
    if user is None:
        raise Unauthorized()
    account = str(user.id)
    await limiter.check(settings.login_failures_per_account, "password-failed", account)
    valid, _ = await verify_password(current_password, user.password_hash)
    if not valid:
        await limiter.hit(settings.login_failures_per_account, "password-failed", account)
        raise Forbidden("Current password is incorrect", details={"field": "current_password"})
    await limiter.clear(settings.login_failures_per_account, "password-failed", account)
    ensure_acceptable_password(new_password, (user.email, user.username), "new_password")
    user.password_hash = await hash_password(new_password)
    user.password_changed_at = utcnow()
    await repository.revoke_sessions(
        session, user_id=user.id, except_session_id=principal.session_id, reason="password_changed"
    )
    await audit.record(session, "auth.password_changed", tenant_id=user.tenant_id, actor_user_id=user.id)


async def authenticate_access_token(
    session: AsyncSession, settings: Settings, cache: PrincipalCache, token: str
) -> Principal:
    claims = cache.tokens.decode(settings, token)
    cache_key = f"session:{claims['sid']}"
    cached = cache.get(cache_key)
    if cached is not None and cached.principal.user_id == claims["sub"]:
        return cached.principal
    generation = cache.generation
    await act_for(session, uuid.UUID(claims["tid"]))  # signed by us: the tenant it names is the user's
    found = await repository.user_for_access(session, claims["sub"], claims["sid"])
    if found is None:
        raise Unauthorized("Invalid access token")
    user, auth_session, tenant = found
    # The identity map holds objects weakly: keep the user referenced so `current_user` finds it without a query.
    session.info["current_user"] = user
    if auth_session.revoked_at is not None or auth_session.expires_at <= utcnow():
        raise Unauthorized("Session has ended")
    if not user.is_active or user.deleted_at is not None:
        raise Unauthorized("This account is disabled")
    ensure_tenant_usable(tenant)
    role = Role(user.role)
    principal = Principal(
        tenant_id=user.tenant_id,
        permissions=permissions_for(role, super_admin=user.is_super_admin),
        user_id=user.id,
        session_id=auth_session.id,
        role=role,
        is_super_admin=user.is_super_admin,
    )
    seconds = min(settings.auth_cache_seconds, (auth_session.expires_at - utcnow()).total_seconds())
    cache.put(cache_key, principal, UserRead.model_validate(user).model_dump(), seconds, generation)
    return principal


async def authenticate_api_key(
    session: AsyncSession, settings: Settings, cache: PrincipalCache, api_key: str
) -> Principal:
    key_hash = digest(api_key)
    cached = cache.get(f"key:{key_hash}")
    if cached is not None:
        return cached.principal
    generation = cache.generation
    await act_for(session, ALL_TENANTS)  # the key names its tenant
    found = await repository.api_key_by_hash(session, key_hash)
    if found is None:
        raise Unauthorized("Invalid API key")
    key, tenant = found
    ensure_tenant_usable(tenant)
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > API_KEY_TOUCH_INTERVAL:
        await repository.touch_api_key(session, key, now)
    principal = Principal(
        tenant_id=tenant.id,
        permissions=frozenset(Permission(scope) for scope in key.scopes),
        api_key_id=key.id,
    )
    cache.put(f"key:{key_hash}", principal, None, settings.auth_cache_seconds, generation)
    return principal


# For other domains: ending access


async def revoke_sessions(
    session: AsyncSession,
    *,
    reason: str,
    tenant_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> None:
    """End the live login sessions of a tenant or of a user, at once and on every replica."""
    if tenant_id is None and user_id is None:
        raise ValueError("revoke_sessions needs a tenant or a user")
    await repository.revoke_sessions(session, reason=reason, tenant_id=tenant_id, user_id=user_id)


async def revoke_api_keys(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Revoke the tenant's API keys, at once and on every replica."""
    await repository.revoke_api_keys(session, tenant_id)


async def replace_api_key(
    session: AsyncSession, tenant_id: uuid.UUID, created_by: uuid.UUID | None
) -> tuple[str, ApiKey]:
    """Revoke the tenant's API keys and issue a new one: the raw key (shown once, never stored) and its record.
    Replacements of one tenant's key run one after another, so the later one also revokes the earlier one's key."""
    await advisory_lock(session, "api_keys", tenant_id)
    await repository.revoke_api_keys(session, tenant_id)
    raw = new_api_key()
    key = ApiKey(
        tenant_id=tenant_id,
        prefix=raw[:10],
        key_hash=digest(raw),
        scopes=sorted(API_KEY_DEFAULT_SCOPES),
        created_by_user_id=created_by,
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    return raw, key


async def forget_principals(
    session: AsyncSession, *, tenant_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
) -> None:
    """Drop cached principals of a tenant or a user whose rights changed (role, activation, suspension)."""
    scopes = [f"{kind}:{value}" for kind, value in (("tenant", tenant_id), ("user", user_id)) if value is not None]
    await invalidate(session, *scopes)
