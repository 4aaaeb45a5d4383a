"""Tenant API keys (shown once, `X-API-Key` or Bearer, replaced by regeneration, limited scopes) and tenant suspension
cutting off users' tokens, logins and the API key until reactivation."""

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.concurrency import committing_client, own_database
from tests.factories import PASSWORD, Account, add_user, api_key, register, super_admin
from vocalis.auth.service import API_KEY_TOUCH_INTERVAL
from vocalis.config import Settings
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.models import ApiKey, AuditEvent, Role

TENANTS = "/api/v1/tenants"
AUTH = "/api/v1/auth"


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- issuing ------------------------------------------------------------------------------------------------------


async def test_regenerate_returns_the_key_once(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    response = await client.post(f"{TENANTS}/{owner.tenant_id}/regenerate-api-key", headers=owner.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    key = body["api_key"]
    assert key.startswith("vk_")
    assert len(key) >= 3 + 43  # vk_ + 32 random bytes, base64url
    assert body["prefix"] == key[:10]
    assert "users:write" not in body["scopes"]
    assert "agents:write" in body["scopes"]
    assert body["created_at"]

    # Stored only as a hash with a visible prefix; never readable again.
    rows = (await session.scalars(select(ApiKey).where(ApiKey.tenant_id == owner.tenant_id))).all()
    assert len(rows) == 1
    assert rows[0].key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert rows[0].prefix == key[:10]
    assert rows[0].created_by_user_id == owner.user_id
    tenant = await client.get(f"{TENANTS}/current", headers=owner.headers)
    assert key not in tenant.text
    assert key[10:] not in tenant.text


async def test_each_regeneration_gives_a_new_key(client: AsyncClient) -> None:
    owner = await register(client)
    first = await api_key(client, owner)
    second = await api_key(client, owner)
    assert first != second
    assert first.startswith("vk_")
    assert second.startswith("vk_")


@pytest.fixture(scope="module")
def races_url(postgres: EmbeddedPostgres) -> str:
    return own_database(postgres, "api_key_races")


async def test_parallel_regenerations_leave_exactly_one_working_key(races_url: str, settings: Settings) -> None:
    async with committing_client(races_url, settings) as client:
        owner = await register(client)
        regenerate = f"{TENANTS}/{owner.tenant_id}/regenerate-api-key"
        responses = await asyncio.gather(*(client.post(regenerate, headers=owner.headers) for _ in range(4)))
        assert [response.status_code for response in responses] == [201] * 4
        working = [
            response.json()["api_key"]
            for response in responses
            if (await client.get(f"{TENANTS}/current", headers=key_header(response.json()["api_key"]))).status_code
            == 200
        ]
        assert len(working) == 1


async def test_regeneration_is_audited(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.tenant_id == owner.tenant_id, AuditEvent.action == "tenant.api_key_regenerated"
        )
    )
    assert event is not None
    assert event.actor_user_id == owner.user_id
    assert event.details == {"prefix": key[:10]}
    assert key not in str(event.details)


# --- using a key --------------------------------------------------------------------------------------------------


async def test_key_authenticates_with_x_api_key_header(client: AsyncClient) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    response = await client.get(f"{TENANTS}/current", headers=key_header(key))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(owner.tenant_id)


async def test_key_authenticates_as_bearer_token(client: AsyncClient) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    response = await client.get(f"{TENANTS}/current", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(owner.tenant_id)


async def test_key_acts_for_its_own_tenant_only(client: AsyncClient) -> None:
    owner = await register(client)
    other = await register(client)
    key = await api_key(client, owner)
    assert (await client.get(f"{TENANTS}/{owner.tenant_id}", headers=key_header(key))).status_code == 200
    assert_error(await client.get(f"{TENANTS}/{other.tenant_id}", headers=key_header(key)), 404, "not_found")
    # Reading users works within its scopes and shows only its own tenant's users.
    users = await client.get("/api/v1/users/", headers=key_header(key))
    assert users.status_code == 200, users.text
    assert {item["tenant_id"] for item in users.json()["items"]} == {str(owner.tenant_id)}


async def test_unknown_or_malformed_keys_are_rejected(client: AsyncClient) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    for bad in ("vk_" + "A" * 43, key + "x", key[:-1], "vk_", "not-a-key"):
        assert_error(await client.get(f"{TENANTS}/current", headers=key_header(bad)), 401, "unauthorized")
    assert_error(await client.get(f"{TENANTS}/current", headers=bearer("vk_" + "B" * 43)), 401, "unauthorized")


async def test_an_invalid_x_api_key_is_not_rescued_by_a_valid_bearer_token(client: AsyncClient) -> None:
    # A present X-API-Key is authoritative: a wrong one fails even next to a good access token.
    owner = await register(client)
    headers = {**owner.headers, "X-API-Key": "vk_" + "C" * 43}
    assert_error(await client.get(f"{TENANTS}/current", headers=headers), 401, "unauthorized")


async def test_regenerating_invalidates_the_old_key_at_once(client: AsyncClient) -> None:
    owner = await register(client)
    old = await api_key(client, owner)
    assert (await client.get(f"{TENANTS}/current", headers=key_header(old))).status_code == 200

    new = await api_key(client, owner)
    assert_error(await client.get(f"{TENANTS}/current", headers=key_header(old)), 401, "unauthorized")
    assert_error(await client.get(f"{TENANTS}/current", headers=bearer(old)), 401, "unauthorized")
    assert (await client.get(f"{TENANTS}/current", headers=key_header(new))).status_code == 200
    assert (await client.get(f"{TENANTS}/current", headers=bearer(new))).status_code == 200


async def test_key_use_records_last_used_at(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert await session.scalar(select(ApiKey.last_used_at).where(ApiKey.key_hash == digest)) is None

    assert (await client.get(f"{TENANTS}/current", headers=key_header(key))).status_code == 200
    first_use = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.key_hash == digest))
    assert first_use is not None

    # Within the touch interval a second use does not write again.
    assert (await client.get(f"{TENANTS}/current", headers=key_header(key))).status_code == 200
    assert await session.scalar(select(ApiKey.last_used_at).where(ApiKey.key_hash == digest)) == first_use

    # After the interval it does.
    stale = datetime.now(UTC) - API_KEY_TOUCH_INTERVAL - timedelta(seconds=5)
    await session.execute(update(ApiKey).where(ApiKey.key_hash == digest).values(last_used_at=stale))
    await session.commit()
    assert (await client.get(f"{TENANTS}/current", headers=key_header(key))).status_code == 200
    touched = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.key_hash == digest))
    assert touched is not None
    assert touched > stale + timedelta(seconds=1)


