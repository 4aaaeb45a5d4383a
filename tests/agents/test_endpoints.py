"""The agents API: configuration CRUD, the plan's agent quota, and the checks that an agent can run."""

import uuid
from typing import Any

import pytest
from httpx import AsyncClient

from tests.assertions import assert_error
from tests.factories import Account, add_user, api_key, register
from vocalis.models.user import Role
from vocalis.voice import catalog
from vocalis.voice.settings import DEFAULT_SYSTEM_PROMPT

API = "/api/v1/agents"
OPENAI_LLM = {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.3, "max_tokens": 120}


async def _agent(client: AsyncClient, owner: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(API, json={"name": "Receptionist", **fields}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _base(client: AsyncClient, owner: Account) -> str:
    response = await client.post("/api/v1/knowledge/bases", json={"name": "FAQ"}, headers=owner.headers)
    assert response.status_code == 201, response.text
    base_id: str = response.json()["id"]
    return base_id


async def _openai_credential(client: AsyncClient, owner: Account) -> str:
    body = {"provider": "openai", "api_key": "sk-agent-tests-00000000", "base_url": "http://127.0.0.1:9/v1"}
    response = await client.post("/api/v1/credentials", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    credential_id: str = response.json()["id"]
    return credential_id


# --- create, read, update, delete ---------------------------------------------------------------------------------


async def test_an_agent_gets_working_offline_defaults(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await _agent(client, owner)
    assert agent["tenant_id"] == str(owner.tenant_id)
    assert agent["language"] == "en"
    assert agent["system_prompt"] == DEFAULT_SYSTEM_PROMPT
    assert agent["first_message"] == "Hello! How can I help you today?"
    assert agent["knowledge_base_ids"] == []
    assert agent["stt"] == {"provider": "whisper", "model": "tiny.en", "keywords": []}
    assert agent["llm"] == {"provider": "extractive", "model": "extractive", "temperature": 0.7, "max_tokens": 250}
    assert agent["tts"] == {"provider": "hibari", "voice": "heart", "speed": 1.0}
    assert agent["turn_taking"]["interruptions"] is True
    assert agent["limits"]["max_duration_seconds"] == 600
    assert agent["end_call_phrases"] == ["goodbye", "bye", "that's all"]
    assert agent["recording_enabled"] is False


async def test_a_voice_provider_chosen_alone_brings_its_own_voice(client: AsyncClient) -> None:
    owner = await register(client)
    response = await client.post(API, json={"name": "x", "tts": {"provider": "piper"}}, headers=owner.headers)
    assert response.status_code == 201, response.text
    assert response.json()["tts"] == {"provider": "piper", "voice": "en_US-joe-medium", "speed": 1.0}


async def test_agent_crud(client: AsyncClient) -> None:
    owner = await register(client)
    base_id = await _base(client, owner)
    agent = await _agent(
        client,
        owner,
        name="Salon front desk",
        knowledge_base_ids=[base_id],
        stt={"provider": "whisper", "model": "tiny.en"},
        llm={"provider": "extractive", "model": "ignored for extractive"},
        turn_taking={"interruptions": False, "end_of_turn_silence_ms": 800},
        end_call_phrases=["see you"],
        recording_enabled=True,
    )
    assert agent["knowledge_base_ids"] == [base_id]
    assert agent["stt"]["model"] == "tiny.en"
    assert agent["llm"]["model"] == "extractive"
    assert agent["turn_taking"]["end_of_turn_silence_ms"] == 800
    assert (agent["end_call_phrases"], agent["recording_enabled"]) == (["see you"], True)

    got = await client.get(f"{API}/{agent['id']}", headers=owner.headers)
    assert got.status_code == 200 and got.json() == agent

    changed = await client.patch(
        f"{API}/{agent['id']}",
        json={"name": "Front desk", "first_message": None, "limits": {"max_duration_seconds": 120}},
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["first_message"]) == ("Front desk", None)
    # A group given replaces the stored one whole: the other limits are back to their defaults.
    assert body["limits"] == {
        "max_duration_seconds": 120,
        "silence_timeout_seconds": 20,
        "silence_reprompt": "Are you still there?",
    }
    assert body["knowledge_base_ids"] == [base_id] and body["turn_taking"] == agent["turn_taking"]
    assert body["updated_at"] >= agent["updated_at"]

    assert (await client.delete(f"{API}/{agent['id']}", headers=owner.headers)).status_code == 204
    assert_error(await client.get(f"{API}/{agent['id']}", headers=owner.headers), 404, "not_found")


async def test_an_agent_answers_for_the_tenants_business_unless_told_otherwise(client: AsyncClient) -> None:
    owner = await register(client, tenant_name="Bright Smile Dental")
    agent = await _agent(client, owner, name="Front desk")
    assert (agent["business_name"], agent["transfer_to"]) == ("Bright Smile Dental", None)
    assert agent["turn_taking"]["interruption_min_seconds"] == 0.8 and agent["turn_taking"]["end_of_speech_ms"] == 200

    own = await _agent(
        client, owner, name="Other", business_name="Smile Kids", transfer_to="555-0100", stt={"keywords": ["Okonkwo"]}
    )
    assert (own["business_name"], own["transfer_to"], own["stt"]["keywords"]) == ("Smile Kids", "555-0100", ["Okonkwo"])
    changed = await client.patch(f"{API}/{own['id']}", json={"transfer_to": None}, headers=owner.headers)
    assert changed.status_code == 200 and changed.json()["transfer_to"] is None
    assert changed.json()["business_name"] == "Smile Kids"


async def test_agents_are_listed_and_searched_by_name(client: AsyncClient) -> None:
    owner = await register(client)
    for name in ("Sales line", "Support line", "100% _literal_"):
        await _agent(client, owner, name=name)
    everyone = (await client.get(API, headers=owner.headers)).json()
    assert everyone["total"] == 3
    assert [item["name"] for item in everyone["items"]] == ["Sales line", "Support line", "100% _literal_"]

    async def names(search: str) -> list[str]:
        response = await client.get(API, params={"search": search}, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names("SUPPORT") == ["Support line"]
    assert await names("line") == ["Sales line", "Support line"]
    assert await names("%") == ["100% _literal_"]
    assert await names("_l") == ["100% _literal_"]
    assert await names("nothing") == []
    page = (await client.get(API, params={"page": 2, "page_size": 2}, headers=owner.headers)).json()
    assert (page["total"], page["pages"], [item["name"] for item in page["items"]]) == (3, 2, ["100% _literal_"])


# --- quota --------------------------------------------------------------------------------------------------------


async def test_the_free_plan_allows_three_agents(client: AsyncClient) -> None:
    owner = await register(client)
    for number in range(3):
        await _agent(client, owner, name=f"Agent {number}")
    error = assert_error(await client.post(API, json={"name": "Fourth"}, headers=owner.headers), 402, "quota_exceeded")
    assert error["details"] == {"resource": "agents", "limit": 3, "used": 3, "plan": "free"}

    stats = await client.get(f"/api/v1/tenants/{owner.tenant_id}/statistics", headers=owner.headers)
    assert stats.json()["usage"]["agents"] == {"used": 3, "limit": 3}

    first = (await client.get(API, headers=owner.headers)).json()["items"][0]
    assert (await client.delete(f"{API}/{first['id']}", headers=owner.headers)).status_code == 204
    await _agent(client, owner, name="Fourth, now that there is room")


# --- what an agent may use ----------------------------------------------------------------------------------------


async def test_unknown_and_foreign_knowledge_bases_are_invalid(client: AsyncClient) -> None:
    owner = await register(client)
    own = await _base(client, owner)
    foreign = await _base(client, await register(client))
    unknown = str(uuid.uuid4())
    response = await client.post(
        API, json={"name": "x", "knowledge_base_ids": [own, foreign, unknown, foreign]}, headers=owner.headers
    )
    error = assert_error(response, 422, "invalid_input")
    assert error["details"] == {"field": "knowledge_base_ids", "unknown_ids": [foreign, unknown]}
    assert foreign in error["message"] and unknown in error["message"] and own not in error["message"]

    agent = await _agent(client, owner, knowledge_base_ids=[own])
    patched = await client.patch(f"{API}/{agent['id']}", json={"knowledge_base_ids": [foreign]}, headers=owner.headers)
    assert assert_error(patched, 422, "invalid_input")["details"]["unknown_ids"] == [foreign]
    assert (await client.get(f"{API}/{agent['id']}", headers=owner.headers)).json()["knowledge_base_ids"] == [own]
    assert (await client.get(API, headers=owner.headers)).json()["total"] == 1


async def test_a_knowledge_base_named_twice_is_kept_once(client: AsyncClient) -> None:
    owner = await register(client)
    first, second = await _base(client, owner), await _base(client, owner)
    agent = await _agent(client, owner, knowledge_base_ids=[first, second, first])
    assert agent["knowledge_base_ids"] == [first, second]
    patched = await client.patch(
        f"{API}/{agent['id']}", json={"knowledge_base_ids": [second, second]}, headers=owner.headers
    )
    assert patched.json()["knowledge_base_ids"] == [second]


async def test_the_openai_llm_needs_an_openai_credential(client: AsyncClient) -> None:
    owner = await register(client)
    error = assert_error(
        await client.post(API, json={"name": "x", "llm": OPENAI_LLM}, headers=owner.headers), 422, "invalid_input"
    )
    assert error["message"] == (
        "Add an 'openai' credential (POST /api/v1/credentials) before choosing the openai LLM provider"
    )
    assert error["details"] == {"field": "llm.provider", "missing_credential": "openai"}

    agent = await _agent(client, owner)
    refused = await client.patch(f"{API}/{agent['id']}", json={"llm": OPENAI_LLM}, headers=owner.headers)
    assert_error(refused, 422, "invalid_input")

    credential_id = await _openai_credential(client, owner)
    switched = await client.patch(f"{API}/{agent['id']}", json={"llm": OPENAI_LLM}, headers=owner.headers)
    assert switched.status_code == 200, switched.text
    assert switched.json()["llm"] == OPENAI_LLM
    created = await _agent(client, owner, llm=OPENAI_LLM)

    # Deleting the credential is allowed; the agents stay as they are and can still be edited.
    assert (await client.delete(f"/api/v1/credentials/{credential_id}", headers=owner.headers)).status_code == 204
    renamed = await client.patch(f"{API}/{created['id']}", json={"name": "Still here"}, headers=owner.headers)
    assert renamed.status_code == 200 and renamed.json()["llm"] == OPENAI_LLM


async def test_the_openai_llm_needs_a_model_name(client: AsyncClient) -> None:
    owner = await register(client)
    await _openai_credential(client, owner)
    response = await client.post(API, json={"name": "x", "llm": {"provider": "openai"}}, headers=owner.headers)
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["body", "llm"]
    assert "name the chat model" in error["details"]["errors"][0]["msg"]


@pytest.mark.parametrize(
    ("field", "body", "choice"),
    [
        ("stt", {"stt": {"provider": "whisper", "model": "tiny.en"}}, ("stt", "whisper", "tiny.en")),
        ("tts", {}, ("tts", "hibari", "heart")),
        ("tts", {"tts": {"provider": "piper"}}, ("tts", "piper", "en_US-joe-medium")),
    ],
)
async def test_speech_models_must_be_installed(
    client: AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    body: dict[str, Any],
    choice: tuple[str, str, str],
) -> None:
    installed = catalog.missing_packages

    def without_one(kind: str, provider: str, model: str) -> list[str]:
        return ["some_voice_package"] if (kind, provider, model) == choice else installed(kind, provider, model)

    monkeypatch.setattr(catalog, "missing_packages", without_one)
    owner = await register(client)
    error = assert_error(
        await client.post(API, json={"name": "x", **body}, headers=owner.headers), 422, "invalid_input"
    )
    assert error["details"] == {
        "field": field,
        "provider": choice[1],
        "model": choice[2],
        "missing_packages": ["some_voice_package"],
    }
    assert "some_voice_package" in error["message"]
    assert (await client.get(API, headers=owner.headers)).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x", "language": "fr"}, "language"),
        ({"name": "x", "stt": {"provider": "deepgram"}}, "provider"),
        ({"name": "x", "stt": {"model": "large"}}, "model"),
        ({"name": "x", "llm": {"provider": "extractive", "temperature": 3}}, "temperature"),
        ({"name": "x", "tts": {"voice": "someone"}}, "voice"),
        ({"name": "x", "tts": {"provider": "piper", "voice": "heart"}}, "tts"),
        ({"name": "x", "turn_taking": {"end_of_turn_silence_ms": 10}}, "end_of_turn_silence_ms"),
        ({"name": "x", "turn_taking": {"end_of_speech_ms": 5000}}, "end_of_speech_ms"),
        ({"name": "x", "stt": {"keywords": [""]}}, "keywords"),
        ({"name": "x", "stt": {"keywords": ["x"] * 101}}, "keywords"),
        ({"name": "x", "business_name": ""}, "business_name"),
        ({"name": "x", "transfer_to": "x" * 201}, "transfer_to"),
        ({"name": "x", "limits": {"max_duration_seconds": 0}}, "max_duration_seconds"),
        ({"name": "x", "knowledge_base_ids": ["not-a-uuid"]}, "knowledge_base_ids"),
        ({"name": "x", "end_call_phrases": [""]}, "end_call_phrases"),
        ({"name": "x", "owner": "me"}, "owner"),
    ],
)
async def test_invalid_agents_are_refused(client: AsyncClient, body: dict[str, Any], field: str) -> None:
    owner = await register(client)
    error = assert_error(await client.post(API, json=body, headers=owner.headers), 422, "validation_error")
    assert any(field in item["loc"] for item in error["details"]["errors"]), error


async def test_invalid_updates_are_refused(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await _agent(client, owner)
    for body in ({"name": ""}, {"stt": {"model": "huge"}}, {"tenant_id": str(uuid.uuid4())}, {"id": agent["id"]}):
        response = await client.patch(f"{API}/{agent['id']}", json=body, headers=owner.headers)
        assert_error(response, 422, "validation_error")
    assert (await client.get(f"{API}/{agent['id']}", headers=owner.headers)).json() == agent


# --- who may ------------------------------------------------------------------------------------------------------


async def test_viewers_read_agents_and_members_build_them(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await _agent(client, owner)
    viewer = await add_user(client, owner, Role.VIEWER)
    assert (await client.get(f"{API}/{agent['id']}", headers=viewer.headers)).status_code == 200
    assert (await client.get(API, headers=viewer.headers)).json()["total"] == 1
    for method, path, body in [
        ("POST", API, {"name": "x"}),
        ("PATCH", f"{API}/{agent['id']}", {"name": "Taken"}),
        ("DELETE", f"{API}/{agent['id']}", None),
    ]:
        error = assert_error(await client.request(method, path, json=body, headers=viewer.headers), 403, "forbidden")
        assert error["details"] == {"permission": "agents:write"}

    member = await add_user(client, owner, Role.MEMBER)
    made = await _agent(client, member, name="By a member")
    changed = await client.patch(f"{API}/{made['id']}", json={"name": "Renamed"}, headers=member.headers)
    assert changed.status_code == 200
    key_headers = {"X-API-Key": await api_key(client, owner)}
    assert (await client.delete(f"{API}/{made['id']}", headers=key_headers)).status_code == 204


async def test_another_tenants_agent_is_not_found(client: AsyncClient) -> None:
    owner = await register(client)
    agent = await _agent(client, owner)
    other = await register(client)
    for method, body in [("GET", None), ("PATCH", {"name": "Taken"}), ("DELETE", None)]:
        response = await client.request(method, f"{API}/{agent['id']}", json=body, headers=other.headers)
        assert_error(response, 404, "not_found")
    assert (await client.get(API, headers=other.headers)).json()["total"] == 0
    assert (await client.get(f"{API}/{agent['id']}", headers=owner.headers)).json() == agent
