"""Schemathesis over the whole OpenAPI schema, in-process: no 5xx, and every response matches the schema.

The app runs with its own committed sessions on a database of its own. Schemathesis' ASGI client serves the app from
an event loop in a thread of its own, so the engine has no pool: each request opens and closes its connection in
whichever loop serves it, and no connection crosses loops.

Every case is sent as a logged-in caller: a tenant owner, then a platform super admin (so the platform routes answer
2xx too). The caller remembers the ids in the responses it gets and swaps most generated path ids for them, so cases
get past "not found" into each operation's rules. Fuzzed requests may log the caller out, delete its tenant or change
its email: after each successful write the token is checked, and renewed (by logging in again, or by signing up anew)
when it no longer works.
"""

import contextlib
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from tests.conftest import unique
from tests.factories import PASSWORD
from vocalis.app import create_app
from vocalis.config import Settings
from vocalis.database import migrate
from vocalis.kit.db import Database, app_engine
from vocalis.kit.embedded_postgres import EmbeddedPostgres
from vocalis.tenants import service as tenants
from vocalis.users.schemas import UserCreate

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CONFIG = {
    "seed": 20240601,
    "generation": {
        # Per operation, on top of the coverage phase's boundary cases; keeps both runs to a minute or two.
        "max-examples": 20,
        "deterministic": True,
        "database": "none",
        # Credentials are the caller's, set per case; generated ones would only replace them.
        "with-security-parameters": False,
    },
    "phases": {"stateful": {"enabled": False}},
}
UNLIMITED = "1000000/minute"
FuzzCase = Case[Any]
NO_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/none"


def settings(data_dir: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        secret_key="schema-test-signing-key-" + "x" * 32,
        database_url=None,
        redis_url=None,
        # Rate limits are tested elsewhere; here they would only turn cases into 429s.
        login_limit_per_address=UNLIMITED,
        login_failures_per_account=UNLIMITED,
        register_limit_per_address=UNLIMITED,
        register_limit_per_account=UNLIMITED,
        # Ingestion is not part of the API's contract; documents stay queued.
        run_worker=False,
        # Fuzzed base URLs may point anywhere; a key test waits for no one long.
        provider_test_timeout_seconds=2.0,
    )


