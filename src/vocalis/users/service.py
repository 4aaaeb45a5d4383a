"""User rules: who may see, create, change and remove whom within a tenant."""

import uuid
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.audit import service as audit
from vocalis.auth import service as auth
from vocalis.auth.passwords import ensure_acceptable_password, hash_password
from vocalis.auth.permissions import ROLE_RANK, Permission, permissions_for
from vocalis.auth.principal import Principal
from vocalis.billing import service as billing
from vocalis.billing.service import Resource
from vocalis.kit.db import utcnow
from vocalis.kit.errors import Conflict, Forbidden, NotFound
from vocalis.kit.pagination import PageParams
from vocalis.models.user import Role, User
from vocalis.users import repository
from vocalis.users.schemas import UserCreate, UserFilters, UserPermissions, UserUpdate


async def list_users(
    session: AsyncSession, principal: Principal, filters: UserFilters, page: PageParams
) -> tuple[list[User], int]:
    """The caller's tenant's users, filtered and paginated."""
    principal.require(Permission.USERS_READ)
    return await repository.list_users(session, principal.tenant_id, filters, page)


async def get_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    """A user of the caller's tenant; anyone may read themselves."""
    if principal.user_id != user_id:
        principal.require(Permission.USERS_READ)
    return await _get(session, principal.tenant_id, user_id)


async def _get(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = await repository.get(session, tenant_id, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


async def add(session: AsyncSession, tenant_id: uuid.UUID, data: UserCreate, *, super_admin: bool = False) -> User:
    """Add a user to a tenant after the password, uniqueness and quota checks; no permission checks (callers do
    those)."""
    ensure_acceptable_password(data.password, (data.email, data.username))
    await billing.ensure_capacity(
        session, tenant_id, Resource.USERS, partial(repository.count_live, session, tenant_id)
    )
    await _ensure_unique(session, tenant_id, email=data.email, username=data.username)
    user = User(
        tenant_id=tenant_id,
        email=data.email,
        username=data.username,
        password_hash=await hash_password(data.password),
        first_name=data.first_name,
        last_name=data.last_name,
        role=data.role,
        is_super_admin=super_admin,
    )
    session.add(user)
    await session.flush()
    return user


async def create_user(session: AsyncSession, principal: Principal, data: UserCreate) -> User:
    """Create a user in the caller's tenant, with a role no higher than the caller's."""
    principal.require(Permission.USERS_WRITE)
    _ensure_may_grant(principal, data.role)
    user = await add(session, principal.tenant_id, data)
    await _audit(session, principal, "user.created", user, {"role": user.role})
    return user


async def update_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID, data: UserUpdate) -> User:
    """Change a user. People may edit their own profile; roles and activation need user management rights."""
    user = await get_user(session, principal, user_id)
    changes = data.model_dump(exclude_unset=True)
    if principal.user_id != user.id or {"role", "is_active"} & changes.keys():
        principal.require(Permission.USERS_WRITE)
        _ensure_may_act_on(principal, user)

    if data.email is not None or data.username is not None:
        await _ensure_unique(session, user.tenant_id, email=data.email, username=data.username, excluding=user.id)
    if data.role is not None and data.role != user.role:
        _ensure_may_grant(principal, data.role)
        if user.role == Role.OWNER:
            await _ensure_not_last_owner(session, user)
        await _audit(session, principal, "user.role_changed", user, {"from": user.role, "to": data.role.value})
    if data.is_active is False and user.is_active:
        if user.role == Role.OWNER:
            await _ensure_not_last_owner(session, user)
        await auth.revoke_sessions(session, user_id=user.id, reason="deactivated")
        await _audit(session, principal, "user.deactivated", user)
    if data.email is not None and data.email.lower() != user.email.lower():
        # Verification vouched for the old address, not the new one: it must be verified again.
        user.is_verified = False
        user.verified_at = None
    for field in ("email", "username", "first_name", "last_name", "role", "is_active"):
        if field in changes and (changes[field] is not None or field in ("first_name", "last_name")):
            setattr(user, field, changes[field])
    await session.flush()
    await auth.forget_principals(session, user_id=user.id)
    return user


async def delete_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, hard: bool) -> None:
    """Remove a user: soft (kept, hidden, logged out) by default, or for good with `hard`."""
    principal.require(Permission.USERS_WRITE)
    user = await _get(session, principal.tenant_id, user_id)
    _ensure_may_act_on(principal, user)
    if user.role == Role.OWNER:
        await _ensure_not_last_owner(session, user)
    await _audit(session, principal, "user.deleted", user, {"hard": hard})
    if hard:
        await auth.forget_principals(session, user_id=user.id)
        await session.delete(user)
    else:
        user.deleted_at = utcnow()
        user.is_active = False
        await auth.revoke_sessions(session, user_id=user.id, reason="deleted")
    await session.flush()


