import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from vocalis.database import DatabaseNotReady, alembic_config, check_extensions, check_ready
from vocalis.kit.db import APP_ROLE, app_engine, async_url
from vocalis.kit.embedded_postgres import EmbeddedPostgres

# The machine's own PostgreSQL (see the README): a server without pgvector, to prove the start-up message.
SYSTEM_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    command.check(alembic_config(database_url))


def test_migrations_create_the_search_extensions(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection:
        installed = set(connection.scalars(text("SELECT extname FROM pg_extension")))
    engine.dispose()
    assert {"vector", "pg_trgm"} <= installed


def test_migrations_downgrade_and_upgrade_again(postgres: EmbeddedPostgres) -> None:
    url = postgres.create_database("roundtrip")
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    command.check(config)


async def test_start_up_refuses_an_unmigrated_database(postgres: EmbeddedPostgres) -> None:
    engine = app_engine(postgres.create_database("empty"), poolclass=NullPool)
    with pytest.raises(DatabaseNotReady, match="run `vocalis migrate`"):
        await check_ready(engine)
    await engine.dispose()


def test_a_server_without_pgvector_fails_with_one_clear_sentence() -> None:
    engine = create_engine(SYSTEM_POSTGRES, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if "vector" in set(connection.scalars(text("SELECT name FROM pg_available_extensions"))):
                pytest.skip("the machine's PostgreSQL has pgvector installed")
            with pytest.raises(DatabaseNotReady) as raised:
                check_extensions(connection)
    except OperationalError:
        pytest.skip("the machine's PostgreSQL is not running")
    finally:
        engine.dispose()
    message = str(raised.value)
    assert "lacks the 'vector' extension" in message
    assert "install pgvector" in message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5/db", "postgresql+psycopg://u:p@h:5/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_urls_are_normalised_to_psycopg(given: str, expected: str) -> None:
    assert async_url(given) == expected


def test_non_postgres_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="Not a PostgreSQL URL"):
        async_url("sqlite:///x.db")


async def test_start_up_before_the_first_migration_asks_for_it() -> None:
    """On a server where the migrations never ran, the app's role does not exist yet: one sentence says what to do."""
    engine = app_engine(async_url(SYSTEM_POSTGRES), poolclass=NullPool)
    try:
        with pytest.raises(DatabaseNotReady, match=f"role '{APP_ROLE}' does not exist yet: run `vocalis migrate`"):
            await check_ready(engine)
    except OperationalError as error:
        if "Connection refused" in str(error):
            pytest.skip("the machine's PostgreSQL is not running")
        raise
    finally:
        await engine.dispose()
