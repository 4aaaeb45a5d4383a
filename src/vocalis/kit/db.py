"""Database access: the declarative base, the engine, one transaction per unit of work with the effects that follow
it, and tenant scoping in two walls: the helpers every repository reads and writes tenant-owned rows through, and the
database's row-level security, told by `act_for` which tenant each transaction acts for."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

from loguru import logger
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Delete,
    ForeignKey,
    MetaData,
    Select,
    Update,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, declared_attr, mapped_column

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
    """Marks a table as owned by a tenant: repositories read and write its rows through the scoped helpers below."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


Owned = TypeVar("Owned", bound=TenantOwned)


def owned_by(model: type[Owned], tenant_id: uuid.UUID) -> ColumnElement[bool]:
    """The application's own tenant filter: rows of `model` that belong to the tenant."""
    return model.tenant_id == tenant_id


def tenant_select(model: type[Owned], tenant_id: uuid.UUID) -> Select[Owned]:
    """SELECT of a tenant-owned model limited to one tenant, so no query can forget the tenant."""
    return select(model).where(owned_by(model, tenant_id))


async def count_rows(session: AsyncSession, stmt: Select[Any]) -> int:
    """How many rows a SELECT matches."""
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def advisory_lock(session: AsyncSession, *key: object) -> None:
    """Hold a PostgreSQL advisory lock named by `key` until the transaction ends, so that transactions doing the same
    check-then-write (count then create, revoke then issue) run one after another, on every replica."""
    name = ":".join(str(part) for part in key)
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))


def tenant_update(model: type[Owned], tenant_id: uuid.UUID) -> Update:
    """UPDATE of a tenant-owned model limited to one tenant."""
    return update(model).where(owned_by(model, tenant_id))


def tenant_delete(model: type[Owned], tenant_id: uuid.UUID) -> Delete:
    """DELETE of a tenant-owned model limited to one tenant."""
    return delete(model).where(owned_by(model, tenant_id))


# Row-level security (migrations/versions/0005_row_level_security.py). The app's connections start as APP_ROLE, whose
# policy shows the rows of the tenant named in the setting `vocalis.tenant_id` (none when it names none); acting for
# ALL_TENANTS switches the transaction to PLATFORM_ROLE, whose policy shows every row. Neither can bypass the policies
# or owns a table. Both settings are local to the transaction, so they end with it.
APP_ROLE: Final = "vocalis_app"
PLATFORM_ROLE: Final = "vocalis_platform"
ALL_TENANTS: Final = "*"
TenantScope = uuid.UUID | Literal["*"]
_TENANT = "vocalis_tenant"
_SET_SCOPE = text("SELECT set_config('role', :role, true), set_config('vocalis.tenant_id', :tenant, true)")


def _scope(tenant: str) -> dict[str, str]:
    """The parameters of _SET_SCOPE for a scope as kept in `session.info` ("" for none, a tenant id, or "*")."""
    if tenant == ALL_TENANTS:
        return {"role": PLATFORM_ROLE, "tenant": ""}
    return {"role": APP_ROLE, "tenant": tenant}


async def act_for(session: AsyncSession, tenant: TenantScope) -> None:
    """Say which tenant's rows this transaction may read and write: a tenant's id, or ALL_TENANTS for the platform's
    own paths (sign-up, look-ups by credential before the tenant is known, super admins, workers' sweeps)."""
    scope = str(tenant)
    if session.info.get(_TENANT, "") == scope:
        return  # already so: the session applies its scope at each BEGIN
    session.info[_TENANT] = scope
    if session.in_transaction():
        await session.execute(_SET_SCOPE, _scope(scope))


@asynccontextmanager
async def acting_for(session: AsyncSession, tenant: TenantScope) -> AsyncIterator[None]:
    """Act for `tenant` during the block only, then again for whom the transaction acted before: a platform-wide check
    in the middle of a tenant's request (is this email taken by anyone?)."""
    previous = session.info.get(_TENANT, "")
    await act_for(session, tenant)
    try:
        yield
    finally:
        session.info[_TENANT] = previous
        await session.execute(_SET_SCOPE, _scope(previous))


