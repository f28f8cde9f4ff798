"""Bulk verification jobs end to end, on SQLite and PostgreSQL: upload, chunks, results, the access
log's items, refusals of files that cannot be verified, resumption, and one partner's privacy."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from builders import register, sign_in
from popreg.audit.service import verify_log
from popreg.kit import jobs
from popreg.kit.clock import utc_now
from popreg.kit.database import Database
from popreg.kit.settings import Profile, Settings
from popreg.sharing import bulk
from popreg.sharing.bulk_api import BULK_PATH
from popreg.sharing.bulk_models import VerificationJob
from sharing_builders import TEST_KEY, access_log_of, access_token, add_partner, bearer, error_of, finished_job

CLAIM_FIELDS = ["full_name", "birth_date", "sex", "card_issued_on", "permanent_commune_code"]
UNKNOWN_PIN = "001199999999"


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
def runner(client: TestClient, database: Database, settings: Settings) -> Iterator[bulk.BulkRunner]:
    """The application's job runner, with chunks of three rows so that small files take several."""
    app: Any = client.app
    app.state.bulk_runner.close()  # the application's own runner steps aside for this one
    job_runner = bulk.BulkRunner(database, directory=Path(settings.bulk_directory), chunk_rows=3, poll_seconds=0.05)
    app.state.bulk_runner = job_runner
    yield job_runner
    job_runner.close()


@pytest.fixture
def people(client: TestClient, database: Database) -> dict[str, str]:
    headers = sign_in(client, database)
    alive = register(client, headers)["pin"]
    deceased = register(client, headers, full_name="Trần Văn Bình", sex="M", birth_date="1950-03-04")["pin"]
    died = client.post(
        f"/api/v1/persons/{deceased}/life-status",
        json={"status": "deceased", "date": "2025-12-01", "legal_basis": "Trích lục khai tử 7/2025"},
        headers=headers,
    )
    assert died.status_code == 200, died.text
    return {"alive": alive, "deceased": deceased}


@pytest.fixture
def token(database: Database) -> str:
    add_partner(database, verify_fields=CLAIM_FIELDS, daily_quota=10_000)
    return access_token("vietbank")


