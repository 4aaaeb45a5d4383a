"""Test fixtures: one embedded PostgreSQL per test session, each test inside a transaction that is rolled back."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import NullPool

from tests.standins.openai import STANDIN_KEY, OpenAIStandIn
from tests.standins.server import serve
from vocalis.app import create_app
from vocalis.config import Settings
from vocalis.database import migrate
from vocalis.kit.db import ALL_TENANTS, Database, act_for, app_engine, scoped_sessionmaker
from vocalis.kit.embedded_postgres import EmbeddedPostgres


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "postgres")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(postgres: EmbeddedPostgres) -> str:
    """A freshly migrated database for the whole test session."""
    url = postgres.create_database("vocalis_test")
    migrate(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = app_engine(database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture
async def database(engine: AsyncEngine) -> AsyncIterator[Database]:
    """A Database whose sessions all run inside one outer transaction, rolled back after the test."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        sessionmaker = scoped_sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        yield Database(engine, sessionmaker)
        await transaction.rollback()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """A session for services tested directly, acting for every tenant (row-level security is proven through the API,
    tests/test_isolation.py); flushed work is visible to the API in the same test."""
    async with database.sessionmaker() as session:
        await act_for(session, ALL_TENANTS)
        yield session


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        secret_key="test-signing-key-" + "x" * 32,
        database_url=None,
        redis_url=None,
        # The provider stand-ins listen on 127.0.0.1, which outbound requests may not reach unless allowed.
        outbound_allowed_hosts=["127.0.0.1"],
    )


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database=database)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, client=("203.0.113.10", 40000))
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def openai_server() -> Iterator[tuple[OpenAIStandIn, str]]:
    standin = OpenAIStandIn(STANDIN_KEY)
    with serve(standin.app) as url:
        yield standin, f"{url}/v1"


@pytest.fixture
def openai(openai_server: tuple[OpenAIStandIn, str]) -> tuple[OpenAIStandIn, str]:
    """The chat stand-in with no scripts or requests left over from other tests; yields it and its base URL."""
    standin, url = openai_server
    standin.chat_scripts.clear()
    standin.chat_requests.clear()
    return standin, url
