"""One commit per unit of work, in one place, and the effects that follow it."""

import ast
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import vocalis
from vocalis.kit.db import Database, after_commit, after_rollback, utcnow, write_independently
from vocalis.models.audit import AuditEvent

SOURCE = Path(vocalis.__file__).parent
TRANSACTION_OWNER = SOURCE / "kit" / "db.py"


def _commit_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"
    ]


def test_only_the_transaction_owner_commits() -> None:
    """Services flush; `Database.transaction` alone commits, so a request's writes stand or fall together."""
    offenders = [
        f"{path.relative_to(SOURCE.parent)}:{line}"
        for path in sorted(SOURCE.rglob("*.py"))
        if path != TRANSACTION_OWNER
        for line in _commit_calls(path)
    ]
    assert offenders == [], f"commit() outside kit/db.py: {offenders}"
    assert _commit_calls(TRANSACTION_OWNER), "the check must see the one commit that exists"


async def _audit_count(database: Database, action: str) -> int:
    async with database.transaction() as session:
        count = await session.scalar(select(func.count()).where(AuditEvent.action == action))
    return int(count or 0)


def _event(action: str) -> AuditEvent:
    return AuditEvent(tenant_id=None, action=action, details={}, created_at=utcnow())


class Boom(Exception):
    pass


async def test_effects_follow_the_outcome_of_the_transaction(database: Database) -> None:
    ran: list[str] = []

    async def note(name: str) -> None:
        ran.append(name)

    async with database.transaction() as session:
        after_commit(session, lambda: note("committed"))
        after_rollback(session, lambda: note("rolled back"))
        session.add(_event("test.committed"))
    assert ran == ["committed"]

    ran.clear()
    with pytest.raises(Boom):
        async with database.transaction() as session:
            after_commit(session, lambda: note("committed"))
            after_rollback(session, lambda: note("rolled back"))
            session.add(_event("test.rolled_back"))
            await session.flush()
            raise Boom
    assert ran == ["rolled back"]
    assert await _audit_count(database, "test.rolled_back") == 0


async def test_a_failing_effect_does_not_undo_the_commit(database: Database) -> None:
    async def fail() -> None:
        raise RuntimeError("the queue is down")

    action = f"test.{uuid.uuid4().hex}"
    async with database.transaction() as session:
        after_commit(session, fail)
        session.add(_event(action))
    assert await _audit_count(database, action) == 1


async def test_an_independent_write_stands_although_the_transaction_fails(database: Database) -> None:
    action = f"test.{uuid.uuid4().hex}"

    async def audit(session: AsyncSession) -> None:
        session.add(_event(action))

    with pytest.raises(Boom):
        async with database.transaction() as session:
            write_independently(session, audit)
            session.add(_event(f"{action}.lost"))
            raise Boom
    assert await _audit_count(database, action) == 1
    assert await _audit_count(database, f"{action}.lost") == 0
