"""The ingestion pipeline of one document: parse -> clean -> chunk -> embed -> store, with its status kept current.

Status moves pending -> processing -> ready | failed. Each run claims the document with a fresh start time and
only the run holding the newest claim may store chunks, which it does by replacing the document's chunks in one
transaction: a retried, duplicated or timed-out-and-requeued job never leaves two sets. Between its steps (and its
batches of embeddings) a run checks that it still holds the claim, so the work of a deleted document or base (or of
one claimed anew) stops there. The plan bounds the characters of one document.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio import to_thread
from loguru import logger

from vocalis.billing import service as billing
from vocalis.config import Settings
from vocalis.kit.db import ALL_TENANTS, Database, utcnow
from vocalis.kit.storage import Storage
from vocalis.knowledge import repository
from vocalis.knowledge.chunking import chunk_sections
from vocalis.knowledge.embeddings import Embedder, EmbeddingError
from vocalis.knowledge.parsing import ParseError, parse_isolated
from vocalis.knowledge.providers import embedder_for
from vocalis.models.knowledge import DocumentStatus, KnowledgeBase

# Chunks embedded between two checks that the run still holds its claim.
EMBED_BATCH = 64


class RetryLater(Exception):
    """A transient failure (the embedding provider, say): the job queue runs the job again."""


class TooLarge(Exception):
    """The document is more than the tenant's plan ingests; the message says so."""


@dataclass(frozen=True)
class _Claim:
    document_id: uuid.UUID
    tenant_id: uuid.UUID
    started_at: datetime
    storage_key: str
    fmt: str
    base: KnowledgeBase
    plan: str
    max_characters: int | None


async def ingest(database: Database, storage: Storage, settings: Settings, document_id: uuid.UUID) -> None:
    """Run the pipeline for a document; a no-op when it is gone, already ready, or being processed by another run."""
    claim = await _claim(database, settings, document_id)
    if claim is None:
        return
    timings: dict[str, int] = {}
    try:
        started = time.perf_counter()
        data = await storage.get(claim.storage_key)
        sections = await parse_isolated(data, claim.fmt)
        timings["parse_ms"] = _since(started)
        _check_size(claim, sum(len(section.text) for section in sections))
        if not await _holds_claim(database, claim):
            return

        started = time.perf_counter()
        # Tokenising a long document is CPU work: off the event loop.
        chunks = await to_thread.run_sync(chunk_sections, sections, claim.base.chunk_size, claim.base.chunk_overlap)
        timings["chunk_ms"] = _since(started)
        if not chunks:
            raise ParseError("No text was found in this file")

        started = time.perf_counter()
        embedder = embedder_for(claim.base, settings)
        vectors: list[list[float]] = []
        for begin in range(0, len(chunks), EMBED_BATCH):
            if not await _holds_claim(database, claim):
                return
            vectors.extend(await embedder.embed([chunk.text for chunk in chunks[begin : begin + EMBED_BATCH]]))
        timings["embed_ms"] = _since(started)
    except (ParseError, TooLarge) as exc:
        await _fail(database, claim, str(exc), timings)
        return
    except Exception as exc:  # the provider, the storage, or a bug: try again, a limited number of times
        reason = str(exc) if isinstance(exc, EmbeddingError) else f"{exc.__class__.__name__}: {exc}"
        await _retry_or_fail(database, settings, claim, reason, timings)
        raise RetryLater(reason) from exc

    started = time.perf_counter()
    rows = [
        {
            "ordinal": ordinal,
            "content": chunk.text,
            "token_count": chunk.token_count,
            "page": chunk.page,
            "embedding_dimension": _dimension(embedder),
            "embedding": vector,
        }
        for ordinal, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
    ]
    async with database.transaction(claim.tenant_id) as session:
        document = await repository.lock_document(session, claim.document_id)
        if document is None or document.processing_started_at != claim.started_at:
            logger.info("Document {} was claimed by a newer run; dropping this one's chunks", claim.document_id)
            return
        await repository.replace_chunks(session, document, rows)
        timings["store_ms"] = _since(started)
        document.status = DocumentStatus.READY
        document.error = None
        document.chunk_count = len(rows)
        document.token_count = sum(chunk.token_count for chunk in chunks)
        document.page_count = max((s.page or 0 for s in sections), default=0) or None
        document.timings = timings
        document.processed_at = utcnow()
    logger.info("Document {} ready: {} chunks in {}", claim.document_id, len(rows), timings)


