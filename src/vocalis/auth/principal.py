"""The Principal: who is calling, for which tenant, with which permissions."""

import uuid
from dataclasses import dataclass

from vocalis.auth.permissions import ROLE_RANK, Permission
from vocalis.kit.errors import Forbidden
from vocalis.models.user import Role


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: uuid.UUID
    permissions: frozenset[Permission]
    # Exactly one of these is set: a user (with its login session) or a tenant API key.
    user_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    role: Role | None = None
    is_super_admin: bool = False

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"Missing permission {permission.value}", details={"permission": permission.value})

    def require_user(self) -> uuid.UUID:
        """The calling user's id; API keys are refused where only a person may act."""
        if self.user_id is None:
            raise Forbidden("This action needs a user login, not an API key")
        return self.user_id

    @property
    def rank(self) -> int:
        """Role rank for comparisons; super admins outrank everyone, API keys act as admins."""
        if self.is_super_admin:
            return 100
        return ROLE_RANK[self.role] if self.role is not None else ROLE_RANK[Role.ADMIN]
