"""Roles, permissions and the one table that maps the first to the second."""

from enum import StrEnum

from vocalis.models.user import Role


class Permission(StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    TENANT_READ = "tenant:read"
    TENANT_WRITE = "tenant:write"
    TENANT_API_KEYS = "tenant:api_keys"
    BILLING_READ = "billing:read"
    KNOWLEDGE_READ = "knowledge:read"
    KNOWLEDGE_WRITE = "knowledge:write"
    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    CALLS_READ = "calls:read"
    CALLS_WRITE = "calls:write"
    # Provider API keys: they spend the tenant's money with third parties, so only managers see or change them.
    CREDENTIALS_READ = "credentials:read"
    CREDENTIALS_WRITE = "credentials:write"
    # Platform-wide administration: super admins only.
    PLATFORM_ADMIN = "platform:admin"


_READ = {
    Permission.USERS_READ,
    Permission.TENANT_READ,
    Permission.BILLING_READ,
    Permission.KNOWLEDGE_READ,
    Permission.AGENTS_READ,
    Permission.CALLS_READ,
}
_BUILD = _READ | {Permission.KNOWLEDGE_WRITE, Permission.AGENTS_WRITE, Permission.CALLS_WRITE}
_MANAGE = _BUILD | {
    Permission.USERS_WRITE,
    Permission.TENANT_API_KEYS,
    Permission.CREDENTIALS_READ,
    Permission.CREDENTIALS_WRITE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(_MANAGE | {Permission.TENANT_WRITE}),
    Role.ADMIN: frozenset(_MANAGE),
    Role.MEMBER: frozenset(_BUILD),
    Role.VIEWER: frozenset(_READ),
}

# Higher acts on lower: nobody acts on a user of a higher role or grants a role above their own.
ROLE_RANK: dict[Role, int] = {Role.OWNER: 40, Role.ADMIN: 30, Role.MEMBER: 20, Role.VIEWER: 10}

# A tenant API key acts for its tenant with these scopes unless given fewer (never credentials: a leaked key must not
# read or replace the tenant's provider keys).
API_KEY_DEFAULT_SCOPES: frozenset[Permission] = frozenset(_BUILD)


def permissions_for(role: Role, *, super_admin: bool = False) -> frozenset[Permission]:
    granted = ROLE_PERMISSIONS[role]
    return granted | {Permission.PLATFORM_ADMIN} if super_admin else granted
