"""The credentials API: provider keys stored encrypted, shown masked, tested against (stand-ins of) the providers."""

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from httpx import ASGITransport, AsyncClient
from loguru import logger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.assertions import assert_error
from tests.factories import Account, add_user, api_key, register
from tests.standins.deepgram import DeepgramStandIn
from tests.standins.elevenlabs import ElevenLabsStandIn
from tests.standins.openai import OpenAIStandIn
from tests.standins.server import serve
from vocalis.app import create_app
from vocalis.config import Settings
from vocalis.credentials import service as credentials
from vocalis.credentials.service import CredentialUnreadable
from vocalis.database import migrate
from vocalis.kit import crypto
from vocalis.kit.db import Database
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.models.credential import ProviderCredential
from vocalis.models.user import Role

API = "/api/v1/credentials"
OPENAI_KEY = "sk-proj-standin-0123456789abcd"
ELEVENLABS_KEY = "xi-standin-key-5678efgh"
DEEPGRAM_KEY = "dg-standin-key-9012ijkl"
# A port nothing listens on: connections are refused at once.
CLOSED = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def openai_url() -> Iterator[str]:
    with serve(OpenAIStandIn(OPENAI_KEY).app) as url:
        yield f"{url}/v1"


@pytest.fixture(scope="module")
def elevenlabs_url() -> Iterator[str]:
    with serve(ElevenLabsStandIn(ELEVENLABS_KEY).app) as url:
        yield url


@pytest.fixture(scope="module")
def deepgram_url() -> Iterator[str]:
    with serve(DeepgramStandIn(DEEPGRAM_KEY).app) as url:
        yield url


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


