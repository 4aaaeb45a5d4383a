"""Knowledge rules: knowledge bases, documents (upload, text, reprocess, delete), statistics and search.

`retrieve` is what voice agents call during a call: the tenant's chunks that best answer a question.
"""

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.auth.permissions import Permission
from vocalis.auth.principal import Principal
from vocalis.billing import service as billing
from vocalis.billing.service import Resource
from vocalis.config import Settings
from vocalis.kit.db import Database, after_commit, after_rollback
from vocalis.kit.errors import AppError, InvalidInput, NotFound, ProviderError
from vocalis.kit.jobs import Jobs
from vocalis.kit.pagination import PageParams
from vocalis.kit.storage import Storage
from vocalis.kit.text import display_text
from vocalis.knowledge import repository
from vocalis.knowledge.embeddings import EmbeddingError
from vocalis.knowledge.parsing import ACCEPTED_EXTENSIONS, detect_format
from vocalis.knowledge.providers import embedder_for, resolve, window
from vocalis.knowledge.repository import Hit
from vocalis.knowledge.schemas import (
    KnowledgeBaseCreate,
    KnowledgeBaseStatistics,
    KnowledgeBaseUpdate,
    SearchRequest,
)
from vocalis.knowledge.tasks import ingestion_lock
from vocalis.knowledge.uploads import IncomingFile
from vocalis.knowledge.vocabulary import business_words
from vocalis.models.knowledge import Chunk, Document, DocumentStatus, KnowledgeBase

RRF_K = 60  # the reciprocal-rank-fusion constant of Cormack et al.
DEFAULT_CHUNK_TOKENS = 400
# The chunks read for a call's vocabulary: an FAQ's names are in its first pages, and a call must start quickly.
VOCABULARY_CHUNKS = 300


class UnsupportedFormat(AppError):
    status_code = 415
    code = "unsupported_media_type"


# Reads an upload's files (see uploads.read_files): called only once the upload may go ahead.
FileReader = Callable[[], Awaitable[Sequence[IncomingFile]]]


# Knowledge bases


async def create_base(
    session: AsyncSession, principal: Principal, settings: Settings, data: KnowledgeBaseCreate
) -> KnowledgeBase:
    """Create a knowledge base with its embedding model and chunking settings."""
    principal.require(Permission.KNOWLEDGE_WRITE)
    await billing.ensure_capacity(
        session,
        principal.tenant_id,
        Resource.KNOWLEDGE_BASES,
        partial(repository.count_bases, session, principal.tenant_id),
    )
    provider, model, dimension = resolve(data.embedding.provider, data.embedding.model, settings)
    # Chunks longer than the model's window would be embedded only in part, so the default never exceeds it.
    size = data.chunk_size or min(DEFAULT_CHUNK_TOKENS, window(provider))
    overlap = data.chunk_overlap if data.chunk_overlap is not None else round(size * 0.15)
    if overlap >= size:
        raise InvalidInput("chunk_overlap must be smaller than chunk_size", details={"field": "chunk_overlap"})
    base = KnowledgeBase(
        tenant_id=principal.tenant_id,
        name=data.name,
        description=data.description,
        embedding_provider=provider,
        embedding_model=model,
        embedding_dimension=dimension,
        chunk_size=size,
        chunk_overlap=overlap,
    )
    session.add(base)
    await session.flush()
    return base


async def list_bases(session: AsyncSession, principal: Principal, page: PageParams) -> tuple[list[KnowledgeBase], int]:
    principal.require(Permission.KNOWLEDGE_READ)
    return await repository.list_bases(session, principal.tenant_id, page)


async def get_base(session: AsyncSession, principal: Principal, base_id: uuid.UUID) -> KnowledgeBase:
    principal.require(Permission.KNOWLEDGE_READ)
    return await _base(session, principal.tenant_id, base_id)


