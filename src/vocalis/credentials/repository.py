"""Queries for provider credentials."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.kit.db import tenant_select
from vocalis.kit.pagination import PageParams, paginate
from vocalis.models.credential import ProviderCredential


async def get(session: AsyncSession, tenant_id: uuid.UUID, credential_id: uuid.UUID) -> ProviderCredential | None:
    credential: ProviderCredential | None = await session.scalar(
        tenant_select(ProviderCredential, tenant_id).where(ProviderCredential.id == credential_id)
    )
    return credential


async def by_provider(session: AsyncSession, tenant_id: uuid.UUID, provider: str) -> ProviderCredential | None:
    credential: ProviderCredential | None = await session.scalar(
        tenant_select(ProviderCredential, tenant_id).where(ProviderCredential.provider == provider)
    )
    return credential


async def list_credentials(
    session: AsyncSession, tenant_id: uuid.UUID, page: PageParams
) -> tuple[list[ProviderCredential], int]:
    stmt = tenant_select(ProviderCredential, tenant_id).order_by(ProviderCredential.provider, ProviderCredential.id)
    return await paginate(session, stmt, page)
