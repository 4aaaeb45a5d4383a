import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, status

from vocalis.auth.dependencies import ClientInfo, CurrentPrincipal
from vocalis.auth.schemas import UserRead
from vocalis.dependencies import AppSettings, Limiter, Session
from vocalis.kit.pagination import Page, Pagination
from vocalis.models.tenant import Tenant
from vocalis.tenants import service
from vocalis.tenants.schemas import (
    ApiKeyCreated,
    RegisterRequest,
    RegisterResponse,
    SuspendRequest,
    TenantCreate,
    TenantCreated,
    TenantFilters,
    TenantRead,
    TenantStatistics,
    TenantUpdate,
)

router = APIRouter(prefix="/tenants", tags=["tenants"])
# Sign-up creates a tenant, so it lives here, at the path clients know it by.
signup_router = APIRouter(prefix="/auth", tags=["auth"])


@signup_router.post(
    "/register",
    summary="Sign up: a new tenant with you as its owner",
    response_model=RegisterResponse,
    status_code=status.HTTP_201_CREATED,
)
async def register(
    data: RegisterRequest, session: Session, settings: AppSettings, limiter: Limiter, client: ClientInfo
) -> RegisterResponse:
    user, tenant = await service.sign_up(session, settings, limiter, data, client)
    return RegisterResponse(user=UserRead.model_validate(user), tenant=TenantRead.model_validate(tenant))


@router.get("/", summary="List all tenants (platform admins)", response_model=Page[TenantRead])
async def list_tenants(
    session: Session,
    principal: CurrentPrincipal,
    filters: Annotated[TenantFilters, Depends()],
    page: Pagination,
) -> Page[TenantRead]:
    tenants, total = await service.list_tenants(session, principal, filters, page)
    return Page.of([TenantRead.model_validate(tenant) for tenant in tenants], total, page)


@router.get("/current", summary="Get the caller's tenant", response_model=TenantRead)
async def get_current_tenant(session: Session, principal: CurrentPrincipal) -> Tenant:
    return await service.current_tenant(session, principal)


@router.get("/{tenant_id}", summary="Get a tenant", response_model=TenantRead)
async def get_tenant(tenant_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> Tenant:
    return await service.get_tenant(session, principal, tenant_id)


@router.post(
    "/",
    summary="Create a tenant with its first owner (platform admins)",
    response_model=TenantCreated,
    status_code=status.HTTP_201_CREATED,
)
async def create_tenant(
    data: TenantCreate, session: Session, principal: CurrentPrincipal, settings: AppSettings
) -> TenantCreated:
    tenant, owner = await service.create_tenant(session, principal, data, settings.default_plan)
    return TenantCreated(tenant=TenantRead.model_validate(tenant), owner_id=owner.id)


@router.put("/{tenant_id}", summary="Update a tenant", response_model=TenantRead)
async def update_tenant(
    tenant_id: uuid.UUID, data: TenantUpdate, session: Session, principal: CurrentPrincipal
) -> Tenant:
    return await service.update_tenant(session, principal, tenant_id, data)


@router.delete("/{tenant_id}", summary="Delete a tenant", status_code=status.HTTP_204_NO_CONTENT)
async def delete_tenant(tenant_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> None:
    await service.delete_tenant(session, principal, tenant_id)


@router.post("/{tenant_id}/suspend", summary="Suspend a tenant (platform admins)", response_model=TenantRead)
async def suspend_tenant(
    tenant_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    data: Annotated[SuspendRequest | None, Body()] = None,
) -> Tenant:
    return await service.suspend_tenant(session, principal, tenant_id, data.reason if data else None)


@router.post(
    "/{tenant_id}/reactivate",
    summary="Reactivate a suspended tenant (platform admins)",
    response_model=TenantRead,
)
async def reactivate_tenant(tenant_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> Tenant:
    return await service.reactivate_tenant(session, principal, tenant_id)


@router.post(
    "/{tenant_id}/regenerate-api-key",
    summary="Replace the tenant's API key (shown once)",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
)
async def regenerate_api_key(tenant_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> ApiKeyCreated:
    return await service.regenerate_api_key(session, principal, tenant_id)


@router.get(
    "/{tenant_id}/statistics",
    summary="Get a tenant's usage against its plan",
    response_model=TenantStatistics,
)
async def get_tenant_statistics(
    tenant_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> TenantStatistics:
    return await service.tenant_statistics(session, principal, tenant_id)
