"""Queries for knowledge bases, documents and chunks, including the vector and full-text searches."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import Text, Uuid, cast, func, insert, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from vocalis.kit.db import count_rows, owned_by, tenant_delete, tenant_select, tenant_update
from vocalis.kit.pagination import PageParams, paginate
from vocalis.models.knowledge import Chunk, Document, DocumentStatus, KnowledgeBase

# One text-search configuration for every chunk, as a constant so PostgreSQL resolves it at plan time.
TEXT_SEARCH_CONFIG: ColumnElement[str] = literal_column("'english'::regconfig")
HNSW_EF_SEARCH = 100


async def get_base(session: AsyncSession, tenant_id: uuid.UUID, base_id: uuid.UUID) -> KnowledgeBase | None:
    base: KnowledgeBase | None = await session.scalar(
        tenant_select(KnowledgeBase, tenant_id).where(KnowledgeBase.id == base_id)
    )
    return base


async def list_bases(session: AsyncSession, tenant_id: uuid.UUID, page: PageParams) -> tuple[list[KnowledgeBase], int]:
    stmt = tenant_select(KnowledgeBase, tenant_id).order_by(KnowledgeBase.created_at, KnowledgeBase.id)
    return await paginate(session, stmt, page)


async def bases(
    session: AsyncSession, tenant_id: uuid.UUID, base_ids: Sequence[uuid.UUID] | None
) -> list[KnowledgeBase]:
    stmt = tenant_select(KnowledgeBase, tenant_id)
    if base_ids is not None:
        stmt = stmt.where(KnowledgeBase.id.in_(base_ids))
    return list((await session.scalars(stmt)).all())


async def get_document(session: AsyncSession, tenant_id: uuid.UUID, document_id: uuid.UUID) -> Document | None:
    document: Document | None = await session.scalar(
        tenant_select(Document, tenant_id).where(Document.id == document_id)
    )
    return document


async def list_documents(
    session: AsyncSession, tenant_id: uuid.UUID, base_id: uuid.UUID, status: str | None, page: PageParams
) -> tuple[list[Document], int]:
    stmt = tenant_select(Document, tenant_id).where(Document.knowledge_base_id == base_id)
    if status is not None:
        stmt = stmt.where(Document.status == status)
    return await paginate(session, stmt.order_by(Document.created_at, Document.id), page)


async def documents_of_base(session: AsyncSession, tenant_id: uuid.UUID, base_id: uuid.UUID) -> list[Document]:
    stmt = tenant_select(Document, tenant_id).where(Document.knowledge_base_id == base_id)
    return list((await session.scalars(stmt)).all())


async def document_by_hash(
    session: AsyncSession, tenant_id: uuid.UUID, base_id: uuid.UUID, content_hash: str
) -> Document | None:
    stmt = tenant_select(Document, tenant_id).where(
        Document.knowledge_base_id == base_id, Document.content_hash == content_hash
    )
    document: Document | None = await session.scalar(stmt)
    return document


async def lock_document(session: AsyncSession, document_id: uuid.UUID) -> Document | None:
    """The document row, locked for this transaction (workers are not tenant-bound: they act on a job's id)."""
    stmt = (
        select(Document).where(Document.id == document_id).with_for_update().execution_options(populate_existing=True)
    )
    document: Document | None = await session.scalar(stmt)
    return document


async def is_claimed(session: AsyncSession, document_id: uuid.UUID, started_at: datetime) -> bool:
    """Whether the document exists and its latest ingestion run started at `started_at`."""
    stmt = select(Document.id).where(Document.id == document_id, Document.processing_started_at == started_at)
    return await session.scalar(stmt) is not None


async def list_chunks(
    session: AsyncSession, tenant_id: uuid.UUID, document_id: uuid.UUID, page: PageParams
) -> tuple[list[Chunk], int]:
    stmt = tenant_select(Chunk, tenant_id).where(Chunk.document_id == document_id).order_by(Chunk.ordinal)
    return await paginate(session, stmt, page)


async def chunk_texts(
    session: AsyncSession, tenant_id: uuid.UUID, base_ids: Sequence[uuid.UUID], limit: int
) -> list[str]:
    """The text of the bases' first chunks, in document order."""
    stmt = (
        select(Chunk.content)
        .where(owned_by(Chunk, tenant_id), Chunk.knowledge_base_id.in_(base_ids))
        .order_by(Chunk.document_id, Chunk.ordinal)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def replace_chunks(session: AsyncSession, document: Document, rows: list[dict[str, Any]]) -> None:
    """Swap a document's chunks for `rows` in one transaction, so a retried job never leaves two sets."""
    await session.execute(tenant_delete(Chunk, document.tenant_id).where(Chunk.document_id == document.id))
    if not rows:
        return
    values = [
        {
            **row,
            "id": uuid.uuid4(),
            "tenant_id": document.tenant_id,
            "knowledge_base_id": document.knowledge_base_id,
            "document_id": document.id,
            "search_vector": func.to_tsvector(TEXT_SEARCH_CONFIG, row["content"]),
        }
        for row in rows
    ]
    for begin in range(0, len(values), 500):
        await session.execute(insert(Chunk).values(values[begin : begin + 500]))


async def stuck_documents(session: AsyncSession, started_before: datetime) -> list[Document]:
    """Documents in `processing` since before the cut-off, or `pending` and untouched since then (lost jobs)."""
    stmt = select(Document).where(
        ((Document.status == DocumentStatus.PROCESSING) & (Document.processing_started_at < started_before))
        | ((Document.status == DocumentStatus.PENDING) & (Document.updated_at < started_before))
    )
    return list((await session.scalars(stmt.with_for_update(skip_locked=True))).all())


async def mark_pending(session: AsyncSession, tenant_id: uuid.UUID, base_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = (
        tenant_update(Document, tenant_id)
        .where(Document.knowledge_base_id == base_id)
        .values(status=DocumentStatus.PENDING, error=None, attempts=0)
        .returning(Document.id)
    )
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True)
class BaseTotals:
    documents_by_status: dict[str, int]
    chunks: int
    tokens: int
    storage_bytes: int
    last_ingested_at: datetime | None


async def base_totals(session: AsyncSession, tenant_id: uuid.UUID, base_id: uuid.UUID) -> BaseTotals:
    documents = tenant_select(Document, tenant_id).where(Document.knowledge_base_id == base_id).subquery()
    by_status: dict[str, int] = dict(
        (await session.execute(select(documents.c.status, func.count()).group_by(documents.c.status))).all()
    )
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(documents.c.chunk_count), 0),
                func.coalesce(func.sum(documents.c.token_count), 0),
                func.coalesce(func.sum(documents.c.size_bytes), 0),
                func.max(documents.c.processed_at),
            )
        )
    ).one()
    return BaseTotals(by_status, int(row[0]), int(row[1]), int(row[2]), row[3])


