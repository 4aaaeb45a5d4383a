"""The knowledge jobs: `ingest_document`, and a periodic sweep that re-queues stuck documents.

Ingestion jobs carry their tenant's lock, so each tenant's documents are ingested one at a time: a tenant with a
backlog holds one worker, and the other tenants' documents take the others.
"""

import uuid

import procrastinate
from procrastinate import JobContext

from vocalis.kit.jobs import WorkerContext
from vocalis.knowledge import ingestion

QUEUE = "ingestion"


def ingestion_lock(tenant_id: uuid.UUID) -> str:
    """The job lock shared by a tenant's ingestion jobs."""
    return f"ingestion:{tenant_id}"


async def ingest_document(context: JobContext, document_id: str) -> None:
    worker = WorkerContext.of(context)
    await ingestion.ingest(worker.database, worker.storage, worker.settings, uuid.UUID(document_id))


async def requeue_stuck_documents(context: JobContext, timestamp: int) -> None:
    worker = WorkerContext.of(context)
    # A job left `doing` by a worker that died would hold its tenant's lock for good: run it again.
    for job in await context.app.job_manager.get_stalled_jobs(queue=QUEUE, task_name="ingest_document"):
        await context.app.job_manager.retry_job(job)
    for document_id, tenant_id in await ingestion.requeue_stuck(worker.database, worker.settings):
        task = context.app.configure_task("ingest_document", lock=ingestion_lock(tenant_id))
        await task.defer_async(document_id=str(document_id))


def register(app: procrastinate.App) -> None:
    """Declare the knowledge jobs on a job app (one app per process, or per test)."""
    retry = procrastinate.RetryStrategy(max_attempts=3, wait=5, retry_exceptions={ingestion.RetryLater})
    app.task(name="ingest_document", queue=QUEUE, pass_context=True, retry=retry)(ingest_document)
    sweep = app.task(name="requeue_stuck_documents", queue=QUEUE, pass_context=True)(requeue_stuck_documents)
    app.periodic(cron="* * * * *")(sweep)
