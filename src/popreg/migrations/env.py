"""Alembic environment: migrations run against the URL the caller puts in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import popreg.models  # noqa: F401 - registers every table on the metadata
from popreg.kit.database import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as new_connection:
        run_migrations(new_connection)
    engine.dispose()