async def unknown_base_ids(
    session: AsyncSession, tenant_id: uuid.UUID, base_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """The ids among `base_ids` that are not knowledge bases of the tenant (another tenant's look like none)."""
    if not base_ids:
        return []
    known = {base.id for base in await repository.bases(session, tenant_id, base_ids)}
    return list(dict.fromkeys(base_id for base_id in base_ids if base_id not in known))


async def _base(session: AsyncSession, tenant_id: uuid.UUID, base_id: uuid.UUID) -> KnowledgeBase:
    base = await repository.get_base(session, tenant_id, base_id)
    if base is None:
        raise NotFound("Knowledge base not found")
    return base


async def update_base(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    jobs: Jobs,
    base_id: uuid.UUID,
    data: KnowledgeBaseUpdate,
) -> KnowledgeBase:
    """Rename or re-describe a base; a new embedding model or chunking re-processes all of its documents."""
    principal.require(Permission.KNOWLEDGE_WRITE)
    base = await _base(session, principal.tenant_id, base_id)
    if data.name is not None:
        base.name = data.name
    if "description" in data.model_fields_set:
        base.description = data.description
    before = (base.embedding_provider, base.embedding_model, base.chunk_size, base.chunk_overlap)
    if data.embedding is not None:
        base.embedding_provider, base.embedding_model, base.embedding_dimension = resolve(
            data.embedding.provider, data.embedding.model, settings
        )
    size = data.chunk_size if data.chunk_size is not None else base.chunk_size
    overlap = data.chunk_overlap if data.chunk_overlap is not None else base.chunk_overlap
    if overlap >= size:
        raise InvalidInput("chunk_overlap must be smaller than chunk_size", details={"field": "chunk_overlap"})
    base.chunk_size, base.chunk_overlap = size, overlap
    await session.flush()
    if (base.embedding_provider, base.embedding_model, base.chunk_size, base.chunk_overlap) != before:
        for document_id in await repository.mark_pending(session, principal.tenant_id, base.id):
            _queue_ingestion(session, jobs, principal.tenant_id, document_id)
    return base


async def delete_base(session: AsyncSession, principal: Principal, storage: Storage, base_id: uuid.UUID) -> None:
    """Delete a knowledge base with its documents, chunks and stored files."""
    principal.require(Permission.KNOWLEDGE_WRITE)
    base = await _base(session, principal.tenant_id, base_id)
    documents = await repository.documents_of_base(session, principal.tenant_id, base.id)
    await session.delete(base)
    for document in documents:
        _delete_file_after_commit(session, storage, document.storage_key)


async def base_statistics(session: AsyncSession, principal: Principal, base_id: uuid.UUID) -> KnowledgeBaseStatistics:
    """Documents by status, chunks, tokens, storage and the last ingestion time of a knowledge base."""
    base = await get_base(session, principal, base_id)
    totals = await repository.base_totals(session, principal.tenant_id, base.id)
    by_status = {status: totals.documents_by_status.get(status, 0) for status in DocumentStatus}
    return KnowledgeBaseStatistics(
        knowledge_base_id=base.id,
        documents=sum(by_status.values()),
        documents_by_status=by_status,
        chunks=totals.chunks,
        tokens=totals.tokens,
        storage_bytes=totals.storage_bytes,
        last_ingested_at=totals.last_ingested_at,
    )


async def quota_counts(session: AsyncSession, tenant_id: uuid.UUID) -> dict[Resource, int]:
    """What the tenant has of the resources its plan limits and this domain owns."""
    return {
        Resource.KNOWLEDGE_BASES: await repository.count_bases(session, tenant_id),
        Resource.DOCUMENTS: await repository.count_documents(session, tenant_id),
        Resource.STORAGE_BYTES: await repository.stored_bytes(session, tenant_id),
    }


# Documents


async def add_files(
    database: Database,
    principal: Principal,
    storage: Storage,
    jobs: Jobs,
    base_id: uuid.UUID,
    read_files: FileReader,
) -> list[tuple[Document, bool]]:
    """Store uploaded files and queue their ingestion. Returns each file's document and whether it was a duplicate
    (the same content already in this base: the existing document is returned).

    The files are read only once the caller may write to this base and the plan has room for a document, so a
    refused upload is refused before its body is read. No database connection is held while a (slow) client sends
    the body: the checks run in one short transaction, and the documents are stored in another that checks the
    base and the quota again."""
    principal.require(Permission.KNOWLEDGE_WRITE)
    async with database.transaction(principal.tenant_id) as session:
        await _base(session, principal.tenant_id, base_id)
        await _ensure_room(session, principal.tenant_id, 1)
    files = await read_files()
    if not files:
        raise InvalidInput("No files were uploaded", details={"field": "files"})
    formats = []
    for file in files:
        fmt = detect_format(file.filename, file.content_type)
        if fmt is None:
            raise UnsupportedFormat(
                f"Unsupported file type: {file.filename or file.content_type}",
                details={"filename": file.filename, "accepted": ACCEPTED_EXTENSIONS},
            )
        if not file.data:
            raise InvalidInput(f"{file.filename} is empty", details={"filename": file.filename})
        formats.append(fmt)
    async with database.transaction(principal.tenant_id) as session:
        base = await _base(session, principal.tenant_id, base_id)
        added = [
            await _add_document(session, principal, base, file.filename, file.content_type, fmt, file.data)
            for file, fmt in zip(files, formats, strict=True)
        ]
        return await _store_and_queue(session, storage, jobs, added)


async def add_text(
    session: AsyncSession,
    principal: Principal,
    storage: Storage,
    jobs: Jobs,
    base_id: uuid.UUID,
    title: str,
    text: str,
) -> tuple[Document, bool]:
    """Add a document from raw text (for scripts); ingested like an uploaded .txt file."""
    principal.require(Permission.KNOWLEDGE_WRITE)
    base = await _base(session, principal.tenant_id, base_id)
    added = await _add_document(session, principal, base, None, "text/plain", "txt", text.encode(), title)
    [result] = await _store_and_queue(session, storage, jobs, [added])
    return result


@dataclass(frozen=True)
class _Added:
    document: Document
    duplicate: bool
    data: bytes


async def _add_document(
    session: AsyncSession,
    principal: Principal,
    base: KnowledgeBase,
    filename: str | None,
    content_type: str | None,
    fmt: str,
    data: bytes,
    title: str | None = None,
) -> _Added:
    """Add the document row after the duplicate and quota checks; its file is written by `_store_and_queue`."""
    # Hashing up to 25 MB takes tens of milliseconds: off the event loop.
    content_hash = await to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())
    existing = await repository.document_by_hash(session, principal.tenant_id, base.id, content_hash)
    if existing is not None:
        return _Added(existing, True, data)
    await _ensure_room(session, principal.tenant_id, len(data))
    document_id = uuid.uuid4()
    safe_name = _display_name(filename)
    document = Document(
        id=document_id,
        tenant_id=principal.tenant_id,
        knowledge_base_id=base.id,
        title=title or safe_name or "Untitled",
        filename=safe_name,
        format=fmt,
        content_type=(content_type or "")[:120] or None,
        size_bytes=len(data),
        content_hash=content_hash,
        # The key is ours alone: a hostile file name never reaches the file system.
        storage_key=f"tenants/{principal.tenant_id}/documents/{document_id}",
        status=DocumentStatus.PENDING,
        attempts=0,
        timings={},
    )
    session.add(document)
    await session.flush()
    return _Added(document, False, data)