def csv_bytes(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    out = io.StringIO()
    out.write(",".join(columns) + "\n")
    for row in rows:
        out.write(",".join(row.get(column, "") for column in columns) + "\n")
    return out.getvalue().encode()


def submit(client: TestClient, token: str | None, content: bytes, name: str = "claims.csv", **form: str) -> Any:
    headers = {"Authorization": bearer(token)} if token else {}
    data = {"purpose": "account-opening", **form}
    return client.post(
        BULK_PATH, files={"file": (name, content, "application/octet-stream")}, data=data, headers=headers
    )


def finished(client: TestClient, token: str, job_id: str) -> dict[str, Any]:
    return finished_job(client, f"{BULK_PATH}/{job_id}", {"Authorization": bearer(token)})


def result_rows(client: TestClient, token: str, job_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{BULK_PATH}/{job_id}/result", headers={"Authorization": bearer(token)})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = pq.read_table(io.BytesIO(response.content)).to_pylist()
    return rows


def test_a_bulk_file_is_verified_in_chunks_and_every_row_is_logged_once(client, database, runner, people, token):
    alive, deceased = people["alive"], people["deceased"]
    rows = [
        {"so_cccd": alive, "ho_ten": "NGUYEN THI MINH KHAI", "ngay_sinh": "1990-05-12", "gioi_tinh": "Nữ"},
        {"so_cccd": alive, "ho_ten": "Nguyễn Thị Minh Khoa", "ngay_sinh": "1990-05-12"},
        {"so_cccd": UNKNOWN_PIN, "ho_ten": "Nguyễn Thị Minh Khai"},
        {"so_cccd": "12345", "ho_ten": "Nguyễn Thị Minh Khai"},
        {"so_cccd": alive, "ngay_sinh": "12/05/1990"},
        {"so_cccd": deceased, "ho_ten": "Tran Van Binh", "ngay_sinh": "1950"},
        {"so_cccd": alive, "ref": "x"},
    ]
    columns = ["so_cccd", "ho_ten", "ngay_sinh", "gioi_tinh", "ref"]
    mapping = "so_cccd=pin,ho_ten=full_name,ngay_sinh=birth_date,gioi_tinh=sex,ref=-"
    accepted = submit(client, token, csv_bytes(rows, columns), mapping=mapping)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert (job["status"], job["rows_total"], job["fields"]) == ("queued", 7, ["full_name", "birth_date", "sex"])
    assert accepted.headers["Location"] == f"{BULK_PATH}/{job['job_id']}"

    status = finished(client, token, job["job_id"])
    assert status["status"] == "completed", status
    assert (status["rows_done"], status["progress"]) == (7, 1.0)
    assert status["counts"] == {"match": 2, "no_match": 2, "invalid": 3}

    results = result_rows(client, token, job["job_id"])
    assert [(row["row"], row["result"], row["error_code"]) for row in results] == [
        (2, "match", None),
        (3, "no_match", None),
        (4, "no_match", None),
        (5, "invalid", "PIN_INVALID_STRUCTURE"),
        (6, "invalid", "VERIFY_INVALID_DATE"),
        (7, "match", None),
        (8, "invalid", "VERIFY_NO_CLAIMS"),
    ]
    assert results[0]["sex_result"] == "match"
    assert (results[1]["full_name_result"], results[1]["birth_date_result"]) == ("no_match", "match")
    assert [row["person_status"] for row in results] == ["alive", None, None, None, None, "deceased", None]

    entries, items = access_log_of(database, job["job_id"])
    assert [entry.result for entry in entries] == ["accepted", "ok", "ok", "ok"]  # acceptance, then 3 chunks
    assert all(entry.principal_id == "vietbank" and entry.action == "verify.bulk" for entry in entries)
    assert items == [
        (alive, "match"),
        (alive, "no_match"),
        (UNKNOWN_PIN, "no_match"),
        (None, "PIN_INVALID_STRUCTURE"),
        (alive, "VERIFY_INVALID_DATE"),
        (deceased, "match"),
        (alive, "VERIFY_NO_CLAIMS"),
    ]
    with database.read_session() as session:
        assert verify_log(session).intact


def test_a_parquet_file_can_ask_for_csv_results_and_fuzzy_matching(client, runner, people, token):
    table = pa.table(
        {
            "pin": [people["alive"], people["alive"]],
            "full_name": ["Nguyen Thi Mihn Khai", "Nguyen Van An"],
            "birth_date": ["1990-12-05", None],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    accepted = submit(client, token, sink.getvalue(), "claims.parquet", mode="fuzzy", result_format="csv")
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert finished(client, token, job_id)["status"] == "completed"
    response = client.get(f"{BULK_PATH}/{job_id}/result", headers={"Authorization": bearer(token)})
    assert response.headers["content-type"].startswith("text/csv")
    results = pa_csv.read_csv(io.BytesIO(response.content)).to_pylist()
    assert [(row["row"], row["result"]) for row in results] == [(1, "match"), (2, "no_match")]
    assert results[0]["full_name_score"] == pytest.approx(0.95)
    assert results[1]["full_name_score"] == 0.0


def test_malformed_lines_and_bytes_that_are_not_utf8_only_refuse_their_own_rows(
    client, runner, people, token, monkeypatch
):
    # The upload's encoding is checked on its first mebibyte; let the bad line come after the sample.
    monkeypatch.setattr(bulk, "_SAMPLE_BYTES", 40)
    alive = people["alive"]
    content = (
        f"pin,full_name,sex\n{alive},Nguyễn Thị Minh Khai,F\n{alive},too,many,fields\n{alive},".encode()
        + "Nguyễn".encode("utf-16-le")
        + b",F\n"
        + f"{alive},Nguyễn Thị Minh Khai,F\n".encode()
    )
    accepted = submit(client, token, content)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    assert finished(client, token, job_id)["status"] == "completed"
    results = result_rows(client, token, job_id)
    assert [(row["row"], row["result"], row["error_code"]) for row in results] == [
        (2, "match", None),
        (3, "invalid", "CSV_ROW_MALFORMED"),
        (4, "invalid", "ENCODING_INVALID"),
        (5, "match", None),
    ]


@pytest.mark.parametrize(
    ("content", "form", "code"),
    [
        (b"", {}, "BULK_FILE_EMPTY"),
        (b"PAR1 this is no parquet file", {}, "BULK_FILE_UNREADABLE"),
        (
            "pin,full_name\n001190012345,Nguyễn\n".encode("cp1258", errors="replace").replace(b"?", b"\xd2"),
            {},
            "BULK_FILE_ENCODING",
        ),
        (b"so_cccd,full_name\n001190012345,An\n", {}, "BULK_COLUMNS_MISSING"),
        (b"pin,full_name,phone\n001190012345,An,0912\n", {}, "VERIFY_UNKNOWN_FIELD"),
        (b"pin,ref\n001190012345,7\n", {"mapping": "ref=-"}, "VERIFY_NO_CLAIMS"),
        (b"pin,a,b\n001190012345,An,An\n", {"mapping": "a=full_name,b=full_name"}, "BULK_MAPPING_INVALID"),
        (b"pin,full_name\n001190012345,An\n", {"mapping": "full_name"}, "BULK_MAPPING_INVALID"),
        (b"pin,full_name\n001190012345,An\n", {"mode": "loose"}, "BULK_OPTION_INVALID"),
        (b"pin,full_name\n001190012345,An\n", {"threshold": "1.5"}, "VERIFY_INVALID_THRESHOLD"),
        (b"pin,full_name\n001190012345,An\n", {"result_format": "xlsx"}, "BULK_OPTION_INVALID"),
        # PostgreSQL cannot store a NUL: refused alike on both databases, before anything is stored.
        (b"pin,full_name\n001190012345,An\n", {"purpose": "account\x00opening"}, "BULK_OPTION_INVALID"),
    ],
)
def test_a_file_that_cannot_be_verified_is_refused_whole_and_the_refusal_logged(
    client, database, runner, token, settings, content, form, code
):
    refused = submit(client, token, content, **form)
    assert refused.status_code == 422, refused.text
    assert error_of(refused)["code"] == code
    transaction_id = refused.headers["X-Transaction-Id"]
    entries, items = access_log_of(database, transaction_id)
    assert [(entry.principal_id, entry.result) for entry in entries] == [("vietbank", code)]
    assert items == []
    with database.read_session() as session:
        assert session.execute(select(VerificationJob)).first() is None
    assert not (Path(settings.bulk_directory) / transaction_id).exists()


def test_a_file_outside_the_policy_or_without_a_token_is_refused(client, runner, token):
    content = b"pin,permanent_address\n001190012345,So 12\n"
    denied = submit(client, token, content)
    assert (denied.status_code, error_of(denied)["code"]) == (403, "POLICY_FIELD_DENIED")
    anonymous = submit(client, None, b"pin,full_name\n001190012345,An\n")
    assert (anonymous.status_code, error_of(anonymous)["code"]) == (401, "PARTNER_TOKEN_MISSING")


def test_a_file_costs_one_request_per_row_of_the_daily_quota(client, database, runner):
    add_partner(database, partner_id="smallbank", verify_fields=CLAIM_FIELDS, daily_quota=3)
    token = access_token("smallbank")
    rows = "".join(f"00119001234{n},An\n" for n in range(4))
    refused = submit(client, token, f"pin,full_name\n{rows}".encode())
    assert (refused.status_code, error_of(refused)["code"]) == (429, "QUOTA_EXHAUSTED")


def test_another_partner_cannot_see_a_job_or_its_results(client, database, runner, people, token):
    accepted = submit(client, token, f"pin,sex\n{people['alive']},F\n".encode())
    job_id = accepted.json()["job_id"]
    assert finished(client, token, job_id)["status"] == "completed"
    add_partner(database, partner_id="otherbank", verify_fields=CLAIM_FIELDS)
    other = {"Authorization": bearer(access_token("otherbank"))}
    for path in (f"{BULK_PATH}/{job_id}", f"{BULK_PATH}/{job_id}/result"):
        response = client.get(path, headers=other)
        assert (response.status_code, error_of(response)["code"]) == (404, "BULK_JOB_NOT_FOUND")
    nobody = client.get(f"{BULK_PATH}/{'0' * 32}", headers=other)
    assert error_of(nobody) == error_of(client.get(f"{BULK_PATH}/{job_id}", headers=other)) | {
        "details": {"job_id": "0" * 32}
    }


def test_results_are_refused_until_the_job_has_completed(client, database, token, settings):
    app: Any = client.app
    app.state.bulk_runner.close()
    idle = bulk.BulkRunner(database, directory=Path(settings.bulk_directory))
    idle.start = lambda: None  # type: ignore[method-assign]  # a process whose runner never gets to the job
    app.state.bulk_runner = idle
    accepted = submit(client, token, b"pin,sex\n001190012345,F\n")
    job_id = accepted.json()["job_id"]
    response = client.get(f"{BULK_PATH}/{job_id}/result", headers={"Authorization": bearer(token)})
    assert (response.status_code, error_of(response)["code"]) == (409, "BULK_RESULT_NOT_READY")
    assert error_of(response)["details"]["status"] == "queued"


# --- resumption ------------------------------------------------------------------------------


def queued_job(database: Database, directory: Path, content: bytes) -> str:
    """A job accepted from ``content``, as the API leaves it for the runner."""
    job_id = bulk.new_job_id()
    source = bulk.source_path(directory, job_id)
    source.parent.mkdir(parents=True)
    source.write_bytes(content)
    request = bulk.JobRequest(
        partner_id="vietbank",
        purpose="account-opening",
        legal_basis="",
        mode="normalised",
        threshold=0.85,
        result_format="parquet",
        source_name="claims.csv",
        mapping={},
    )
    with database.unit_of_work() as session:
        bulk.create_job(session, job_id=job_id, request=request, layout=bulk.inspect_source(source, {}))
    return job_id


def test_a_job_whose_process_died_is_resumed_by_another_and_logs_each_row_once(database, people, token, tmp_path):
    alive = people["alive"]
    content = "pin,sex\n" + "".join(f"{alive},{'F' if n % 2 else 'M'}\n" for n in range(7))
    job_id = queued_job(database, tmp_path, content.encode())
    first = bulk.BulkRunner(database, directory=tmp_path, chunk_rows=2)
    assert first.claim_next() == job_id
    first.run(job_id, max_chunks=2)  # then the process "dies", holding the job
    # It had written the next chunk's results but not committed them.
    (tmp_path / job_id / "part-000002.parquet").write_bytes(b"half-written")

    second = bulk.BulkRunner(database, directory=tmp_path, chunk_rows=2)
    assert second.claim_next() is None  # the first worker's heartbeat is still fresh
    with database.unit_of_work() as session:
        session.execute(
            update(VerificationJob)
            .where(VerificationJob.id == job_id)
            .values(heartbeat_at=utc_now() - bulk.STALE_AFTER - timedelta(seconds=1))
        )
    assert second.claim_next() == job_id
    second.run(job_id)

    with database.read_session() as session:
        job = session.get(VerificationJob, job_id)
        assert job is not None
        assert (job.status, job.rows_done, job.chunks_done, job.matched, job.not_matched) == ("completed", 7, 4, 3, 4)
    results = pq.read_table(bulk.result_path(tmp_path, job_id, "parquet")).to_pylist()
    assert [row["row"] for row in results] == list(range(2, 9))
    assert [row["result"] for row in results] == ["no_match", "match"] * 3 + ["no_match"]
    entries, items = access_log_of(database, job_id)
    assert [entry.item_count for entry in entries] == [None, 2, 2, 2, 1]
    assert [result for _, result in items] == [row["result"] for row in results]
    assert not bulk.source_path(tmp_path, job_id).exists()  # the partner's file is not kept once verified
    # A worker that was only slow finds the job gone and does nothing more.
    first.run(job_id)
    assert len(access_log_of(database, job_id)[0]) == 5


def test_a_stopped_runner_gives_its_job_back_for_the_next_process(database, people, token, tmp_path):
    job_id = queued_job(database, tmp_path, f"pin,sex\n{people['alive']},F\n".encode())
    leaving = bulk.BulkRunner(database, directory=tmp_path)
    assert leaving.claim_next() == job_id
    leaving.release()
    arriving = bulk.BulkRunner(database, directory=tmp_path)
    assert arriving.claim_next() == job_id
    arriving.run(job_id)
    with database.read_session() as session:
        job = session.get(VerificationJob, job_id)
        assert job is not None and (job.status, json.loads(job.column_mapping)) == ("completed", {})


# --- retention of results ----------------------------------------------------------------------

RETENTION = timedelta(hours=24)


@pytest.fixture
def keeper(client: TestClient, database: Database, settings: Settings) -> bulk.BulkRunner:
    """The application's job runner with a retention of one day, never started: the test runs the jobs
    and the sweeps itself."""
    app: Any = client.app
    app.state.bulk_runner.close()
    job_runner = bulk.BulkRunner(
        database, directory=Path(settings.bulk_directory), chunk_rows=1, result_retention=RETENTION
    )
    job_runner.start = lambda: None  # type: ignore[method-assign]  # the API would start it on first use
    app.state.bulk_runner = job_runner
    return job_runner


def job_state(database: Database, job_id: str) -> tuple[str, Any, Any]:
    with database.read_session() as session:
        job = session.get(VerificationJob, job_id)
        assert job is not None
        return job.status, job.updated_at, job.finished_at


def set_finished_at(database: Database, job_id: str, finished_at: Any) -> None:
    with database.unit_of_work() as session:
        session.execute(update(VerificationJob).where(VerificationJob.id == job_id).values(finished_at=finished_at))


def test_results_older_than_the_retention_are_expired_and_their_folders_deleted(
    client, database, settings, keeper, people, token
):
    headers = {"Authorization": bearer(token)}
    content = f"pin,sex\n{people['alive']},F\n{people['alive']},M\n".encode()
    old, recent, failed, running, queued = (submit(client, token, content).json()["job_id"] for _ in range(5))
    for job_id in (old, recent):
        assert keeper.claim_next() == job_id
        keeper.run(job_id)
    assert keeper.claim_next() == failed
    with database.unit_of_work() as session:  # failed, and the process died before deleting its folder
        session.execute(
            update(VerificationJob)
            .where(VerificationJob.id == failed)
            .values(status="failed", error_code="BULK_JOB_FAILED", finished_at=utc_now(), claimed_by=None)
        )
    assert keeper.claim_next() == running
    keeper.run(running, max_chunks=1)
    directory = Path(settings.bulk_directory)
    (directory / ("f" * 32)).mkdir()  # an upload still being checked: no job yet
    recent_finished = job_state(database, recent)[2]
    set_finished_at(database, old, recent_finished - timedelta(seconds=2))
    before = {job_id: job_state(database, job_id) for job_id in (recent, failed, running, queued)}
    now = recent_finished + RETENTION - timedelta(seconds=1)

    assert keeper.expire_results(now) == 1

    assert job_state(database, old)[:2] == ("expired", now)
    assert not (directory / old).exists()
    assert {job_id: job_state(database, job_id) for job_id in before} == before
    assert [path.name for path in (directory / recent).iterdir()] == ["result.parquet"]
    assert not (directory / failed).exists()
    assert (directory / running).is_dir() and (directory / queued).is_dir() and (directory / ("f" * 32)).is_dir()
    status = client.get(f"{BULK_PATH}/{old}", headers=headers).json()
    assert (status["status"], status["results_available_until"], status["rows_done"]) == ("expired", None, 2)
    refused = client.get(f"{BULK_PATH}/{old}/result", headers=headers)
    assert (refused.status_code, error_of(refused)["code"]) == (410, "JOB_RESULT_EXPIRED")
    assert error_of(refused)["details"] == {"status": "expired", "retention_hours": 24}
    assert "24 hours" in error_of(refused)["message"] and "again" in error_of(refused)["message"]
    kept = client.get(f"{BULK_PATH}/{recent}", headers=headers).json()
    assert (kept["status"], kept["results_available_until"]) == ("completed", (recent_finished + RETENTION).isoformat())
    assert len(result_rows(client, token, recent)) == 2

    # A crash between the commit and the deletion left the expired job's folder: the next sweep deletes it.
    (directory / old).mkdir()
    (directory / old / "result.parquet").write_bytes(b"left behind")
    assert keeper.expire_results(now) == 0
    assert not (directory / old).exists()
    assert job_state(database, old)[:2] == ("expired", now)
    assert {job_id: job_state(database, job_id) for job_id in before} == before


def test_a_sweep_deletes_uploads_that_never_became_a_job_once_they_are_a_day_old(database, settings, keeper):
    # A process killed while checking an upload leaves a folder (with the partner's file) and no job.
    directory = Path(settings.bulk_directory)
    now = utc_now()
    abandoned, fresh = directory / ("a" * 32), directory / ("b" * 32)
    for folder in (abandoned, fresh):
        folder.mkdir(parents=True)
        (folder / "source").write_bytes(b"pin,full_name\n")
    day_and_a_minute_ago = (now - jobs.ABANDONED_UPLOAD_AFTER - timedelta(minutes=1)).timestamp()
    for path in (abandoned / "source", abandoned):
        os.utime(path, (day_and_a_minute_ago, day_and_a_minute_ago))
    (directory / "not-a-job").mkdir()

    assert keeper.expire_results(now) == 0

    assert not abandoned.exists()
    assert (fresh / "source").is_file() and (directory / "not-a-job").is_dir()


def test_results_are_refused_once_the_retention_ends_even_before_a_sweep(client, database, keeper, people, token):
    headers = {"Authorization": bearer(token)}
    job_id = submit(client, token, f"pin,sex\n{people['alive']},F\n".encode()).json()["job_id"]
    assert keeper.claim_next() == job_id
    keeper.run(job_id)
    set_finished_at(database, job_id, utc_now() - RETENTION)

    status = client.get(f"{BULK_PATH}/{job_id}", headers=headers).json()
    refused = client.get(f"{BULK_PATH}/{job_id}/result", headers=headers)

    assert (status["status"], status["results_available_until"]) == ("expired", None)
    assert (refused.status_code, error_of(refused)["code"]) == (410, "JOB_RESULT_EXPIRED")
    assert job_state(database, job_id)[0] == "completed"  # the sweep has not run: nothing was marked yet


def test_two_processes_sweeping_at_once_expire_each_job_once(client, database, settings, keeper, people, token):
    job_ids = [submit(client, token, f"pin,sex\n{people['alive']},F\n".encode()).json()["job_id"] for _ in range(3)]
    for job_id in job_ids:
        assert keeper.claim_next() == job_id
        keeper.run(job_id)
    other = bulk.BulkRunner(database, directory=Path(settings.bulk_directory), result_retention=RETENTION)
    now = utc_now() + RETENTION

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda sweeper: sweeper.expire_results(now), [keeper, other]))

    assert sum(counts) == 3
    assert [job_state(database, job_id)[0] for job_id in job_ids] == ["expired"] * 3
    assert not any((Path(settings.bulk_directory) / job_id).exists() for job_id in job_ids)


def test_a_runner_expires_old_results_as_soon_as_it_starts(client, database, settings, keeper, people, token):
    job_id = submit(client, token, f"pin,sex\n{people['alive']},F\n".encode()).json()["job_id"]
    assert keeper.claim_next() == job_id
    keeper.run(job_id)
    set_finished_at(database, job_id, utc_now() - RETENTION - timedelta(seconds=1))
    serving = bulk.BulkRunner(
        database, directory=Path(settings.bulk_directory), poll_seconds=0.05, result_retention=RETENTION
    )

    serving.start()
    try:
        deadline = time.monotonic() + 30
        while job_state(database, job_id)[0] != "expired" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        serving.close()

    assert job_state(database, job_id)[0] == "expired"
    assert not (Path(settings.bulk_directory) / job_id).exists()
