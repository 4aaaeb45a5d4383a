"""The principal cache: it serves repeat requests from memory, and every change that matters evicts at once."""

import asyncio
import time
import uuid

import psycopg
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import PASSWORD, add_user, api_key, login, register, super_admin
from vocalis.auth.cache import PrincipalCache, listen
from vocalis.auth.permissions import Permission
from vocalis.auth.principal import Principal
from vocalis.kit.db import libpq_url
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.models.user import Role, User


@pytest.fixture
def cache_on(app: FastAPI) -> PrincipalCache:
    """The test app's own cache, on (in production its NOTIFY listener turns it on once connected)."""
    cache: PrincipalCache = app.state.auth_cache
    cache.enabled = True
    return cache


async def test_repeat_requests_are_served_from_memory(
    cache_on: PrincipalCache, client: AsyncClient, session: AsyncSession
) -> None:
    owner = await register(client)
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200
    assert len(cache_on) == 1
    # A change behind the platform's back (no invalidation) is not seen while the entry lives: it is a cache.
    await session.execute(update(User).where(User.id == owner.user_id).values(first_name="Changed"))
    await session.commit()
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert me.status_code == 200
    assert me.json()["first_name"] == "Ada"


async def test_logout_ends_a_cached_login_at_once(cache_on: PrincipalCache, client: AsyncClient) -> None:
    owner = await register(client)
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=owner.headers)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 401


async def test_profile_and_role_changes_show_at_once(cache_on: PrincipalCache, client: AsyncClient) -> None:
    owner = await register(client)
    member = await add_user(client, owner, Role.MEMBER)
    assert (await client.get("/api/v1/users/", headers=member.headers)).status_code == 200
    new_user = {"email": f"n{uuid.uuid4().hex[:8]}@example.com", "username": uuid.uuid4().hex[:8], "password": PASSWORD}
    assert (await client.post("/api/v1/users/", json=new_user, headers=member.headers)).status_code == 403
    promoted = await client.put(f"/api/v1/users/{member.user_id}", json={"role": "admin"}, headers=owner.headers)
    assert promoted.status_code == 200
    me = await client.get("/api/v1/auth/me", headers=member.headers)
    assert me.json()["role"] == "admin"
    assert (await client.post("/api/v1/users/", json=new_user, headers=member.headers)).status_code == 201
    await client.put(f"/api/v1/users/{member.user_id}", json={"is_active": False}, headers=owner.headers)
    assert (await client.get("/api/v1/auth/me", headers=member.headers)).status_code == 401


async def test_password_change_ends_other_cached_sessions(cache_on: PrincipalCache, client: AsyncClient) -> None:
    owner = await register(client)
    other = await login(client, type(owner)(**{**owner.__dict__}))
    assert (await client.get("/api/v1/auth/me", headers=other.headers)).status_code == 200
    changed = await client.post(
        "/api/v1/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "Another-Pass-7"},
        headers=owner.headers,
    )
    assert changed.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=other.headers)).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200


async def test_suspension_and_key_regeneration_show_at_once(
    cache_on: PrincipalCache, client: AsyncClient, session: AsyncSession
) -> None:
    owner = await register(client)
    key = await api_key(client, owner)
    admin = await super_admin(client, session)
    assert (await client.get("/api/v1/tenants/current", headers=owner.headers)).status_code == 200
    assert (await client.get("/api/v1/tenants/current", headers={"X-API-Key": key})).status_code == 200

    await client.post(f"/api/v1/tenants/{owner.tenant_id}/suspend", headers=admin.headers)
    for headers in (owner.headers, {"X-API-Key": key}):
        refused = await client.get("/api/v1/tenants/current", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "tenant_suspended"
    await client.post(f"/api/v1/tenants/{owner.tenant_id}/reactivate", headers=admin.headers)
    assert (await client.get("/api/v1/tenants/current", headers={"X-API-Key": key})).status_code == 200

    await api_key(client, owner)
    assert (await client.get("/api/v1/tenants/current", headers={"X-API-Key": key})).status_code == 401


def _principal(tenant: uuid.UUID, user: uuid.UUID, session_id: uuid.UUID) -> Principal:
    return Principal(
        tenant_id=tenant, permissions=frozenset({Permission.USERS_READ}), user_id=user, session_id=session_id
    )


def test_a_read_that_raced_an_eviction_is_not_cached() -> None:
    cache = PrincipalCache()
    cache.enabled = True
    started_at = cache.generation
    cache.evict(f"user:{uuid.uuid4()}")  # an invalidation lands while the request reads the database
    cache.put("session:x", _principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()), None, 10, started_at)
    assert cache.get("session:x") is None


def test_eviction_scopes_and_expiry() -> None:
    cache = PrincipalCache()
    cache.enabled = True
    tenant, user = uuid.uuid4(), uuid.uuid4()
    sessions = [uuid.uuid4() for _ in range(3)]
    for sid in sessions:
        cache.put(f"session:{sid}", _principal(tenant, user, sid), None, 10, cache.generation)
    cache.evict(f"session:{sessions[0]}")
    assert cache.get(f"session:{sessions[0]}") is None and len(cache) == 2
    cache.evict(f"user:{user}")
    assert len(cache) == 0
    cache.put("session:y", _principal(tenant, user, sessions[0]), None, 0.001, cache.generation)
    time.sleep(0.01)
    assert cache.get("session:y") is None


async def _until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_invalidations_from_other_replicas_arrive_through_notify(postgres: EmbeddedPostgres) -> None:
    conninfo = libpq_url(postgres.create_database("cache_notify"))
    cache = PrincipalCache()
    listener = asyncio.create_task(listen(conninfo, cache, retry_seconds=0.05))
    try:
        await _until(lambda: cache.enabled)
        sid = uuid.uuid4()
        cache.put(f"session:{sid}", _principal(uuid.uuid4(), uuid.uuid4(), sid), None, 60, cache.generation)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as replica:
            await replica.execute("SELECT pg_notify('vocalis_auth', %s)", (f"session:{sid}",))
            await _until(lambda: cache.get(f"session:{sid}") is None)

            # Losing the listener's connection turns the cache off (and empties it) until it is back.
            cache.put("session:z", _principal(uuid.uuid4(), uuid.uuid4(), sid), None, 60, cache.generation)
            await replica.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
            await _until(lambda: not cache.enabled or len(cache) == 0)
            assert cache.get("session:z") is None
            await _until(lambda: cache.enabled)
    finally:
        listener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listener
