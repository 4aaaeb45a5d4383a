"""Database access: the declarative base, the engine, sessions, and the one tenant-scoping helper."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())


class TenantOwned:
    """Marks a table as owned by a tenant; such rows are only ever read through `tenant_select`."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        from sqlalchemy import ForeignKey

        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


Owned = TypeVar("Owned", bound=TenantOwned)


def tenant_select(model: type[Owned], tenant_id: uuid.UUID | None) -> Select[Owned]:
    """SELECT of a tenant-owned model limited to one tenant (None: all tenants, for platform admins only).

    Every repository reads tenant-owned rows through this, so no query can forget the tenant.
    """
    stmt = select(model)
    if tenant_id is not None:
        stmt = stmt.where(model.tenant_id == tenant_id)
    return stmt


class Database:
    """The engine and session factory of one PostgreSQL database."""

    def __init__(self, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession] | None = None) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker or async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, **engine_options: Any) -> "Database":
        options: dict[str, Any] = {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}
        options.update(engine_options)
        return cls(create_async_engine(url, **options))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session per unit of work: committed at the end, rolled back on any error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                # A request answered from memory never touched the database: nothing to commit.
                if session.in_transaction() or session.new or session.dirty or session.deleted:
                    await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def async_url(url: str) -> str:
    """Normalise a PostgreSQL URL to SQLAlchemy's async psycopg 3 dialect."""
    for prefix in ("postgresql+psycopg://", "postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"Not a PostgreSQL URL: {url.split('://')[0]}://...")


def libpq_url(url: str) -> str:
    """The plain libpq form of a SQLAlchemy URL, for psycopg connections made outside SQLAlchemy."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def contains_pattern(text: str) -> str:
    """An ILIKE pattern (escape character backslash) matching `text` anywhere, with its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
