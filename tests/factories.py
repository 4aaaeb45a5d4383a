"""Factories that build tenants and users through the API (or, for super admins, the service), never shared state."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import unique
from vocalis.models.user import Role
from vocalis.tenants import service as tenants
from vocalis.users.schemas import UserCreate

PASSWORD = "Correct-Horse-9"


@dataclass
class Account:
    """A logged-in user: ids, credentials and ready-made auth headers."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    password: str
    role: Role
    access_token: str = ""
    refresh_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def login(client: AsyncClient, account: Account) -> Account:
    response = await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})
    assert response.status_code == 200, response.text
    body = response.json()
    account.access_token = body["access_token"]
    account.refresh_token = body["refresh_token"]
    return account


async def register(client: AsyncClient, **overrides: Any) -> Account:
    """Sign up a new tenant through the API and log its owner in."""
    name = unique()
    payload = {
        "email": f"{name}@example.com",
        "username": name,
        "password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
    }
    payload.update(overrides)
    response = await client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 201, response.text
    body = response.json()
    account = Account(
        user_id=uuid.UUID(body["user"]["id"]),
        tenant_id=uuid.UUID(body["tenant"]["id"]),
        email=payload["email"],
        password=payload["password"],
        role=Role.OWNER,
    )
    return await login(client, account)


async def add_user(client: AsyncClient, owner: Account, role: Role, **overrides: Any) -> Account:
    """Create a user of `role` in `owner`'s tenant through the API and log it in."""
    name = unique()
    payload = {"email": f"{name}@example.com", "username": name, "password": PASSWORD, "role": role.value}
    payload.update(overrides)
    response = await client.post("/api/v1/users/", json=payload, headers=owner.headers)
    assert response.status_code == 201, response.text
    account = Account(
        user_id=uuid.UUID(response.json()["id"]),
        tenant_id=owner.tenant_id,
        email=payload["email"],
        password=payload["password"],
        role=role,
    )
    return await login(client, account)


async def super_admin(client: AsyncClient, session: AsyncSession) -> Account:
    """A platform super admin (made as `vocalis create-superuser` does), logged in through the API."""
    name = unique("root")
    owner = UserCreate(email=f"{name}@example.com", username=name, password=PASSWORD, role=Role.OWNER)
    tenant, user = await tenants.create_with_owner(
        session, name="Platform", owner=owner, plan="enterprise", super_admin=True
    )
    await session.commit()
    account = Account(user_id=user.id, tenant_id=tenant.id, email=owner.email, password=PASSWORD, role=Role.OWNER)
    return await login(client, account)


async def api_key(client: AsyncClient, owner: Account) -> str:
    response = await client.post(f"/api/v1/tenants/{owner.tenant_id}/regenerate-api-key", headers=owner.headers)
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key
