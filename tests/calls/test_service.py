"""Call rules tested on the service: the join token, finishing a call's record, and the sweep of abandoned calls."""

import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.calls.conftest import age, chat, finished_web_call, make_agent, start_web_call, storage_of
from tests.factories import register
from tests.knowledge.conftest import Drain
from vocalis.calls import repository, service
from vocalis.models.billing import UsageRecord
from vocalis.models.call import Call, CallStatus, CallTurn
from vocalis.voice.audio import wav
from vocalis.voice.engine import CallOutcome
from vocalis.voice.recorder import TurnRecord
from vocalis.voice.usage import ProviderUsage

USAGE = ProviderUsage(stt_seconds=41.6, llm_prompt_tokens=900, llm_completion_tokens=120, tts_characters=530)


async def _usage(session: AsyncSession, call_id: uuid.UUID) -> dict[str, int]:
    records = await session.scalars(select(UsageRecord).where(UsageRecord.reference == str(call_id)))
    totals: dict[str, int] = {}
    for record in records:
        totals[record.metric] = totals.get(record.metric, 0) + record.quantity
    return totals


async def _reload(session: AsyncSession, call_id: uuid.UUID | str) -> Call:
    call = await session.get(Call, uuid.UUID(str(call_id)), populate_existing=True)
    assert call is not None
    return call


# --- the join token -----------------------------------------------------------------------------------------------


