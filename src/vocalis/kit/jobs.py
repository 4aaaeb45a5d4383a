"""Background jobs on procrastinate: a PostgreSQL-native queue (retries, locks, periodic tasks, no broker).

Each domain has a `register(app)` that declares its tasks; `Jobs` makes the app, registers them, and defers by name
once the deferring request has committed. Every job gets the app-wide `WorkerContext`.
"""

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.testing import InMemoryConnector
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.config import Settings
from vocalis.kit.background import running
from vocalis.kit.db import Database, after_commit, libpq_url
from vocalis.kit.storage import Storage

Registrar = Callable[[procrastinate.App], None]
_CONTEXT_KEY = "vocalis"


@dataclass(frozen=True)
class WorkerContext:
    """What every job gets: the database, file storage and settings of the worker's process."""

    database: Database
    storage: Storage
    settings: Settings

    @staticmethod
    def of(context: JobContext) -> "WorkerContext":
        """The worker context of a running job."""
        worker: WorkerContext = context.additional_context[_CONTEXT_KEY]
        return worker


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
    async def worker(self, context: WorkerContext, concurrency: int) -> AsyncIterator[None]:
        """Run a worker in this process (as a task of the running event loop) until the block exits."""
        worker = self.app.run_worker_async(
            concurrency=concurrency,
            install_signal_handlers=False,
            additional_context={_CONTEXT_KEY: context},
            shutdown_graceful_timeout=10,
        )
        async with running(worker):
            yield

    async def run_worker(self, context: WorkerContext, concurrency: int) -> None:
        """Run a worker in the foreground until SIGINT or SIGTERM, letting running jobs finish."""
        await self.app.run_worker_async(concurrency=concurrency, additional_context={_CONTEXT_KEY: context})

    def defer(self, session: AsyncSession, task: str, *, lock: str | None = None, **arguments: Any) -> None:
        """Queue `task` once the session's transaction commits, so the worker finds what the job needs. A job lost
        between the commit and the queue is made good by its domain's periodic sweep. Jobs sharing a `lock` run one
        at a time, in the order they were queued, while other jobs go on."""
        after_commit(session, lambda: self.defer_now(task, lock=lock, **arguments))

    async def defer_now(self, task: str, *, lock: str | None = None, **arguments: Any) -> None:
        """Queue `task` at once (from jobs and sweeps, which have no request transaction to wait for)."""
        await self.app.configure_task(task, lock=lock).defer_async(**arguments)
