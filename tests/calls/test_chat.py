"""Text chats with an agent: answers from its knowledge (offline, or through an OpenAI-compatible LLM), sessions that
continue and end, and what happens when the LLM provider fails."""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assertions import assert_error
from tests.calls.conftest import (
    OPENAI_KEY,
    chat,
    make_agent,
    make_knowledge,
    start_web_call,
)
from tests.concurrency import own_database, small_pool_client
from tests.factories import Account, api_key, register
from tests.knowledge.conftest import Drain
from tests.standins.held import Held
from tests.standins.openai import ChatScript, OpenAIStandIn, ScriptedToolCall
from tests.standins.server import serve
from vocalis.calls import service
from vocalis.config import Settings
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.kit.outbound import Outbound
from vocalis.models.billing import UsageRecord
from vocalis.voice.providers.llm import OpenAIChat
from vocalis.voice.responder import BUSINESS_GREETING, FALLBACK, GOODBYE
from vocalis.voice.settings import LanguageModel
from vocalis.voice.stack import LLMEndpoint
from vocalis.voice.thinking import Thinker

OpenAI = tuple[OpenAIStandIn, str]
SYSTEM_PROMPT = "You are the receptionist of Maple Salon. Keep answers short."


async def _call(client: AsyncClient, owner: Account, call_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/calls/{call_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _usage(session: AsyncSession, call_id: str) -> dict[str, int]:
    records = await session.scalars(select(UsageRecord).where(UsageRecord.reference == call_id))
    return {record.metric: record.quantity for record in records}


# --- the offline agent --------------------------------------------------------------------------------------------


async def test_the_offline_agent_answers_from_its_knowledge(client: AsyncClient, drain: Drain) -> None:
    owner = await register(client)
    base_id = await make_knowledge(client, owner, drain)
    agent = await make_agent(client, owner, knowledge_base_ids=[base_id])

    response = await chat(client, owner, agent["id"], "When do you open on Saturday?")
    assert response.status_code == 200, response.text
    reply = response.json()
    assert "10am" in reply["reply"] and "4pm" in reply["reply"], reply
    assert len(reply["sources"]) == 1 and "On Saturday we open at 10am" in reply["sources"][0]
    assert (reply["ended"], reply["end_reason"]) == (False, None)
    assert reply["usage"]["llm_prompt_tokens"] == reply["usage"]["llm_completion_tokens"] == 0
    uuid.UUID(reply["session_id"])


async def test_a_session_continues_and_ends_with_goodbye(
    client: AsyncClient, drain: Drain, session: AsyncSession
) -> None:
    owner = await register(client)
    base_id = await make_knowledge(client, owner, drain)
    agent = await make_agent(client, owner, knowledge_base_ids=[base_id])

    first = (await chat(client, owner, agent["id"], "When do you open on Saturday?")).json()
    session_id = first["session_id"]
    second = (await chat(client, owner, agent["id"], "Is there parking?", session_id)).json()
    assert second["session_id"] == session_id
    assert "Parking is free" in second["reply"]

    call = await _call(client, owner, session_id)
    assert (call["kind"], call["status"], call["direction"]) == ("text", "in_progress", "inbound")
    assert call["agent_id"] == agent["id"] and call["ended_at"] is None
    assert [(t["ordinal"], t["role"]) for t in call["turns"]] == [(0, "user"), (1, "agent"), (2, "user"), (3, "agent")]
    assert [t["text"] for t in call["turns"]] == [
        "When do you open on Saturday?",
        first["reply"],
        "Is there parking?",
        second["reply"],
    ]
    assert all(t["latency"] is not None for t in call["turns"] if t["role"] == "agent")

    goodbye = await chat(client, owner, agent["id"], "Thanks, goodbye", session_id)
    assert goodbye.status_code == 200, goodbye.text
    assert goodbye.json()["reply"] == GOODBYE
    assert (goodbye.json()["ended"], goodbye.json()["end_reason"]) == (True, "caller_goodbye")

    ended = await _call(client, owner, session_id)
    assert (ended["status"], ended["end_reason"], ended["error"]) == ("completed", "caller_goodbye", None)
    assert ended["ended_at"] is not None and ended["duration_ms"] >= 0
    assert len(ended["turns"]) == 6
    assert ended["usage"]["call_seconds"] == 0  # chats use no call minutes
    assert await _usage(session, session_id) == {"calls": 1}

    after = await chat(client, owner, agent["id"], "One more thing", session_id)
    error = assert_error(after, 409, "conflict")
    assert error["details"] == {"end_reason": "caller_goodbye"}
    assert len((await _call(client, owner, session_id))["turns"]) == 6


async def test_without_knowledge_the_agent_greets_and_falls_back(client: AsyncClient) -> None:
    owner = await register(client, tenant_name="Bright Smile Dental")
    agent = await make_agent(client, owner)
    hello = (await chat(client, owner, agent["id"], "Hello")).json()
    assert hello["reply"] == BUSINESS_GREETING.format(business="Bright Smile Dental") and hello["sources"] == []
    unknown = (await chat(client, owner, agent["id"], "What is the capital of Peru?", hello["session_id"])).json()
    assert unknown["reply"] == FALLBACK


async def test_a_callback_request_taken_in_a_chat_is_kept_on_its_record(client: AsyncClient) -> None:
    owner = await register(client, tenant_name="Bright Smile Dental")
    agent = await make_agent(client, owner)
    asked = (await chat(client, owner, agent["id"], "Can I book a cleaning for tomorrow at 3?")).json()
    session_id = asked["session_id"]
    assert "name" in asked["reply"].lower(), asked
    number = (await chat(client, owner, agent["id"], "It's Maria Lopez", session_id)).json()
    assert "number" in number["reply"].lower(), number
    confirmed = await chat(client, owner, agent["id"], "five five five, one two three, four five six seven", session_id)
    assert "Maria" in confirmed.json()["reply"], confirmed.json()

    record = await _call(client, owner, session_id)
    callback = record["collected"]["callback"]
    assert callback["name"] == "Maria Lopez" and callback["phone"].replace(" ", "").endswith("5551234567"), callback
    assert "tomorrow" in (callback["preferred_time"] or ""), callback


async def test_the_agents_own_end_phrases_end_a_chat(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner, end_call_phrases=["over and out"])
    reply = (await chat(client, owner, agent["id"], "Thanks, over and out")).json()
    assert (reply["ended"], reply["end_reason"]) == (True, "caller_goodbye")


async def test_a_chat_keeps_the_agent_it_started_with(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    session_id = (await chat(client, owner, agent["id"], "Hello")).json()["session_id"]
    changed = await client.patch(
        f"/api/v1/agents/{agent['id']}", json={"end_call_phrases": ["cheerio"]}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    # The snapshot taken at the start still has the default phrases.
    reply = (await chat(client, owner, agent["id"], "cheerio", session_id)).json()
    assert reply["ended"] is False


async def test_an_api_key_chats(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    headers = {"X-API-Key": await api_key(client, owner)}
    response = await client.post(f"/api/v1/agents/{agent['id']}/chat", json={"message": "Hello"}, headers=headers)
    assert response.status_code == 200, response.text


# --- errors -------------------------------------------------------------------------------------------------------


async def test_a_session_must_be_a_chat_of_this_agent_and_tenant(client: AsyncClient) -> None:
    owner, other = await register(client), await register(client)
    agent, second = await make_agent(client, owner), await make_agent(client, owner, name="Second")
    other_agent = await make_agent(client, other)
    session_id = (await chat(client, owner, agent["id"], "Hello")).json()["session_id"]
    foreign = (await chat(client, other, other_agent["id"], "Hello")).json()["session_id"]
    web_call = (await start_web_call(client, owner, agent["id"]))["call_id"]

    for agent_id, unknown in [
        (agent["id"], str(uuid.uuid4())),  # no such session
        (agent["id"], foreign),  # another tenant's chat
        (second["id"], session_id),  # a chat with another agent
        (agent["id"], web_call),  # not a chat at all
    ]:
        response = await chat(client, owner, agent_id, "Hello again", unknown)
        assert assert_error(response, 404, "not_found")["message"] == "Chat session not found"
        assert foreign not in response.text

    stolen = await chat(client, other, other_agent["id"], "What did they say?", session_id)
    assert_error(stolen, 404, "not_found")
    assert len((await _call(client, owner, session_id))["turns"]) == 2


async def test_chatting_with_another_tenants_agent_is_not_found(client: AsyncClient) -> None:
    owner, other = await register(client), await register(client)
    foreign = await make_agent(client, other)
    for agent_id in (foreign["id"], str(uuid.uuid4())):
        assert_error(await chat(client, owner, agent_id, "Hello"), 404, "not_found")
    assert (await client.get("/api/v1/calls", headers=other.headers)).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({}, "message"),
        ({"message": "x" * 4001}, "message"),
        ({"message": "Hi", "session_id": "not-an-id"}, "session_id"),
        ({"message": "Hi", "extra": 1}, "extra"),
    ],
)
async def test_invalid_messages_are_refused(client: AsyncClient, body: dict[str, Any], field: str) -> None:
    owner = await register(client)
    agent = await make_agent(client, owner)
    response = await client.post(f"/api/v1/agents/{agent['id']}/chat", json=body, headers=owner.headers)
    error = assert_error(response, 422, "validation_error")
    assert any(field in item["loc"] for item in error["details"]["errors"]), error
    assert (await client.get("/api/v1/calls", headers=owner.headers)).json()["total"] == 0


# --- an LLM agent -------------------------------------------------------------------------------------------------


async def _llm_agent(client: AsyncClient, owner: Account, url: str, **fields: Any) -> dict[str, Any]:
    credential = {"provider": "openai", "api_key": OPENAI_KEY, "base_url": url}
    response = await client.post("/api/v1/credentials", json=credential, headers=owner.headers)
    assert response.status_code == 201, response.text
    llm = {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 120}
    return await make_agent(client, owner, system_prompt=SYSTEM_PROMPT, llm=llm, **fields)


async def test_an_llm_agent_answers_from_the_knowledge_it_is_given(
    client: AsyncClient, drain: Drain, openai: OpenAI
) -> None:
    standin, url = openai
    owner = await register(client)
    base_id = await make_knowledge(client, owner, drain)
    agent = await _llm_agent(client, owner, url, knowledge_base_ids=[base_id])
    standin.chat_scripts.append(
        ChatScript(content=["On Saturday we open", " at 10am."], prompt_tokens=120, completion_tokens=7)
    )

    response = await chat(client, owner, agent["id"], "When do you open on Saturday?")
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["reply"] == "On Saturday we open at 10am."
    assert reply["usage"]["llm_prompt_tokens"] == 120 and reply["usage"]["llm_completion_tokens"] == 7
    assert "On Saturday we open at 10am" in reply["sources"][0]

    [request] = standin.chat_requests
    assert (request["model"], request["temperature"], request["max_tokens"]) == ("gpt-4o-mini", 0.2, 120)
    system, *conversation = request["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith(SYSTEM_PROMPT)
    assert "On Saturday we open at 10am and close at 4pm." in system["content"]
    assert conversation == [
        {"role": "assistant", "content": "Hello! How can I help you today?"},  # the agent's first message
        {"role": "user", "content": "When do you open on Saturday?"},
    ]


async def test_an_llm_chat_sends_the_whole_conversation_and_adds_up_tokens(
    client: AsyncClient, openai: OpenAI, session: AsyncSession
) -> None:
    standin, url = openai
    owner = await register(client)
    agent = await _llm_agent(client, owner, url)
    standin.chat_scripts += [
        ChatScript(content=["We are open", " until 4pm."], prompt_tokens=50, completion_tokens=5),
        ChatScript(
            content=["Goodbye!"],
            tool_calls=[ScriptedToolCall("end_call", ['{"reason": ', '"caller_goodbye"}'])],
            prompt_tokens=70,
            completion_tokens=3,
        ),
    ]
    first = (await chat(client, owner, agent["id"], "How late are you open?")).json()
    second = await chat(client, owner, agent["id"], "Great, that's all. Bye!", first["session_id"])
    assert second.status_code == 200, second.text
    reply = second.json()
    assert (reply["reply"], reply["ended"], reply["end_reason"]) == ("Goodbye!", True, "caller_goodbye")
    assert reply["usage"]["llm_prompt_tokens"] == 120 and reply["usage"]["llm_completion_tokens"] == 8

    assert standin.chat_requests[1]["messages"][1:] == [
        {"role": "assistant", "content": "Hello! How can I help you today?"},
        {"role": "user", "content": "How late are you open?"},
        {"role": "assistant", "content": "We are open until 4pm."},
        {"role": "user", "content": "Great, that's all. Bye!"},
    ]
    call = await _call(client, owner, first["session_id"])
    assert (call["status"], call["end_reason"]) == ("completed", "caller_goodbye")
    assert call["usage"]["llm_prompt_tokens"] == 120 and call["usage"]["llm_completion_tokens"] == 8
    assert await _usage(session, first["session_id"]) == {"calls": 1, "llm_tokens": 128}
    assert_error(await chat(client, owner, agent["id"], "Hello?", first["session_id"]), 409, "conflict")


async def test_the_llm_may_end_a_chat_without_a_reason(client: AsyncClient, openai: OpenAI) -> None:
    standin, url = openai
    owner = await register(client)
    agent = await _llm_agent(client, owner, url)
    standin.chat_scripts.append(ChatScript(content=["Bye."], tool_calls=[ScriptedToolCall("end_call")]))
    reply = (await chat(client, owner, agent["id"], "I'm done")).json()
    assert (reply["ended"], reply["end_reason"]) == (True, "agent_ended")


async def test_streamed_pieces_are_joined_as_the_llm_sent_them(client: AsyncClient, openai: OpenAI) -> None:
    standin, url = openai
    owner = await register(client)
    agent = await _llm_agent(client, owner, url)
    standin.chat_scripts.append(ChatScript(content=["Hello", "! How can I", " help you to", "day?"]))
    reply = (await chat(client, owner, agent["id"], "Hi")).json()
    assert reply["reply"] == "Hello! How can I help you today?"


@pytest.mark.parametrize(
    ("script", "says"),
    [
        (ChatScript(status=500), "LLM provider answered 500"),
        # The provider's own words go to the log, not to the caller.
        (ChatScript(status=429, error_message="Rate limit reached for gpt-4o-mini"), "LLM provider answered 429 at"),
        (ChatScript(content=["On Satur", "day we"], error_after=1), "failed mid-answer"),
    ],
    ids=["server-error", "rate-limited", "broken-stream"],
)
async def test_a_failing_llm_is_a_provider_error_and_leaves_no_session(
    client: AsyncClient, openai: OpenAI, script: ChatScript, says: str
) -> None:
    standin, url = openai
    owner = await register(client)
    agent = await _llm_agent(client, owner, url)
    standin.chat_scripts.append(script)
    response = await chat(client, owner, agent["id"], "When do you open?")
    error = assert_error(response, 502, "provider_error")
    assert says in error["message"]
    assert error["details"] == {"provider": "openai", "model": "gpt-4o-mini"}
    assert OPENAI_KEY not in response.text
    assert (await client.get("/api/v1/calls", headers=owner.headers)).json()["total"] == 0


async def test_a_failed_message_can_be_sent_again(client: AsyncClient, openai: OpenAI) -> None:
    standin, url = openai
    owner = await register(client)
    agent = await _llm_agent(client, owner, url)
    session_id = (await chat(client, owner, agent["id"], "Hello")).json()["session_id"]

    standin.chat_scripts += [ChatScript(status=503), ChatScript(content=["Ten to four."])]
    assert_error(await chat(client, owner, agent["id"], "When do you open?", session_id), 502, "provider_error")
    assert len((await _call(client, owner, session_id))["turns"]) == 2  # the failed message left nothing behind

    retried = await chat(client, owner, agent["id"], "When do you open?", session_id)
    assert retried.status_code == 200 and retried.json()["reply"] == "Ten to four."
    call = await _call(client, owner, session_id)
    assert [t["ordinal"] for t in call["turns"]] == [0, 1, 2, 3]
    assert call["status"] == "in_progress"


async def test_a_refused_key_is_a_provider_error_that_does_not_show_the_key(
    client: AsyncClient, openai: OpenAI
) -> None:
    _, url = openai
    owner = await register(client)
    agent = await _llm_agent(client, owner, url)
    wrong = "sk-wrong-key-for-the-standin-0000"
    [credential] = (await client.get("/api/v1/credentials", headers=owner.headers)).json()["items"]
    changed = await client.patch(
        f"/api/v1/credentials/{credential['id']}", json={"api_key": wrong}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text

    response = await chat(client, owner, agent["id"], "Hello")
    error = assert_error(response, 502, "provider_error")
    assert "401" in error["message"]
    assert wrong not in response.text and wrong[3:-4] not in response.text and OPENAI_KEY not in response.text


async def test_an_llm_agent_without_its_credential_is_a_provider_error(client: AsyncClient, openai: OpenAI) -> None:
    _, url = openai
    owner = await register(client)
    agent = await _llm_agent(client, owner, url)
    [credential] = (await client.get("/api/v1/credentials", headers=owner.headers)).json()["items"]
    deleted = await client.delete(f"/api/v1/credentials/{credential['id']}", headers=owner.headers)
    assert deleted.status_code == 204, deleted.text

    error = assert_error(await chat(client, owner, agent["id"], "Hello"), 502, "provider_error")
    assert "credential" in error["message"]


async def test_an_unreachable_llm_is_a_provider_error(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await _llm_agent(client, owner, "http://127.0.0.1:9/v1")  # nothing listens on port 9
    error = assert_error(await chat(client, owner, agent["id"], "Hello"), 502, "provider_error")
    assert "unreachable" in error["message"]


# --- no database connection held while the LLM answers --------------------------------------------------------------


@pytest.fixture(scope="module")
def committing_database_url(postgres: EmbeddedPostgres) -> str:
    """A database of this module's own: these tests' app commits, as a running server does."""
    return own_database(postgres, "vocalis_chat_pool")


@pytest.fixture
def held_llm() -> Iterator[tuple[Held, str]]:
    """The chat stand-in, holding each request until the test releases it; yields it and its base URL."""
    held = Held(OpenAIStandIn(OPENAI_KEY).app)
    with serve(held) as url:
        try:
            yield held, f"{url}/v1"
        finally:
            held.release.set()


async def test_waiting_on_the_llm_holds_no_database_connection(
    committing_database_url: str, settings: Settings, held_llm: tuple[Held, str]
) -> None:
    """Chats whose LLM has not answered yet leave the pool (two connections) free for everyone else."""
    held, url = held_llm
    async with small_pool_client(committing_database_url, settings) as (api, database):
        held.release.set()
        owners = [await register(api) for _ in range(4)]
        agents = [await _llm_agent(api, owner, url) for owner in owners]
        started = (await chat(api, owners[0], agents[0]["id"], "Hello")).json()["session_id"]
        held.release.clear()
        waiting = [
            asyncio.create_task(chat(api, owner, agent["id"], "When do you open?", started if index == 0 else None))
            for index, (owner, agent) in enumerate(zip(owners, agents, strict=True))
        ]
        try:
            await held.arrived(len(waiting))  # every chat is now waiting on the LLM
            assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            bystander = await register(api)
            assert (await api.get("/api/v1/calls", headers=bystander.headers)).status_code == 200
            assert not any(task.done() for task in waiting)
        finally:
            held.release.set()
        replies = await asyncio.gather(*waiting)
        assert all(reply.status_code == 200 for reply in replies), [reply.text for reply in replies]
        assert len((await _call(api, owners[0], started))["turns"]) == 4


async def test_a_message_answered_meanwhile_must_be_sent_again(
    committing_database_url: str, settings: Settings, held_llm: tuple[Held, str]
) -> None:
    """Two messages to one chat at once both reach the LLM; the first answered is recorded, the other was answered
    without it in the conversation: 409, and the transcript has one exchange per turn."""
    held, url = held_llm
    async with small_pool_client(committing_database_url, settings) as (api, _):
        held.release.set()
        owner = await register(api)
        agent = await _llm_agent(api, owner, url)
        session_id = (await chat(api, owner, agent["id"], "Hello")).json()["session_id"]
        held.release.clear()
        both = [
            asyncio.create_task(chat(api, owner, agent["id"], message, session_id))
            for message in ("When do you open?", "Is there parking?")
        ]
        try:
            await held.arrived(2)  # no lock kept the second from its LLM request
        finally:
            held.release.set()
        replies = sorted(await asyncio.gather(*both), key=lambda reply: reply.status_code)
        assert replies[0].status_code == 200, replies[0].text
        error = assert_error(replies[1], 409, "conflict")
        assert error["message"].startswith("Another message to this chat session was answered meanwhile")
        call = await _call(api, owner, session_id)
        assert [turn["ordinal"] for turn in call["turns"]] == [0, 1, 2, 3]
        assert call["status"] == "in_progress"


def _impatient_thinker(settings: Settings, llm: LanguageModel, endpoint: LLMEndpoint | None) -> Thinker:
    """The agent's LLM, giving up at once when the tenant has no free slot for a request."""
    assert endpoint is not None
    outbound = Outbound(settings, endpoint.owner)
    return OpenAIChat(
        api_key=endpoint.api_key, base_url=endpoint.base_url, model=llm.model, timeout_seconds=0.1, outbound=outbound
    )


async def test_a_tenant_with_too_many_provider_requests_running_is_told_to_retry(
    committing_database_url: str, settings: Settings, held_llm: tuple[Held, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tenant's cap on running outbound requests is 429 (retry shortly), not a failing provider (502)."""
    held, url = held_llm
    settings.outbound_requests_per_tenant = 1
    async with small_pool_client(committing_database_url, settings) as (api, _):
        owner = await register(api)
        agent = await _llm_agent(api, owner, url)
        first = asyncio.create_task(chat(api, owner, agent["id"], "Hello"))
        try:
            await held.arrived(1)  # the first chat holds the tenant's one slot
            monkeypatch.setattr(service, "thinker_for", _impatient_thinker)
            busy = await chat(api, owner, agent["id"], "Anyone there?")
        finally:
            held.release.set()
        assert_error(busy, 429, "outbound_busy")
        assert busy.headers["Retry-After"] == "1"
        assert (await first).status_code == 200
        calls = (await api.get("/api/v1/calls", headers=owner.headers)).json()
        assert calls["total"] == 1  # the refused message left no session behind
