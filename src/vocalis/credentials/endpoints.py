import uuid

from fastapi import APIRouter, status

from vocalis.auth.dependencies import CurrentPrincipal, SessionlessPrincipal
from vocalis.credentials import service
from vocalis.credentials.schemas import CredentialCreate, CredentialRead, CredentialTestResult, CredentialUpdate
from vocalis.dependencies import AppDatabase, AppSettings, Session
from vocalis.kit.errors import ErrorResponse
from vocalis.kit.pagination import Page, Pagination
from vocalis.models.credential import ProviderCredential

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.get("", summary="List the tenant's provider credentials (keys masked)", response_model=Page[CredentialRead])
async def list_credentials(session: Session, principal: CurrentPrincipal, page: Pagination) -> Page[CredentialRead]:
    credentials, total = await service.list_credentials(session, principal, page)
    return Page.of([CredentialRead.model_validate(credential) for credential in credentials], total, page)


@router.post(
    "",
    summary="Store a provider API key (encrypted)",
    response_model=CredentialRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": ErrorResponse, "description": "The tenant already has a credential for this provider"},
        422: {"model": ErrorResponse, "description": "Invalid, or a base_url at an address this server does not call"},
    },
)
async def create_credential(
    data: CredentialCreate, session: Session, principal: CurrentPrincipal, settings: AppSettings
) -> ProviderCredential:
    return await service.create_credential(session, principal, settings, data)


@router.get("/{credential_id}", summary="Get a provider credential (key masked)", response_model=CredentialRead)
async def get_credential(credential_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> ProviderCredential:
    return await service.get_credential(session, principal, credential_id)


@router.patch(
    "/{credential_id}",
    summary="Rename a credential, rotate its key or change its base URL",
    response_model=CredentialRead,
)
async def update_credential(
    credential_id: uuid.UUID,
    data: CredentialUpdate,
    session: Session,
    principal: CurrentPrincipal,
    settings: AppSettings,
) -> ProviderCredential:
    return await service.update_credential(session, principal, settings, credential_id, data)


@router.delete("/{credential_id}", summary="Delete a provider credential", status_code=status.HTTP_204_NO_CONTENT)
async def delete_credential(credential_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> None:
    await service.delete_credential(session, principal, credential_id)


@router.post(
    "/{credential_id}/test",
    summary="Check the key with its provider (a refused key is ok=false, not an error)",
    response_model=CredentialTestResult,
    responses={429: {"model": ErrorResponse, "description": "Too many requests to providers are running"}},
)
async def check_credential(
    credential_id: uuid.UUID, database: AppDatabase, principal: SessionlessPrincipal, settings: AppSettings
) -> CredentialTestResult:
    # No request session: the service holds no connection while the provider answers.
    return await service.check_credential(database, principal, settings, credential_id)
