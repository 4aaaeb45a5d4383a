import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from vocalis.auth.permissions import Permission
from vocalis.models.user import Role

Username = Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Name = Annotated[str, StringConstraints(max_length=100)]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    username: str
    first_name: str | None
    last_name: str | None
    role: Role
    is_super_admin: bool
    is_active: bool
    is_verified: bool
    verified_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    username: Username
    password: Password
    first_name: Name | None = None
    last_name: Name | None = None
    role: Role = Role.MEMBER


class UserUpdate(BaseModel):
    """Fields left out are unchanged; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    username: Username | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    role: Role | None = None
    is_active: bool | None = None


class UserFilters(BaseModel):
    role: Role | None = None
    is_active: bool | None = None
    is_verified: bool | None = None
    search: str | None = Field(default=None, max_length=200)


class UserPermissions(BaseModel):
    user_id: uuid.UUID
    role: Role
    is_super_admin: bool
    permissions: list[Permission]
