import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from vocalis.auth.dependencies import CurrentPrincipal, SessionlessPrincipal
from vocalis.dependencies import AppDatabase, AppSettings, BlobStorage, JobQueue, Session
from vocalis.kit.errors import ERROR_RESPONSES, ErrorResponse
from vocalis.kit.pagination import Page, Pagination
from vocalis.knowledge import service, uploads
from vocalis.knowledge.schemas import (
    ChunkRead,
    DocumentRead,
    KnowledgeBaseCreate,
    KnowledgeBaseRead,
    KnowledgeBaseStatistics,
    KnowledgeBaseUpdate,
    SearchHit,
    SearchRequest,
    SearchResponse,
    TextDocumentCreate,
    UploadedDocument,
    UploadResult,
)
from vocalis.models.knowledge import Document, DocumentStatus, KnowledgeBase

router = APIRouter(prefix="/knowledge", tags=["knowledge"])

_UPLOAD_ERRORS = {
    **ERROR_RESPONSES,
    402: {"model": ErrorResponse, "description": "The plan's document or storage quota is used up"},
    415: {"model": ErrorResponse, "description": "Unsupported file type"},
}


@router.get("/bases", summary="List knowledge bases", response_model=Page[KnowledgeBaseRead])
async def list_bases(session: Session, principal: CurrentPrincipal, page: Pagination) -> Page[KnowledgeBaseRead]:
    bases, total = await service.list_bases(session, principal, page)
    return Page.of([KnowledgeBaseRead.model_validate(base) for base in bases], total, page)


@router.get("/bases/{base_id}", summary="Get a knowledge base", response_model=KnowledgeBaseRead)
async def get_base(base_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> KnowledgeBase:
    return await service.get_base(session, principal, base_id)


@router.post(
    "/bases",
    summary="Create a knowledge base",
    response_model=KnowledgeBaseRead,
    status_code=status.HTTP_201_CREATED,
    responses={402: {"model": ErrorResponse, "description": "The plan's knowledge base quota is used up"}},
)
async def create_base(
    data: KnowledgeBaseCreate, session: Session, principal: CurrentPrincipal, settings: AppSettings
) -> KnowledgeBase:
    return await service.create_base(session, principal, settings, data)


@router.put("/bases/{base_id}", summary="Update a knowledge base", response_model=KnowledgeBaseRead)
async def update_base(
    base_id: uuid.UUID,
    data: KnowledgeBaseUpdate,
    session: Session,
    principal: CurrentPrincipal,
    settings: AppSettings,
    jobs: JobQueue,
) -> KnowledgeBase:
    return await service.update_base(session, principal, settings, jobs, base_id, data)


@router.delete("/bases/{base_id}", summary="Delete a knowledge base and its documents", status_code=204)
async def delete_base(base_id: uuid.UUID, session: Session, principal: CurrentPrincipal, storage: BlobStorage) -> None:
    await service.delete_base(session, principal, storage, base_id)


@router.get(
    "/bases/{base_id}/statistics", summary="Get a knowledge base's statistics", response_model=KnowledgeBaseStatistics
)
async def get_base_statistics(
    base_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> KnowledgeBaseStatistics:
    return await service.base_statistics(session, principal, base_id)


@router.get(
    "/bases/{base_id}/documents", summary="List a knowledge base's documents", response_model=Page[DocumentRead]
)
async def list_documents(
    base_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    status: Annotated[DocumentStatus | None, Query(description="Only documents in this state")] = None,
) -> Page[DocumentRead]:
    documents, total = await service.list_documents(session, principal, base_id, status, page)
    return Page.of([DocumentRead.model_validate(document) for document in documents], total, page)


@router.post(
    "/bases/{base_id}/documents/upload",
    summary="Upload documents (PDF, DOCX, TXT, Markdown, HTML, CSV)",
    response_model=UploadResult,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_UPLOAD_ERRORS,
    openapi_extra=uploads.OPENAPI_BODY,
)
async def upload_documents(
    base_id: uuid.UUID,
    request: Request,
    database: AppDatabase,
    principal: SessionlessPrincipal,
    settings: AppSettings,
    storage: BlobStorage,
    jobs: JobQueue,
) -> UploadResult:
    # The route reads its body itself, after the service's checks: a `File(...)` parameter would be read first. No
    # request session: the service holds no connection while the client sends the body.
    read_files = partial(uploads.read_files, request.headers.get("content-type"), request.stream(), settings)
    results = await service.add_files(database, principal, storage, jobs, base_id, read_files)
    return UploadResult(documents=[_uploaded(document, duplicate) for document, duplicate in results])


@router.post(
    "/bases/{base_id}/documents",
    summary="Add a document from text",
    response_model=UploadedDocument,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_UPLOAD_ERRORS,
)
async def create_text_document(
    base_id: uuid.UUID,
    data: TextDocumentCreate,
    session: Session,
    principal: CurrentPrincipal,
    storage: BlobStorage,
    jobs: JobQueue,
) -> UploadedDocument:
    document, duplicate = await service.add_text(session, principal, storage, jobs, base_id, data.title, data.text)
    return _uploaded(document, duplicate)


def _uploaded(document: Document, duplicate: bool) -> UploadedDocument:
    return UploadedDocument.model_validate(
        {**DocumentRead.model_validate(document).model_dump(), "duplicate": duplicate}
    )


@router.get("/documents/{document_id}", summary="Get a document and its ingestion status", response_model=DocumentRead)
async def get_document(document_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> Document:
    return await service.get_document(session, principal, document_id)


@router.get("/documents/{document_id}/chunks", summary="List a document's chunks", response_model=Page[ChunkRead])
async def list_chunks(
    document_id: uuid.UUID, session: Session, principal: CurrentPrincipal, page: Pagination
) -> Page[ChunkRead]:
    chunks, total = await service.list_chunks(session, principal, document_id, page)
    return Page.of([ChunkRead.model_validate(chunk) for chunk in chunks], total, page)


@router.post(
    "/documents/{document_id}/reprocess",
    summary="Ingest a document again",
    response_model=DocumentRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def reprocess_document(
    document_id: uuid.UUID, session: Session, principal: CurrentPrincipal, jobs: JobQueue
) -> Document:
    return await service.reprocess_document(session, principal, jobs, document_id)


@router.delete("/documents/{document_id}", summary="Delete a document", status_code=204)
async def delete_document(
    document_id: uuid.UUID, session: Session, principal: CurrentPrincipal, storage: BlobStorage
) -> None:
    await service.delete_document(session, principal, storage, document_id)


@router.post(
    "/search",
    summary="Search knowledge bases (hybrid, vector or keyword)",
    response_model=SearchResponse,
    responses={
        429: {"model": ErrorResponse, "description": "Too many requests to providers are running"},
        502: {"model": ErrorResponse, "description": "The embedding provider failed"},
    },
)
async def search(
    data: SearchRequest, database: AppDatabase, principal: SessionlessPrincipal, settings: AppSettings
) -> SearchResponse:
    # No request session: the service holds no connection while an embeddings API answers.
    hits = await service.search(database, principal, settings, data)
    return SearchResponse(
        query=data.query, mode=data.mode, results=[SearchHit.model_validate(hit, from_attributes=True) for hit in hits]
    )
