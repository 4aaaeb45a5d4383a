"""Alembic environment: runs migrations over a synchronous psycopg 3 connection."""

from alembic import context
from sqlalchemy import create_engine, pool

import vocalis.models  # noqa: F401 - registers every table on the metadata
from vocalis.kit.db import Base

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave out what migrations make but SQLAlchemy models cannot declare, so `alembic check` sees no drift:
    procrastinate's job tables and the partial HNSW expression indexes on chunk embeddings."""
    if type_ == "table" and name is not None and name.startswith("procrastinate_"):
        return False
    return not (type_ == "index" and name is not None and name.startswith("ix_chunks_embedding_"))


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, compare_type=True, include_name=include_name
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, compare_type=True, include_name=include_name
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
