"""The tenant-isolation matrix, generated from the app's route table.

Every API route that takes an id in its path is called by every principal of tenant B (each role, and B's API key)
with the ids of tenant A's objects. Each call must answer exactly as it does for an id that does not exist (404, or
403 where the route is role-gated for that principal), must not mention A's ids or emails, and must leave A's
objects as they were. A new route is covered without anyone remembering to add it; a new kind of id makes these
tests fail until `OBJECT_MAKERS` learns how to make such an object in tenant A. Ids sent in request bodies cannot be
read off the route table; `BODY_REFERENCES` lists the routes that take them.
"""

import itertools
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import AsyncClient, Response
from sqlalchemy import true

from tests.conftest import unique
from tests.factories import Account, add_user, api_key, register
from vocalis.app import create_app
from vocalis.calls import service as calls
from vocalis.config import Settings
from vocalis.kit import db
from vocalis.kit.db import Database
from vocalis.models.user import Role
from vocalis.voice.engine import CallOutcome
from vocalis.voice.recorder import TurnRecord
from vocalis.voice.usage import ProviderUsage

API_PREFIX = "/api/v1"


@pytest.fixture(autouse=True, params=["app filter and database", "database alone"])
def tenant_filter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs twice: the second time with the application's own tenant filter (`kit.db.owned_by`, which
    every repository's tenant_select/update/delete goes through) switched off, so that PostgreSQL's row-level
    security alone must keep tenant B out of tenant A's rows."""
    if request.param == "database alone":
        monkeypatch.setattr(db, "owned_by", lambda model, tenant_id: true())
    return str(request.param)


# How to make tenant A's objects for each kind of path id: given A's owner and the objects made so far (makers run
# in this order), return the ids of objects of that kind in tenant A. A new domain with a `{thing_id}` adds one here.
# Makers use the API; the app is there for objects no route makes (a call's recording comes from the call engine).
ObjectMaker = Callable[[AsyncClient, Account, dict[str, list[uuid.UUID]], FastAPI], Awaitable[list[uuid.UUID]]]


async def _make_users(
    client: AsyncClient, owner: Account, _: dict[str, list[uuid.UUID]], _app: FastAPI
) -> list[uuid.UUID]:
    admin = await add_user(client, owner, Role.ADMIN)
    viewer = await add_user(client, owner, Role.VIEWER)
    return [owner.user_id, admin.user_id, viewer.user_id]


async def _make_tenants(
    client: AsyncClient, owner: Account, _: dict[str, list[uuid.UUID]], _app: FastAPI
) -> list[uuid.UUID]:
    return [owner.tenant_id]


