"""Verification reads go to the read-only database URL (a streaming replica in production)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from builders import register, sign_in
from popreg.app import create_app
from popreg.audit.models import AccessLogEntry
from popreg.kit.database import Database
from popreg.kit.migrations import upgrade
from popreg.kit.settings import Settings
from popreg.registry.models import Person
from sharing_builders import access_token, add_partner, bearer

REPLICA_NAME = "Nguyễn Thị Bản Sao"
POSTGRES_ADMIN_URL = os.environ.get("POPREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def replica(database: Database, tmp_path) -> Iterator[Database]:
    """An empty migrated database standing in for a replica (a real one would stream from the primary)."""
    if database.backend == "sqlite":
        replica = Database(f"sqlite:///{tmp_path / 'replica.db'}")
        upgrade(replica)
        yield replica
        replica.dispose()
        return
    name = f"{make_url(database.url).database}_replica"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    replica = Database(make_url(database.url).set(database=name).render_as_string(hide_password=False))
    upgrade(replica)
    yield replica
    replica.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_verification_reads_the_replica_and_logs_on_the_primary(settings: Settings, database, client, replica):
    pin = register(client, sign_in(client, database))["pin"]
    with database.read_session() as session:
        row = session.execute(select(Person.__table__).where(Person.pin == pin)).mappings().one()
    with replica.unit_of_work() as session:
        session.execute(insert(Person.__table__).values({**row, "full_name": REPLICA_NAME}))
    add_partner(database)
    replicated = settings.model_copy(update={"read_database_url": replica.url})

    with TestClient(create_app(replicated, database), raise_server_exceptions=False) as on_replica:
        answer = on_replica.post(
            "/api/v1/verify",
            json={"pin": pin, "purpose": "account-opening", "claims": {"full_name": REPLICA_NAME}},
            headers={"Authorization": bearer(access_token("vietbank"))},
        ).json()

    assert answer["result"] == "match"  # only the replica holds that name
    with database.read_session() as session:
        entry = session.execute(
            select(AccessLogEntry).where(AccessLogEntry.transaction_id == answer["transaction_id"])
        ).scalar_one()
    assert entry.person_pin == pin
    with replica.read_session() as session:
        assert session.execute(select(AccessLogEntry)).first() is None