async def quota_counts(session: AsyncSession, tenant_id: uuid.UUID) -> dict[Resource, int]:
    """What the tenant has of the resources its plan limits and this domain owns."""
    return {Resource.USERS: await repository.count_live(session, tenant_id)}


async def delete_all_in_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Soft-delete every user of a tenant that is being deleted."""
    await repository.soft_delete_all(session, tenant_id, utcnow())


async def verify_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    """Mark a user's email as verified."""
    principal.require(Permission.USERS_WRITE)
    user = await _get(session, principal.tenant_id, user_id)
    _ensure_may_act_on(principal, user)
    if not user.is_verified:
        user.is_verified = True
        user.verified_at = utcnow()
        await _audit(session, principal, "user.verified", user)
    await session.flush()
    return user


async def user_permissions(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> UserPermissions:
    """The permissions a user's role grants."""
    user = await get_user(session, principal, user_id)
    role = Role(user.role)
    granted = permissions_for(role, super_admin=user.is_super_admin)
    return UserPermissions(user_id=user.id, role=role, is_super_admin=user.is_super_admin, permissions=sorted(granted))


def _may_manage(principal: Principal, role: Role) -> bool:
    """Nobody manages a role above their own, and only owners manage admins: an admin manages members and viewers but
    cannot make, demote or delete another admin."""
    rank = ROLE_RANK[role]
    return rank <= principal.rank and (rank < ROLE_RANK[Role.ADMIN] or principal.rank >= ROLE_RANK[Role.OWNER])


def _ensure_may_act_on(principal: Principal, user: User) -> None:
    role = Role(user.role)
    if not _may_manage(principal, role) or (user.is_super_admin and not principal.is_super_admin):
        raise Forbidden(f"You cannot manage a user with the role '{role.value}'", details={"role": role.value})


def _ensure_may_grant(principal: Principal, role: Role) -> None:
    if not _may_manage(principal, role):
        raise Forbidden(f"You cannot grant the role '{role.value}'", details={"role": role.value})


async def _ensure_not_last_owner(session: AsyncSession, user: User) -> None:
    await repository.lock_tenant_owners(session, user.tenant_id)
    if user.is_active and await repository.count_active_owners(session, user.tenant_id) <= 1:
        raise Conflict("A tenant must keep at least one active owner")


async def _ensure_unique(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    email: str | None,
    username: str | None,
    excluding: uuid.UUID | None = None,
) -> None:
    if email is not None and await repository.email_taken(session, email, excluding=excluding):
        raise Conflict("A user with this email already exists", details={"field": "email"})
    if username is not None and await repository.username_taken(session, tenant_id, username, excluding=excluding):
        raise Conflict("A user with this username already exists in this tenant", details={"field": "username"})


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    user: User,
    details: dict[str, object] | None = None,
) -> None:
    await audit.record(
        session,
        action,
        tenant_id=user.tenant_id,
        actor_user_id=principal.user_id,
        actor_api_key_id=principal.api_key_id,
        target_type="user",
        target_id=user.id,
        details=details,
    )
