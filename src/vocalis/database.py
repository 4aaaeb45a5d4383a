"""Which PostgreSQL to use (the configured one or the embedded one), its migrations, and start-up checks."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from vocalis.config import Settings
from vocalis.kit.db import APP_ROLE, async_url
from vocalis.kit.embedded_postgres import EmbeddedPostgres

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
REQUIRED_EXTENSIONS = {
    "vector": "pgvector (on Debian/Ubuntu: apt install postgresql-<version>-pgvector)",
    "pg_trgm": "the PostgreSQL contrib package (on Debian/Ubuntu: apt install postgresql-contrib)",
}


class DatabaseNotReady(RuntimeError):
    """The database cannot serve Vocalis; the message says what to do."""


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The SQLAlchemy URL: VOCALIS_DATABASE_URL, or else the embedded server, started here and released on exit."""
    if settings.database_url:
        yield async_url(settings.database_url)
        return
    embedded = EmbeddedPostgres(settings.data_dir / "postgres")
    try:
        yield embedded.start()
    finally:
        # Released explicitly: uvicorn ends on a re-raised SIGTERM, which skips pgserver's atexit clean-up.
        embedded.stop()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def check_extensions(connection: Connection) -> None:
    available = set(connection.scalars(text("SELECT name FROM pg_available_extensions")))
    for name, package in REQUIRED_EXTENSIONS.items():
        if name not in available:
            raise DatabaseNotReady(
                f"This PostgreSQL server lacks the '{name}' extension: install {package}, "
                "or unset VOCALIS_DATABASE_URL to use the embedded database."
            )


def migrate(url: str) -> None:
    """Bring the schema to the newest revision (the only way the schema is made)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            check_extensions(connection)
    finally:
        engine.dispose()
    command.upgrade(alembic_config(url), "head")


def _check_schema(connection: Connection) -> None:
    check_extensions(connection)
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()
    if current != head:
        raise DatabaseNotReady(
            f"The database schema is at revision {current or 'none'}, not {head}: run `vocalis migrate` first."
        )


async def check_ready(engine: AsyncEngine) -> None:
    """Fail start-up with one clear sentence when extensions are missing or migrations have not run."""
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_check_schema)
    except OperationalError as error:
        # The app's connections act as the role the migrations create (kit/db.py): before them, it does not exist.
        if APP_ROLE not in str(error):
            raise
        raise DatabaseNotReady(
            f"The database role '{APP_ROLE}' does not exist yet: run `vocalis migrate` first."
        ) from None
