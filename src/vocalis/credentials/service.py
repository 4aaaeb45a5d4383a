"""Provider credentials: a tenant's API keys for OpenAI (or any OpenAI-compatible server), ElevenLabs and Deepgram.

Keys are encrypted at rest (kit/crypto.py), never returned, logged or put in an error message; people see the last
four characters. `resolve` is how other domains (the call engine) get a usable key.
"""

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.audit import service as audit
from vocalis.auth.permissions import Permission
from vocalis.auth.principal import Principal
from vocalis.config import Settings
from vocalis.credentials import probes, repository
from vocalis.credentials.schemas import (
    DEFAULT_BASE_URLS,
    DEFAULT_NAMES,
    CredentialCreate,
    CredentialTestResult,
    CredentialUpdate,
)
from vocalis.kit import crypto
from vocalis.kit.db import utcnow
from vocalis.kit.errors import AppError, Conflict, NotFound
from vocalis.kit.pagination import PageParams
from vocalis.models.credential import ProviderCredential

# Shorter keys would be given away by their last four characters, so they get no hint.
HINT_MIN_KEY_LENGTH = 12


class CredentialUnreadable(AppError):
    status_code = 409
    code = "credential_unreadable"


@dataclass(frozen=True)
class ResolvedCredential:
    """A decrypted key and where to use it. Keep it in memory only; its repr hides the key."""

    provider: str
    api_key: str = field(repr=False)
    base_url: str


async def create_credential(
    session: AsyncSession, principal: Principal, settings: Settings, data: CredentialCreate
) -> ProviderCredential:
    """Store the tenant's key for a provider (one per provider), encrypted."""
    principal.require(Permission.CREDENTIALS_WRITE)
    existing = await repository.by_provider(session, principal.tenant_id, data.provider)
    if existing is not None:
        raise Conflict(
            f"There is already a '{data.provider}' credential; change its key with PATCH /api/v1/credentials/{{id}}",
            details={"provider": data.provider, "credential_id": str(existing.id)},
        )
    credential = ProviderCredential(
        tenant_id=principal.tenant_id,
        provider=data.provider,
        name=data.name or DEFAULT_NAMES[data.provider],
        encrypted_api_key=crypto.encrypt(settings.signing_key, data.api_key),
        api_key_hint=_hint(data.api_key),
        base_url=data.base_url or DEFAULT_BASE_URLS[data.provider],
    )
    session.add(credential)
    await session.flush()
    await _audit(session, principal, "credential.created", credential)
    return credential


async def list_credentials(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[ProviderCredential], int]:
    principal.require(Permission.CREDENTIALS_READ)
    return await repository.list_credentials(session, principal.tenant_id, page)


async def get_credential(session: AsyncSession, principal: Principal, credential_id: uuid.UUID) -> ProviderCredential:
    principal.require(Permission.CREDENTIALS_READ)
    return await _credential(session, principal.tenant_id, credential_id)


async def _credential(session: AsyncSession, tenant_id: uuid.UUID, credential_id: uuid.UUID) -> ProviderCredential:
    credential = await repository.get(session, tenant_id, credential_id)
    if credential is None:
        raise NotFound("Credential not found")
    return credential


async def update_credential(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    credential_id: uuid.UUID,
    data: CredentialUpdate,
) -> ProviderCredential:
    """Rename a credential, rotate its key or point it at another server; a new key or URL clears the last test."""
    principal.require(Permission.CREDENTIALS_WRITE)
    credential = await _credential(session, principal.tenant_id, credential_id)
    if data.name is not None:
        credential.name = data.name
    untested = False
    if data.api_key is not None:
        credential.encrypted_api_key = crypto.encrypt(settings.signing_key, data.api_key)
        credential.api_key_hint = _hint(data.api_key)
        untested = True
    if "base_url" in data.model_fields_set:
        credential.base_url = data.base_url or DEFAULT_BASE_URLS[credential.provider]
        untested = True
    if untested:
        credential.last_tested_at = credential.last_test_ok = credential.last_test_error = None
    await session.flush()
    changed = sorted(name for name in data.model_fields_set if name == "base_url" or getattr(data, name) is not None)
    await _audit(session, principal, "credential.updated", credential, {"fields": changed})
    return credential


async def delete_credential(session: AsyncSession, principal: Principal, credential_id: uuid.UUID) -> None:
    """Delete a credential. Agents that use its provider stay as they are; their calls fail until a new one is added."""
    principal.require(Permission.CREDENTIALS_WRITE)
    credential = await _credential(session, principal.tenant_id, credential_id)
    await _audit(session, principal, "credential.deleted", credential)
    await session.delete(credential)
    await session.flush()


async def check_credential(
    session: AsyncSession, principal: Principal, settings: Settings, credential_id: uuid.UUID
) -> CredentialTestResult:
    """Ask the provider whether it accepts the key, and remember the answer. A refused key or an unreachable
    server is a result (ok false, with the reason), not an error."""
    principal.require(Permission.CREDENTIALS_WRITE)
    credential = await _credential(session, principal.tenant_id, credential_id)
    base_url = credential.base_url or DEFAULT_BASE_URLS[credential.provider]
    try:
        api_key = crypto.decrypt(settings.signing_key, credential.encrypted_api_key)
    except crypto.DecryptionError:
        error: str | None = _UNREADABLE
    else:
        error = await probes.check(credential.provider, base_url, api_key, settings.provider_test_timeout_seconds)
    credential.last_tested_at = utcnow()
    credential.last_test_ok = error is None
    credential.last_test_error = error
    await session.flush()
    return CredentialTestResult(ok=error is None, error=error, tested_at=credential.last_tested_at)


_UNREADABLE = "The stored key cannot be decrypted (the server's secret key changed?); set it again with PATCH"


# For other domains


async def has(session: AsyncSession, tenant_id: uuid.UUID, provider: str) -> bool:
    """Whether the tenant has stored a key for `provider` (whether it works is another matter)."""
    return await repository.by_provider(session, tenant_id, provider) is not None


async def resolve(
    session: AsyncSession, settings: Settings, tenant_id: uuid.UUID, provider: str
) -> ResolvedCredential | None:
    """The tenant's decrypted key and base URL for `provider`, or None when it has none.

    Raises CredentialUnreadable (409) when the key was sealed with another secret key and must be set again."""
    credential = await repository.by_provider(session, tenant_id, provider)
    if credential is None:
        return None
    try:
        api_key = crypto.decrypt(settings.signing_key, credential.encrypted_api_key)
    except crypto.DecryptionError:
        raise CredentialUnreadable(
            f"The stored '{provider}' key cannot be decrypted (the server's secret key changed?); "
            f"set it again with PATCH /api/v1/credentials/{credential.id}",
            details={"provider": provider, "credential_id": str(credential.id)},
        ) from None
    return ResolvedCredential(provider, api_key, credential.base_url or DEFAULT_BASE_URLS[provider])


def _hint(api_key: str) -> str:
    return "…" + api_key[-4:] if len(api_key) >= HINT_MIN_KEY_LENGTH else "…"


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    credential: ProviderCredential,
    details: dict[str, object] | None = None,
) -> None:
    await audit.record(
        session,
        action,
        tenant_id=principal.tenant_id,
        actor_user_id=principal.user_id,
        actor_api_key_id=principal.api_key_id,
        target_type="provider_credential",
        target_id=credential.id,
        details={"provider": credential.provider, **(details or {})},
    )