async def _create(client: AsyncClient, owner: Account, **fields: Any) -> dict[str, Any]:
    body = {"provider": "openai", "api_key": OPENAI_KEY, **fields}
    response = await client.post(API, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _check(client: AsyncClient, owner: Account, credential_id: str) -> dict[str, Any]:
    response = await client.post(f"{API}/{credential_id}/test", headers=owner.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --- create, read, update, delete -------------------------------------------------------------------------------


async def test_credential_crud_never_shows_the_key(client: AsyncClient) -> None:
    owner = await register(client)
    created = await _create(client, owner)
    assert created["provider"] == "openai"
    assert created["name"] == "OpenAI"
    assert created["base_url"] == "https://api.openai.com/v1"
    assert created["api_key_hint"] == "…abcd"
    assert created["tenant_id"] == str(owner.tenant_id)
    assert (created["last_tested_at"], created["last_test_ok"], created["last_test_error"]) == (None, None, None)
    assert "api_key" not in created and "encrypted_api_key" not in created

    listed = await client.get(API, headers=owner.headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["id"] == created["id"]
    got = await client.get(f"{API}/{created['id']}", headers=owner.headers)
    assert got.json() == created

    renamed = await client.patch(f"{API}/{created['id']}", json={"name": "Main account"}, headers=owner.headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Main account"
    assert renamed.json()["api_key_hint"] == "…abcd"

    for response in (listed, got, renamed):
        assert OPENAI_KEY not in response.text

    assert (await client.delete(f"{API}/{created['id']}", headers=owner.headers)).status_code == 204
    assert_error(await client.get(f"{API}/{created['id']}", headers=owner.headers), 404, "not_found")
    assert (await client.get(API, headers=owner.headers)).json()["total"] == 0


async def test_each_provider_has_its_default_base_url(client: AsyncClient) -> None:
    owner = await register(client)
    eleven = await _create(client, owner, provider="elevenlabs", api_key=ELEVENLABS_KEY)
    deepgram = await _create(client, owner, provider="deepgram", api_key=DEEPGRAM_KEY, name="Transcription")
    assert (eleven["name"], eleven["base_url"]) == ("ElevenLabs", "https://api.elevenlabs.io")
    assert (deepgram["name"], deepgram["base_url"]) == ("Transcription", "https://api.deepgram.com")
    listed = (await client.get(API, headers=owner.headers)).json()
    assert [item["provider"] for item in listed["items"]] == ["deepgram", "elevenlabs"]


async def test_an_openai_compatible_server_may_be_used(client: AsyncClient, settings: Settings) -> None:
    settings.outbound_allowed_hosts = ["localhost:11434"]  # the operator allows the local Ollama
    owner = await register(client)
    created = await _create(client, owner, api_key="ollama", base_url="http://localhost:11434/v1/")
    assert created["base_url"] == "http://localhost:11434/v1"
    # A key this short would be given away by its last characters.
    assert created["api_key_hint"] == "…"


async def test_the_key_is_encrypted_at_rest(client: AsyncClient, session: AsyncSession, settings: Settings) -> None:
    owner = await register(client)
    created = await _create(client, owner)
    stored = await session.scalar(select(ProviderCredential).where(ProviderCredential.tenant_id == owner.tenant_id))
    assert stored is not None and str(stored.id) == created["id"]
    assert OPENAI_KEY.encode() not in stored.encrypted_api_key
    context = credentials.key_context(stored.tenant_id, stored.id)
    assert crypto.decrypt(settings.signing_key, stored.encrypted_api_key, context) == OPENAI_KEY


async def test_one_credential_per_provider(client: AsyncClient) -> None:
    owner = await register(client)
    first = await _create(client, owner)
    error = assert_error(
        await client.post(API, json={"provider": "openai", "api_key": "sk-other-key-0000"}, headers=owner.headers),
        409,
        "conflict",
    )
    assert error["details"] == {"provider": "openai", "credential_id": first["id"]}
    assert "sk-other-key-0000" not in error["message"]
    # Another tenant may have its own.
    await _create(client, await register(client))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"api_key": OPENAI_KEY}, "provider"),
        ({"provider": "anthropic", "api_key": OPENAI_KEY}, "provider"),
        ({"provider": "openai"}, "api_key"),
        ({"provider": "openai", "api_key": ""}, "api_key"),
        ({"provider": "openai", "api_key": "sk with spaces"}, "api_key"),
        ({"provider": "openai", "api_key": "sk-ключ"}, "api_key"),
        ({"provider": "openai", "api_key": "k" * 501}, "api_key"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "ftp://example.com"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "not a url"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "http://"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "https://u:p@example.com/v1"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "https://example.com/v1?x=1"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "https://example.com/v1?"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "https://example.com/v1#"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "https://example.com/v1#x"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "https://example.com:99999"}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "base_url": "https://e.com/" + "v" * 490}, "base_url"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "name": ""}, "name"),
        ({"provider": "openai", "api_key": OPENAI_KEY, "secret": "x"}, "secret"),
    ],
)
async def test_invalid_credentials_are_refused(client: AsyncClient, body: dict[str, Any], field: str) -> None:
    owner = await register(client)
    error = assert_error(await client.post(API, json=body, headers=owner.headers), 422, "validation_error")
    assert any(field in item["loc"] for item in error["details"]["errors"]), error
    assert OPENAI_KEY not in str(error)


async def test_invalid_updates_are_refused(client: AsyncClient) -> None:
    owner = await register(client)
    created = await _create(client, owner)
    for body in ({"base_url": "javascript:alert(1)"}, {"api_key": ""}, {"provider": "deepgram"}):
        response = await client.patch(f"{API}/{created['id']}", json=body, headers=owner.headers)
        assert_error(response, 422, "validation_error")


async def test_rotating_the_key_or_the_url_clears_the_last_test(client: AsyncClient, openai_url: str) -> None:
    owner = await register(client)
    created = await _create(client, owner, api_key="sk-old-key-000000wxyz", base_url=openai_url)
    assert (await _check(client, owner, created["id"]))["ok"] is False

    rotated = await client.patch(f"{API}/{created['id']}", json={"api_key": OPENAI_KEY}, headers=owner.headers)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["api_key_hint"] == "…abcd"
    assert (rotated.json()["last_tested_at"], rotated.json()["last_test_ok"]) == (None, None)
    assert (await _check(client, owner, created["id"]))["ok"] is True

    reset = await client.patch(
        f"{API}/{created['id']}", json={"base_url": None, "api_key": OPENAI_KEY}, headers=owner.headers
    )
    assert reset.json()["base_url"] == "https://api.openai.com/v1"
    assert reset.json()["last_test_ok"] is None
    assert reset.json()["api_key_hint"] == "…abcd"


# --- testing keys with the providers ------------------------------------------------------------------------------


