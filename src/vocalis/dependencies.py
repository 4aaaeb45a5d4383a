"""FastAPI dependencies shared by every domain's endpoints: the database session, settings and rate limiter."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.config import Settings
from vocalis.kit.db import Database
from vocalis.kit.jobs import Jobs
from vocalis.kit.ratelimit import RateLimiter
from vocalis.kit.storage import Storage


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.transaction() as session:
        yield session


# Plain `def` dependencies would run in a worker thread: these only read app state, so they are async.
async def get_database(request: Request) -> Database:
    """For endpoints that must not hold a connection while they wait on other servers (see `SessionlessPrincipal`):
    they open their own short transactions."""
    database: Database = request.app.state.database
    return database


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


# scope="function": the session commits before the response is sent, so a failed commit is never reported as success.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
AppDatabase = Annotated[Database, Depends(get_database)]
Limiter = Annotated[RateLimiter, Depends(get_limiter)]
BlobStorage = Annotated[Storage, Depends(get_storage)]
JobQueue = Annotated[Jobs, Depends(get_jobs)]
