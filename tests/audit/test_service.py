"""The audit log is written in the caller's transaction: it stands or falls with what it records."""

import uuid

import pytest
from sqlalchemy import select

from vocalis.audit import service as audit
from vocalis.kit.db import ALL_TENANTS, Database
from vocalis.models.audit import AuditEvent


async def _events(database: Database, target_id: uuid.UUID) -> list[AuditEvent]:
    async with database.transaction(ALL_TENANTS) as session:
        return list((await session.scalars(select(AuditEvent).where(AuditEvent.target_id == target_id))).all())


async def test_an_event_is_kept_with_its_fields_when_the_transaction_commits(database: Database) -> None:
    target = uuid.uuid4()
    async with database.transaction(ALL_TENANTS) as session:
        await audit.record(
            session, "user.verified", tenant_id=None, target_type="user", target_id=target, details={"by": "test"}
        )
    [event] = await _events(database, target)
    assert (event.action, event.target_type, event.details) == ("user.verified", "user", {"by": "test"})
    assert event.created_at is not None


async def test_an_event_goes_with_a_transaction_that_rolls_back(database: Database) -> None:
    target = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with database.transaction(ALL_TENANTS) as session:
            await audit.record(session, "user.deleted", tenant_id=None, target_type="user", target_id=target)
            await session.flush()
            raise RuntimeError("the change it records failed")
    assert await _events(database, target) == []
