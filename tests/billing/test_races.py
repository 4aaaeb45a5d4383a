"""Plan limits hold under concurrency: parallel creates in separate transactions leave exactly the limit."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient

from tests.concurrency import committing_client, own_database
from tests.conftest import unique
from tests.factories import PASSWORD, register
from vocalis.config import Settings
from vocalis.kit.embedded_postgres import EmbeddedPostgres

FREE_USERS, FREE_AGENTS, FREE_KNOWLEDGE_BASES = 5, 3, 3


@pytest.fixture(scope="module")
def races_url(postgres: EmbeddedPostgres) -> str:
    return own_database(postgres, "billing_races")


@pytest.fixture
async def client(races_url: str, settings: Settings) -> AsyncIterator[AsyncClient]:
    async with committing_client(races_url, settings) as client:
        yield client


async def _parallel(client: AsyncClient, times: int, path: str, body: Any, headers: dict[str, str]) -> list[int]:
    """POST `times` requests at once; return their statuses, sorted."""
    responses = await asyncio.gather(
        *(client.post(path, json=body(n) if callable(body) else body, headers=headers) for n in range(times))
    )
    return sorted(response.status_code for response in responses)


async def _total(client: AsyncClient, path: str, headers: dict[str, str]) -> int:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def test_parallel_agent_creates_stop_at_the_plan_limit(client: AsyncClient) -> None:
    owner = await register(client)
    statuses = await _parallel(client, 8, "/api/v1/agents", {"name": "Receptionist"}, owner.headers)
    assert statuses == [201] * FREE_AGENTS + [402] * (8 - FREE_AGENTS)
    assert await _total(client, "/api/v1/agents", owner.headers) == FREE_AGENTS


async def test_parallel_user_creates_stop_at_the_plan_limit(client: AsyncClient) -> None:
    owner = await register(client)

    def user(_: int) -> dict[str, str]:
        name = unique()
        return {"email": f"{name}@example.com", "username": name, "password": PASSWORD}

    statuses = await _parallel(client, 8, "/api/v1/users/", user, owner.headers)
    # The owner is one of the plan's users.
    assert statuses == [201] * (FREE_USERS - 1) + [402] * (8 - FREE_USERS + 1)
    assert await _total(client, "/api/v1/users/", owner.headers) == FREE_USERS


async def test_parallel_knowledge_base_creates_stop_at_the_plan_limit(client: AsyncClient) -> None:
    owner = await register(client)
    statuses = await _parallel(client, 6, "/api/v1/knowledge/bases", {"name": "Salon"}, owner.headers)
    assert statuses == [201] * FREE_KNOWLEDGE_BASES + [402] * (6 - FREE_KNOWLEDGE_BASES)
    assert await _total(client, "/api/v1/knowledge/bases", owner.headers) == FREE_KNOWLEDGE_BASES