async def test_a_good_openai_key_passes(client: AsyncClient, openai_url: str) -> None:
    owner = await register(client)
    created = await _create(client, owner, base_url=openai_url)
    result = await _check(client, owner, created["id"])
    assert result["ok"] is True and result["error"] is None
    stored = (await client.get(f"{API}/{created['id']}", headers=owner.headers)).json()
    assert stored["last_test_ok"] is True and stored["last_test_error"] is None
    assert stored["last_tested_at"] == result["tested_at"]


async def test_a_refused_key_is_a_result_not_an_error(client: AsyncClient, openai_url: str) -> None:
    owner = await register(client)
    wrong = "sk-wrong-key-0000000000"
    created = await _create(client, owner, api_key=wrong, base_url=openai_url)
    result = await _check(client, owner, created["id"])
    assert result["ok"] is False
    assert result["error"] == "The provider refused the key (401)"  # the server's own words stay in the log
    stored = (await client.get(f"{API}/{created['id']}", headers=owner.headers)).json()
    assert (stored["last_test_ok"], stored["last_test_error"]) == (False, result["error"])


async def test_an_unreachable_server_is_a_result_not_an_error(client: AsyncClient) -> None:
    owner = await register(client)
    created = await _create(client, owner, base_url=CLOSED)
    result = await _check(client, owner, created["id"])
    assert result["ok"] is False
    assert result["error"] == f"Could not reach {CLOSED} (ConnectError)"


async def test_a_silent_server_times_out(client: AsyncClient, settings: Settings, silent_url: str) -> None:
    settings.provider_test_timeout_seconds = 0.3
    owner = await register(client)
    created = await _create(client, owner, base_url=silent_url)
    result = await _check(client, owner, created["id"])
    assert (result["ok"], result["error"]) == (False, f"{silent_url} did not answer within 0.3 s")


async def test_a_wrong_base_url_is_explained(client: AsyncClient, openai_url: str) -> None:
    owner = await register(client)
    created = await _create(client, owner, base_url=openai_url.removesuffix("/v1"))
    result = await _check(client, owner, created["id"])
    assert result["ok"] is False
    assert result["error"] == (
        f"The provider answered 404 at {openai_url.removesuffix('/v1')}/models; check the base URL "
        "(for OpenAI-compatible servers it usually ends in /v1)"
    )


@pytest.mark.parametrize("provider", ["elevenlabs", "deepgram"])
async def test_elevenlabs_and_deepgram_keys_are_checked(
    client: AsyncClient, provider: str, elevenlabs_url: str, deepgram_url: str
) -> None:
    url, key, refusal = {
        "elevenlabs": (elevenlabs_url, ELEVENLABS_KEY, "401"),
        "deepgram": (deepgram_url, DEEPGRAM_KEY, "401"),
    }[provider]
    owner = await register(client)
    created = await _create(client, owner, provider=provider, api_key=key, base_url=url)
    assert await _check(client, owner, created["id"]) == {
        "ok": True,
        "error": None,
        "tested_at": (await client.get(f"{API}/{created['id']}", headers=owner.headers)).json()["last_tested_at"],
    }
    await client.patch(f"{API}/{created['id']}", json={"api_key": key + "-wrong"}, headers=owner.headers)
    result = await _check(client, owner, created["id"])
    assert (result["ok"], result["error"]) == (False, f"The provider refused the key ({refusal})")


async def test_a_server_that_echoes_the_key_does_not_leak_it(client: AsyncClient) -> None:
    async def echo(request: Request) -> JSONResponse:
        sent = request.headers.get("authorization", "")
        return JSONResponse({"error": {"message": f"Bad key: {sent}"}}, status_code=401)

    owner = await register(client)
    with serve(Starlette(routes=[Route("/v1/models", echo)])) as url:
        created = await _create(client, owner, base_url=f"{url}/v1")
        result = await _check(client, owner, created["id"])
    assert result["ok"] is False
    assert OPENAI_KEY not in result["error"]
    assert result["error"] == "The provider refused the key (401)"


