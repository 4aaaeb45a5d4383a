"""The plan's call limits: concurrent calls (which calls hold a slot, and until when) and call minutes."""

import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.calls.conftest import age, chat, finished_web_call, make_agent, start_web_call, storage_of
from tests.factories import Account, register
from vocalis.calls import repository, service
from vocalis.kit.db import utcnow
from vocalis.models.billing import UsageRecord

FREE_CONCURRENT_CALLS = 3
FREE_CALL_MINUTES = 300


async def _full(client: AsyncClient, owner: Account, agent_id: str) -> list[dict[str, Any]]:
    """Start as many web calls as the free plan runs at once."""
    return [await start_web_call(client, owner, agent_id) for _ in range(FREE_CONCURRENT_CALLS)]


async def _web_call(client: AsyncClient, owner: Account, agent_id: str) -> Any:
    return await client.post(f"/api/v1/agents/{agent_id}/web-calls", headers=owner.headers)


async def _statistics(client: AsyncClient, owner: Account) -> dict[str, Any]:
    response = await client.get(f"/api/v1/tenants/{owner.tenant_id}/statistics", headers=owner.headers)
    assert response.status_code == 200, response.text
    usage: dict[str, Any] = response.json()["usage"]
    return usage


async def _use_call_seconds(session: AsyncSession, owner: Account, seconds: int) -> None:
    session.add(UsageRecord(tenant_id=owner.tenant_id, metric="call_seconds", quantity=seconds, recorded_at=utcnow()))
    await session.commit()


# --- concurrent calls ---------------------------------------------------------------------------------------------


async def test_the_free_plan_runs_three_calls_at_once(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    await _full(client, owner, agent["id"])
    error = assert_error(await _web_call(client, owner, agent["id"]), 402, "quota_exceeded")
    assert error["details"] == {"resource": "concurrent_calls", "limit": 3, "used": 3, "plan": "free"}
    assert (await client.get("/api/v1/calls", headers=owner.headers)).json()["total"] == FREE_CONCURRENT_CALLS
    assert (await _statistics(client, owner))["concurrent_calls"] == {"used": 3, "limit": 3}


async def test_each_tenant_has_its_own_slots(client: AsyncClient) -> None:
    owner, other = await register(client), await register(client)
    await _full(client, owner, (await make_agent(client, owner))["id"])
    assert (await _web_call(client, other, (await make_agent(client, other))["id"])).status_code == 201


async def test_a_joined_call_holds_its_slot_while_its_heartbeat_lasts(
    client: AsyncClient, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    calls = await _full(client, owner, agent["id"])
    joined = await service.join_web_call(session, uuid.UUID(calls[0]["call_id"]), calls[0]["token"])
    assert joined is not None
    await session.commit()

    await age(session, joined.id, heartbeat_at=repository.HEARTBEAT_GRACE - timedelta(seconds=5))
    assert_error(await _web_call(client, owner, agent["id"]), 402, "quota_exceeded")
    # Its replica stopped beating: the call is taken for dead and its slot is free, before the sweep closes it.
    await age(session, joined.id, heartbeat_at=repository.HEARTBEAT_GRACE + timedelta(seconds=1))
    assert (await _web_call(client, owner, agent["id"])).status_code == 201


async def test_an_unjoined_web_call_holds_its_slot_until_its_token_expires(
    client: AsyncClient, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    calls = await _full(client, owner, agent["id"])
    assert_error(await _web_call(client, owner, agent["id"]), 402, "quota_exceeded")
    await age(session, calls[1]["call_id"], join_expires_at=timedelta(seconds=1))
    assert (await _web_call(client, owner, agent["id"])).status_code == 201
    assert_error(await _web_call(client, owner, agent["id"]), 402, "quota_exceeded")


async def test_a_finished_call_frees_its_slot(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    await finished_web_call(client, session, storage_of(app), owner, agent["id"])
    await _full(client, owner, agent["id"])
    assert_error(await _web_call(client, owner, agent["id"]), 402, "quota_exceeded")


async def test_text_chats_hold_no_slot(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    chats = []
    for _ in range(FREE_CONCURRENT_CALLS + 1):
        response = await chat(client, owner, agent["id"], "Hello")
        assert response.status_code == 200, response.text
        chats.append(response.json()["session_id"])
    await _full(client, owner, agent["id"])
    assert (await _statistics(client, owner))["concurrent_calls"] == {"used": 3, "limit": 3}
    # With every slot taken by audio, a chat (which needs none) still starts, and the open ones carry on.
    assert (await chat(client, owner, agent["id"], "Hello")).status_code == 200
    assert (await chat(client, owner, agent["id"], "Thank you", chats[0])).status_code == 200


# --- call minutes -------------------------------------------------------------------------------------------------


async def test_used_up_call_minutes_refuse_new_calls_and_chats(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    open_chat = (await chat(client, owner, agent["id"], "Hello")).json()["session_id"]

    await _use_call_seconds(session, owner, FREE_CALL_MINUTES * 60 - 1)
    assert (await _web_call(client, owner, agent["id"])).status_code == 201  # one second is left

    await _use_call_seconds(session, owner, 1)
    web = assert_error(await _web_call(client, owner, agent["id"]), 402, "quota_exceeded")
    assert web["details"] == {"resource": "call_minutes"}
    text = assert_error(await chat(client, owner, agent["id"], "Hello"), 402, "quota_exceeded")
    assert text["details"] == {"resource": "call_minutes"}
    # A conversation already going is not cut off mid-way.
    assert (await chat(client, owner, agent["id"], "Thanks", open_chat)).status_code == 200
    assert (await _statistics(client, owner))["call_minutes"] == {"used": FREE_CALL_MINUTES, "limit": FREE_CALL_MINUTES}


async def test_another_tenants_minutes_do_not_count(client: AsyncClient, session: AsyncSession) -> None:
    owner, other = await register(client), await register(client)
    await _use_call_seconds(session, other, FREE_CALL_MINUTES * 60)
    assert (await _web_call(client, owner, (await make_agent(client, owner))["id"])).status_code == 201


async def test_statistics_show_calls_and_minutes_after_a_call(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    before = await _statistics(client, owner)
    assert before["calls"] == {"used": 0, "limit": None}
    assert before["call_minutes"] == {"used": 0, "limit": FREE_CALL_MINUTES}

    queued = await start_web_call(client, owner, agent["id"])
    assert (await _statistics(client, owner))["concurrent_calls"] == {"used": 1, "limit": 3}
    await age(session, queued["call_id"], join_expires_at=timedelta(seconds=1))

    await finished_web_call(client, session, storage_of(app), owner, agent["id"], seconds=90)
    after = await _statistics(client, owner)
    assert after["calls"] == {"used": 1, "limit": None}
    assert after["call_minutes"] == {"used": 2, "limit": FREE_CALL_MINUTES}  # 90 seconds, in started minutes
    assert after["concurrent_calls"] == {"used": 0, "limit": 3}