async def _ensure_room(session: AsyncSession, tenant_id: uuid.UUID, size_bytes: int) -> None:
    """Raise QuotaExceeded unless the plan has room for one more document of `size_bytes`."""
    await billing.ensure_capacity(
        session, tenant_id, Resource.DOCUMENTS, partial(repository.count_documents, session, tenant_id)
    )
    await billing.ensure_capacity(
        session, tenant_id, Resource.STORAGE_BYTES, partial(repository.stored_bytes, session, tenant_id), size_bytes
    )


def _display_name(filename: str | None) -> str | None:
    """The base name of an uploaded file, without folders, control or bidi-override characters (for display only)."""
    if not filename:
        return None
    name = display_text(filename.replace("\\", "/").rsplit("/", 1)[-1])
    return name[:255] or None


def _queue_ingestion(session: AsyncSession, jobs: Jobs, tenant_id: uuid.UUID, document_id: uuid.UUID) -> None:
    # One lock per tenant: a tenant's documents are ingested one at a time, so its backlog never holds every worker.
    jobs.defer(session, "ingest_document", lock=ingestion_lock(tenant_id), document_id=str(document_id))


async def _store_and_queue(
    session: AsyncSession, storage: Storage, jobs: Jobs, added: Sequence[_Added]
) -> list[tuple[Document, bool]]:
    """Write the new documents' files and queue their ingestion for after the commit. Files are written only once
    every document passed its checks, and removed again if the transaction rolls back, so a refused upload leaves
    nothing behind."""
    for item in added:
        if item.duplicate:
            continue
        key = item.document.storage_key
        after_rollback(session, partial(storage.delete, key))
        await storage.put(key, item.data)
        _queue_ingestion(session, jobs, item.document.tenant_id, item.document.id)
    return [(item.document, item.duplicate) for item in added]


