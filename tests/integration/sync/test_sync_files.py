"""POST /api/v1/sync/files on SQLite and PostgreSQL: an agency's file uploaded over HTTP is applied as a
job, a chunk per transaction, with its progress and a file of outcomes; the same file uploaded twice has
one effect per row; a job interrupted after its first chunk is taken over by another process and applies
every row exactly once; files whose rows cannot become updates are refused whole with their code; and one
agency never sees another's jobs."""

# ruff: noqa: F811

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from builders import register
from popreg.app import create_app
from popreg.audit.service import verify_log
from popreg.kit.clock import utc_now
from popreg.kit.database import Database
from popreg.kit.settings import Settings
from popreg.registry.models import Person, PersonEvent
from popreg.sharing.models import PartnerPolicy
from popreg.sharing.schemas import PartnerKind
from popreg.sync import file_jobs
from popreg.sync.file_jobs import FILES_PATH
from popreg.sync.file_jobs_models import SyncFileJob
from popreg.sync.models import PersonIdentifier, SyncUpdate

# The fixture officer comes from sharing_builders, agency from sync_builders (no conftest in this shared folder).
from sharing_builders import (  # noqa: F401 - fixtures (see the note above)
    access_log_of,
    access_token,
    add_partner,
    bearer,
    error_of,
    finished_job,
    officer,
)
from sync_builders import BASIS, OBSERVED, add_agency, agency  # noqa: F401 - fixtures (see the note above)

UNKNOWN_PIN = "079099000000"
MAPPING = "so_dinh_danh=pin,ma_so_bhxh=social_insurance_number,ghi_chu=-"


def sync_directory(settings: Settings) -> Path:
    return Path(settings.bulk_directory) / "sync-files"


@pytest.fixture
def runner(client: TestClient, database: Database, settings: Settings) -> Iterator[file_jobs.FileJobRunner]:
    """The application's job runner, with chunks of two rows so that small files take several."""
    app: Any = client.app
    app.state.sync_file_runner.close()  # the application's own runner steps aside for this one
    job_runner = file_jobs.FileJobRunner(database, directory=sync_directory(settings), chunk_rows=2, poll_seconds=0.05)
    app.state.sync_file_runner = job_runner
    job_runner.start()
    yield job_runner
    job_runner.close()


@pytest.fixture
def idle(client: TestClient, database: Database, settings: Settings) -> file_jobs.FileJobRunner:
    """A runner that never gets to the jobs: they stay queued, as in a process that died at once."""
    app: Any = client.app
    app.state.sync_file_runner.close()
    never = file_jobs.FileJobRunner(database, directory=sync_directory(settings))
    app.state.sync_file_runner = never
    return never


@pytest.fixture
def pins(client: TestClient, officer: dict[str, str]) -> list[str]:
    return [
        register(client, officer, full_name=f"Nguyễn Văn {name}", sex="M")["pin"] for name in ("An", "Bình", "Cường")
    ]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def bhxh_file(pins: list[str]) -> bytes:
    """Five rows in the social insurance agency's own columns: applied, invalid, held by another person
    (queued), unknown person, applied."""
    return csv_bytes(
        ["so_dinh_danh", "ma_so_bhxh", "ghi_chu"],
        [
            [pins[0], "0123456789", "a"],
            [pins[1], "12", "b"],
            [pins[1], "0123456789", "c"],
            [UNKNOWN_PIN, "0987654321", "d"],
            [pins[2], "0555555555", "e"],
        ],
    )


def upload(
    client: TestClient,
    headers: dict[str, str],
    content: bytes | None,
    name: str = "bhxh-2026-11.csv",
    **form: str,
) -> Any:
    data = {"mapping": MAPPING, "legal_basis": BASIS, "observed_at": OBSERVED, **form}
    files = {"file": (name, content, "application/octet-stream")} if content is not None else None
    return client.post(FILES_PATH, files=files, data=data, headers=headers)


