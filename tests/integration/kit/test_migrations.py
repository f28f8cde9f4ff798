"""The schema the migrations build is exactly the one the models declare, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import popreg.models  # noqa: F401 - every table on the metadata
from popreg.kit.database import Base
from popreg.kit.migrations import downgrade, upgrade


def test_the_migrated_schema_matches_the_models(database):
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_every_migration_can_be_undone_and_redone(database):
    downgrade(database, "base")
    upgrade(database)
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
