"""`popreg import persons`: validation, rejects, idempotence and resume after a kill, on both databases."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from popreg.registry.export import export_table
from popreg.registry.importer import import_persons, write_reject_file
from popreg.registry.models import ImportJob, Person, PersonEvent, Residence

HEADER = ["pin", "full_name", "birth_date", "sex", "ethnicity_code", "address_line", "unit_code"]


def pin_for(index: int, *, year: int = 1990, female: bool = False) -> str:
    return f"001{2 * ((year - 1900) // 100) + female}{year % 100:02d}{index:06d}"


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def good_rows(count: int, start: int = 0) -> list[list[str]]:
    return [
        [
            pin_for(start + i),
            f"Nguyễn Văn Số {start + i}".replace(str(start + i), "Một"),
            "1990-05-12",
            "M",
            "01",
            "Số 1 Đội Cấn",
            "00004",
        ]
        for i in range(count)
    ]


def count(database, model) -> int:
    with database.read_session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_valid_rows_load_with_history_and_residence_and_bad_rows_are_rejected_with_reasons(database, tmp_path):
    rows = good_rows(3) + [
        [pin_for(0), "Trùng Số", "1990-05-12", "M", "01", "", ""],  # duplicate PIN in the file
        [pin_for(9), "Ngày Sai", "1990-02-30", "M", "01", "", ""],  # impossible date
        [pin_for(10), "Giới Sai", "1990-01-01", "F", "01", "", ""],  # sex contradicts the PIN
    ]
    source = write_csv(tmp_path / "persons.csv", rows)
    summary = import_persons(database, source)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (6, 3, 3)
    assert summary.rejects_by_code == {"PIN_DUPLICATE_IN_FILE": 1, "DATE_INVALID": 1, "PIN_SEX_MISMATCH": 1}
    assert count(database, Person) == 3
    assert count(database, PersonEvent) == 3
    assert count(database, Residence) == 3
    out = tmp_path / "rejects.csv"
    assert write_reject_file(database, summary.job_id, out) == 3
    lines = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["line"], r["column"], r["code"]) for r in lines] == [
        ("5", "pin", "PIN_DUPLICATE_IN_FILE"),
        ("6", "birth_date", "DATE_INVALID"),
        ("7", "pin", "PIN_SEX_MISMATCH"),
    ]
    assert all(r["message"] for r in lines)


def test_running_the_same_import_again_loads_nothing_twice(database, tmp_path):
    source = write_csv(tmp_path / "persons.csv", good_rows(5))
    import_persons(database, source)
    again = import_persons(database, source)
    assert again.already_done
    assert count(database, Person) == 5


def test_a_pin_already_in_the_register_is_rejected(database, tmp_path):
    import_persons(database, write_csv(tmp_path / "first.csv", good_rows(2)))
    summary = import_persons(database, write_csv(tmp_path / "second.csv", good_rows(3)))
    assert summary.rejects_by_code == {"PIN_ALREADY_REGISTERED": 2}
    assert count(database, Person) == 3


def test_columns_named_differently_are_mapped_and_missing_ones_refused(database, tmp_path):
    header = ["so_dinh_danh", "ho_ten", "ngay_sinh", "gioi_tinh"]
    source = write_csv(tmp_path / "agency.csv", [[pin_for(1), "Lê Thị Hoa", "1990", "Nam"]], header)
    with pytest.raises(Exception, match="IMPORT_COLUMNS_MISSING|lacks the required"):
        import_persons(database, source)
    summary = import_persons(
        database,
        source,
        mapping={"so_dinh_danh": "pin", "ho_ten": "full_name", "ngay_sinh": "birth_date", "gioi_tinh": "sex"},
    )
    assert summary.rows_loaded == 1


def test_malformed_lines_and_bad_encoding_are_rejected_and_the_rest_loads(database, tmp_path):
    path = tmp_path / "broken.csv"
    good = good_rows(2)
    body = (
        (",".join(HEADER) + "\n" + ",".join(good[0]) + "\n" + "too,few,fields\n" + ",".join(good[1]) + "\n").encode()
        + pin_for(7).encode()
        + b",Ng\xff\xfe,1990,M,01,,\n"
    )
    path.write_bytes(body)
    summary = import_persons(database, path)
    assert summary.rows_loaded == 2
    assert summary.rejects_by_code == {"CSV_ROW_MALFORMED": 1, "ENCODING_INVALID": 1}


def test_parquet_input_is_read_like_csv(database, tmp_path):
    path = tmp_path / "persons.parquet"
    pq.write_table(
        pa.table(
            {
                "pin": [pin_for(1), pin_for(2)],
                "full_name": ["Võ Thị Sáu", "Lý Tự Trọng"],
                "birth_date": ["1990-01-01", "1990-02"],
                "sex": ["M", "M"],
                "ethnicity_code": ["01", None],
            }
        ),
        path,
    )
    summary = import_persons(database, path)
    assert summary.rows_loaded == 2


def test_export_streams_what_was_imported(database, tmp_path):
    import_persons(database, write_csv(tmp_path / "persons.csv", good_rows(4)))
    out = tmp_path / "persons.parquet"
    assert export_table(database, "persons", out).rows == 4
    table = pq.read_table(out)
    assert sorted(table["pin"].to_pylist()) == [pin_for(i) for i in range(4)]
    assert table.schema.field("birth_date").type == pa.date32()
    events = tmp_path / "events.parquet"
    assert export_table(database, "events", events).rows == 4
    first = json.loads(pq.read_table(events)["changes"][0].as_py())
    assert first["full_name"][1].startswith("Nguyễn Văn")


def test_an_import_killed_mid_way_resumes_and_loads_every_row_exactly_once(database, tmp_path):
    total = 60_000
    source = write_csv(tmp_path / "big.csv", good_rows(total))
    env = {**os.environ, "POPREG_DATABASE_URL": database.url}
    command = [sys.executable, "-m", "popreg", "import", "persons", str(source), "--batch-rows", "4000"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        with database.read_session() as session:
            done = session.execute(select(func.coalesce(func.max(ImportJob.rows_done), 0))).scalar_one()
        if done > 0:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert 0 < done < total, "the import must be killed between its first and last batch"
    loaded_before = count(database, Person)
    assert loaded_before < total
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    with database.read_session() as session:
        pins = session.execute(select(Person.pin)).scalars().all()
    assert len(pins) == total
    assert len(set(pins)) == total
    assert count(database, PersonEvent) == total


def test_a_duplicate_in_a_later_batch_is_reported_as_a_duplicate_in_the_file(database, tmp_path):
    rows = good_rows(3000)
    rows.append([pin_for(5), "Lặp Lại", "1990-05-12", "M", "01", "", ""])  # the PIN of row 6, in the last batch
    batches = []
    summary = import_persons(
        database,
        write_csv(tmp_path / "persons.csv", rows),
        batch_rows=500,
        progress=lambda done, loaded, rejected: batches.append(done),
    )
    assert len(batches) > 1, "the file must span several batches for this test to mean anything"
    assert batches[-1] == 3001
    assert summary.rows_loaded == 3000
    assert summary.rejects_by_code == {"PIN_DUPLICATE_IN_FILE": 1}


def test_a_synthetic_population_file_imports_without_a_single_reject(database, tmp_path):
    from popreg.synth.generator import generate_population
    from popreg.synth.io import write_parquet

    paths = write_parquet(generate_population(4000, seed=11), tmp_path / "people.parquet")
    summary = import_persons(database, paths["persons"])
    assert summary.rejects_by_code == {}
    assert summary.rows_loaded == 4000


def index_names(database) -> set[str]:
    from sqlalchemy import inspect

    inspector = inspect(database.engine)
    return {
        index["name"] for table in ("persons", "person_events", "residences") for index in inspector.get_indexes(table)
    }


def test_an_initial_load_can_defer_the_indexes_and_rebuilds_them_even_after_a_crash(database, tmp_path):
    from popreg.registry.importer import deferrable_indexes

    deferred = {index.name for index in deferrable_indexes()}
    assert {"ix_persons_name_folded", "ix_person_events_person_id_id"} <= deferred
    assert deferred <= index_names(database)
    source = write_csv(tmp_path / "persons.csv", good_rows(3000))

    class Crash(Exception):
        pass

    def crash_after_first_batch(done, loaded, rejected):
        raise Crash

    with pytest.raises(Crash):
        import_persons(database, source, batch_rows=500, defer_indexes=True, progress=crash_after_first_batch)
    assert not deferred & index_names(database), "the indexes stay dropped until the load completes"
    assert 0 < count(database, Person) < 3000
    summary = import_persons(database, source, batch_rows=500)  # resumed without the option: the job remembers
    assert summary.rows_loaded == 3000
    assert count(database, Person) == 3000
    assert deferred <= index_names(database)