def _delete_file_after_commit(session: AsyncSession, storage: Storage, key: str) -> None:
    # A file goes only once its document's row is gone for good.
    after_commit(session, partial(storage.delete, key))


async def get_document(session: AsyncSession, principal: Principal, document_id: uuid.UUID) -> Document:
    principal.require(Permission.KNOWLEDGE_READ)
    return await _document(session, principal.tenant_id, document_id)


async def _document(session: AsyncSession, tenant_id: uuid.UUID, document_id: uuid.UUID) -> Document:
    document = await repository.get_document(session, tenant_id, document_id)
    if document is None:
        raise NotFound("Document not found")
    return document


async def list_documents(
    session: AsyncSession, principal: Principal, base_id: uuid.UUID, status: DocumentStatus | None, page: PageParams
) -> tuple[list[Document], int]:
    base = await get_base(session, principal, base_id)
    return await repository.list_documents(session, principal.tenant_id, base.id, status, page)


async def list_chunks(
    session: AsyncSession, principal: Principal, document_id: uuid.UUID, page: PageParams
) -> tuple[list[Chunk], int]:
    document = await get_document(session, principal, document_id)
    return await repository.list_chunks(session, principal.tenant_id, document.id, page)


async def delete_document(
    session: AsyncSession, principal: Principal, storage: Storage, document_id: uuid.UUID
) -> None:
    """Delete a document, its chunks and its stored file."""
    principal.require(Permission.KNOWLEDGE_WRITE)
    document = await _document(session, principal.tenant_id, document_id)
    await session.delete(document)
    _delete_file_after_commit(session, storage, document.storage_key)


async def reprocess_document(
    session: AsyncSession, principal: Principal, jobs: Jobs, document_id: uuid.UUID
) -> Document:
    """Run ingestion again (after a failure, or to pick up a changed base)."""
    principal.require(Permission.KNOWLEDGE_WRITE)
    document = await _document(session, principal.tenant_id, document_id)
    document.status = DocumentStatus.PENDING
    document.error = None
    document.attempts = 0
    document.processing_started_at = None
    _queue_ingestion(session, jobs, principal.tenant_id, document.id)
    await session.flush()
    return document


# Search


async def search(database: Database, principal: Principal, settings: Settings, request: SearchRequest) -> list[Hit]:
    """Search the caller's knowledge bases (all, or the listed ones: any not the tenant's answers 404). Holds no
    database connection while the query is embedded (see `_search`)."""
    principal.require(Permission.KNOWLEDGE_READ)
    async with database.transaction(principal.tenant_id) as session:
        bases = await repository.bases(session, principal.tenant_id, request.knowledge_base_ids)
    if request.knowledge_base_ids is not None and len(bases) != len(set(request.knowledge_base_ids)):
        raise NotFound("Knowledge base not found")
    return await _search(database, principal.tenant_id, settings, bases, request.query, request.top_k, request.mode)


