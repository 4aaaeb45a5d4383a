"""Resolving the caller: a Bearer access token or a tenant API key becomes a Principal, once per request."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from vocalis.auth import service
from vocalis.auth.cache import PrincipalCache
from vocalis.auth.principal import Principal
from vocalis.auth.tokens import API_KEY_PREFIX
from vocalis.dependencies import AppDatabase, AppSettings, Session
from vocalis.kit.db import ALL_TENANTS, act_for
from vocalis.kit.errors import Unauthorized

# These only describe the schemes in OpenAPI (and power the Authorize button); `authenticate` reads the headers.
_oauth2 = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="An access token, or a tenant API key (vk_...)",
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A tenant API key (vk_...)")


async def get_auth_cache(request: Request) -> PrincipalCache:
    cache: PrincipalCache = request.app.state.auth_cache
    return cache


AuthCache = Annotated[PrincipalCache, Depends(get_auth_cache)]


async def _principal(
    session: Session,
    settings: AppSettings,
    cache: PrincipalCache,
    oauth_token: str | None,
    api_key: str | None,
) -> Principal | None:
    principal = await _authenticate(session, settings, cache, oauth_token, api_key)
    if principal is not None:
        # From here on the request's transaction sees only the caller's tenant (a super admin's: every tenant).
        await act_for(session, ALL_TENANTS if principal.is_super_admin else principal.tenant_id)
    return principal


async def _authenticate(
    session: Session,
    settings: AppSettings,
    cache: PrincipalCache,
    oauth_token: str | None,
    api_key: str | None,
) -> Principal | None:
    if api_key is not None:
        return await service.authenticate_api_key(session, settings, cache, api_key)
    if oauth_token is None:
        return None
    # A tenant API key may also be sent as a Bearer token.
    if oauth_token.startswith(API_KEY_PREFIX):
        return await service.authenticate_api_key(session, settings, cache, oauth_token)
    return await service.authenticate_access_token(session, settings, cache, oauth_token)


async def authenticate(
    session: Session,
    settings: AppSettings,
    cache: AuthCache,
    oauth_token: Annotated[str | None, Depends(_oauth2)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    principal = await _principal(session, settings, cache, oauth_token, api_key)
    if principal is None:
        raise Unauthorized()
    return principal


async def authenticate_optional(
    session: Session,
    settings: AppSettings,
    cache: AuthCache,
    oauth_token: Annotated[str | None, Depends(_oauth2)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal | None:
    return await _principal(session, settings, cache, oauth_token, api_key)


async def authenticate_sessionless(
    database: AppDatabase,
    settings: AppSettings,
    cache: AuthCache,
    oauth_token: Annotated[str | None, Depends(_oauth2)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """`authenticate` in a short transaction of its own, for endpoints that wait on other servers (a provider):
    the request then holds no database connection while it waits, and its service opens its own transactions."""
    async with database.transaction() as session:
        return await authenticate(session, settings, cache, oauth_token, api_key)


async def client_info(request: Request) -> service.Client:
    ip = request.client.host if request.client else None
    return service.Client(ip_address=ip, user_agent=request.headers.get("user-agent"))


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
OptionalPrincipal = Annotated[Principal | None, Depends(authenticate_optional)]
SessionlessPrincipal = Annotated[Principal, Depends(authenticate_sessionless)]
ClientInfo = Annotated[service.Client, Depends(client_info)]