# --- what a key may not do ----------------------------------------------------------------------------------------


async def test_key_cannot_manage_users(client: AsyncClient) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    payload = {"email": f"{uuid.uuid4().hex[:10]}@example.com", "username": "bykey", "password": PASSWORD}
    for headers in (key_header(key), bearer(key)):
        error = assert_error(await client.post("/api/v1/users/", json=payload, headers=headers), 403, "forbidden")
        assert error["details"] == {"permission": "users:write"}


async def test_key_cannot_regenerate_keys(client: AsyncClient) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    response = await client.post(f"{TENANTS}/{owner.tenant_id}/regenerate-api-key", headers=key_header(key))
    assert_error(response, 403, "forbidden")
    # The key was not replaced.
    assert (await client.get(f"{TENANTS}/current", headers=key_header(key))).status_code == 200


async def test_key_cannot_act_as_a_person(client: AsyncClient) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    assert_error(await client.get(f"{AUTH}/me", headers=key_header(key)), 403, "forbidden")
    # Logging out needs a session; an API key has none.
    assert_error(await client.post(f"{AUTH}/logout", headers=key_header(key)), 401, "unauthorized")
    assert (await client.get(f"{TENANTS}/current", headers=key_header(key))).status_code == 200


async def test_only_key_managers_regenerate(client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    admin = await add_user(client, owner, Role.ADMIN)
    url = f"{TENANTS}/{owner.tenant_id}/regenerate-api-key"
    assert_error(await client.post(url, headers=member.headers), 403, "forbidden")
    assert (await client.post(url, headers=admin.headers)).status_code == 201
    assert_error(await client.post(url), 401, "unauthorized")


async def test_another_tenants_key_cannot_be_regenerated(client: AsyncClient) -> None:
    owner = await register(client)
    stranger = await register(client)
    key = await api_key(client, owner)
    response = await client.post(f"{TENANTS}/{owner.tenant_id}/regenerate-api-key", headers=stranger.headers)
    assert_error(response, 404, "not_found")
    assert (await client.get(f"{TENANTS}/current", headers=key_header(key))).status_code == 200


# --- suspension ---------------------------------------------------------------------------------------------------


async def suspend(client: AsyncClient, admin: Account, tenant_id: uuid.UUID) -> Response:
    return await client.post(f"{TENANTS}/{tenant_id}/suspend", json={"reason": "unpaid"}, headers=admin.headers)


async def test_suspension_blocks_tokens_logins_and_keys_until_reactivated(
    client: AsyncClient, session: AsyncSession
) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    key = await api_key(client, owner)
    bystander = await register(client)
    admin = await super_admin(client, session)

    response = await suspend(client, admin, owner.tenant_id)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "suspended"
    assert response.json()["suspension_reason"] == "unpaid"

    def suspended(response: Response) -> None:
        error = assert_error(response, 403, "tenant_suspended")
        assert error["details"] == {"tenant_id": str(owner.tenant_id)}

    # Existing access tokens, new logins (JSON and form), refresh, and the API key (both ways).
    for account in (owner, member):
        suspended(await client.get(f"{AUTH}/me", headers=account.headers))
        suspended(await client.get(f"{TENANTS}/current", headers=account.headers))
        suspended(await client.post(f"{AUTH}/login", json={"email": account.email, "password": account.password}))
        suspended(await client.post(f"{AUTH}/token", data={"username": account.email, "password": account.password}))
        suspended(await client.post(f"{AUTH}/refresh", json={"refresh_token": account.refresh_token}))
    suspended(await client.get(f"{TENANTS}/current", headers=key_header(key)))
    suspended(await client.get(f"{TENANTS}/current", headers=bearer(key)))

    # A wrong password still says nothing about the tenant's state.
    wrong = await client.post(f"{AUTH}/login", json={"email": owner.email, "password": "Wrong-Password-1"})
    assert_error(wrong, 401, "unauthorized")

    # Other tenants are unaffected.
    assert (await client.get(f"{AUTH}/me", headers=bystander.headers)).status_code == 200

    response = await client.post(f"{TENANTS}/{owner.tenant_id}/reactivate", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert response.json()["suspended_at"] is None

    # Everything works again: the old tokens, logins, refresh and the same API key.
    for account in (owner, member):
        assert (await client.get(f"{AUTH}/me", headers=account.headers)).status_code == 200
        relogin = await client.post(f"{AUTH}/login", json={"email": account.email, "password": account.password})
        assert relogin.status_code == 200, relogin.text
        refreshed = await client.post(f"{AUTH}/refresh", json={"refresh_token": account.refresh_token})
        assert refreshed.status_code == 200, refreshed.text
    assert (await client.get(f"{TENANTS}/current", headers=key_header(key))).status_code == 200
    assert (await client.get(f"{TENANTS}/current", headers=bearer(key))).status_code == 200


async def test_suspension_and_reactivation_are_audited(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    admin = await super_admin(client, session)
    assert (await suspend(client, admin, owner.tenant_id)).status_code == 200
    assert (await client.post(f"{TENANTS}/{owner.tenant_id}/reactivate", headers=admin.headers)).status_code == 200
    actions = (
        await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == owner.tenant_id, AuditEvent.actor_user_id == admin.user_id)
            .order_by(AuditEvent.created_at)
        )
    ).all()
    assert actions == ["tenant.suspended", "tenant.reactivated"]


async def test_only_platform_admins_suspend(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    other = await register(client)
    key = await api_key(client, owner)
    assert_error(await suspend(client, owner, owner.tenant_id), 403, "forbidden")
    assert_error(await suspend(client, owner, other.tenant_id), 403, "forbidden")
    response = await client.post(f"{TENANTS}/{owner.tenant_id}/suspend", headers=key_header(key))
    assert_error(response, 403, "forbidden")
    assert (await client.get(f"{AUTH}/me", headers=owner.headers)).status_code == 200


async def test_super_admin_cannot_suspend_their_own_tenant(client: AsyncClient, session: AsyncSession) -> None:
    admin = await super_admin(client, session)
    assert_error(await suspend(client, admin, admin.tenant_id), 409, "conflict")
    assert (await client.get(f"{AUTH}/me", headers=admin.headers)).status_code == 200


async def test_key_issued_before_suspension_is_the_one_restored(client: AsyncClient, session: AsyncSession) -> None:
    # Suspension does not revoke keys (deletion does): after reactivation the very same key works, no new one needed.
    owner = await register(client)
    key = await api_key(client, owner)
    admin = await super_admin(client, session)
    await suspend(client, admin, owner.tenant_id)
    revoked = await session.scalar(
        select(ApiKey.revoked_at).where(ApiKey.key_hash == hashlib.sha256(key.encode()).hexdigest())
    )
    assert revoked is None
    await client.post(f"{TENANTS}/{owner.tenant_id}/reactivate", headers=admin.headers)
    assert (await client.get(f"{TENANTS}/current", headers=key_header(key))).status_code == 200
