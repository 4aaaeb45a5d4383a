"""The audit log: security-relevant actions, written in the caller's transaction so they commit or roll back with it."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.kit.db import utcnow
from vocalis.models.audit import AuditEvent
from vocalis.models.user import User


async def record(
    session: AsyncSession,
    action: str,
    *,
    tenant_id: uuid.UUID | None,
    actor_user_id: uuid.UUID | None = None,
    actor_api_key_id: uuid.UUID | None = None,
    target_type: str | None = None,
    target_id: uuid.UUID | None = None,
    ip_address: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the session, with the acting user's email kept beside their id (the trail must name
    them after they are deleted)."""
    # Usually in the identity map already: the request loaded its user while authenticating.
    actor = await session.get(User, actor_user_id) if actor_user_id is not None else None
    session.add(
        AuditEvent(
            tenant_id=tenant_id,
            actor_user_id=actor_user_id,
            actor_email=actor.email if actor is not None else None,
            actor_api_key_id=actor_api_key_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            ip_address=ip_address,
            details=details or {},
            created_at=utcnow(),
        )
    )