class ScopedSession(Session):
    """A session whose every transaction starts acting for the tenant last named by `act_for` (none at first)."""


@event.listens_for(ScopedSession, "after_begin")
def _apply_scope(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    connection.execute(_SET_SCOPE, _scope(session.info.get(_TENANT, "")))


def app_engine(url: str, **options: Any) -> AsyncEngine:
    """An engine whose connections act as APP_ROLE (the role is set when the connection starts)."""
    connect_args = {"options": f"-c role={APP_ROLE}", **options.pop("connect_args", {})}
    return create_async_engine(url, connect_args=connect_args, **options)


def scoped_sessionmaker(**options: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(expire_on_commit=False, sync_session_class=ScopedSession, **options)


# What a transaction does once it has ended: effects outside the database (queueing jobs, removing files) that must
# happen only if, or only unless, its writes were committed.
Effect = Callable[[], Awaitable[None]]
Write = Callable[[AsyncSession], Awaitable[None]]
_AFTER_COMMIT = "vocalis_after_commit"
_AFTER_ROLLBACK = "vocalis_after_rollback"
_INDEPENDENT = "vocalis_independent_writes"


def after_commit(session: AsyncSession, effect: Effect) -> None:
    """Run `effect` once the session's transaction has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(effect)


def after_rollback(session: AsyncSession, effect: Effect) -> None:
    """Run `effect` if the session's transaction rolls back (to undo what was done outside the database)."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(effect)


def write_independently(session: AsyncSession, write: Write) -> None:
    """The one exception to one commit per request: `write` runs in a short transaction of its own once the
    session's transaction has ended, committed or not. Only for writes that must stand although the request fails:
    the audit row of a failed login, and the revocation of a session whose refresh token was replayed."""
    session.info.setdefault(_INDEPENDENT, []).append(write)


async def _run_effects(effects: list[Effect]) -> None:
    for effect in effects:
        try:
            await effect()
        except Exception:  # the transaction's outcome stands; an effect that failed is logged, not raised
            logger.exception("An effect after the end of a transaction failed")


class Database:
    """The engine and session factory of one PostgreSQL database."""

    def __init__(self, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession] | None = None) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker or scoped_sessionmaker(bind=engine)

    @classmethod
    def connect(cls, url: str, **engine_options: Any) -> "Database":
        options: dict[str, Any] = {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}
        options.update(engine_options)
        return cls(app_engine(url, **options))

    @asynccontextmanager
    async def transaction(self, tenant: TenantScope | None = None) -> AsyncIterator[AsyncSession]:
        """One session per unit of work: committed at the end, rolled back on any error; then the effects that were
        registered for that outcome run (see `after_commit`, `after_rollback` and `write_independently`).

        `tenant` is whom it acts for (see `act_for`); a request's transaction learns it from its caller."""
        async with self.sessionmaker() as session:
            if tenant is not None:
                session.info[_TENANT] = str(tenant)
            try:
                try:
                    yield session
                    # A request answered from memory never touched the database: nothing to commit.
                    if session.in_transaction() or session.new or session.dirty or session.deleted:
                        await session.commit()
                except BaseException:
                    await session.rollback()
                    session.info.pop(_AFTER_COMMIT, None)
                    await _run_effects(session.info.pop(_AFTER_ROLLBACK, []))
                    raise
                session.info.pop(_AFTER_ROLLBACK, None)
                await _run_effects(session.info.pop(_AFTER_COMMIT, []))
            finally:
                scope = session.info.get(_TENANT, "")
                await self._write_independently(session.info.pop(_INDEPENDENT, []), scope)

    async def _write_independently(self, writes: list[Write], scope: str) -> None:
        for write in writes:
            try:
                async with self.transaction() as session:
                    session.info[_TENANT] = scope  # the same tenant as the transaction that asked for it
                    await write(session)
            except Exception:
                logger.exception("An independent write failed")

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
