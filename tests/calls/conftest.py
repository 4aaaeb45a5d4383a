"""Helpers for the calls tests: agents, knowledge to answer from, the OpenAI chat stand-in, calls made by hand."""

import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Account
from tests.knowledge.conftest import Drain, drain
from tests.standins.openai import STANDIN_KEY
from vocalis.calls import service
from vocalis.kit.db import utcnow
from vocalis.kit.storage import Storage
from vocalis.models.call import Call
from vocalis.voice.engine import CallOutcome
from vocalis.voice.recorder import TurnRecord
from vocalis.voice.usage import ProviderUsage

__all__ = ["drain"]  # the knowledge tests' job-worker fixture, used here to ingest what agents answer from

OPENAI_KEY = STANDIN_KEY
HOURS = (
    "Opening hours. On Saturday we open at 10am and close at 4pm. On Sundays the salon is closed. "
    "Parking is free behind the building."
)


async def make_agent(client: AsyncClient, owner: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/agents", json={"name": "Receptionist", **fields}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_knowledge(client: AsyncClient, owner: Account, drain: Drain, text: str = HOURS) -> str:
    """A knowledge base with one ready document; returns the base's id."""
    response = await client.post("/api/v1/knowledge/bases", json={"name": "Salon"}, headers=owner.headers)
    assert response.status_code == 201, response.text
    base_id: str = response.json()["id"]
    document = await client.post(
        f"/api/v1/knowledge/bases/{base_id}/documents", json={"title": "Hours", "text": text}, headers=owner.headers
    )
    assert document.status_code == 202, document.text
    await drain()
    got = await client.get(f"/api/v1/knowledge/documents/{document.json()['id']}", headers=owner.headers)
    assert got.json()["status"] == "ready", got.text
    return base_id


async def start_web_call(client: AsyncClient, owner: Account, agent_id: str) -> dict[str, Any]:
    response = await client.post(f"/api/v1/agents/{agent_id}/web-calls", headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def chat(client: AsyncClient, owner: Account, agent_id: str, message: str, session_id: str | None = None) -> Any:
    body: dict[str, Any] = {"message": message}
    if session_id is not None:
        body["session_id"] = session_id
    return await client.post(f"/api/v1/agents/{agent_id}/chat", json=body, headers=owner.headers)


async def age(session: AsyncSession, call_id: uuid.UUID | str, **ago: timedelta | None) -> None:
    """Move a call's timestamps into the past: `started_at=timedelta(minutes=5)` means five minutes ago."""
    now = utcnow()
    values = {name: None if delta is None else now - delta for name, delta in ago.items()}
    await session.execute(update(Call).where(Call.id == uuid.UUID(str(call_id))).values(**values))
    await session.commit()


async def finished_web_call(
    client: AsyncClient,
    session: AsyncSession,
    storage: Storage,
    owner: Account,
    agent_id: str,
    *,
    seconds: int = 90,
    recording: bytes | None = None,
    usage: ProviderUsage | None = None,
    turns: list[TurnRecord] | None = None,
) -> Call:
    """A web call joined and finished as the live engine does it, `seconds` long."""
    created = await start_web_call(client, owner, agent_id)
    joined = await service.join_web_call(session, uuid.UUID(created["call_id"]), created["token"])
    assert joined is not None
    await age(session, joined.id, started_at=timedelta(seconds=seconds))
    call = await service.finish(
        session,
        storage,
        joined.id,
        CallOutcome(
            "caller_hangup",
            None,
            turns=turns or [],
            usage=usage or ProviderUsage(),
            recording=recording,
            farewell_sent=False,
        ),
    )
    await session.commit()
    return call


def storage_of(app: FastAPI) -> Storage:
    storage: Storage = app.state.storage
    return storage
