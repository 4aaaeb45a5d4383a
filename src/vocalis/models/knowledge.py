import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from vocalis.kit.db import Base, IdMixin, TenantOwned, TimestampMixin

# Vector sizes with an HNSW index of their own: pgvector indexes need a fixed size, while one column holds every
# model's vectors. The indexes are partial expression indexes made in the migrations (named ix_chunks_embedding_<n>),
# which SQLAlchemy cannot declare; searches must use the same expression to hit them.
INDEXED_DIMENSIONS = (384, 1536)


class DocumentStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class KnowledgeBase(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "knowledge_bases"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    embedding_provider: Mapped[str] = mapped_column(String(40))
    embedding_model: Mapped[str] = mapped_column(String(100))
    embedding_dimension: Mapped[int] = mapped_column(SmallInteger)
    chunk_size: Mapped[int]
    chunk_overlap: Mapped[int]


class Document(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "documents"

    knowledge_base_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str | None] = mapped_column(String(120))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.PENDING)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    page_count: Mapped[int | None]
    chunk_count: Mapped[int] = mapped_column(default=0)
    token_count: Mapped[int] = mapped_column(default=0)
    # Milliseconds per ingestion stage (parse, chunk, embed, store) of the last run.
    timings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    processing_started_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_documents_knowledge_base_hash", "knowledge_base_id", "content_hash", unique=True),
        Index("ix_documents_knowledge_base_created", "knowledge_base_id", "created_at"),
        Index("ix_documents_status_started", "status", "processing_started_at"),
    )


class Chunk(IdMixin, TenantOwned, Base):
    """A passage of a document with its embedding (any size, see INDEXED_DIMENSIONS) and full-text vector."""

    __tablename__ = "chunks"

    knowledge_base_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"))
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int]
    page: Mapped[int | None]
    embedding_dimension: Mapped[int] = mapped_column(SmallInteger)
    embedding: Mapped[Any] = mapped_column(Vector())
    search_vector: Mapped[Any] = mapped_column(TSVECTOR)

    __table_args__ = (
        Index("uq_chunks_document_ordinal", "document_id", "ordinal", unique=True),
        Index("ix_chunks_knowledge_base", "knowledge_base_id"),
        Index("ix_chunks_search_vector", "search_vector", postgresql_using="gin"),
    )
