from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI

from vocalis.config import Settings
from vocalis.kit.db import Database
from vocalis.kit.jobs import WorkerContext

Drain = Callable[[], Awaitable[None]]


@pytest.fixture
def drain(app: FastAPI, database: Database, settings: Settings) -> Drain:
    """Run the job worker until the queue is empty (the test app keeps jobs in memory)."""

    async def run() -> None:
        dependencies = WorkerContext(database, app.state.storage, settings)
        await app.state.jobs.app.run_worker_async(
            wait=False,
            listen_notify=False,
            install_signal_handlers=False,
            additional_context={"vocalis": dependencies},
        )

    return run
