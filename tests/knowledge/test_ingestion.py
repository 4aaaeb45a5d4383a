"""The ingestion job's guarantees: one set of chunks whatever happens, retries, time-outs, stopping when its document
goes, the plan's bound on a document, fair turns between tenants, and the OpenAI path."""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Account, register
from tests.knowledge.conftest import Drain
from tests.standins.openai import OpenAIStandIn
from tests.standins.server import serve
from vocalis.config import Settings
from vocalis.kit.db import ALL_TENANTS, Database
from vocalis.knowledge import ingestion
from vocalis.knowledge.embeddings import EmbeddingError, LocalEmbedder
from vocalis.knowledge.parsing import Section, parse_isolated
from vocalis.models.billing import Plan
from vocalis.models.knowledge import Chunk, Document

API = "/api/v1/knowledge"
KEY = "sk-test-standin"


async def _document(client: AsyncClient, owner: Account, text: str, **base: Any) -> tuple[str, str]:
    created = await client.post(f"{API}/bases", json={"name": "KB", **base}, headers=owner.headers)
    assert created.status_code == 201, created.text
    base_id = created.json()["id"]
    document = await client.post(
        f"{API}/bases/{base_id}/documents", json={"title": "Doc", "text": text}, headers=owner.headers
    )
    assert document.status_code == 202, document.text
    return base_id, document.json()["id"]


async def _chunk_count(database: Database, document_id: str) -> int:
    async with database.transaction(ALL_TENANTS) as session:
        stmt = select(func.count()).select_from(Chunk).where(Chunk.document_id == uuid.UUID(document_id))
        return int(await session.scalar(stmt) or 0)


async def _status(database: Database, document_id: str) -> Document:
    async with database.transaction(ALL_TENANTS) as session:
        document = await session.get(Document, uuid.UUID(document_id), populate_existing=True)
        assert document is not None
        return document


TEXT = " ".join(f"Paragraph {i} explains the booking rules of the salon in detail." for i in range(120))


