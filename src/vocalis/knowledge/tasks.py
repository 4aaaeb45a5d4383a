"""The knowledge jobs: `ingest_document`, and a periodic sweep that re-queues stuck documents."""

import uuid

import procrastinate
from procrastinate import JobContext

from vocalis.kit.jobs import WorkerContext
from vocalis.knowledge import ingestion


async def ingest_document(context: JobContext, document_id: str) -> None:
    worker = WorkerContext.of(context)
    await ingestion.ingest(worker.database, worker.storage, worker.settings, uuid.UUID(document_id))


async def requeue_stuck_documents(context: JobContext, timestamp: int) -> None:
    worker = WorkerContext.of(context)
    for document_id in await ingestion.requeue_stuck(worker.database, worker.settings):
        await context.app.configure_task("ingest_document").defer_async(document_id=str(document_id))


def register(app: procrastinate.App) -> None:
    """Declare the knowledge jobs on a job app (one app per process, or per test)."""
    retry = procrastinate.RetryStrategy(max_attempts=3, wait=5, retry_exceptions={ingestion.RetryLater})
    app.task(name="ingest_document", queue="ingestion", pass_context=True, retry=retry)(ingest_document)
    sweep = app.task(name="requeue_stuck_documents", queue="ingestion", pass_context=True)(requeue_stuck_documents)
    app.periodic(cron="* * * * *")(sweep)
