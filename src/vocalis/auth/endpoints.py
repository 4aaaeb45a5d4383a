from typing import Annotated

from fastapi import APIRouter, Body, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from vocalis.auth import service
from vocalis.auth.dependencies import AuthCache, ClientInfo, CurrentPrincipal, OptionalPrincipal
from vocalis.auth.schemas import (
    ChangePasswordRequest,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    TokenResponse,
    UserRead,
)
from vocalis.dependencies import AppSettings, Limiter, Session

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", summary="Log in with email and password", response_model=TokenResponse)
async def login(
    data: LoginRequest, session: Session, settings: AppSettings, limiter: Limiter, client: ClientInfo
) -> TokenResponse:
    return await service.login(session, settings, limiter, data.email, data.password, client)


@router.post("/token", summary="Log in with the OAuth2 password form (username = email)", response_model=TokenResponse)
async def login_form(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: Session,
    settings: AppSettings,
    limiter: Limiter,
    client: ClientInfo,
) -> TokenResponse:
    return await service.login(session, settings, limiter, form.username, form.password, client)


@router.post("/refresh", summary="Exchange a refresh token for new tokens", response_model=TokenResponse)
async def refresh(data: RefreshRequest, session: Session, settings: AppSettings) -> TokenResponse:
    return await service.refresh(session, settings, data.refresh_token)


@router.post("/logout", summary="End the session", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    session: Session, principal: OptionalPrincipal, data: Annotated[LogoutRequest | None, Body()] = None
) -> None:
    await service.logout(session, principal, data.refresh_token if data else None)


@router.get("/me", summary="Get the logged-in user", response_model=UserRead)
async def me(session: Session, cache: AuthCache, principal: CurrentPrincipal) -> UserRead:
    return await service.current_user(session, cache, principal)


@router.post("/change-password", summary="Change your password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    data: ChangePasswordRequest, session: Session, principal: CurrentPrincipal, settings: AppSettings, limiter: Limiter
) -> None:
    await service.change_password(session, principal, settings, limiter, data.current_password, data.new_password)
