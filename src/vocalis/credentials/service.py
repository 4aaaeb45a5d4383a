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
from vocalis.kit import crypto, outbound
from vocalis.kit.db import Database, utcnow
from vocalis.kit.errors import AppError, Conflict, InvalidInput, NotFound
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
    _check_base_url(settings, data.base_url)
    existing = await repository.by_provider(session, principal.tenant_id, data.provider)
    if existing is not None:
        raise Conflict(
            f"There is already a '{data.provider}' credential; change its key with PATCH /api/v1/credentials/{{id}}",
            details={"provider": data.provider, "credential_id": str(existing.id)},
        )
    credential_id = uuid.uuid4()  # known before the insert: the sealed key is bound to it
    credential = ProviderCredential(
        id=credential_id,
        tenant_id=principal.tenant_id,
        provider=data.provider,
        name=data.name or DEFAULT_NAMES[data.provider],
        encrypted_api_key=_seal(settings, principal.tenant_id, credential_id, data.api_key),
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
    """Rename a credential, rotate its key or point it at another server; a new key or URL clears the last test.

    A new URL needs the key again: the stored one must not follow a URL to another server."""
    principal.require(Permission.CREDENTIALS_WRITE)
    _check_base_url(settings, data.base_url)
    credential = await _credential(session, principal.tenant_id, credential_id)
    new_base_url = (
        (data.base_url or DEFAULT_BASE_URLS[credential.provider]) if "base_url" in data.model_fields_set else None
    )
    if new_base_url not in (None, credential.base_url) and data.api_key is None:
        raise InvalidInput(
            "Changing base_url needs the api_key again (the stored key is not sent to a new server)",
            details={"field": "api_key"},
        )
    if data.name is not None:
        credential.name = data.name
    untested = False
    if data.api_key is not None:
        credential.encrypted_api_key = _seal(settings, credential.tenant_id, credential.id, data.api_key)
        credential.api_key_hint = _hint(data.api_key)
        untested = True
    if new_base_url is not None:
        credential.base_url = new_base_url
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
    database: Database, principal: Principal, settings: Settings, credential_id: uuid.UUID
) -> CredentialTestResult:
    """Ask the provider whether it accepts the key, and remember the answer. A refused key or an unreachable
    server is a result (ok false, with the reason), not an error; 429 when the tenant has too many requests to
    providers running.

    No database connection is held while the provider is asked: the credential is read in one short transaction and
    the answer recorded in another."""
    principal.require(Permission.CREDENTIALS_WRITE)
    async with database.transaction(principal.tenant_id) as session:
        credential = await _credential(session, principal.tenant_id, credential_id)
        provider, tested = credential.provider, (credential.encrypted_api_key, credential.base_url)
        base_url = credential.base_url or DEFAULT_BASE_URLS[credential.provider]
    try:
        api_key = _open(settings, credential)
    except crypto.DecryptionError:
        error: str | None = _UNREADABLE
    else:
        http = outbound.Outbound(settings, str(principal.tenant_id))
        error = await probes.check(http, provider, base_url, api_key, settings.provider_test_timeout_seconds)
    tested_at = utcnow()
    async with database.transaction(principal.tenant_id) as session:
        credential = await _credential(session, principal.tenant_id, credential_id)
        # A key or URL changed meanwhile was not the one tested: its (cleared) last test stays as it is.
        if (credential.encrypted_api_key, credential.base_url) == tested:
            credential.last_tested_at = tested_at
            credential.last_test_ok = error is None
            credential.last_test_error = error
            await session.flush()
    return CredentialTestResult(ok=error is None, error=error, tested_at=tested_at)


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
        api_key = _open(settings, credential)
    except crypto.DecryptionError:
        raise CredentialUnreadable(
            f"The stored '{provider}' key cannot be decrypted (the server's secret key changed?); "
            f"set it again with PATCH /api/v1/credentials/{credential.id}",
            details={"provider": provider, "credential_id": str(credential.id)},
        ) from None
    return ResolvedCredential(provider, api_key, credential.base_url or DEFAULT_BASE_URLS[provider])


def _check_base_url(settings: Settings, base_url: str | None) -> None:
    """Refuse a URL naming an address the platform does not call (its resolved addresses are checked on each request,
    kit/outbound.py)."""
    if base_url is None:
        return
    try:
        outbound.check_url(settings, base_url)
    except outbound.AddressRefused as exc:
        raise InvalidInput(f"base_url: {exc}", details={"field": "base_url"}) from None


def _seal(settings: Settings, tenant_id: uuid.UUID, credential_id: uuid.UUID, api_key: str) -> bytes:
    return crypto.encrypt(settings.signing_key, api_key, key_context(tenant_id, credential_id))


def _open(settings: Settings, credential: ProviderCredential) -> str:
    """The decrypted key; one sealed in the older form (not bound to its row) is sealed again in the current one."""
    api_key = crypto.decrypt(
        settings.signing_key, credential.encrypted_api_key, key_context(credential.tenant_id, credential.id)
    )
    if not crypto.is_current(credential.encrypted_api_key):
        credential.encrypted_api_key = _seal(settings, credential.tenant_id, credential.id, api_key)
    return api_key


def key_context(tenant_id: uuid.UUID, credential_id: uuid.UUID) -> bytes:
    """What a stored key is bound to (its associated data): copied into another tenant's or credential's row, it does
    not decrypt."""
    return f"provider_credential:{tenant_id}:{credential_id}".encode()


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