async def _make_bases(
    client: AsyncClient, owner: Account, _: dict[str, list[uuid.UUID]], _app: FastAPI
) -> list[uuid.UUID]:
    response = await client.post(
        "/api/v1/knowledge/bases", json={"name": f"Alpha {unique('kb')}"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    return [uuid.UUID(response.json()["id"])]


async def _make_documents(
    client: AsyncClient, owner: Account, made: dict[str, list[uuid.UUID]], _app: FastAPI
) -> list[uuid.UUID]:
    response = await client.post(
        f"/api/v1/knowledge/bases/{made['base_id'][0]}/documents",
        json={"title": f"Alpha {unique('doc')}", "text": "Tenant A's private notes."},
        headers=owner.headers,
    )
    assert response.status_code == 202, response.text
    return [uuid.UUID(response.json()["id"])]


# Tenant A's provider key: no answer to B may contain it (nor may any answer to A, see tests/credentials).
A_PROVIDER_KEY = "sk-alpha-provider-key-" + "a" * 24


async def _make_credentials(
    client: AsyncClient, owner: Account, _: dict[str, list[uuid.UUID]], _app: FastAPI
) -> list[uuid.UUID]:
    body = {"provider": "openai", "api_key": A_PROVIDER_KEY, "base_url": "http://127.0.0.1:9/v1"}
    response = await client.post("/api/v1/credentials", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return [uuid.UUID(response.json()["id"])]


async def _make_agents(
    client: AsyncClient, owner: Account, made: dict[str, list[uuid.UUID]], _app: FastAPI
) -> list[uuid.UUID]:
    body = {
        "name": f"Alpha {unique('agent')}",
        "knowledge_base_ids": [str(made["base_id"][0])],
        "llm": {"provider": "openai", "model": "gpt-4o-mini"},
    }
    response = await client.post("/api/v1/agents", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return [uuid.UUID(response.json()["id"])]


async def _make_calls(
    client: AsyncClient, owner: Account, made: dict[str, list[uuid.UUID]], app: FastAPI
) -> list[uuid.UUID]:
    """A finished web call with a transcript and a recording: started through the API, then joined with its token and
    finished by the call engine's own steps, as a real call would be (no route records audio)."""
    response = await client.post(f"/api/v1/agents/{made['agent_id'][0]}/web-calls", headers=owner.headers)
    assert response.status_code == 201, response.text
    call_id, token = uuid.UUID(response.json()["call_id"]), response.json()["token"]
    database: Database = app.state.database
    async with database.transaction() as session:
        assert await calls.join_web_call(session, call_id, token) is not None
    turns = [TurnRecord("user", "What is the alarm code?", 0, 900), TurnRecord("agent", "It is 4711.", 1200, 2000)]
    async with database.transaction(owner.tenant_id) as session:
        await calls.finish(
            session,
            app.state.storage,
            call_id,
            CallOutcome(
                "caller_goodbye",
                None,
                turns=turns,
                usage=ProviderUsage(),
                recording=b"\x00\x01" * 16_000,
                farewell_sent=False,
            ),
        )
    return [call_id]


OBJECT_MAKERS: dict[str, ObjectMaker] = {
    "user_id": _make_users,
    "tenant_id": _make_tenants,
    "base_id": _make_bases,
    "document_id": _make_documents,
    "credential_id": _make_credentials,
    "agent_id": _make_agents,
    "call_id": _make_calls,
}

# A valid body for routes that require one (validation runs before the lookup, so an invalid body would only show
# that the body is invalid). Each one would change the object if the route let it through.
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/api/v1/users/{user_id}"): {"first_name": "Mallory", "role": "viewer", "is_active": False},
    ("PUT", "/api/v1/tenants/{tenant_id}"): {"name": "Taken over", "contact_email": "mallory@example.com"},
    ("POST", "/api/v1/tenants/{tenant_id}/suspend"): {"reason": "taken over"},
    ("PUT", "/api/v1/knowledge/bases/{base_id}"): {"name": "Taken over", "chunk_size": 100, "chunk_overlap": 10},
    ("POST", "/api/v1/knowledge/bases/{base_id}/documents"): {"title": "Planted", "text": "Planted by B."},
    ("PATCH", "/api/v1/credentials/{credential_id}"): {"api_key": "sk-planted-by-b", "base_url": "https://b.example"},
    ("PATCH", "/api/v1/agents/{agent_id}"): {"name": "Taken over", "system_prompt": "Say B's number.", "llm": {}},
    ("POST", "/api/v1/agents/{agent_id}/chat"): {"message": "What is the alarm code?"},
}
# Multipart bodies, for routes that take files.
FILES: dict[tuple[str, str], list[tuple[str, tuple[str, bytes, str]]]] = {
    ("POST", "/api/v1/knowledge/bases/{base_id}/documents/upload"): [
        ("files", ("planted.txt", b"Planted by B.", "text/plain"))
    ],
}
# Query parameters that make a call as harmful as it can be.
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("DELETE", "/api/v1/users/{user_id}"): {"hard": "true"},
}

# Routes that take ids in their body rather than their path (the route table cannot show these): a body built from
# one id per kind, which the test fills with A's ids and with ids that do not exist.
BODY_REFERENCES: dict[tuple[str, str], Callable[[dict[str, uuid.UUID]], Any]] = {
    ("POST", "/api/v1/knowledge/search"): lambda ids: {
        "query": "private notes",
        "knowledge_base_ids": [str(ids["base_id"])],
    },
    ("POST", "/api/v1/agents"): lambda ids: {"name": "Planted", "knowledge_base_ids": [str(ids["base_id"])]},
}
# Of those, the routes that validate the ids and answer 422 naming the unknown ones. The ids named are the caller's
# own input; A's must still be answered exactly as ids that do not exist, once the ids sent are blanked out.
BODY_REFERENCES_ECHOED = {("POST", "/api/v1/agents")}

# Tenant B's principals: a user of each role, and the tenant's API key.
PRINCIPALS = ["owner", "admin", "member", "viewer", "api_key"]


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    params: tuple[str, ...]
    needs_body: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def api_routes(app: FastAPI) -> Iterator[ApiRoute]:
    """Every (method, path) the app serves under /api/v1, as its route table has it."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        if not isinstance(route, APIRoute) or path is None or not path.startswith(API_PREFIX):
            continue
        body = route.body_field
        needs_body = body is not None and body.field_info.is_required()
        for method in sorted(context.methods or ()):
            yield ApiRoute(method, path, tuple(context.param_convertors), needs_body)


ROUTES = list(api_routes(create_app(Settings(environment="test", secret_key="k" * 40, redis_url=None))))
ID_ROUTES = [route for route in ROUTES if route.params]
READ_ROUTES_WITHOUT_IDS = [route for route in ROUTES if not route.params and route.method == "GET"]


def test_the_route_table_is_read() -> None:
    found = {str(route) for route in ROUTES}
    assert "GET /api/v1/users/{user_id}" in found
    assert "DELETE /api/v1/tenants/{tenant_id}" in found
    assert "GET /api/v1/users/" in found
    # WebSocket routes are no HTTP routes: the matrix leaves them out (a web call's socket opens with its join token).
    assert not any(route.path.endswith("/websocket") for route in ROUTES)


def assert_known(route: ApiRoute) -> None:
    unknown = [param for param in route.params if param not in OBJECT_MAKERS]
    assert not unknown, f"{route}: teach OBJECT_MAKERS in {__file__} how to make a {unknown} in tenant A"
    if route.needs_body:
        assert route.key in BODIES or route.key in FILES, f"{route}: add a valid body for it to BODIES in {__file__}"


@pytest.mark.parametrize("route", ID_ROUTES, ids=str)
def test_the_matrix_knows_every_path_id(route: ApiRoute) -> None:
    assert_known(route)


@dataclass
class World:
    """Tenant A with its objects, and tenant B with one principal of each kind."""

    a_owner: Account
    a_api_key: str
    a_objects: dict[str, list[uuid.UUID]]
    # Strings of A's (ids, emails, names) that no response to B may contain.
    a_secrets: set[str]
    b_tenant_id: uuid.UUID
    b_headers: dict[str, dict[str, str]]


@pytest.fixture
async def world(client: AsyncClient, app: FastAPI) -> World:
    a_owner = await register(client, tenant_name=f"Alpha {unique('t')}")
    a_objects: dict[str, list[uuid.UUID]] = {}
    for param, make in OBJECT_MAKERS.items():
        a_objects[param] = await make(client, a_owner, a_objects, app)
    a_key = await api_key(client, a_owner)

    b_owner = await register(client, tenant_name=f"Bravo {unique('t')}")
    b_headers = {"owner": b_owner.headers, "api_key": {"X-API-Key": await api_key(client, b_owner)}}
    for role in (Role.ADMIN, Role.MEMBER, Role.VIEWER):
        b_headers[role.value] = (await add_user(client, b_owner, role)).headers
    assert set(b_headers) == set(PRINCIPALS)

    secrets = {str(object_id) for ids in a_objects.values() for object_id in ids}
    users = await client.get("/api/v1/users/", params={"page_size": 100}, headers=a_owner.headers)
    assert users.status_code == 200, users.text
    for user in users.json()["items"]:
        secrets |= {user["id"], user["email"], user["username"]}
    tenant = await client.get("/api/v1/tenants/current", headers=a_owner.headers)
    assert tenant.status_code == 200, tenant.text
    secrets |= {tenant.json()["id"], tenant.json()["name"], tenant.json()["slug"], tenant.json()["contact_email"]}
    secrets |= {a_key, a_key[:10], A_PROVIDER_KEY}
    return World(a_owner, a_key, a_objects, secrets, b_owner.tenant_id, b_headers)


def fill(path: str, ids: dict[str, uuid.UUID]) -> str:
    for param, value in ids.items():
        path = path.replace("{" + param + "}", str(value))
    return path


def id_choices(route: ApiRoute, objects: dict[str, list[uuid.UUID]]) -> Iterator[dict[str, uuid.UUID]]:
    """Every combination of A's ids for the route's path parameters."""
    for combination in itertools.product(*(objects[param] for param in route.params)):
        yield dict(zip(route.params, combination, strict=True))


async def call(client: AsyncClient, route: ApiRoute, ids: dict[str, uuid.UUID], headers: dict[str, str]) -> Response:
    return await client.request(
        route.method,
        fill(route.path, ids),
        json=BODIES.get(route.key),
        files=FILES.get(route.key),
        params=QUERIES.get(route.key),
        headers=headers,
    )


async def snapshot(client: AsyncClient, world: World) -> dict[str, Any]:
    """Everything A's owner can read about A's objects (and whether A's API key still works)."""
    state: dict[str, Any] = {}
    for route in ROUTES:
        if route.method != "GET" or any(param not in world.a_objects for param in route.params):
            continue
        for ids in id_choices(route, world.a_objects):
            path = fill(route.path, ids)
            response = await client.get(path, params={"page_size": 100}, headers=world.a_owner.headers)
            json_body = response.headers.get("content-type", "").startswith("application/json")
            state[path] = (response.status_code, response.json() if json_body else response.content)
            if ids:
                assert response.status_code == 200, f"A's owner reads {path}: {response.text}"
    key_check = await client.get("/api/v1/tenants/current", headers={"X-API-Key": world.a_api_key})
    state["A's API key"] = (key_check.status_code, key_check.json())
    assert key_check.status_code == 200, key_check.text
    return state


def blanked(text: str, sent: Iterable[uuid.UUID]) -> str:
    for object_id in sent:
        text = text.replace(str(object_id), "<sent>")
    return text


def assert_no_secrets(response: Response, world: World, what: str, sent: Iterable[uuid.UUID] = ()) -> None:
    """No secret of A's in the response; ids the caller `sent` may be echoed (where a route is allowed to)."""
    text = blanked(response.text + json.dumps(dict(response.headers)), sent)
    leaked = sorted(secret for secret in world.a_secrets if secret and secret in text)
    assert not leaked, f"{what} revealed A's {leaked}: {response.text}"


@pytest.mark.parametrize("route", ID_ROUTES, ids=str)
async def test_another_tenants_ids_are_not_found(client: AsyncClient, world: World, route: ApiRoute) -> None:
    assert_known(route)
    before = await snapshot(client, world)

    for principal in PRINCIPALS:
        headers = world.b_headers[principal]
        for ids in id_choices(route, world.a_objects):
            what = f"{route} as B's {principal} with {ids}"
            missing = await call(client, route, {param: uuid.uuid4() for param in ids}, headers)
            response = await call(client, route, ids, headers)

            assert response.status_code in (403, 404), f"{what}: {response.status_code} {response.text}"
            # Someone else's object looks exactly like one that does not exist: same status, same error.
            assert (response.status_code, response.json()) == (missing.status_code, missing.json()), what
            assert_no_secrets(response, world, what)

        assert await snapshot(client, world) == before, f"{route} as B's {principal} changed tenant A"


@pytest.mark.parametrize("route", READ_ROUTES_WITHOUT_IDS, ids=str)
async def test_reads_without_ids_show_only_the_callers_tenant(
    client: AsyncClient, world: World, route: ApiRoute
) -> None:
    for principal in PRINCIPALS:
        response = await client.get(route.path, params={"page_size": 100}, headers=world.b_headers[principal])
        what = f"{route} as B's {principal}"
        # Platform-wide routes refuse tenant principals; everything else answers about B only.
        assert response.status_code in (200, 403), f"{what}: {response.status_code} {response.text}"
        assert_no_secrets(response, world, what)
        items = response.json().get("items", []) if response.status_code == 200 else []
        for item in items:
            assert item.get("tenant_id", str(world.b_tenant_id)) == str(world.b_tenant_id), f"{what}: {item}"


async def test_user_list_never_shows_another_tenants_users(client: AsyncClient, world: World) -> None:
    a_emails = sorted(secret for secret in world.a_secrets if "@" in secret)
    for principal in PRINCIPALS:
        headers = world.b_headers[principal]
        everyone = await client.get("/api/v1/users/", params={"page_size": 100}, headers=headers)
        assert everyone.status_code == 200, everyone.text
        body = everyone.json()
        assert body["total"] == 4 == len(body["items"]), "B's owner, admin, member and viewer"
        assert {item["tenant_id"] for item in body["items"]} == {str(world.b_tenant_id)}
        assert_no_secrets(everyone, world, f"GET /api/v1/users/ as B's {principal}")

        for search in [*a_emails, "@example.com", "", "%", "_"]:
            for filters in ({}, {"role": "owner"}, {"is_active": "true"}, {"is_verified": "false"}):
                query = {"search": search, **filters}
                response = await client.get("/api/v1/users/", params=query, headers=headers)
                assert response.status_code == 200, response.text
                assert_no_secrets(response, world, f"GET /api/v1/users/ {query} as B's {principal}")
                for item in response.json()["items"]:
                    assert item["tenant_id"] == str(world.b_tenant_id)


@pytest.mark.parametrize("key", list(BODY_REFERENCES), ids=" ".join)
async def test_another_tenants_ids_in_bodies_are_not_found(
    client: AsyncClient, world: World, key: tuple[str, str]
) -> None:
    method, path = key
    assert any(route.key == key for route in ROUTES), f"{method} {path} is gone: update BODY_REFERENCES"
    make_body = BODY_REFERENCES[key]
    before = await snapshot(client, world)
    for principal in PRINCIPALS:
        headers = world.b_headers[principal]
        a_ids = {param: ids[0] for param, ids in world.a_objects.items()}
        no_ids = {param: uuid.uuid4() for param in a_ids}
        missing = await client.request(method, path, json=make_body(no_ids), headers=headers)
        response = await client.request(method, path, json=make_body(a_ids), headers=headers)
        what = f"{method} {path} as B's {principal} naming A's objects"
        echoed = key in BODY_REFERENCES_ECHOED
        allowed = (403, 404, 422) if echoed else (403, 404)
        assert response.status_code in allowed, f"{what}: {response.status_code} {response.text}"
        sent_a, sent_none = (a_ids.values(), no_ids.values()) if echoed else ((), ())
        assert (response.status_code, blanked(response.text, sent_a)) == (
            missing.status_code,
            blanked(missing.text, sent_none),
        ), what
        assert_no_secrets(response, world, what, sent_a)
    assert await snapshot(client, world) == before
