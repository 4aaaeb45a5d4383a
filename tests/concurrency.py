"""Real concurrency: a database of a test module's own, where every request commits, and an app over it.

The `database` fixture runs a whole test in one connection, so parallel requests there cannot race; races between
transactions (quota checks, key replacement) need separate connections that commit, as a running server has."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from httpx import ASGITransport, AsyncClient

from vocalis.app import create_app
from vocalis.config import Settings
from vocalis.database import migrate
from vocalis.kit.db import Database
from vocalis.kit.embedded_postgres import EmbeddedPostgres


def own_database(postgres: EmbeddedPostgres, name: str) -> str:
    """A freshly migrated database named `name` on the test session's server."""
    url = postgres.create_database(name)
    migrate(url)
    return url


@asynccontextmanager
async def committing_client(url: str, settings: Settings) -> AsyncIterator[AsyncClient]:
    """A client of an app whose requests each run in a transaction of their own, on a connection of their own."""
    database = Database.connect(url)
    app = create_app(settings.model_copy(update={"auth_cache_seconds": 0}), database=database)
    try:
        transport = ASGITransport(app=app, client=("203.0.113.20", 40000))
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await database.dispose()


@asynccontextmanager
async def small_pool_client(url: str, settings: Settings) -> AsyncIterator[tuple[AsyncClient, Database]]:
    """`committing_client` over a pool of two connections in all, with its database (to count what it holds)."""
    database = Database.connect(url, pool_size=2, max_overflow=0, pool_timeout=30)
    app = create_app(settings, database=database)
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
            yield client, database
    finally:
        await database.dispose()
