"""The calls API: starting web calls, listing and reading calls with their transcripts, and recordings."""

import io
import math
import struct
import uuid
import wave
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import HttpUrl
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.calls.conftest import chat, finished_web_call, make_agent, start_web_call, storage_of
from tests.factories import add_user, api_key, register
from vocalis.config import Settings
from vocalis.models.call import Call, CallDirection
from vocalis.models.user import Role
from vocalis.voice.recorder import TurnRecord

API = "/api/v1"


def tone(seconds: float, sample_rate: int = 16_000) -> bytes:
    """A 440 Hz tone as 16-bit mono PCM."""
    count = round(seconds * sample_rate)
    return struct.pack(
        f"<{count}h", *(round(8000 * math.sin(2 * math.pi * 440 * i / sample_rate)) for i in range(count))
    )


# --- starting a web call ------------------------------------------------------------------------------------------


async def test_a_web_call_is_queued_with_a_single_use_join_token(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    before = datetime.now(UTC)
    created = await start_web_call(client, owner, agent["id"])

    assert set(created) == {"call_id", "websocket_url", "token", "expires_at"}
    url = urlsplit(created["websocket_url"])
    assert (url.scheme, url.netloc, url.path) == ("ws", "testserver", f"/api/v1/calls/{created['call_id']}/websocket")
    assert parse_qs(url.query) == {"token": [created["token"]]}
    assert len(created["token"]) >= 32
    expires_at = datetime.fromisoformat(created["expires_at"])
    assert before < expires_at <= datetime.now(UTC) + timedelta(seconds=61)

    listed = (await client.get(f"{API}/calls", headers=owner.headers)).json()
    assert listed["total"] == 1
    [call] = listed["items"]
    assert call["id"] == created["call_id"]
    assert (call["status"], call["kind"], call["direction"]) == ("queued", "web", "inbound")
    assert call["agent_id"] == agent["id"] and call["tenant_id"] == str(owner.tenant_id)
    assert call["started_at"] is None and call["ended_at"] is None and call["has_recording"] is False
    assert "token" not in call and created["token"] not in str(listed)


async def test_the_websocket_url_is_on_the_public_base_url_whatever_the_host_header(
    client: AsyncClient, settings: Settings
) -> None:
    settings.public_base_url = HttpUrl("https://voice.example.com")
    owner = await register(client)
    agent = await make_agent(client, owner)
    response = await client.post(
        f"{API}/agents/{agent['id']}/web-calls", headers={**owner.headers, "Host": "attacker.example"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    url = urlsplit(created["websocket_url"])
    assert (url.scheme, url.netloc, url.path) == (
        "wss",
        "voice.example.com",
        f"/api/v1/calls/{created['call_id']}/websocket",
    )


async def test_the_join_token_is_never_shown_again(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    created = await start_web_call(client, owner, agent["id"])
    got = await client.get(f"{API}/calls/{created['call_id']}", headers=owner.headers)
    assert got.status_code == 200
    assert created["token"] not in got.text


async def test_a_web_call_needs_an_agent_of_the_tenant(client: AsyncClient) -> None:
    owner, other = await register(client), await register(client)
    foreign = await make_agent(client, other)
    for agent_id in (foreign["id"], str(uuid.uuid4())):
        response = await client.post(f"{API}/agents/{agent_id}/web-calls", headers=owner.headers)
        assert_error(response, 404, "not_found")
    assert (await client.get(f"{API}/calls", headers=other.headers)).json()["total"] == 0
    invalid = await client.post(f"{API}/agents/not-an-id/web-calls", headers=owner.headers)
    assert invalid.status_code == 422


async def test_viewers_read_calls_but_do_not_start_them(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    viewer = await add_user(client, owner, Role.VIEWER)
    assert_error(await client.post(f"{API}/agents/{agent['id']}/web-calls", headers=viewer.headers), 403, "forbidden")
    refused = await client.post(f"{API}/agents/{agent['id']}/chat", json={"message": "Hi"}, headers=viewer.headers)
    assert_error(refused, 403, "forbidden")

    member = await add_user(client, owner, Role.MEMBER)
    await start_web_call(client, member, agent["id"])
    assert (await client.get(f"{API}/calls", headers=viewer.headers)).json()["total"] == 1


async def test_an_api_key_starts_calls(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    headers = {"X-API-Key": await api_key(client, owner)}
    response = await client.post(f"{API}/agents/{agent['id']}/web-calls", headers=headers)
    assert response.status_code == 201, response.text


async def test_calls_need_a_login(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    assert_error(await client.post(f"{API}/agents/{agent['id']}/web-calls"), 401, "unauthorized")
    assert_error(await client.get(f"{API}/calls"), 401, "unauthorized")


# --- listing ------------------------------------------------------------------------------------------------------


async def test_calls_are_listed_newest_first_a_page_at_a_time(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    made = []
    for _ in range(5):
        response = await chat(client, owner, agent["id"], "Hello")
        assert response.status_code == 200, response.text
        made.append(response.json()["session_id"])

    pages = [
        (await client.get(f"{API}/calls", params={"page": page, "page_size": 2}, headers=owner.headers)).json()
        for page in (1, 2, 3)
    ]
    assert [(p["total"], p["page"], p["page_size"], p["pages"]) for p in pages] == [(5, n, 2, 3) for n in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [item["id"] for p in pages for item in p["items"]] == list(reversed(made))
    beyond = (await client.get(f"{API}/calls", params={"page": 4, "page_size": 2}, headers=owner.headers)).json()
    assert beyond["items"] == [] and beyond["total"] == 5
    too_big = await client.get(f"{API}/calls", params={"page_size": 101}, headers=owner.headers)
    assert too_big.status_code == 422


async def test_calls_are_filtered(client: AsyncClient, session: AsyncSession) -> None:
    owner = await register(client)
    first, second = await make_agent(client, owner), await make_agent(client, owner, name="Night line")
    web = (await start_web_call(client, owner, first["id"]))["call_id"]
    text = (await chat(client, owner, first["id"], "Hello")).json()["session_id"]
    ended = (await chat(client, owner, second["id"], "Goodbye")).json()["session_id"]
    outbound = (await start_web_call(client, owner, second["id"]))["call_id"]
    # Outbound calls and old calls cannot be made through the API yet: set them up in the database.
    await session.execute(update(Call).where(Call.id == uuid.UUID(outbound)).values(direction=CallDirection.OUTBOUND))
    created = {
        web: datetime(2025, 1, 1, tzinfo=UTC),
        text: datetime(2025, 2, 1, tzinfo=UTC),
        ended: datetime(2025, 3, 1, tzinfo=UTC),
        outbound: datetime(2025, 4, 1, tzinfo=UTC),
    }
    for call_id, at in created.items():
        await session.execute(update(Call).where(Call.id == uuid.UUID(call_id)).values(created_at=at))
    await session.commit()

    async def ids(**params: str) -> set[str]:
        response = await client.get(f"{API}/calls", params={"page_size": 100, **params}, headers=owner.headers)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert await ids() == {web, text, ended, outbound}
    assert await ids(agent_id=first["id"]) == {web, text}
    assert await ids(agent_id=str(uuid.uuid4())) == set()
    assert await ids(status="queued") == {web, outbound}
    assert await ids(status="in_progress") == {text}
    assert await ids(status="completed") == {ended}
    assert await ids(kind="web") == {web, outbound}
    assert await ids(kind="text") == {text, ended}
    assert await ids(direction="outbound") == {outbound}
    assert await ids(direction="inbound") == {web, text, ended}
    assert await ids(since="2025-02-01T00:00:00Z") == {text, ended, outbound}
    assert await ids(until="2025-03-01T00:00:00Z") == {web, text}
    assert await ids(since="2025-02-01T00:00:00Z", until="2025-04-01T00:00:00Z") == {text, ended}
    assert await ids(kind="web", direction="outbound", agent_id=second["id"]) == {outbound}

    for bad in ({"status": "nope"}, {"kind": "fax"}, {"direction": "up"}, {"since": "yesterday"}, {"agent_id": "x"}):
        assert (await client.get(f"{API}/calls", params=bad, headers=owner.headers)).status_code == 422, bad


async def test_the_list_shows_only_the_callers_tenant(client: AsyncClient) -> None:
    owner, other = await register(client), await register(client)
    agent = await make_agent(client, owner)
    await start_web_call(client, owner, agent["id"])
    listed = (await client.get(f"{API}/calls", headers=other.headers)).json()
    assert listed["total"] == 0 and listed["items"] == []
    filtered = await client.get(f"{API}/calls", params={"agent_id": agent["id"]}, headers=other.headers)
    assert filtered.json()["items"] == []


# --- one call -----------------------------------------------------------------------------------------------------


async def test_a_call_is_read_with_its_transcript(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    turns = [
        TurnRecord("agent", "Hello! How can I help you today?", 100, 1900),
        TurnRecord("user", "When do you open?", 2500, 3600),
        TurnRecord("agent", "At ten.", 4100, 4900, latency={"total_ms": 500, "stt_ms": 200, "llm_ms": 5, "tts_ms": 90}),
    ]
    call = await finished_web_call(client, session, storage_of(app), owner, agent["id"], seconds=30, turns=turns)

    response = await client.get(f"{API}/calls/{call.id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["kind"], body["end_reason"], body["error"]) == (
        "completed",
        "web",
        "caller_hangup",
        None,
    )
    assert 29_000 <= body["duration_ms"] <= 40_000
    assert [(t["ordinal"], t["role"], t["text"]) for t in body["turns"]] == [
        (0, "agent", "Hello! How can I help you today?"),
        (1, "user", "When do you open?"),
        (2, "agent", "At ten."),
    ]
    assert body["turns"][2]["latency"] == {"total_ms": 500, "stt_ms": 200, "turn_ms": None, "llm_ms": 5, "tts_ms": 90}
    assert (body["turns"][1]["started_ms"], body["turns"][1]["ended_ms"]) == (2500, 3600)
    assert body["turns"][0]["latency"] is None


async def test_another_tenants_call_is_not_found(client: AsyncClient) -> None:
    owner, other = await register(client), await register(client)
    agent = await make_agent(client, owner)
    call_id = (await start_web_call(client, owner, agent["id"]))["call_id"]
    for path in (f"{API}/calls/{call_id}", f"{API}/calls/{call_id}/recording"):
        foreign = await client.get(path, headers=other.headers)
        missing = await client.get(path.replace(call_id, str(uuid.uuid4())), headers=other.headers)
        assert_error(foreign, 404, "not_found")
        assert foreign.json() == missing.json()
        assert call_id not in foreign.text


# --- recordings ---------------------------------------------------------------------------------------------------


async def test_a_call_without_a_recording_has_none_to_download(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    call_id = (await start_web_call(client, owner, agent["id"]))["call_id"]
    error = assert_error(await client.get(f"{API}/calls/{call_id}/recording", headers=owner.headers), 404, "not_found")
    assert error["details"] == {"recording_enabled": False}
    unknown = await client.get(f"{API}/calls/{uuid.uuid4()}/recording", headers=owner.headers)
    assert assert_error(unknown, 404, "not_found")["message"] == "Call not found"


async def test_a_recording_downloads_as_16_khz_mono_wav(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner, recording_enabled=True)
    pcm = tone(1.5)
    call = await finished_web_call(client, session, storage_of(app), owner, agent["id"], recording=pcm)
    assert (await client.get(f"{API}/calls/{call.id}", headers=owner.headers)).json()["has_recording"] is True

    viewer = await add_user(client, owner, Role.VIEWER)
    response = await client.get(f"{API}/calls/{call.id}/recording", headers=viewer.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-disposition"] == f'attachment; filename="call-{call.id}.wav"'
    with wave.open(io.BytesIO(response.content)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 16_000)
        assert audio.getnframes() == len(pcm) // 2 == 24_000
        assert audio.readframes(audio.getnframes()) == pcm
