"""Fixtures shared by every test: the database backends, the application and signed-in officials.

Every test that takes ``database`` runs twice, on SQLite and on PostgreSQL. When PostgreSQL is not
reachable those runs are skipped with the reason, except where ``CI`` or ``POPREG_REQUIRE_POSTGRES``
is set: there they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from popreg.app import create_app
from popreg.kit.database import Base, Database
from popreg.kit.migrations import upgrade
from popreg.kit.settings import Profile, Settings
from popreg.wiring import configure

POSTGRES_ADMIN_URL = os.environ.get("POPREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# Speed is measured by the benchmarks, never asserted in tests: no per-example deadline, which fails
# at random on a loaded two-core machine.
hypothesis_settings.register_profile("popreg", deadline=None)
hypothesis_settings.load_profile("popreg")

REQUIRE_POSTGRES = bool(os.environ.get("CI") or os.environ.get("POPREG_REQUIRE_POSTGRES"))
TEST_KEY = "test-secret-key-of-at-least-32-characters"


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL is not reachable at {make_url(POSTGRES_ADMIN_URL).render_as_string()}: {error}"
    return None


@pytest.fixture(scope="session", autouse=True)
def wired() -> None:
    """Packages' event handlers, as the application and the CLI configure them."""
    configure()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (much faster than migrating per test)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """A database of its own for this test process, migrated once."""
    problem = _postgres_problem()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{problem} (PostgreSQL is required here)")
        pytest.skip(problem)
    # One database per test run and worker, so that two runs on one machine never drop each other's.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:8]
    name = f"popreg_test_{run}_{worker_id}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    upgrade(database)
    database.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_postgres(database: Database) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(
            text("INSERT INTO access_log_head (id, last_seq, last_hash) VALUES (1, 0, :h)"), {"h": "0" * 64}
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "popreg.db"
        shutil.copyfile(template, path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("postgres_url"), pool_size=4)
        _reset_postgres(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> Settings:
    return Settings(
        profile=Profile.TEST,
        database_url=database.url,
        secret_key=TEST_KEY,
        pin_key=TEST_KEY,
        bulk_directory=str(tmp_path / "bulk"),
    )


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as test_client:
        yield test_client