def _check_size(claim: _Claim, characters: int) -> None:
    if claim.max_characters is not None and characters > claim.max_characters:
        raise TooLarge(
            f"The document has {characters:,} characters; the {claim.plan} plan ingests at most "
            f"{claim.max_characters:,} per document"
        )


async def _holds_claim(database: Database, claim: _Claim) -> bool:
    """Whether the document is still there and still this run's (not deleted with its base, nor reprocessed)."""
    async with database.transaction(claim.tenant_id) as session:
        held = await repository.is_claimed(session, claim.document_id, claim.started_at)
    if not held:
        logger.info("Document {} was deleted or claimed by a newer run; stopping this run", claim.document_id)
    return held


def _dimension(embedder: Embedder) -> int:
    return embedder.dimension


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def _claim(database: Database, settings: Settings, document_id: uuid.UUID) -> _Claim | None:
    # Workers are not tenant-bound: the claim finds the document by id; later steps act for its tenant alone.
    async with database.transaction(ALL_TENANTS) as session:
        document = await repository.lock_document(session, document_id)
        if document is None or document.status in (DocumentStatus.READY, DocumentStatus.FAILED):
            return None
        now = utcnow()
        timeout = timedelta(seconds=settings.ingestion_timeout_seconds)
        if (
            document.status == DocumentStatus.PROCESSING
            and document.processing_started_at is not None
            and now - document.processing_started_at < timeout
        ):
            return None  # another run is on it and has not timed out
        base = await repository.get_base(session, document.tenant_id, document.knowledge_base_id)
        if base is None:
            return None
        _, plan = await billing.current_subscription(session, document.tenant_id)
        document.status = DocumentStatus.PROCESSING
        document.attempts += 1
        document.processing_started_at = now
        document.error = None
        return _Claim(
            document.id,
            document.tenant_id,
            now,
            document.storage_key,
            document.format,
            base,
            plan.code,
            plan.max_document_characters,
        )


async def _fail(database: Database, claim: _Claim, reason: str, timings: dict[str, int]) -> None:
    async with database.transaction(claim.tenant_id) as session:
        document = await repository.lock_document(session, claim.document_id)
        if document is None or document.processing_started_at != claim.started_at:
            return
        document.status = DocumentStatus.FAILED
        document.error = reason
        document.timings = timings
        document.processed_at = utcnow()
    logger.warning("Document {} failed: {}", claim.document_id, reason)


async def _retry_or_fail(
    database: Database, settings: Settings, claim: _Claim, reason: str, timings: dict[str, int]
) -> None:
    async with database.transaction(claim.tenant_id) as session:
        document = await repository.lock_document(session, claim.document_id)
        if document is None or document.processing_started_at != claim.started_at:
            return
        document.error = reason
        document.timings = timings
        if document.attempts >= settings.ingestion_max_attempts:
            document.status = DocumentStatus.FAILED
            document.error = f"Failed after {document.attempts} attempts: {reason}"
            document.processed_at = utcnow()
        else:
            document.status = DocumentStatus.PENDING


async def requeue_stuck(database: Database, settings: Settings) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Documents stuck in processing past the timeout (or pending with no job) go back to the queue, or fail
    once they have used up their attempts. Returns the (document id, tenant id) pairs to re-queue."""
    cutoff = utcnow() - timedelta(seconds=settings.ingestion_timeout_seconds)
    requeue: list[tuple[uuid.UUID, uuid.UUID]] = []
    async with database.transaction(ALL_TENANTS) as session:
        for document in await repository.stuck_documents(session, cutoff):
            if document.attempts >= settings.ingestion_max_attempts:
                document.status = DocumentStatus.FAILED
                document.error = f"Timed out after {document.attempts} attempts"
                document.processed_at = utcnow()
            else:
                document.status = DocumentStatus.PENDING
                document.processing_started_at = None
                document.updated_at = utcnow()
                requeue.append((document.id, document.tenant_id))
    return requeue
