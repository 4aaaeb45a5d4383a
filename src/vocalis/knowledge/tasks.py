"""The knowledge jobs: `ingest_document`, and a periodic sweep that re-queues stuck documents."""

import uuid
from dataclasses import dataclass

import procrastinate
from procrastinate import JobContext

from vocalis.config import Settings
from vocalis.kit.db import Database
from vocalis.kit.storage import Storage
from vocalis.knowledge import ingestion


@dataclass(frozen=True)
class WorkerDependencies:
    """What jobs need, handed to the worker as procrastinate's additional context under the key "vocalis"."""

    database: Database
    storage: Storage
    settings: Settings


def _dependencies(context: JobContext) -> WorkerDependencies:
    dependencies: WorkerDependencies = context.additional_context["vocalis"]
    return dependencies


async def ingest_document(context: JobContext, document_id: str) -> None:
    deps = _dependencies(context)
    await ingestion.ingest(deps.database, deps.storage, deps.settings, uuid.UUID(document_id))


async def requeue_stuck_documents(context: JobContext, timestamp: int) -> None:
    deps = _dependencies(context)
    for document_id in await ingestion.requeue_stuck(deps.database, deps.settings):
        await context.app.configure_task("ingest_document").defer_async(document_id=str(document_id))


def register(app: procrastinate.App) -> None:
    """Declare the knowledge jobs on a job app (one app per process, or per test)."""
    retry = procrastinate.RetryStrategy(max_attempts=3, wait=5, retry_exceptions={ingestion.RetryLater})
    app.task(name="ingest_document", queue="ingestion", pass_context=True, retry=retry)(ingest_document)
    sweep = app.task(name="requeue_stuck_documents", queue="ingestion", pass_context=True)(requeue_stuck_documents)
    app.periodic(cron="* * * * *")(sweep)
