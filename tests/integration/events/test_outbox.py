"""The transactional outbox, on SQLite and PostgreSQL: every change of a person gets its event in the
change's own transaction (and a refused or rolled-back change gets none), numbered per person; a bulk
import emits one ``person.registered`` event per imported person, written set-based."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders import BA_DINH
from integration.events.conftest import register_person, rename
from popreg.kit.database import Database
from popreg.officials.rules import OfficialPrincipal, Role
from popreg.registry import service
from popreg.registry.importer import import_persons
from popreg.registry.models import PersonEvent
from popreg.registry.schemas import PersonUpdate
from popreg.sync.events_models import OutboxEvent


def outbox(database: Database) -> list[OutboxEvent]:
    with database.unit_of_work() as session:
        rows = list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))
        session.expunge_all()
        return rows


def test_every_change_of_a_person_is_in_the_outbox_numbered_per_person(
    client: TestClient, database: Database, admin: dict[str, str]
):
    first = register_person(client, admin)
    second = register_person(client, admin, full_name="Trần Văn Bình", sex="M")
    rename(client, admin, first, "Nguyễn Thị Minh Hạnh")
    died = client.post(
        f"/api/v1/persons/{second}/life-status",
        json={"status": "deceased", "date": "2026-01-02", "legal_basis": "Trích lục khai tử 5/2026"},
        headers=admin,
    )
    assert died.status_code == 200, died.text

    rows = outbox(database)
    with database.unit_of_work() as session:
        history = session.execute(select(func.count()).select_from(PersonEvent)).scalar_one()
    assert len(rows) == history, "one outbox row per history event"
    by_person: dict[str, list[OutboxEvent]] = {}
    for row in rows:
        by_person.setdefault(row.pin, []).append(row)
    for events in by_person.values():
        assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    assert [e.event_type for e in by_person[first]][0] == "person.registered"
    assert "residence.changed" in [e.event_type for e in by_person[first]]
    assert by_person[first][-1].event_type == "person.updated"
    assert by_person[first][-1].changes["full_name"] == ["Nguyễn Thị Minh Khai", "Nguyễn Thị Minh Hạnh"]
    assert by_person[second][-1].event_type == "person.died"
    assert len({row.event_id for row in rows}) == len(rows)
    assert all(uuid.UUID(row.event_id).version == 4 for row in rows)


def test_a_refused_change_leaves_no_event(client: TestClient, database: Database, admin: dict[str, str]):
    pin = register_person(client, admin)
    before = len(outbox(database))
    refused = client.patch(
        f"/api/v1/persons/{pin}", json={"full_name": "Nguyễn 3", "legal_basis": "QĐ 1"}, headers=admin
    )
    assert refused.status_code == 422
    assert len(outbox(database)) == before


def test_a_rolled_back_transaction_takes_its_event_with_it(
    client: TestClient, database: Database, admin: dict[str, str]
):
    pin = register_person(client, admin)
    before = outbox(database)
    principal = OfficialPrincipal(
        id=1, username="admin", display_name="Admin", role=Role.NATIONAL_ADMIN, jurisdiction_code=None
    )
    flushed: list[int] = []

    def change_then_fail() -> None:
        with database.unit_of_work() as session:
            service.update_person(
                session,
                principal=principal,
                pin=pin,
                data=PersonUpdate(full_name="Nguyễn Thị Lan", legal_basis="Quyết định 7/2026"),
            )
            session.flush()
            flushed.append(session.execute(select(func.count()).select_from(OutboxEvent)).scalar_one())
            raise RuntimeError("the boundary fails after the change was flushed")

    with pytest.raises(RuntimeError, match="boundary fails"):
        change_then_fail()
    assert flushed == [len(before) + 1]
    assert [row.event_id for row in outbox(database)] == [row.event_id for row in before]


def test_a_bulk_import_emits_one_registered_event_per_person(database: Database, tmp_path: Path):
    rows = [
        "pin,full_name,birth_date,sex,ethnicity_code,address_line,unit_code",
        f"001090000001,Lê Văn An,1990-01-01,M,01,Số 1 phố Huế,{BA_DINH}",
        f"001190000002,Lê Thị Bình,1990-02-02,F,01,Số 2 phố Huế,{BA_DINH}",
        f"001090000003,Phạm Văn Cường,1990-03-03,M,01,Số 3 phố Huế,{BA_DINH}",
        f"001090000009,Ngày Sai,1990-02-30,M,01,Số 9 phố Huế,{BA_DINH}",
    ]
    source = tmp_path / "persons.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    summary = import_persons(database, source, mapping={}, batch_rows=2)
    assert (summary.rows_loaded, summary.rows_rejected) == (3, 1)

    events = outbox(database)
    assert sorted(event.pin for event in events) == ["001090000001", "001090000003", "001190000002"]
    assert {event.event_type for event in events} == {"person.registered"}
    assert {event.history_type for event in events} == {"person.imported"}
    assert {event.sequence for event in events} == {1}
    assert {event.source_agency for event in events} == {"import"}
    assert len({event.event_id for event in events}) == 3
    assert all(uuid.UUID(event.event_id).version == 4 for event in events)
    an = next(event for event in events if event.pin == "001090000001")
    assert an.changes["full_name"] == [None, "Lê Văn An"]
