"""Queries for calls and their transcript turns."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vocalis.kit.db import count_rows, tenant_select, utcnow
from vocalis.kit.pagination import PageParams, paginate
from vocalis.models.call import LIVE_STATUSES, Call, CallKind, CallStatus, CallTurn
from vocalis.models.tenant import Tenant

# A live call refreshes its heartbeat every `Settings.call_heartbeat_seconds`; one silent this long is taken for dead.
HEARTBEAT_GRACE = timedelta(seconds=60)
# A text chat with no message for this long is over.
CHAT_IDLE = timedelta(minutes=30)


async def lock_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Serialise call admission per tenant across every replica, until the transaction ends."""
    await session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


async def tenant_status(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    """The tenant's status (active, suspended, deleted); None if its row is gone."""
    result: str | None = await session.scalar(select(Tenant.status).where(Tenant.id == tenant_id))
    return result


async def count_live(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Calls of a tenant holding a concurrent-call slot: live audio calls not abandoned by a dead replica, and web
    calls waiting to be joined. Text chats hold none."""
    now = utcnow()
    stmt = tenant_select(Call, tenant_id).where(
        Call.kind != CallKind.TEXT,
        Call.status.in_(list(LIVE_STATUSES)),
        or_(
            Call.heartbeat_at > now - HEARTBEAT_GRACE,
            (Call.status == CallStatus.QUEUED) & (Call.join_expires_at > now),
        ),
    )
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def get(session: AsyncSession, tenant_id: uuid.UUID, call_id: uuid.UUID, *, lock: bool = False) -> Call | None:
    stmt = tenant_select(Call, tenant_id).where(Call.id == call_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    result: Call | None = await session.scalar(stmt)
    return result


async def claim(session: AsyncSession, call_id: uuid.UUID, token_hash: str) -> Call | None:
    """Take a queued web call by its join token, once: the token stops working as it is used."""
    now = utcnow()
    result: Call | None = await session.scalar(
        update(Call)
        .where(
            Call.id == call_id,
            Call.join_token_hash == token_hash,
            Call.status == CallStatus.QUEUED,
            Call.join_expires_at > now,
        )
        .values(status=CallStatus.IN_PROGRESS, join_token_hash=None, started_at=now, heartbeat_at=now)
        .returning(Call)
    )
    return result


async def heartbeat(session: AsyncSession, call_id: uuid.UUID) -> None:
    await session.execute(update(Call).where(Call.id == call_id).values(heartbeat_at=utcnow()))


async def list_calls(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    page: PageParams,
    *,
    agent_id: uuid.UUID | None,
    status: str | None,
    direction: str | None,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[Call], int]:
    stmt = tenant_select(Call, tenant_id)
    if agent_id is not None:
        stmt = stmt.where(Call.agent_id == agent_id)
    if status is not None:
        stmt = stmt.where(Call.status == status)
    if direction is not None:
        stmt = stmt.where(Call.direction == direction)
    if kind is not None:
        stmt = stmt.where(Call.kind == kind)
    if since is not None:
        stmt = stmt.where(Call.created_at >= since)
    if until is not None:
        stmt = stmt.where(Call.created_at < until)
    return await paginate(session, stmt.order_by(Call.created_at.desc(), Call.id), page)


async def turns(session: AsyncSession, tenant_id: uuid.UUID, call_id: uuid.UUID) -> list[CallTurn]:
    stmt = tenant_select(CallTurn, tenant_id).where(CallTurn.call_id == call_id).order_by(CallTurn.ordinal)
    return list((await session.scalars(stmt)).all())


async def count_turns(session: AsyncSession, tenant_id: uuid.UUID, call_id: uuid.UUID) -> int:
    return await count_rows(session, tenant_select(CallTurn, tenant_id).where(CallTurn.call_id == call_id))


def add_turns(session: AsyncSession, call: Call, first_ordinal: int, turns: Sequence[CallTurn]) -> None:
    for ordinal, turn in enumerate(turns, start=first_ordinal):
        turn.tenant_id, turn.call_id, turn.ordinal = call.tenant_id, call.id, ordinal
        session.add(turn)


async def abandoned(session: AsyncSession, limit: int = 500) -> list[Call]:
    """Live calls whose replica stopped heartbeating, idle text chats, and web calls never joined in time."""
    now = utcnow()
    stmt = (
        select(Call)
        .where(
            or_(
                (Call.kind != CallKind.TEXT)
                & Call.status.in_([CallStatus.RINGING, CallStatus.IN_PROGRESS])
                & (Call.heartbeat_at < now - HEARTBEAT_GRACE),
                (Call.kind == CallKind.TEXT)
                & (Call.status == CallStatus.IN_PROGRESS)
                & (Call.heartbeat_at < now - CHAT_IDLE),
                (Call.status == CallStatus.QUEUED) & (Call.join_expires_at < now),
            )
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())
