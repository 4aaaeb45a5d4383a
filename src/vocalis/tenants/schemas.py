import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from vocalis.auth.schemas import Password, UserRead
from vocalis.billing.service import Resource
from vocalis.kit.text import DisplayText
from vocalis.models.tenant import TenantStatus
from vocalis.users.schemas import Name as PersonName
from vocalis.users.schemas import Username

Slug = Annotated[str, StringConstraints(min_length=2, max_length=80, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")]
TenantName = Annotated[str, DisplayText, StringConstraints(min_length=1, max_length=200)]


class TenantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    status: TenantStatus
    contact_email: str | None
    suspended_at: datetime | None
    suspension_reason: str | None
    created_at: datetime
    updated_at: datetime


class OwnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    username: Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    password: Annotated[str, StringConstraints(min_length=8, max_length=128)]
    first_name: PersonName | None = None
    last_name: PersonName | None = None


class TenantCreate(BaseModel):
    """A platform admin creates a tenant together with its first owner."""

    model_config = ConfigDict(extra="forbid")

    name: TenantName
    slug: Slug | None = None
    contact_email: EmailStr | None = None
    plan: str | None = Field(default=None, max_length=40, description="Plan code; the default plan when left out")
    owner: OwnerCreate


class TenantCreated(BaseModel):
    tenant: TenantRead
    owner_id: uuid.UUID


class TenantUpdate(BaseModel):
    """Fields left out are unchanged; unknown fields are rejected. Only platform admins change the plan."""

    model_config = ConfigDict(extra="forbid")

    name: TenantName | None = None
    contact_email: EmailStr | None = None
    plan: str | None = Field(default=None, max_length=40)


class TenantFilters(BaseModel):
    status: TenantStatus | None = None
    search: str | None = Field(default=None, max_length=200)


class SuspendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class ApiKeyCreated(BaseModel):
    api_key: str = Field(description="The key itself; shown only this once")
    prefix: str
    scopes: list[str]
    created_at: datetime


class QuotaRead(BaseModel):
    used: int
    limit: int | None = Field(description="The plan's limit; null means unlimited")


class TenantStatistics(BaseModel):
    tenant_id: uuid.UUID
    plan: str
    period_start: datetime
    period_end: datetime
    usage: dict[Resource, QuotaRead]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    username: Username
    password: Password
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    tenant_name: TenantName | None = None


class RegisterResponse(BaseModel):
    user: UserRead
    tenant: TenantRead