async def count_bases(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    return await count_rows(session, tenant_select(KnowledgeBase, tenant_id))


async def count_documents(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    return await count_rows(session, tenant_select(Document, tenant_id))


async def stored_bytes(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    documents = tenant_select(Document, tenant_id).subquery()
    return int(await session.scalar(select(func.coalesce(func.sum(documents.c.size_bytes), 0))) or 0)


@dataclass(frozen=True)
class Hit:
    chunk_id: uuid.UUID
    content: str
    page: int | None
    document_id: uuid.UUID
    document_title: str
    knowledge_base_id: uuid.UUID
    knowledge_base_name: str
    score: float


async def _hits(session: AsyncSession, ranked: Any, score_column: str) -> list[Hit]:
    """Join ranked chunk ids (a subquery with chunk `id` and a score column) to their document and base."""
    stmt = (
        select(Chunk, Document.title, KnowledgeBase.name, getattr(ranked.c, score_column))
        .join(ranked, ranked.c.id == Chunk.id)
        .join(Document, Document.id == Chunk.document_id)
        .join(KnowledgeBase, KnowledgeBase.id == Chunk.knowledge_base_id)
        .order_by(getattr(ranked.c, score_column).desc())
    )
    return [
        Hit(c.id, c.content, c.page, c.document_id, title, c.knowledge_base_id, base_name, float(score))
        for c, title, base_name, score in (await session.execute(stmt)).all()
    ]


async def vector_search(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    base_ids: Sequence[uuid.UUID],
    dimension: int,
    query_vector: list[float],
    limit: int,
) -> list[Hit]:
    """Nearest chunks by cosine distance. The cast matches the partial HNSW index of this vector size."""
    await session.execute(text(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, limit)}"))
    # Filtering by knowledge base can leave fewer than `limit` rows in the first index pass; keep scanning.
    await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    distance = cast(Chunk.embedding, Vector(dimension)).cosine_distance(cast(query_vector, Vector(dimension)))
    ranked = (
        tenant_select(Chunk, tenant_id)
        .with_only_columns(Chunk.id, (1 - distance).label("score"))
        .where(Chunk.knowledge_base_id.in_(base_ids), Chunk.embedding_dimension == dimension)
        .order_by(distance)
        .limit(limit)
        .subquery()
    )
    return await _hits(session, ranked, "score")


async def keyword_search(
    session: AsyncSession, tenant_id: uuid.UUID, base_ids: Sequence[uuid.UUID], query: str, limit: int
) -> list[Hit]:
    """Full-text matches ranked by cover density. Any query word may match (OR), so questions find answers."""
    words = func.plainto_tsquery(TEXT_SEARCH_CONFIG, query)
    any_word = cast(func.replace(cast(words, Text), "&", "|"), TSQUERY)
    # A database function (migration 0005), so that row-level security leaves the GIN index usable; it answers only
    # for the tenant the transaction acts for, and `_hits` reads the chunks under the tenant's policy.
    matches = func.vocalis_keyword_search(tenant_id, cast(list(base_ids), ARRAY(Uuid())), any_word, limit)
    ranked = (
        select(literal_column("id"), literal_column("score"))
        .select_from(matches.table_valued("id", "score"))
        .subquery()
    )
    return await _hits(session, ranked, "score")
