"""One commit per unit of work, in one place, the effects that follow it, and row-level security: the database's own
tenant wall (the isolation matrix, tests/test_isolation.py, runs once more with the application's filter off)."""

import ast
import uuid
from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import vocalis
from tests.factories import register
from vocalis.kit.db import (
    ALL_TENANTS,
    APP_ROLE,
    PLATFORM_ROLE,
    Database,
    TenantScope,
    act_for,
    after_commit,
    after_rollback,
    utcnow,
    write_independently,
)
from vocalis.models.audit import AuditEvent
from vocalis.models.user import User

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
    async with database.transaction(ALL_TENANTS) as session:
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

    async with database.transaction(ALL_TENANTS) as session:
        after_commit(session, lambda: note("committed"))
        after_rollback(session, lambda: note("rolled back"))
        session.add(_event("test.committed"))
    assert ran == ["committed"]

    ran.clear()
    with pytest.raises(Boom):
        async with database.transaction(ALL_TENANTS) as session:
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
    async with database.transaction(ALL_TENANTS) as session:
        after_commit(session, fail)
        session.add(_event(action))
    assert await _audit_count(database, action) == 1


async def test_an_independent_write_stands_although_the_transaction_fails(database: Database) -> None:
    action = f"test.{uuid.uuid4().hex}"

    async def audit(session: AsyncSession) -> None:
        session.add(_event(action))

    with pytest.raises(Boom):
        async with database.transaction(ALL_TENANTS) as session:
            write_independently(session, audit)
            session.add(_event(f"{action}.lost"))
            raise Boom
    assert await _audit_count(database, action) == 1
    assert await _audit_count(database, f"{action}.lost") == 0


async def test_the_app_acts_as_roles_that_cannot_bypass_row_level_security(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT current_user")) == APP_ROLE
        roles = (
            await connection.execute(
                text(
                    "SELECT rolname, rolsuper, rolbypassrls, EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)"
                    " FROM pg_roles r WHERE rolname IN (:app, :platform) ORDER BY rolname"
                ),
                {"app": APP_ROLE, "platform": PLATFORM_ROLE},
            )
        ).all()
    assert [tuple(role) for role in roles] == [(APP_ROLE, False, False, False), (PLATFORM_ROLE, False, False, False)]


async def test_every_tenant_owned_table_has_forced_row_level_security(engine: AsyncEngine) -> None:
    """A table added later with a tenant_id column fails here until its migration adds the policy."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
                    " EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind = 'r' AND (c.relname IN"
                    " ('tenants', 'refresh_tokens') OR EXISTS (SELECT 1 FROM pg_attribute a"
                    " WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))"
                )
            )
        ).all()
    assert len(rows) >= 15
    assert [row[0] for row in rows if tuple(row[1:]) != (True, True, True)] == []


async def test_a_transaction_sees_and_writes_only_the_tenant_it_acts_for(
    client: AsyncClient, database: Database
) -> None:
    alpha, bravo = await register(client), await register(client)

    async def emails(tenant: TenantScope | None) -> set[str]:
        async with database.transaction(tenant) as session:
            return set(await session.scalars(select(User.email)))

    assert await emails(None) == set(), "a transaction that names no tenant sees no tenant's rows"
    assert await emails(alpha.tenant_id) == {alpha.email}
    assert {alpha.email, bravo.email} <= await emails(ALL_TENANTS)

    with pytest.raises(DBAPIError, match="row-level security"):
        async with database.transaction(alpha.tenant_id) as session:
            session.add(AuditEvent(tenant_id=bravo.tenant_id, action="test.planted", details={}, created_at=utcnow()))
            await session.flush()
    async with database.transaction() as session:
        await act_for(session, bravo.tenant_id)
        assert set(await session.scalars(select(User.email))) == {bravo.email}
        # Naming the tenant again mid-transaction narrows what the rest of it sees.
        await act_for(session, alpha.tenant_id)
        assert set(await session.scalars(select(User.email))) == {alpha.email}