async def retrieve(
    database: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    knowledge_base_ids: Sequence[uuid.UUID],
    query: str,
    k: int = 5,
) -> list[Hit]:
    """The `k` passages of a tenant's knowledge bases that best answer `query` (hybrid search), for voice agents.
    Opens its own short transactions, none while the query is embedded."""
    async with database.transaction(tenant_id) as session:
        bases = await repository.bases(session, tenant_id, knowledge_base_ids)
    return await _search(database, tenant_id, settings, bases, query, k, "hybrid")


async def vocabulary(session: AsyncSession, tenant_id: uuid.UUID, base_ids: Sequence[uuid.UUID]) -> list[str]:
    """The names the bases mention most (from their first chunks), for speech recognition to expect."""
    if not base_ids:
        return []
    return business_words(await repository.chunk_texts(session, tenant_id, base_ids, VOCABULARY_CHUNKS))


async def _search(
    database: Database,
    tenant_id: uuid.UUID,
    settings: Settings,
    bases: Sequence[KnowledgeBase],
    query: str,
    k: int,
    mode: str,
) -> list[Hit]:
    if not bases:
        return []
    candidates = k if mode != "hybrid" else max(4 * k, 20)
    # Embedded before the transaction: an embeddings API is a provider, and may be slow to answer.
    vectors = await _query_vectors(settings, bases, query) if mode != "keyword" else []
    async with database.transaction(tenant_id) as session:
        vector_hits = await _vector_hits(session, tenant_id, vectors, candidates)
        base_ids = [base.id for base in bases]
        keyword_hits = (
            await repository.keyword_search(session, tenant_id, base_ids, query, candidates) if mode != "vector" else []
        )
    if mode == "vector":
        return vector_hits[:k]
    if mode == "keyword":
        return keyword_hits[:k]
    return fuse([vector_hits, keyword_hits], k)


@dataclass(frozen=True)
class _QueryVector:
    """The query embedded by one model, for the bases using it."""

    base_ids: list[uuid.UUID]
    dimension: int
    vector: list[float]


async def _query_vectors(settings: Settings, bases: Sequence[KnowledgeBase], query: str) -> list[_QueryVector]:
    # Bases using different embedding models are searched with a query vector from each model.
    by_model: dict[tuple[str, str, int], list[KnowledgeBase]] = defaultdict(list)
    for base in bases:
        by_model[(base.embedding_provider, base.embedding_model, base.embedding_dimension)].append(base)
    vectors = []
    for (provider, model, dimension), group in by_model.items():
        try:
            [vector] = await embedder_for(group[0], settings).embed([query])
        except EmbeddingError as exc:
            raise ProviderError(str(exc), details={"provider": provider, "model": model}) from exc
        vectors.append(_QueryVector([base.id for base in group], dimension, vector))
    return vectors


async def _vector_hits(
    session: AsyncSession, tenant_id: uuid.UUID, vectors: Sequence[_QueryVector], limit: int
) -> list[Hit]:
    hits: list[Hit] = []
    for query in vectors:
        hits.extend(
            await repository.vector_search(session, tenant_id, query.base_ids, query.dimension, query.vector, limit)
        )
    return sorted(hits, key=lambda hit: hit.score, reverse=True)[:limit]


def fuse(rankings: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
    """Reciprocal rank fusion: each list adds 1 / (RRF_K + rank) to a chunk's score."""
    scores: dict[uuid.UUID, float] = defaultdict(float)
    hits: dict[uuid.UUID, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.chunk_id] += 1.0 / (RRF_K + rank)
            hits.setdefault(hit.chunk_id, hit)
    best = sorted(scores, key=lambda chunk_id: scores[chunk_id], reverse=True)[:k]
    return [replace(hits[chunk_id], score=round(scores[chunk_id], 6)) for chunk_id in best]
