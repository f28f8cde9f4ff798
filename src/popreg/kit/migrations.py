"""Running the schema migrations (Alembic) from code: the CLI, the demo and the tests use this."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config

from popreg.kit.database import Database


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("popreg") / "migrations"))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (the newest by default)."""
    config = alembic_config(database)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(database: Database, revision: str) -> None:
    config = alembic_config(database)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