async def test_the_right_token_joins_a_web_call_once(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    created = await start_web_call(client, owner, agent["id"])
    call_id = uuid.UUID(created["call_id"])

    joined = await service.join_web_call(session, call_id, created["token"])
    assert joined is not None and joined.id == call_id
    assert joined.status == CallStatus.IN_PROGRESS
    assert joined.started_at is not None and joined.heartbeat_at is not None
    assert joined.join_token_hash is None
    await session.commit()

    assert await service.join_web_call(session, call_id, created["token"]) is None
    call = (await client.get(f"/api/v1/calls/{call_id}", headers=owner.headers)).json()
    assert call["status"] == "in_progress" and call["started_at"] is not None


async def test_a_wrong_token_joins_nothing(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    first, second = await start_web_call(client, owner, agent["id"]), await start_web_call(client, owner, agent["id"])
    first_id = uuid.UUID(first["call_id"])
    assert await service.join_web_call(session, first_id, "not-the-token") is None
    assert await service.join_web_call(session, first_id, "") is None
    assert await service.join_web_call(session, first_id, second["token"]) is None  # another call's token
    assert await service.join_web_call(session, uuid.uuid4(), first["token"]) is None
    assert (await _reload(session, first_id)).status == CallStatus.QUEUED
    assert await service.join_web_call(session, first_id, first["token"]) is not None  # still usable


async def test_an_expired_token_joins_nothing(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    created = await start_web_call(client, owner, agent["id"])
    await age(session, created["call_id"], join_expires_at=timedelta(seconds=1))
    assert await service.join_web_call(session, uuid.UUID(created["call_id"]), created["token"]) is None


async def test_only_a_hash_of_the_token_is_stored(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    created = await start_web_call(client, owner, agent["id"])
    call = await _reload(session, created["call_id"])
    assert call.join_token_hash == service.token_hash(created["token"]) != created["token"]


# --- finishing a call ---------------------------------------------------------------------------------------------


async def test_finishing_a_call_stores_its_transcript_and_meters_its_usage(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    turns = [
        TurnRecord("agent", "Hello! How can I help you today?", 0, 1800),
        TurnRecord("user", "Bye", 2500, 2900),
        TurnRecord("agent", "Goodbye!", 3400, 4100, latency={"total_ms": 500}),
    ]
    call = await finished_web_call(
        client, session, storage_of(app), owner, agent["id"], seconds=125, usage=USAGE, turns=turns
    )

    assert call.status == CallStatus.COMPLETED and call.end_reason == "caller_hangup" and call.error is None
    assert call.ended_at is not None and call.duration_ms is not None and 125_000 <= call.duration_ms < 135_000
    assert call.join_token_hash is None
    assert call.usage["call_seconds"] == call.duration_ms / 1000
    assert call.usage["stt_seconds"] == 41.6 and call.usage["tts_characters"] == 530

    usage = await _usage(session, call.id)
    assert usage == {
        "calls": 1,
        "call_seconds": round(call.duration_ms / 1000),
        "stt_seconds": 42,
        "llm_tokens": 1020,
        "tts_characters": 530,
    }
    stored = list(await session.scalars(select(CallTurn).where(CallTurn.call_id == call.id).order_by(CallTurn.ordinal)))
    assert [(t.ordinal, t.role, t.text, t.started_ms, t.ended_ms) for t in stored] == [
        (0, "agent", "Hello! How can I help you today?", 0, 1800),
        (1, "user", "Bye", 2500, 2900),
        (2, "agent", "Goodbye!", 3400, 4100),
    ]
    assert all(t.tenant_id == owner.tenant_id for t in stored)
    assert stored[2].latency == {"total_ms": 500}


async def test_a_call_that_ended_in_error_is_failed_with_the_reason(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    created = await start_web_call(client, owner, agent["id"])
    joined = await service.join_web_call(session, uuid.UUID(created["call_id"]), created["token"])
    assert joined is not None
    message = "LLM provider answered 500: The server had an error"
    call = await service.finish(
        session,
        storage_of(app),
        joined.id,
        CallOutcome(
            "provider_error",
            message,
            turns=[],
            usage=ProviderUsage(),
            recording=None,
            farewell_sent=False,
        ),
    )
    assert (call.status, call.end_reason, call.error) == (CallStatus.FAILED, "provider_error", message)
    assert call.recording_key is None
    assert (await _usage(session, call.id))["calls"] == 1


async def test_a_recording_is_stored_per_tenant_as_wav(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    pcm = b"\x01\x00" * 16_000
    call = await finished_web_call(client, session, storage_of(app), owner, agent["id"], recording=pcm)
    assert call.recording_key == f"recordings/{owner.tenant_id}/{call.id}.wav"
    stored = await storage_of(app).get(call.recording_key)
    assert stored == wav(pcm) and stored.startswith(b"RIFF") and stored.endswith(pcm)


async def test_a_call_the_sweep_gave_up_on_is_finished_by_its_engine_and_metered_once(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    created = await start_web_call(client, owner, agent["id"])
    call_id = uuid.UUID(created["call_id"])
    assert await service.join_web_call(session, call_id, created["token"]) is not None
    # The replica stalled for longer than the grace, so the sweep took the call for lost; then the call ended.
    await age(session, call_id, started_at=timedelta(minutes=3), heartbeat_at=timedelta(minutes=2))
    assert await service.end_abandoned(session) == 1
    await session.commit()
    assert (await _reload(session, call_id)).end_reason == "lost"

    call = await service.finish(
        session,
        storage_of(app),
        call_id,
        CallOutcome(
            "caller_goodbye",
            None,
            turns=[TurnRecord("user", "Goodbye", 0, 500)],
            usage=USAGE,
            recording=None,
            farewell_sent=False,
        ),
    )
    await session.commit()
    assert (call.status, call.end_reason, call.error) == (CallStatus.COMPLETED, "caller_goodbye", None)
    assert call.duration_ms is not None and call.duration_ms >= 180_000
    usage = await _usage(session, call_id)
    assert usage["calls"] == 1
    assert usage["call_seconds"] == round(call.duration_ms / 1000)
    assert usage["llm_tokens"] == 1020


# --- the sweep ----------------------------------------------------------------------------------------------------


async def test_the_sweep_closes_abandoned_calls_and_leaves_live_ones(
    client: AsyncClient, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    lost, live, unjoined = [await start_web_call(client, owner, agent["id"]) for _ in range(3)]
    for created in (lost, live):
        assert await service.join_web_call(session, uuid.UUID(created["call_id"]), created["token"]) is not None
    await session.commit()
    await age(
        session,
        lost["call_id"],
        started_at=timedelta(minutes=10),
        heartbeat_at=repository.HEARTBEAT_GRACE + timedelta(minutes=4),
    )
    await age(session, live["call_id"], heartbeat_at=repository.HEARTBEAT_GRACE - timedelta(seconds=10))
    await age(session, unjoined["call_id"], join_expires_at=timedelta(seconds=1))
    waiting = await start_web_call(client, owner, agent["id"])  # a slot is free again; its token still works
    idle = (await chat(client, owner, agent["id"], "Hello")).json()["session_id"]
    chatting = (await chat(client, owner, agent["id"], "Hello")).json()["session_id"]
    await age(session, idle, started_at=repository.CHAT_IDLE + timedelta(minutes=5), heartbeat_at=repository.CHAT_IDLE)
    await age(session, chatting, heartbeat_at=repository.CHAT_IDLE - timedelta(minutes=1))
    await session.commit()

    assert await service.end_abandoned(session) == 3
    await session.commit()

    gone = await _reload(session, lost["call_id"])
    assert (gone.status, gone.end_reason, gone.error) == ("failed", "lost", "The server running the call stopped")
    # It is billed up to its last sign of life, not up to when the sweep found it.
    assert gone.ended_at == gone.heartbeat_at
    assert gone.duration_ms is not None and abs(gone.duration_ms - 5 * 60_000) < 5_000
    assert (await _usage(session, gone.id))["call_seconds"] == round(gone.duration_ms / 1000)

    never = await _reload(session, unjoined["call_id"])
    assert (never.status, never.end_reason, never.error) == ("canceled", "not_joined", None)
    assert never.duration_ms is None and never.join_token_hash is None
    assert await _usage(session, never.id) == {"calls": 1}

    quiet = await _reload(session, idle)
    assert (quiet.status, quiet.end_reason, quiet.error) == ("completed", "idle", None)
    assert quiet.ended_at == quiet.heartbeat_at
    assert quiet.duration_ms is not None and abs(quiet.duration_ms - 5 * 60_000) < 5_000
    assert quiet.usage["call_seconds"] == 0

    for still in (live["call_id"], waiting["call_id"], chatting):
        call = await _reload(session, still)
        assert call.ended_at is None and call.status in ("queued", "in_progress"), call.status
    assert await service.end_abandoned(session) == 0


async def test_a_closed_chat_takes_no_more_messages(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    session_id = (await chat(client, owner, agent["id"], "Hello")).json()["session_id"]
    await age(session, session_id, heartbeat_at=repository.CHAT_IDLE + timedelta(seconds=1))
    assert await service.end_abandoned(session) == 1
    await session.commit()
    response = await chat(client, owner, agent["id"], "Are you there?", session_id)
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"end_reason": "idle"}


async def test_the_sweep_runs_as_a_job(client: AsyncClient, app: FastAPI, session: AsyncSession, drain: Drain) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    created = await start_web_call(client, owner, agent["id"])
    await age(session, created["call_id"], join_expires_at=timedelta(seconds=1))
    await app.state.jobs.app.configure_task("end_abandoned_calls").defer_async(timestamp=0)
    await drain()
    assert (await _reload(session, created["call_id"])).status == CallStatus.CANCELED


# --- the knowledge a turn is answered from


async def test_each_question_of_a_turn_is_searched_for(monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[str] = []

    async def retrieve(*args: Any) -> list[SimpleNamespace]:
        """A search that finds the insurers for a question naming one, else the prices."""
        query = args[4]
        searched.append(query)
        asks_insurance = "Delta" in query and "much" not in query
        return [SimpleNamespace(content="Insurers" if asks_insurance else "Prices")]

    monkeypatch.setattr("vocalis.knowledge.service.retrieve", retrieve)
    tenant, bases = uuid.uuid4(), [uuid.uuid4()]
    said = "How much is a cleaning, and do you take Delta Dental?"

    found = await service.passages(None, None, tenant, bases, said)  # type: ignore[arg-type]

    assert searched == [said, "How much is a cleaning", "do you take Delta Dental?"]
    assert found == ["Prices", "Insurers"]  # each once, the whole turn's first

    searched.clear()
    assert await service.passages(None, None, tenant, bases, "Do you take Delta Dental?") == ["Insurers"]  # type: ignore[arg-type]
    assert searched == ["Do you take Delta Dental?"]