async def test_a_key_sealed_with_another_secret_is_reported(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await register(client)
    created = await _create(client, owner)
    stored = await session.scalar(select(ProviderCredential).where(ProviderCredential.tenant_id == owner.tenant_id))
    assert stored is not None
    context = credentials.key_context(stored.tenant_id, stored.id)
    stored.encrypted_api_key = crypto.encrypt("an-older-secret-key", OPENAI_KEY, context)
    await session.flush()
    result = await _check(client, owner, created["id"])
    assert result["ok"] is False and "cannot be decrypted" in result["error"]


async def test_a_key_copied_to_another_row_does_not_decrypt(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner, other = await register(client), await register(client)
    await _create(client, owner)
    await _create(client, owner, provider="deepgram", api_key=DEEPGRAM_KEY)
    await _create(client, other, api_key="sk-the-other-tenants-key-0000")
    rows = (await session.scalars(select(ProviderCredential))).all()
    (openai,) = [row for row in rows if row.tenant_id == owner.tenant_id and row.provider == "openai"]
    (deepgram,) = [row for row in rows if row.tenant_id == owner.tenant_id and row.provider == "deepgram"]
    (foreign,) = [row for row in rows if row.tenant_id == other.tenant_id]
    # Someone who can write to the database moves the owner's OpenAI key to another tenant and to another credential.
    foreign.encrypted_api_key = deepgram.encrypted_api_key = openai.encrypted_api_key
    await session.flush()
    with pytest.raises(CredentialUnreadable):
        await credentials.resolve(session, settings, other.tenant_id, "openai")
    with pytest.raises(CredentialUnreadable):
        await credentials.resolve(session, settings, owner.tenant_id, "deepgram")
    resolved = await credentials.resolve(session, settings, owner.tenant_id, "openai")
    assert resolved is not None and resolved.api_key == OPENAI_KEY


async def test_a_key_sealed_in_the_older_form_still_works_and_is_sealed_again(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await register(client)
    await _create(client, owner)
    stored = await session.scalar(select(ProviderCredential).where(ProviderCredential.tenant_id == owner.tenant_id))
    assert stored is not None
    # Version 1 (before issue 9) authenticated only its version byte.
    header, nonce = bytes([crypto.LEGACY_VERSION]), os.urandom(crypto.NONCE_BYTES)
    key = crypto.derive_key(settings.signing_key, crypto.SECRETS_AT_REST)
    stored.encrypted_api_key = header + nonce + AESGCM(key).encrypt(nonce, OPENAI_KEY.encode(), header)
    await session.flush()
    resolved = await credentials.resolve(session, settings, owner.tenant_id, "openai")
    assert resolved is not None and resolved.api_key == OPENAI_KEY
    await session.flush()
    await session.refresh(stored)
    assert crypto.is_current(stored.encrypted_api_key)
    context = credentials.key_context(owner.tenant_id, stored.id)
    assert crypto.decrypt(settings.signing_key, stored.encrypted_api_key, context) == OPENAI_KEY


async def test_the_key_never_reaches_the_logs(client: AsyncClient, openai_url: str) -> None:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG")
    try:
        owner = await register(client)
        created = await _create(client, owner, base_url=openai_url)
        await _check(client, owner, created["id"])
        await client.patch(f"{API}/{created['id']}", json={"api_key": OPENAI_KEY + "x"}, headers=owner.headers)
        await client.post(API, json={"provider": "openai", "api_key": OPENAI_KEY}, headers=owner.headers)
    finally:
        logger.remove(sink)
    assert any(API in line for line in lines), "the access log was not captured"
    assert not [line for line in lines if OPENAI_KEY in line]


# --- who may ------------------------------------------------------------------------------------------------------


async def test_only_owners_and_admins_handle_credentials(client: AsyncClient) -> None:
    owner = await register(client)
    created = await _create(client, owner)
    admin = await add_user(client, owner, Role.ADMIN)
    assert (await client.get(f"{API}/{created['id']}", headers=admin.headers)).status_code == 200
    renamed = await client.patch(f"{API}/{created['id']}", json={"name": "By admin"}, headers=admin.headers)
    assert renamed.status_code == 200

    member = await add_user(client, owner, Role.MEMBER)
    viewer = await add_user(client, owner, Role.VIEWER)
    key_headers = {"X-API-Key": await api_key(client, owner)}
    for headers in (member.headers, viewer.headers, key_headers):
        for method, path, body in [
            ("GET", API, None),
            ("GET", f"{API}/{created['id']}", None),
            ("POST", API, {"provider": "deepgram", "api_key": DEEPGRAM_KEY}),
            ("PATCH", f"{API}/{created['id']}", {"name": "Taken"}),
            ("POST", f"{API}/{created['id']}/test", None),
            ("DELETE", f"{API}/{created['id']}", None),
        ]:
            response = await client.request(method, path, json=body, headers=headers)
            error = assert_error(response, 403, "forbidden")
            assert error["details"]["permission"].startswith("credentials:")
    assert (await client.get(f"{API}/{created['id']}", headers=owner.headers)).json()["name"] == "By admin"


async def test_another_tenants_credential_is_not_found(client: AsyncClient) -> None:
    owner = await register(client)
    created = await _create(client, owner)
    other = await register(client)
    for method, path, body in [
        ("GET", f"{API}/{created['id']}", None),
        ("PATCH", f"{API}/{created['id']}", {"api_key": "sk-planted-key-000000"}),
        ("POST", f"{API}/{created['id']}/test", None),
        ("DELETE", f"{API}/{created['id']}", None),
    ]:
        assert_error(await client.request(method, path, json=body, headers=other.headers), 404, "not_found")
    assert (await client.get(API, headers=other.headers)).json()["total"] == 0
    assert (await client.get(f"{API}/{created['id']}", headers=owner.headers)).json()["api_key_hint"] == "…abcd"


# --- for other domains --------------------------------------------------------------------------------------------


async def test_resolve_gives_the_decrypted_key(client: AsyncClient, session: AsyncSession, settings: Settings) -> None:
    settings.outbound_allowed_hosts = ["localhost:11434"]
    owner = await register(client)
    await _create(client, owner, base_url="http://localhost:11434/v1")
    resolved = await credentials.resolve(session, settings, owner.tenant_id, "openai")
    assert resolved is not None
    assert (resolved.api_key, resolved.base_url) == (OPENAI_KEY, "http://localhost:11434/v1")
    assert OPENAI_KEY not in repr(resolved)
    assert await credentials.resolve(session, settings, owner.tenant_id, "deepgram") is None
    assert await credentials.has(session, owner.tenant_id, "openai")
    assert not await credentials.has(session, owner.tenant_id, "elevenlabs")

    # A copy would keep the cached signing key: a new Settings is a server restarted with another secret.
    rotated = Settings(environment="test", data_dir=settings.data_dir, secret_key="a-new-secret-key-" + "y" * 32)
    with pytest.raises(CredentialUnreadable, match="cannot be decrypted") as raised:
        await credentials.resolve(session, rotated, owner.tenant_id, "openai")
    assert OPENAI_KEY not in str(raised.value)


# --- outbound safety (issue 9) ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:6379",
        "http://2130706433/v1",
        "http://0x7f.1/v1",
        "http://169.254.169.254/latest",
        "http://[fd00:ec2::254]/v1",
        "http://[::ffff:127.0.0.1]/v1",
        "http://0.0.0.0:5432",
        "http://localhost:11434/v1",
        "http://metadata.google.internal/computeMetadata/v1",
    ],
)
async def test_a_base_url_at_an_internal_address_is_refused(
    client: AsyncClient, settings: Settings, base_url: str
) -> None:
    settings.outbound_allowed_hosts = []
    owner = await register(client)
    error = assert_error(await _post(client, owner, base_url=base_url), 422, "invalid_input")
    assert error["details"] == {"field": "base_url"} and "VOCALIS_OUTBOUND_ALLOWED_HOSTS" in error["message"]
    created = await _create(client, owner)
    patched = await client.patch(
        f"{API}/{created['id']}", json={"base_url": base_url, "api_key": OPENAI_KEY}, headers=owner.headers
    )
    assert_error(patched, 422, "invalid_input")


async def test_changing_the_base_url_needs_the_key_again(client: AsyncClient, openai_url: str) -> None:
    """The stored key must not follow the URL to a server of the caller's choosing."""
    owner = await register(client)
    created = await _create(client, owner, base_url=openai_url)
    path = f"{API}/{created['id']}"
    moved = await client.patch(path, json={"base_url": "https://attacker.example/v1"}, headers=owner.headers)
    error = assert_error(moved, 422, "invalid_input")
    assert error["details"] == {"field": "api_key"} and "api_key" in error["message"]
    assert (await client.get(path, headers=owner.headers)).json()["base_url"] == openai_url
    assert (await client.patch(path, json={"base_url": None}, headers=owner.headers)).status_code == 422
    same = await client.patch(path, json={"base_url": openai_url, "name": "Mine"}, headers=owner.headers)
    assert same.status_code == 200, same.text
    both = {"base_url": "https://llm.example/v1", "api_key": "sk-another-key-0000"}
    assert (await client.patch(path, json=both, headers=owner.headers)).json()["base_url"] == both["base_url"]


async def test_a_refused_address_looks_the_same_whether_a_server_listens_or_not(
    client: AsyncClient, settings: Settings, openai_url: str
) -> None:
    """Credentials stored before an operator withdrew the host (or a name resolving inside) are checked at request
    time; an open port and a closed one answer alike, so the test cannot scan the server's network."""
    owner, other = await register(client), await register(client)
    listening = await _create(client, owner, base_url=openai_url)
    closed = await _create(client, other, base_url=CLOSED)
    settings.outbound_allowed_hosts = []
    results = [await _check(client, owner, listening["id"]), await _check(client, other, closed["id"])]
    assert [result["error"] for result in results] == [
        "127.0.0.1 resolves to an address this server does not call (private, loopback or link-local); "
        "an operator can allow a host with VOCALIS_OUTBOUND_ALLOWED_HOSTS"
    ] * 2


async def test_the_test_never_shows_what_the_server_said(client: AsyncClient) -> None:
    lines: list[str] = []

    async def chatty(request: Request) -> JSONResponse:
        status = int(request.path_params["status"])
        return JSONResponse({"error": {"message": "-ERR wrong number of arguments for 'get' command"}}, status)

    routes = [Route("/{status}/models", chatty)]
    owner = await register(client)
    sink = logger.add(lambda message: lines.append(str(message)), level="INFO")
    try:
        with serve(Starlette(routes=routes)) as url:
            created = await _create(client, owner, base_url=f"{url}/500")
            failed = await _check(client, owner, created["id"])
            await client.patch(
                f"{API}/{created['id']}", json={"base_url": f"{url}/404", "api_key": OPENAI_KEY}, headers=owner.headers
            )
            missing = await _check(client, owner, created["id"])
    finally:
        logger.remove(sink)
    assert failed["error"] == "The provider answered 500"
    assert missing["error"].startswith(f"The provider answered 404 at {url}/404/models; check the base URL")
    assert "ERR" not in failed["error"] + missing["error"]
    assert any("-ERR wrong number" in line for line in lines)  # for the operator


async def _post(client: AsyncClient, owner: Account, **fields: Any) -> Any:
    return await client.post(API, json={"provider": "openai", "api_key": OPENAI_KEY, **fields}, headers=owner.headers)


@pytest.fixture(scope="module")
def committing_database_url(postgres: EmbeddedPostgres) -> str:
    """A database of this module's own: the pool test's app commits, which the rolled-back tests never do."""
    url = postgres.create_database("vocalis_credentials_pool")
    migrate(url)
    return url


async def test_waiting_on_providers_holds_no_database_connection(
    committing_database_url: str, settings: Settings
) -> None:
    """Credential tests against a server that does not answer leave the pool free for everyone else."""
    probes, arrived, release = 6, threading.Semaphore(0), threading.Event()

    async def stuck(request: Request) -> JSONResponse:
        arrived.release()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 60)
        return JSONResponse({"data": []})

    database = Database.connect(committing_database_url, pool_size=2, max_overflow=0, pool_timeout=30)
    app = create_app(settings, database=database)
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as api:
            with serve(Starlette(routes=[Route("/v1/models", stuck)])) as url:
                owners = [await register(api) for _ in range(probes)]
                created = [await _create(api, owner, base_url=f"{url}/v1") for owner in owners]
                tests = [
                    asyncio.create_task(_check(api, owner, credential["id"]))
                    for owner, credential in zip(owners, created, strict=True)
                ]
                try:
                    for _ in range(probes):  # every test is now waiting on the provider
                        assert await asyncio.to_thread(arrived.acquire, True, 30), "a test never reached the provider"
                    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
                    bystander = await register(api)
                    listed = await api.get(API, headers=bystander.headers)
                    assert listed.status_code == 200 and not any(task.done() for task in tests)
                finally:
                    release.set()
                assert all(result["ok"] for result in await asyncio.gather(*tests))
    finally:
        await database.dispose()