def finished(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    return finished_job(client, f"{FILES_PATH}/{job_id}", headers)


def csv_results(client: TestClient, headers: dict[str, str], job_id: str) -> list[dict[str, str]]:
    response = client.get(f"{FILES_PATH}/{job_id}/results", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def outcomes(rows: list[dict[str, str]]) -> list[tuple[str, str, str, str]]:
    return [(row["row"], row["outcome"], row["code"], row["replayed"]) for row in rows]


def count(database: Database, model: Any) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_csv_in_the_agencys_own_columns_is_applied_in_chunks_and_its_outcomes_downloaded(
    client, database, agency, runner, pins
):
    accepted = upload(client, agency, bhxh_file(pins))

    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert (job["status"], job["rows_total"], job["fields"]) == ("queued", 5, ["social_insurance_number"])
    assert accepted.headers["Location"] == f"{FILES_PATH}/{job['job_id']}" == job["status_url"]
    status = finished(client, agency, job["job_id"])
    assert status["status"] == "completed", status
    assert (status["rows_done"], status["progress"], status["replayed"]) == (5, 1.0, 0)
    assert status["counts"] == {"applied": 2, "queued": 1, "rejected": 2}
    results = csv_results(client, agency, job["job_id"])
    assert outcomes(results) == [
        ("1", "applied", "", "no"),
        ("2", "rejected", "SYNC_INVALID_VALUE", "no"),
        ("3", "queued", "SYNC_IDENTIFIER_HELD_BY_OTHER", "no"),
        ("4", "rejected", "SYNC_PERSON_NOT_FOUND", "no"),
        ("5", "applied", "", "no"),
    ]
    assert [row["idempotency_key"] for row in results] == [f"bhxh-2026-11.csv:{n}" for n in range(1, 6)]
    with database.unit_of_work() as session:
        linked = session.execute(
            select(PersonIdentifier.value, PersonIdentifier.source).order_by(PersonIdentifier.value)
        )
        assert [tuple(row) for row in linked] == [("0123456789", "bhxh"), ("0555555555", "bhxh")]
    entries, items = access_log_of(database, job["job_id"])
    assert [(entry.action, entry.principal_id, entry.result) for entry in entries] == [
        ("sync.file", "bhxh", "accepted"),
        ("sync.file", "bhxh", "ok"),
        ("sync.file", "bhxh", "ok"),
        ("sync.file", "bhxh", "ok"),
    ]
    assert items == [
        (pins[0], "applied"),
        (pins[1], "SYNC_INVALID_VALUE"),
        (pins[1], "SYNC_IDENTIFIER_HELD_BY_OTHER"),
        (UNKNOWN_PIN, "SYNC_PERSON_NOT_FOUND"),
        (pins[2], "applied"),
    ]
    with database.unit_of_work() as session:
        assert verify_log(session).intact
    assert not file_jobs.source_path(runner.directory, job["job_id"]).exists()


def test_a_parquet_file_with_its_own_keys_can_ask_for_parquet_outcomes(client, database, agency, runner, pins):
    table = pa.table(
        {
            "key": ["thue-1", "thue-2", "thue-3"],
            "pin": [pins[0], pins[1], pins[1]],
            "tax_code": ["0101234567", "0107654321", None],
            "driving_licence_number": [None, None, "012345678901"],
            "observed_at": [OBSERVED] * 3,
            "legal_basis": [BASIS] * 3,
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)

    accepted = upload(client, agency, sink.getvalue(), "thue.parquet", mapping="", result_format="parquet")

    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert finished(client, agency, job_id)["counts"] == {"applied": 3, "queued": 0, "rejected": 0}
    response = client.get(f"{FILES_PATH}/{job_id}/results", headers=agency)
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    results = pq.read_table(io.BytesIO(response.content)).to_pylist()
    assert [(row["row"], row["idempotency_key"], row["outcome"], row["replayed"]) for row in results] == [
        (1, "thue-1", "applied", False),
        (2, "thue-2", "applied", False),
        (3, "thue-3", "applied", False),
    ]
    assert all(isinstance(row["update_id"], int) and row["code"] is None for row in results)
    with database.unit_of_work() as session:
        schemes = session.scalars(select(PersonIdentifier.scheme).order_by(PersonIdentifier.scheme)).all()
    assert schemes == ["driving_licence_number", "tax_code", "tax_code"]


def test_the_same_file_uploaded_twice_has_one_effect_per_row(client, database, agency, runner, pins):
    first = upload(client, agency, bhxh_file(pins)).json()["job_id"]
    assert finished(client, agency, first)["status"] == "completed"
    updates, events = count(database, SyncUpdate), count(database, PersonEvent)

    second = upload(client, agency, bhxh_file(pins))

    assert second.status_code == 202, second.text
    status = finished(client, agency, second.json()["job_id"])
    assert (status["status"], status["replayed"]) == ("completed", 5)
    assert status["counts"] == {"applied": 2, "queued": 1, "rejected": 2}
    again = csv_results(client, agency, second.json()["job_id"])
    assert [(row["outcome"], row["code"], row["update_id"]) for row in again] == [
        (row["outcome"], row["code"], row["update_id"]) for row in csv_results(client, agency, first)
    ]
    assert {row["replayed"] for row in again} == {"yes"}
    assert (count(database, SyncUpdate), count(database, PersonEvent)) == (updates, events)
    assert count(database, PersonIdentifier) == 2


def test_another_agency_cannot_see_a_job_or_its_results(client, database, agency, runner, pins):
    job_id = upload(client, agency, bhxh_file(pins)).json()["job_id"]
    assert finished(client, agency, job_id)["status"] == "completed"
    other = add_agency(database, "thue")

    for path in (f"{FILES_PATH}/{job_id}", f"{FILES_PATH}/{job_id}/results"):
        response = client.get(path, headers=other)
        assert (response.status_code, error_of(response)["code"]) == (404, "SYNC_FILE_JOB_NOT_FOUND")
    unknown = client.get(f"{FILES_PATH}/{'0' * 32}", headers=other)
    assert error_of(unknown) == error_of(client.get(f"{FILES_PATH}/{job_id}", headers=other)) | {
        "details": {"job_id": "0" * 32}
    }
    assert client.get(f"{FILES_PATH}/{job_id}", headers={}).status_code == 401


PIN = "001090012345"
ONE_ROW = f"so_dinh_danh,ma_so_bhxh\n{PIN},0123456789\n".encode()
SOCIAL = "ma_so_bhxh=social_insurance_number"


@pytest.mark.parametrize(
    ("content", "form", "code"),
    [
        (None, {}, "SYNC_FILE_MISSING"),
        (b"", {}, "SYNC_FILE_EMPTY"),
        (b"so_dinh_danh,ma_so_bhxh\n", {}, "SYNC_FILE_EMPTY"),
        (b"PAR1 this is no parquet file", {}, "SYNC_FILE_UNREADABLE"),
        ("so_dinh_danh,ma_so_bhxh\n001090012345,Nguy\xe9n\n".encode("latin-1"), {}, "SYNC_FILE_UNREADABLE"),
        (ONE_ROW + f"{PIN},01234,56789\n".encode(), {}, "SYNC_FILE_UNREADABLE"),
        (ONE_ROW, {"mapping": "ma_so_bhxh=blood"}, "SYNC_FILE_MAPPING_INVALID"),
        (f"pin,so_dinh_danh,tax_code\n{PIN},{PIN},1\n".encode(), {"mapping": "so_dinh_danh=pin"},
         "SYNC_FILE_MAPPING_INVALID"),
        (f"so_dinh_danh,ma_so_bhxh,dien_thoai\n{PIN},0123456789,0912\n".encode(), {}, "SYNC_FILE_COLUMN_UNKNOWN"),
        (b"ho_ten,ma_so_bhxh\nAn,0123456789\n", {"mapping": f"ho_ten=-,{SOCIAL}"}, "SYNC_FILE_COLUMNS_MISSING"),
        (ONE_ROW, {"legal_basis": ""}, "SYNC_FILE_COLUMNS_MISSING"),
        (ONE_ROW, {"observed_at": "2026-11-27"}, "SYNC_FILE_OPTION_INVALID"),
        (ONE_ROW, {"result_format": "xlsx"}, "SYNC_FILE_OPTION_INVALID"),
    ],
)  # fmt: skip
def test_a_file_whose_rows_cannot_become_updates_is_refused_whole_and_the_refusal_logged(
    client, database, agency, idle, settings, content, form, code
):
    refused = upload(client, agency, content, **form)

    assert refused.status_code == 422, refused.text
    assert error_of(refused)["code"] == code
    transaction_id = refused.headers["X-Transaction-Id"]
    entries, items = access_log_of(database, transaction_id)
    assert [(entry.principal_id, entry.action, entry.result) for entry in entries] == [("bhxh", "sync.file", code)]
    assert (count(database, SyncFileJob), count(database, SyncUpdate), items) == (0, 0, [])
    assert not (sync_directory(settings) / transaction_id).exists()


def test_the_columns_missing_are_named(client, agency, idle):
    refused = upload(client, agency, b"ho_ten,ghi_chu\nAn,x\n", mapping="ho_ten=-,ghi_chu=-", legal_basis="")

    assert error_of(refused)["details"]["missing"] == ["pin", "field", "legal_basis"]


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(database, settings, agency):
    small = settings.model_copy(update={"sync_file_max_bytes": 200})
    content = csv_bytes(["pin", "tax_code"], [[PIN, "0101234567"]] * 20)
    with TestClient(create_app(small, database), raise_server_exceptions=False) as client:
        refused = upload(client, agency, content, mapping="")

    assert (refused.status_code, error_of(refused)["code"]) == (413, "INPUT_TOO_LARGE")
    assert count(database, SyncFileJob) == 0


def test_a_file_outside_the_agencys_policy_or_token_is_refused(client, database, idle, pins):
    tax_only = add_agency(database, "thue", write_fields=["tax_code"])
    add_partner(database, partner_id="vietbank")  # a bank: verify and read, no sync
    bank = {"Authorization": bearer(access_token("vietbank"))}

    denied_field = upload(client, tax_only, bhxh_file(pins))
    denied_operation = upload(client, bank, bhxh_file(pins))
    anonymous = upload(client, {}, bhxh_file(pins))

    assert (denied_field.status_code, error_of(denied_field)["code"]) == (403, "POLICY_FIELD_DENIED")
    assert error_of(denied_field)["details"]["fields"] == ["social_insurance_number"]
    assert (denied_operation.status_code, error_of(denied_operation)["code"]) == (403, "POLICY_OPERATION_DENIED")
    assert (anonymous.status_code, error_of(anonymous)["code"]) == (401, "PARTNER_TOKEN_MISSING")
    assert count(database, SyncFileJob) == 0


def test_a_file_costs_one_request_per_row_of_the_daily_quota(client, database, idle, pins):
    add_partner(
        database,
        partner_id="small",
        kind=PartnerKind.AGENCY,
        operations=["sync"],
        verify_fields=[],
        read_fields=[],
        write_fields=["social_insurance_number"],
        purposes=["social-insurance"],
        daily_quota=4,
    )
    headers = {"Authorization": bearer(access_token("small", scope=("sync",)))}

    refused = upload(client, headers, bhxh_file(pins))

    assert (refused.status_code, error_of(refused)["code"]) == (429, "QUOTA_EXHAUSTED")


def test_outcomes_are_refused_until_the_job_has_completed(client, agency, idle, pins):
    job_id = upload(client, agency, bhxh_file(pins)).json()["job_id"]

    response = client.get(f"{FILES_PATH}/{job_id}/results", headers=agency)

    assert (response.status_code, error_of(response)["code"]) == (409, "SYNC_FILE_RESULTS_NOT_READY")
    assert error_of(response)["details"] == {"status": "queued", "rows_done": 0}


# --- a crash and the next process -------------------------------------------------------------------


def test_a_job_interrupted_after_its_first_chunk_is_taken_over_at_start_up_and_applies_every_row_once(
    client, database, settings, agency, idle, pins
):
    job_id = upload(client, agency, bhxh_file(pins)).json()["job_id"]
    first = file_jobs.FileJobRunner(database, directory=sync_directory(settings), chunk_rows=2)
    assert first.claim_next() == job_id
    first.run(job_id, max_chunks=1)  # then the process "dies", holding the job
    # It had written the next chunk's outcomes but not committed them.
    (sync_directory(settings) / job_id / "part-000001.csv").write_text("3,half-written")
    with database.unit_of_work() as session:
        job = session.get(SyncFileJob, job_id)
        assert job is not None and (job.status, job.rows_done, job.applied) == ("running", 2, 1)
    assert count(database, SyncUpdate) == 2
    assert file_jobs.FileJobRunner(database, directory=sync_directory(settings)).claim_next() is None  # still fresh
    with database.unit_of_work() as session:
        session.execute(
            update(SyncFileJob)
            .where(SyncFileJob.id == job_id)
            .values(heartbeat_at=utc_now() - file_jobs.STALE_AFTER - timedelta(seconds=1))
        )

    # The next serving process takes the job over when it starts.
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as restarted:
        status = finished(restarted, agency, job_id)
        results = csv_results(restarted, agency, job_id)

    assert status["status"] == "completed", status
    assert (status["rows_done"], status["replayed"], status["counts"]) == (
        5,
        0,
        {"applied": 2, "queued": 1, "rejected": 2},
    )
    assert [(row["row"], row["outcome"], row["replayed"]) for row in results] == [
        ("1", "applied", "no"),
        ("2", "rejected", "no"),
        ("3", "queued", "no"),
        ("4", "rejected", "no"),
        ("5", "applied", "no"),
    ]
    assert count(database, SyncUpdate) == 5
    with database.unit_of_work() as session:
        linked = session.execute(
            select(func.count())
            .select_from(PersonEvent)
            .join(Person, Person.id == PersonEvent.person_id)
            .where(PersonEvent.event_type == "person.identifiers_linked")
        ).scalar_one()
    assert linked == 2
    entries, items = access_log_of(database, job_id)
    assert [entry.item_count for entry in entries] == [None, 2, 3]  # accepted, the first chunk, the rest
    assert len(items) == 5
    # A worker that was only slow finds the job taken and does nothing more.
    first.run(job_id)
    assert len(access_log_of(database, job_id)[0]) == 3
    assert count(database, SyncUpdate) == 5


def test_a_runner_that_stops_gives_its_job_back_for_the_next_process(client, database, settings, agency, idle, pins):
    job_id = upload(client, agency, bhxh_file(pins)).json()["job_id"]
    leaving = file_jobs.FileJobRunner(database, directory=sync_directory(settings))
    assert leaving.claim_next() == job_id
    leaving.release()

    arriving = file_jobs.FileJobRunner(database, directory=sync_directory(settings))
    assert arriving.claim_next() == job_id
    arriving.run(job_id)

    assert finished(client, agency, job_id)["status"] == "completed"


def test_a_job_of_an_agency_whose_policy_lost_sync_fails_before_applying_a_row(
    client, database, settings, agency, idle, pins
):
    job_id = upload(client, agency, bhxh_file(pins)).json()["job_id"]
    with database.unit_of_work() as session:
        policy = session.get(PartnerPolicy, "bhxh")
        assert policy is not None
        policy.operations = ["verify"]
    worker = file_jobs.FileJobRunner(database, directory=sync_directory(settings))
    assert worker.claim_next() == job_id
    worker.run(job_id)

    status = finished(client, agency, job_id)
    assert (status["status"], status["error"]["code"], status["rows_done"]) == ("failed", "POLICY_OPERATION_DENIED", 0)
    assert count(database, SyncUpdate) == 0
    assert not (sync_directory(settings) / job_id).exists()


# --- retention of outcomes ---------------------------------------------------------------------

RETENTION = timedelta(hours=24)


@pytest.fixture
def keeper(client: TestClient, database: Database, settings: Settings) -> file_jobs.FileJobRunner:
    """The application's job runner with a retention of one day, never started: the test runs the jobs
    and the sweeps itself."""
    app: Any = client.app
    app.state.sync_file_runner.close()
    job_runner = file_jobs.FileJobRunner(
        database, directory=sync_directory(settings), chunk_rows=2, result_retention=RETENTION
    )
    app.state.sync_file_runner = job_runner
    return job_runner


def job_state(database: Database, job_id: str) -> tuple[str, Any, Any]:
    with database.unit_of_work() as session:
        job = session.get(SyncFileJob, job_id)
        assert job is not None
        return job.status, job.updated_at, job.finished_at


def test_outcomes_older_than_the_retention_are_expired_and_their_folders_deleted(
    client, database, settings, agency, keeper, pins
):
    old, recent, failed, running, queued = (
        upload(client, agency, bhxh_file(pins), name=f"bhxh-{label}.csv").json()["job_id"]
        for label in ("old", "recent", "failed", "running", "queued")
    )
    for job_id in (old, recent):
        assert keeper.claim_next() == job_id
        keeper.run(job_id)
    with database.unit_of_work() as session:
        policy = session.get(PartnerPolicy, "bhxh")
        assert policy is not None
        policy.operations = ["verify"]
    assert keeper.claim_next() == failed
    keeper.run(failed)  # fails on the policy, and deletes its folder
    with database.unit_of_work() as session:
        policy = session.get(PartnerPolicy, "bhxh")
        assert policy is not None
        policy.operations = ["verify", "sync"]
    assert keeper.claim_next() == running
    keeper.run(running, max_chunks=1)
    directory = sync_directory(settings)
    recent_finished = job_state(database, recent)[2]
    with database.unit_of_work() as session:
        session.execute(
            update(SyncFileJob).where(SyncFileJob.id == old).values(finished_at=recent_finished - timedelta(seconds=2))
        )
    before = {job_id: job_state(database, job_id) for job_id in (recent, failed, running, queued)}
    assert [state[0] for state in before.values()] == ["completed", "failed", "running", "queued"]
    now = recent_finished + RETENTION - timedelta(seconds=1)

    assert keeper.expire_results(now) == 1

    assert job_state(database, old)[:2] == ("expired", now)
    assert not (directory / old).exists()
    assert {job_id: job_state(database, job_id) for job_id in before} == before
    assert [path.name for path in (directory / recent).iterdir()] == ["results.csv"]
    assert not (directory / failed).exists()
    assert (directory / running).is_dir() and (directory / queued).is_dir()
    status = client.get(f"{FILES_PATH}/{old}", headers=agency).json()
    assert (status["status"], status["results_available_until"], status["rows_done"]) == ("expired", None, 5)
    refused = client.get(f"{FILES_PATH}/{old}/results", headers=agency)
    assert (refused.status_code, error_of(refused)["code"]) == (410, "JOB_RESULT_EXPIRED")
    assert error_of(refused)["details"] == {"status": "expired", "retention_hours": 24}
    kept = client.get(f"{FILES_PATH}/{recent}", headers=agency).json()
    assert kept["status"] == "completed"
    assert kept["results_available_until"] is not None
    assert datetime.fromisoformat(kept["results_available_until"]) == recent_finished + RETENTION
    assert len(csv_results(client, agency, recent)) == 5

    # A crash between the commit and the deletion left the expired job's folder: the next sweep deletes it.
    (directory / old).mkdir()
    (directory / old / "results.csv").write_text("left behind")
    assert keeper.expire_results(now) == 0
    assert not (directory / old).exists()
    assert job_state(database, old)[:2] == ("expired", now)
    assert {job_id: job_state(database, job_id) for job_id in before} == before


def test_outcomes_are_refused_once_the_retention_ends_even_before_a_sweep(client, database, agency, keeper, pins):
    job_id = upload(client, agency, bhxh_file(pins)).json()["job_id"]
    assert keeper.claim_next() == job_id
    keeper.run(job_id)
    with database.unit_of_work() as session:
        session.execute(update(SyncFileJob).where(SyncFileJob.id == job_id).values(finished_at=utc_now() - RETENTION))

    status = client.get(f"{FILES_PATH}/{job_id}", headers=agency).json()
    refused = client.get(f"{FILES_PATH}/{job_id}/results", headers=agency)

    assert (status["status"], status["results_available_until"]) == ("expired", None)
    assert (refused.status_code, error_of(refused)["code"]) == (410, "JOB_RESULT_EXPIRED")
    assert job_state(database, job_id)[0] == "completed"  # the sweep has not run: nothing was marked yet
