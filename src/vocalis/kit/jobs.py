"""Background jobs on procrastinate: a PostgreSQL-native queue (retries, locks, periodic tasks, no broker).

Each domain has a `register(app)` that declares its tasks; `Jobs` makes the app, registers them, and defers by name.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import procrastinate
from procrastinate.testing import InMemoryConnector

from vocalis.kit.db import libpq_url

Registrar = Callable[[procrastinate.App], None]


class Jobs:
    def __init__(
        self,
        connector: procrastinate.PsycopgConnector | InMemoryConnector,
        registrars: Iterable[Registrar],
    ) -> None:
        self.app = procrastinate.App(connector=connector)
        for register in registrars:
            register(self.app)

    @classmethod
    def for_database(cls, sqlalchemy_url: str, registrars: Iterable[Registrar]) -> "Jobs":
        conninfo = libpq_url(sqlalchemy_url)
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo, min_size=1, max_size=5, kwargs={"application_name": "vocalis-jobs"}
        )
        return cls(connector, registrars)

    @asynccontextmanager
    async def worker(self, context: object, concurrency: int) -> AsyncIterator[None]:
        """Run a worker in this process (as a task of the running event loop) until the block exits."""
        task = asyncio.create_task(
            self.app.run_worker_async(
                concurrency=concurrency,
                install_signal_handlers=False,
                additional_context={"vocalis": context},
                shutdown_graceful_timeout=10,
            )
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def defer(self, task: str, **arguments: Any) -> None:
        await self.app.configure_task(task).defer_async(**arguments)
