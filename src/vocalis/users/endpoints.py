import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from vocalis.auth.dependencies import CurrentPrincipal
from vocalis.auth.schemas import UserRead
from vocalis.dependencies import Session
from vocalis.kit.pagination import Page, Pagination
from vocalis.models.user import User
from vocalis.users import service
from vocalis.users.schemas import UserCreate, UserFilters, UserPermissions, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/", summary="List the tenant's users", response_model=Page[UserRead])
async def list_users(
    session: Session,
    principal: CurrentPrincipal,
    filters: Annotated[UserFilters, Depends()],
    page: Pagination,
) -> Page[UserRead]:
    users, total = await service.list_users(session, principal, filters, page)
    return Page.of([UserRead.model_validate(user) for user in users], total, page)


@router.get("/{user_id}", summary="Get a user", response_model=UserRead)
async def get_user(user_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> User:
    return await service.get_user(session, principal, user_id)


@router.post("/", summary="Create a user", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(data: UserCreate, session: Session, principal: CurrentPrincipal) -> User:
    return await service.create_user(session, principal, data)


@router.put("/{user_id}", summary="Update a user", response_model=UserRead)
async def update_user(user_id: uuid.UUID, data: UserUpdate, session: Session, principal: CurrentPrincipal) -> User:
    return await service.update_user(session, principal, user_id, data)


@router.delete("/{user_id}", summary="Delete a user", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    hard: Annotated[bool, Query(description="Delete for good instead of deactivating and hiding")] = False,
) -> None:
    await service.delete_user(session, principal, user_id, hard=hard)


@router.post("/{user_id}/verify", summary="Mark a user's email as verified", response_model=UserRead)
async def verify_user(user_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> User:
    return await service.verify_user(session, principal, user_id)


@router.get("/{user_id}/permissions", summary="List a user's permissions", response_model=UserPermissions)
async def get_user_permissions(user_id: uuid.UUID, session: Session, principal: CurrentPrincipal) -> UserPermissions:
    return await service.user_permissions(session, principal, user_id)
