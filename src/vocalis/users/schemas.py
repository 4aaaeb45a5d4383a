import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from vocalis.auth.permissions import Permission
from vocalis.auth.schemas import Password
from vocalis.kit.text import DisplayText
from vocalis.models.user import Role

Username = Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Name = Annotated[str, DisplayText, StringConstraints(max_length=100)]


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