class DeferredApp:
    """The ASGI app schemathesis talks to. The schema is loaded when this module is imported, before the test
    database exists; the `schema_app` fixture then points this at an app with a database of its own."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # Schemathesis starts this once, at import; the real app's lifespan runs in the `client` fixture.
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


# Until `schema_app` swaps in the real app, this one serves only /openapi.json (its database is never reached).
PLACEHOLDER_DIR = Path(tempfile.gettempdir()) / "vocalis-schema-placeholder"  # never written to
APP = DeferredApp(create_app(settings(PLACEHOLDER_DIR), database=Database(create_async_engine(NO_DATABASE))))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture(scope="module")
def schema_app(postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = postgres.create_database("schema_test")
    migrate(url)
    database = Database(app_engine(url, poolclass=NullPool))
    app = create_app(settings(tmp_path_factory.mktemp("schema-data")), database=database)
    placeholder, APP.app = APP.app, app
    yield app
    APP.app = placeholder


@pytest.fixture(scope="module")
def client(schema_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(schema_app) as client:
        yield client


def register_owner(client: TestClient) -> str:
    name = f"st{uuid.uuid4().hex[:10]}"
    payload = {"email": f"{name}@example.com", "username": name, "password": PASSWORD, "first_name": "Ada"}
    response = client.post("/api/v1/auth/register", json=payload)
    assert response.status_code == 201, response.text
    return payload["email"]


def register_super_admin(client: TestClient) -> str:
    """A platform super admin, made as `vocalis create-superuser` does."""
    name = f"root{uuid.uuid4().hex[:10]}"
    owner = UserCreate(email=f"{name}@example.com", username=name, password=PASSWORD)
    database: Database = APP.app.state.database

    async def create() -> None:
        async with database.transaction() as session:
            await tenants.create_with_owner(session, name="Platform", owner=owner, plan="enterprise", super_admin=True)

    with start_blocking_portal() as portal:
        portal.call(create)
    return owner.email


def path_ids(path: str) -> list[str]:
    return re.findall(r"\{(\w+_id)\}", path)


# Every `{thing_id}` of the schema, by its stem ("user" for user_id).
ID_PARAMS = {name.removesuffix("_id"): name for path in schema.raw_schema["paths"] for name in path_ids(path)}
READ_PATHS = [path for path, item in schema.raw_schema["paths"].items() if "get" in item and not path_ids(path)]

# Objects made for each new account, so operations on existing objects are reached even before a fuzzed request
# makes one: (path, body). Ids come from the responses; a seed whose path the schema lacks is skipped.
SEEDS: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("/api/v1/users/", lambda: {"email": f"{unique('m')}@example.com", "username": unique(), "password": PASSWORD}),
    ("/api/v1/knowledge/bases", lambda: {"name": "Seeded base"}),
    ("/api/v1/knowledge/bases/{base_id}/documents", lambda: {"title": "Seeded", "text": "Vocalis answers calls."}),
    # Key tests against this URL fail at once (the .invalid name never resolves).
    (
        "/api/v1/credentials",
        lambda: {"provider": "openai", "api_key": "sk-seeded-key", "base_url": "http://llm.invalid/v1"},
    ),
    ("/api/v1/agents", lambda: {"name": "Seeded agent"}),
    # A chat (a call of kind text) and a web call waiting to be joined, so the calls routes have calls to read.
    ("/api/v1/agents/{agent_id}/chat", lambda: {"message": "Hello"}),
    ("/api/v1/agents/{agent_id}/web-calls", lambda: {}),
]


def stem_of(path: str) -> str | None:
    """The `{thing_id}` addressing the objects a path returns: user_id for "/users/" or "/users/{user_id}/verify",
    tenant_id for "/tenants/current", None for "/documents/{document_id}/chunks" (a collection of something else)."""
    segments = [segment for segment in path.split("/") if segment]
    if segments and (ids := path_ids(segments[-1])):
        return ids[0]
    for segment in reversed([segment for segment in segments if "{" not in segment]):
        if (param := ID_PARAMS.get(segment.removesuffix("s"))) is not None:
            return param
        if segment.endswith("s"):
            return None
    return None


class Caller:
    """A logged-in user that sends the fuzzed cases, staying logged in whatever the cases do to its account.

    It remembers the ids in the responses it gets, by path parameter, and aims most cases at them.
    """

    def __init__(self, client: TestClient, sign_up: Callable[[TestClient], str]) -> None:
        self.client = client
        self.sign_up = sign_up
        self.email = ""
        self.token = ""
        self.stale = True
        self.renewals = 0
        self.known: dict[str, list[str]] = {}
        # (method, path template, status) of every response the cases got.
        self.seen: Counter[tuple[str, str, int]] = Counter()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stay_logged_in(self) -> None:
        if not self.stale:
            return
        if self.client.get("/api/v1/auth/me", headers=self.headers).status_code != 200:
            self.renewals += 1
            if not self.email or not self._log_in():
                self.email = self.sign_up(self.client)
                assert self._log_in(), "a new account could not log in"
                self.known = {}  # the old account's objects are out of reach now
                self._seed()
        for path in READ_PATHS:
            response = self.client.get(path, params={"page_size": 100}, headers=self.headers)
            if response.status_code == 200:
                self.remember(path, response.json())
        self.stale = False

    def _log_in(self) -> bool:
        response = self.client.post("/api/v1/auth/login", json={"email": self.email, "password": PASSWORD})
        self.token = response.json()["access_token"] if response.status_code == 200 else ""
        return bool(self.token)

    def _seed(self) -> None:
        for path, body in SEEDS:
            if path not in schema.raw_schema["paths"]:
                continue
            target = path.format(**{name: self.known[name][-1] for name in path_ids(path)})
            response = self.client.post(target, json=body(), headers=self.headers)
            assert response.status_code < 300, f"seeding {target}: {response.status_code} {response.text}"
            self.remember(path, response.json())

    def remember(self, path: str, body: Any, param: str | None = None) -> None:
        """Note the ids in a response: `id`s of the objects the path returns, and every `thing_id` field."""
        param = param or stem_of(path)
        if isinstance(body, list):
            for item in body:
                self.remember(path, item, param)
        elif isinstance(body, dict):
            for key, value in body.items():
                name = param if key == "id" else key if key in ID_PARAMS.values() else None
                if name is not None and isinstance(value, str):
                    ids = self.known.setdefault(name, [])
                    if value not in ids:
                        ids[:] = [*ids[-7:], value]
                elif isinstance(value, dict | list):
                    self.remember(path, value, param if key == "items" else ID_PARAMS.get(key.removesuffix("s")))

    def aim(self, case: FuzzCase) -> None:
        """Swap two in three generated ids for known ones, chosen by the generated id itself."""
        for name, value in (case.path_parameters or {}).items():
            try:
                number = uuid.UUID(str(value)).int
            except ValueError:
                continue  # a deliberately invalid id stays as generated
            known = self.known.get(name)
            if known and number % 3:
                case.path_parameters[name] = known[number % len(known)]

    def send(self, case: FuzzCase) -> None:
        self.stay_logged_in()
        self.aim(case)
        response = case.call_and_validate(headers=self.headers, checks=CHECKS)
        self.seen[(case.method.upper(), case.path, response.status_code)] += 1
        if response.status_code < 300:
            with contextlib.suppress(ValueError):
                self.remember(case.path, response.json())
        # Only a successful write can end the session, disable the account or delete the tenant.
        self.stale = case.method.upper() != "GET" and response.status_code < 300

    def succeeded(self) -> set[str]:
        return {f"{method} {path}" for method, path, status in self.seen if 200 <= status < 300}


@pytest.fixture(scope="module")
def owner(client: TestClient) -> Caller:
    return Caller(client, register_owner)


@pytest.fixture(scope="module")
def admin(client: TestClient) -> Caller:
    register_owner(client)  # a tenant for the super admin to act on
    return Caller(client, register_super_admin)


@schema.parametrize()
def test_api_as_tenant_owner(case: FuzzCase, owner: Caller) -> None:
    owner.send(case)


@schema.parametrize()
def test_api_as_super_admin(case: FuzzCase, admin: Caller) -> None:
    admin.send(case)


def test_websocket_routes_are_not_operations() -> None:
    """A web call's WebSocket is no HTTP operation: it stays out of the schema, so no case is made for it."""
    assert "/api/v1/calls/{call_id}" in schema.raw_schema["paths"]
    assert not [path for path in schema.raw_schema["paths"] if path.endswith("/websocket")]


def test_the_runs_reached_the_operations(owner: Caller, admin: Caller) -> None:
    """Guards against a vacuous run, e.g. every case answered 401 or 404 because credentials or ids went wrong."""
    if not owner.seen or not admin.seen:
        pytest.skip("needs the schemathesis runs above in the same session")
    for caller in (owner, admin):
        on_objects = {operation for operation in caller.succeeded() if "_id}" in operation}
        assert len(on_objects) >= 6, f"too few operations on existing objects succeeded: {sorted(on_objects)}"
    assert {"GET /api/v1/users/", "GET /api/v1/users/{user_id}"} <= owner.succeeded()
    assert {"GET /api/v1/tenants/", "POST /api/v1/tenants/{tenant_id}/suspend"} <= admin.succeeded()
