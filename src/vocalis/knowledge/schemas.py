import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from vocalis.kit.text import DisplayText
from vocalis.models.knowledge import DocumentStatus

# Shown to other people: control and bidi-override characters are dropped before the length is checked.
Name = Annotated[str, DisplayText, StringConstraints(min_length=1, max_length=200)]
Title = Annotated[str, DisplayText, StringConstraints(min_length=1, max_length=300)]


class EmbeddingChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["local", "openai"] = "local"
    model: str | None = Field(default=None, max_length=100, description="Defaults to the provider's default model")


class KnowledgeBaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str | None = Field(default=None, max_length=2000)
    embedding: EmbeddingChoice = EmbeddingChoice()
    chunk_size: int | None = Field(
        default=None,
        ge=50,
        le=2000,
        description="Tokens per chunk; by default 400, or the embedding model's window if smaller (256 offline)",
    )
    chunk_overlap: int | None = Field(
        default=None, ge=0, le=500, description="Tokens shared by neighbouring chunks; by default 15% of the size"
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> "KnowledgeBaseCreate":
        if self.chunk_overlap is not None and self.chunk_size is not None and self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class KnowledgeBaseUpdate(BaseModel):
    """Fields left out are unchanged. Changing the embedding model or chunking re-processes every document."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    embedding: EmbeddingChoice | None = None
    chunk_size: int | None = Field(default=None, ge=50, le=2000)
    chunk_overlap: int | None = Field(default=None, ge=0, le=500)


class KnowledgeBaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    description: str | None
    embedding_provider: str
    embedding_model: str
    embedding_dimension: int
    chunk_size: int
    chunk_overlap: int
    created_at: datetime
    updated_at: datetime


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    knowledge_base_id: uuid.UUID
    title: str
    filename: str | None
    format: str
    content_type: str | None
    size_bytes: int
    content_hash: str
    status: DocumentStatus
    error: str | None
    attempts: int
    page_count: int | None
    chunk_count: int
    token_count: int
    timings: dict[str, Any]
    processing_started_at: datetime | None
    processed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UploadedDocument(DocumentRead):
    duplicate: bool = Field(description="The same content was already in this knowledge base; this is that document")


class UploadResult(BaseModel):
    documents: list[UploadedDocument]


class TextDocumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    text: str = Field(min_length=1, max_length=5_000_000)


class ChunkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    document_id: uuid.UUID
    ordinal: int
    content: str
    token_count: int
    page: int | None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    knowledge_base_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)
    top_k: int = Field(default=5, ge=1, le=50)
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"


class SearchHit(BaseModel):
    chunk_id: uuid.UUID
    content: str
    score: float
    page: int | None
    document_id: uuid.UUID
    document_title: str
    knowledge_base_id: uuid.UUID
    knowledge_base_name: str


class SearchResponse(BaseModel):
    query: str
    mode: str
    results: list[SearchHit]


class KnowledgeBaseStatistics(BaseModel):
    knowledge_base_id: uuid.UUID
    documents: int
    documents_by_status: dict[DocumentStatus, int]
    chunks: int
    tokens: int
    storage_bytes: int
    last_ingested_at: datetime | None
