"""Reading the register's facts for verification, one batch at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from builders import BA_DINH, HA_NOI, HOAN_KIEM, register, sign_in
from popreg.cards.models import Card
from popreg.cards.rules import add_years
from popreg.kit.clock import today_in_vietnam
from popreg.kit.database import Database
from popreg.officials.rules import Role
from popreg.sharing.facts import FACTS_SCHEMA, facts_to_table, fetch_facts, fetch_facts_table
from popreg.sharing.rules import CardFact

UNKNOWN_PIN = "001199999999"


def post(client: TestClient, headers: dict[str, str], path: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/persons/{path}", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def issue_card(client: TestClient, headers: dict[str, str], pin: str, kind: str) -> int:
    card = post(client, headers, f"{pin}/cards", kind=kind, legal_basis="Tờ khai CC01 số 125")
    post(client, headers, f"{pin}/cards/{card['id']}/produce")
    post(client, headers, f"{pin}/cards/{card['id']}/issue")
    card_id: int = card["id"]
    return card_id


def backdate(database: Database, card_id: int, issued_on: date) -> None:
    """Make a card look handed over earlier than today (the service only records handovers as they happen)."""
    with database.unit_of_work() as session:
        session.execute(update(Card).where(Card.id == card_id).values(issued_on=issued_on))


@pytest.fixture
def register_state(client: TestClient, database: Database) -> dict[str, str]:
    """A mover who lost a card and got a new one, a person who only applied for one, a deceased person."""
    headers = sign_in(client, database, role=Role.PROVINCE_OFFICER, jurisdiction_code=HA_NOI)
    today = today_in_vietnam()
    adult = add_years(today, -30).isoformat()
    mover = register(client, headers, birth_date=adult)["pin"]
    post(
        client,
        headers,
        f"{mover}/residences",
        address_line="Số 5 phố Hàng Bạc",
        unit_code=HOAN_KIEM,
        end_current=True,
        legal_basis="Đơn đăng ký 01/2026",
    )
    post(
        client,
        headers,
        f"{mover}/residences",
        kind="temporary",
        address_line="Ký túc xá B2",
        unit_code=BA_DINH,
        legal_basis="Đơn tạm trú 02/2026",
    )
    first = issue_card(client, headers, mover, "first")
    backdate(database, first, today - timedelta(days=40))
    post(client, headers, f"{mover}/cards/{first}/cancel", reason="lost", legal_basis="Đơn báo mất")
    issue_card(client, headers, mover, "replacement_lost")
    applicant = register(client, headers, full_name="Trần Văn Bình", sex="M", birth_date=adult)["pin"]
    post(client, headers, f"{applicant}/cards", kind="first", legal_basis="Tờ khai CC01 số 126")
    deceased = register(client, headers, full_name="Lê Thị Hoà", birth_date="1941", permanent_residence=None)["pin"]
    death = {"status": "deceased", "date": "2025-12-01", "legal_basis": "Trích lục khai tử"}
    post(client, headers, f"{deceased}/life-status", **death)
    return {"mover": mover, "applicant": applicant, "deceased": deceased}


def test_facts_hold_the_current_permanent_residence_and_every_card_handed_over(database, register_state):
    mover = register_state["mover"]
    today = today_in_vietnam()
    with database.engine.connect() as connection:
        facts = fetch_facts(connection, [mover])[mover]
    assert (facts.permanent_commune_code, facts.permanent_address) == (HOAN_KIEM, "Số 5 phố Hàng Bạc")
    identity = (facts.full_name, facts.sex, facts.nationality, facts.life_status)
    assert identity == ("Nguyễn Thị Minh Khai", "F", "VNM", "alive")
    assert facts.birth_date_precision == "day"
    assert sorted((card.issued_on, card.status) for card in facts.cards) == [
        (today - timedelta(days=40), "cancelled"),
        (today, "issued"),
    ]
    assert all(isinstance(card, CardFact) for card in facts.cards)


def test_a_card_never_handed_over_is_not_a_fact_and_an_unknown_pin_is_absent(database, register_state):
    applicant, deceased = register_state["applicant"], register_state["deceased"]
    with database.engine.connect() as connection:
        found = fetch_facts(connection, [applicant, UNKNOWN_PIN, deceased, "not-a-pin", applicant])
    assert set(found) == {applicant, deceased}
    assert found[applicant].cards == ()
    assert found[deceased].life_status == "deceased"
    assert (found[deceased].birth_date_precision, found[deceased].birth_date.year) == ("year", 1941)
    assert (found[deceased].permanent_commune_code, found[deceased].permanent_address) == (None, None)


def test_facts_are_read_the_same_from_a_driver_connection(database, register_state):
    pins = list(register_state.values())
    with database.engine.connect() as connection:
        through_sqlalchemy = fetch_facts(connection, pins)
    raw = database.engine.raw_connection()
    try:
        through_driver = fetch_facts(raw.driver_connection, pins)
    finally:
        raw.close()
    assert through_driver == through_sqlalchemy


def test_the_column_wise_reader_agrees_with_the_batch_reader(database, register_state):
    pins = [*register_state.values(), UNKNOWN_PIN, "12345"]
    with database.engine.connect() as connection:
        table = fetch_facts_table(connection, pa.array(pins))
        expected = facts_to_table(fetch_facts(connection, pins).values())
    assert table.schema == FACTS_SCHEMA
    by_pin = lambda rows: sorted(rows, key=lambda row: row["pin"])  # noqa: E731
    normalise = lambda rows: [{**row, "cards": sorted(row["cards"], key=lambda c: c["issued_on"])} for row in rows]  # noqa: E731
    assert normalise(by_pin(table.to_pylist())) == normalise(by_pin(expected.to_pylist()))


def test_the_column_wise_reader_reads_only_what_the_claimed_fields_need(database, register_state):
    mover = register_state["mover"]
    with database.engine.connect() as connection:
        table = fetch_facts_table(connection, pa.array([mover]), fields=["full_name", "birth_date"])
    row = table.to_pylist()[0]
    assert (row["full_name"], row["permanent_address"], row["cards"]) == ("Nguyễn Thị Minh Khai", None, [])


def test_the_column_wise_reader_handles_more_pins_than_one_query_takes(database, register_state, monkeypatch):
    from popreg.sharing import facts as facts_module

    monkeypatch.setattr(facts_module, "TABLE_CHUNK", 2)
    pins = pa.array([*register_state.values(), UNKNOWN_PIN])
    with database.engine.connect() as connection:
        table = fetch_facts_table(connection, pins)
    assert sorted(table["pin"].to_pylist()) == sorted(register_state.values())