async def test_a_crashed_run_then_a_retry_leave_exactly_one_set_of_chunks(
    app: FastAPI, client: AsyncClient, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await register(client)
    _, document_id = await _document(client, owner, TEXT, chunk_size=80, chunk_overlap=10)
    storage = app.state.storage
    crashed_run_started, crashed_run_may_go_on = asyncio.Event(), asyncio.Event()

    async def parse(data: bytes, fmt: str) -> list[Section]:
        if not crashed_run_started.is_set():  # the first run hangs mid-job, like a worker that died
            crashed_run_started.set()
            await crashed_run_may_go_on.wait()
        return await parse_isolated(data, fmt)

    monkeypatch.setattr("vocalis.knowledge.ingestion.parse_isolated", parse)
    crashed = asyncio.create_task(ingestion.ingest(database, storage, settings, uuid.UUID(document_id)))
    await crashed_run_started.wait()
    assert (await _status(database, document_id)).status == "processing"

    # Past the time-out, the periodic sweep hands the document to a new run, which finishes it.
    expired = settings.model_copy(update={"ingestion_timeout_seconds": 0})
    assert await ingestion.requeue_stuck(database, expired) == [(uuid.UUID(document_id), owner.tenant_id)]
    await ingestion.ingest(database, storage, settings, uuid.UUID(document_id))
    done = await _status(database, document_id)
    assert done.status == "ready" and done.attempts == 2
    chunks = await _chunk_count(database, document_id)
    assert chunks == done.chunk_count > 1

    # The first run wakes up: it no longer holds the claim, so it stores nothing.
    crashed_run_may_go_on.set()
    await crashed
    assert await _chunk_count(database, document_id) == chunks
    # A duplicated job for a ready document does nothing either.
    await ingestion.ingest(database, storage, settings, uuid.UUID(document_id))
    assert await _chunk_count(database, document_id) == chunks


async def test_transient_failures_are_retried_then_fail_with_the_reason(
    app: FastAPI, client: AsyncClient, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await register(client)
    _, document_id = await _document(client, owner, "Some text to embed.")

    async def broken(self: LocalEmbedder, texts: list[str]) -> list[list[float]]:
        raise EmbeddingError("model unavailable")

    monkeypatch.setattr(LocalEmbedder, "embed", broken)
    for attempt in range(1, settings.ingestion_max_attempts + 1):
        # Each run tells the job queue to try again later, until the attempts are used up.
        with pytest.raises(ingestion.RetryLater):
            await ingestion.ingest(database, app.state.storage, settings, uuid.UUID(document_id))
        document = await _status(database, document_id)
        assert document.attempts == attempt
        assert document.status == ("failed" if attempt == settings.ingestion_max_attempts else "pending")
    assert document.error == "Failed after 3 attempts: model unavailable"
    assert await _chunk_count(database, document_id) == 0
    # A failed document stays failed until someone asks for it to be processed again.
    await ingestion.ingest(database, app.state.storage, settings, uuid.UUID(document_id))
    assert (await _status(database, document_id)).status == "failed"


async def test_stuck_documents_fail_once_their_attempts_are_used(
    client: AsyncClient, database: Database, settings: Settings
) -> None:
    owner = await register(client)
    _, document_id = await _document(client, owner, "Text.")
    async with database.transaction(ALL_TENANTS) as session:
        document = await session.get(Document, uuid.UUID(document_id))
        assert document is not None
        document.status, document.attempts = "processing", 3
        document.processing_started_at = document.created_at
    expired = settings.model_copy(update={"ingestion_timeout_seconds": 0})
    assert await ingestion.requeue_stuck(database, expired) == []
    failed = await _status(database, document_id)
    assert failed.status == "failed" and failed.error == "Timed out after 3 attempts"


@pytest.mark.parametrize("deleted", ["document", "base"])
async def test_deleting_a_document_or_its_base_stops_its_ingestion(
    app: FastAPI,
    client: AsyncClient,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    deleted: str,
) -> None:
    owner = await register(client)
    base_id, document_id = await _document(client, owner, TEXT, chunk_size=80, chunk_overlap=10)
    monkeypatch.setattr(ingestion, "EMBED_BATCH", 4)
    batches: list[int] = []
    first_batch, may_go_on = asyncio.Event(), asyncio.Event()
    embed = LocalEmbedder.embed

    async def pausable(self: LocalEmbedder, texts: list[str]) -> list[list[float]]:
        batches.append(len(texts))
        if len(batches) == 1:  # the first batch waits while the document is deleted
            first_batch.set()
            await may_go_on.wait()
        return await embed(self, texts)

    monkeypatch.setattr(LocalEmbedder, "embed", pausable)
    run = asyncio.create_task(ingestion.ingest(database, app.state.storage, settings, uuid.UUID(document_id)))
    await first_batch.wait()
    path = f"{API}/documents/{document_id}" if deleted == "document" else f"{API}/bases/{base_id}"
    assert (await client.delete(path, headers=owner.headers)).status_code == 204
    may_go_on.set()
    await run  # stops without an error, so the job queue does not retry it
    assert batches == [4]  # no batch after the deletion (the document has many more)
    assert await _chunk_count(database, document_id) == 0


async def test_a_document_over_its_plan_s_character_limit_fails_with_the_reason(
    app: FastAPI,
    client: AsyncClient,
    database: Database,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The test's transaction is rolled back afterwards, so tightening the shared free plan here is safe.
    await session.execute(update(Plan).where(Plan.code == "free").values(max_document_characters=100))
    await session.commit()
    owner = await register(client)
    _, at_limit = await _document(client, owner, "x" * 100)
    _, over = await _document(client, owner, "y" * 1234)
    embedded: list[str] = []
    embed = LocalEmbedder.embed

    async def counting(self: LocalEmbedder, texts: list[str]) -> list[list[float]]:
        embedded.extend(texts)
        return await embed(self, texts)

    monkeypatch.setattr(LocalEmbedder, "embed", counting)
    for document_id in (at_limit, over):
        await ingestion.ingest(database, app.state.storage, settings, uuid.UUID(document_id))
    assert (await _status(database, at_limit)).status == "ready"
    refused = await _status(database, over)
    assert refused.status == "failed" and refused.attempts == 1
    assert refused.error == "The document has 1,234 characters; the free plan ingests at most 100 per document"
    assert embedded == ["x" * 100]  # the refused document was never embedded
    assert await _chunk_count(database, over) == 0


async def test_plans_bound_a_document_s_characters_free_below_pro_below_enterprise(session: AsyncSession) -> None:
    limits = dict((await session.execute(select(Plan.code, Plan.max_document_characters))).tuples().all())
    free, pro, enterprise = limits["free"], limits["pro"], limits["enterprise"]
    assert free is not None and pro is not None and enterprise is not None
    assert 0 < free < pro < enterprise


async def test_one_tenant_s_backlog_leaves_the_next_worker_to_another_tenant(app: FastAPI, client: AsyncClient) -> None:
    busy, other = await register(client), await register(client)
    base_id, first = await _document(client, busy, "Backlog 0.")
    for i in range(1, 4):
        response = await client.post(
            f"{API}/bases/{base_id}/documents", json={"title": "Doc", "text": f"Backlog {i}."}, headers=busy.headers
        )
        assert response.status_code == 202
    _, others = await _document(client, other, "Another tenant's document.")
    # Two workers ask for a job: the busy tenant's first document and the other tenant's, not its second.
    manager = app.state.jobs.app.job_manager
    worker_id = await manager.register_worker()
    taken = [await manager.fetch_job(["ingestion"], worker_id) for _ in range(2)]
    assert [job.task_kwargs["document_id"] for job in taken if job is not None] == [first, others]


async def test_the_sweep_runs_again_a_job_left_by_a_dead_worker(
    app: FastAPI, client: AsyncClient, database: Database, drain: Drain
) -> None:
    owner = await register(client)
    base_id, taken = await _document(client, owner, "Taken by a worker that died.")
    manager = app.state.jobs.app.job_manager
    dead = await manager.register_worker()
    assert await manager.fetch_job(["ingestion"], dead) is not None
    await manager.prune_stalled_workers(seconds_since_heartbeat=0)  # it stopped sending heartbeats
    waiting = await client.post(
        f"{API}/bases/{base_id}/documents", json={"title": "Doc", "text": "Queued behind it."}, headers=owner.headers
    )
    # Its job held the tenant's lock: the sweep hands it to a live worker, and the documents behind it follow.
    await app.state.jobs.defer_now("requeue_stuck_documents", timestamp=0)
    await drain()
    for document_id in (taken, waiting.json()["id"]):
        assert (await _status(database, document_id)).status == "ready"


@pytest.fixture(scope="module")
def openai() -> Iterator[tuple[OpenAIStandIn, str]]:
    standin = OpenAIStandIn(KEY)
    with serve(standin.app) as url:
        yield standin, f"{url}/v1"


@pytest.fixture
def settings(settings: Settings, openai: tuple[OpenAIStandIn, str]) -> Settings:
    return settings.model_copy(update={"openai_api_key": KEY, "openai_base_url": openai[1]})


async def test_a_knowledge_base_on_openai_embeddings(
    client: AsyncClient, database: Database, drain: Drain, openai: tuple[OpenAIStandIn, str]
) -> None:
    owner = await register(client)
    base_id, document_id = await _document(
        client,
        owner,
        "Our salon offers haircuts, colouring and beard trims.",
        embedding={"provider": "openai", "model": "text-embedding-3-small"},
    )
    base = (await client.get(f"{API}/bases/{base_id}", headers=owner.headers)).json()
    assert (base["embedding_provider"], base["embedding_dimension"]) == ("openai", 1536)
    await drain()
    assert (await _status(database, document_id)).status == "ready"
    results = await client.post(f"{API}/search", json={"query": "beard trims", "mode": "vector"}, headers=owner.headers)
    assert "beard" in results.json()["results"][0]["content"]
    assert openai[0].requests[-1]["input"] == ["beard trims"]

    # Moving the base to the offline model re-embeds its documents with 384-d vectors.
    moved = await client.put(f"{API}/bases/{base_id}", json={"embedding": {"provider": "local"}}, headers=owner.headers)
    assert moved.json()["embedding_dimension"] == 384
    await drain()
    async with database.transaction(ALL_TENANTS) as session:
        dims = set(
            await session.scalars(select(Chunk.embedding_dimension).where(Chunk.document_id == uuid.UUID(document_id)))
        )
    assert dims == {384}
