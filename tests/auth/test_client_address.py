"""The client's address (the key of per-address rate limits, the audit's and sessions' address) behind reverse
proxies: X-Forwarded-For counts only when a proxy listed in `trusted_proxies` sends it."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import unique
from vocalis.app import create_app
from vocalis.config import Settings
from vocalis.kit.db import Database
from vocalis.models import AuditEvent

LOGIN = "/api/v1/auth/login"
CLIENT = "203.0.113.10"  # the `client` fixture's address: a caller reaching the app directly
PROXY = "10.1.2.3"
LIMIT = 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with a tight per-address login limit and the proxies of 10.0.0.0/8 trusted."""
    return settings.model_copy(update={"login_limit_per_address": f"{LIMIT}/minute", "trusted_proxies": ["10.0.0.0/8"]})


@pytest.fixture
async def proxy(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """The trusted reverse proxy, passing requests on to the same app."""
    transport = ASGITransport(app=app, client=(PROXY, 5555))
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def attempt(client: AsyncClient, forwarded_for: str | None = None) -> Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    payload = {"email": f"{unique()}@example.com", "password": "Wrong-Password-1"}
    return await client.post(LOGIN, json=payload, headers=headers)


async def test_a_forged_header_from_an_untrusted_peer_does_not_change_its_address(client: AsyncClient) -> None:
    for number in range(LIMIT):
        assert (await attempt(client, f"198.51.100.{number}")).status_code == 401
    # A new made-up address each time, and still the peer's own limit.
    assert (await attempt(client, "198.51.100.200")).status_code == 429
    assert (await attempt(client)).status_code == 429


async def test_a_trusted_proxy_passes_on_each_clients_address(
    proxy: AsyncClient, client: AsyncClient, session: AsyncSession
) -> None:
    for _ in range(LIMIT):
        assert (await attempt(proxy, "192.0.2.1")).status_code == 401
    assert (await attempt(proxy, "192.0.2.1")).status_code == 429
    # Other clients behind the same proxy, and the proxy's own address, have their own counts.
    assert (await attempt(proxy, "192.0.2.2")).status_code == 401
    assert (await attempt(client)).status_code == 401
    # A client that puts a made-up address first is known by the one the proxy appended.
    assert (await attempt(proxy, "198.51.100.7, 192.0.2.1")).status_code == 429
    failures = await session.scalars(select(AuditEvent.ip_address).where(AuditEvent.action == "auth.login_failed"))
    assert set(failures) >= {"192.0.2.1", "192.0.2.2", CLIENT}
    assert not {PROXY, "198.51.100.7"} & set(failures)


async def test_without_trusted_proxies_the_header_is_ignored(settings: Settings, database: Database) -> None:
    app = create_app(settings.model_copy(update={"trusted_proxies": []}), database=database)
    transport = ASGITransport(app=app, client=(PROXY, 5555))
    async with AsyncClient(transport=transport, base_url="http://testserver") as behind:
        for number in range(LIMIT):
            assert (await attempt(behind, f"192.0.2.{number}")).status_code == 401
        assert (await attempt(behind, "192.0.2.100")).status_code == 429
