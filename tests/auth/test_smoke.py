from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import register, super_admin


async def test_register_login_me(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert response.status_code == 200
    assert response.json()["email"] == owner.email


async def test_super_admin_lists_tenants(client: AsyncClient, session: AsyncSession) -> None:
    await register(client)
    admin = await super_admin(client, session)
    response = await client.get("/api/v1/tenants/", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["total"] >= 2
