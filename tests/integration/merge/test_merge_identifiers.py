"""A merge carries the numbers other agencies linked to the retired record (social insurance, tax code,
...) to the surviving record, on SQLite and PostgreSQL: moved when the survivor has none of the scheme,
released when it has another, both histories and the outbox told, and the agency's next update for
the surviving PIN applied instead of queued."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders import BA_DINH, register, sign_in
from duplicate_builders import MERGE_BASIS
from popreg.kit.database import Database
from popreg.registry.models import Person, PersonEvent
from popreg.sync.events_models import OutboxEvent
from popreg.sync.models import PersonIdentifier
from sync_builders import add_agency, send, update_body

SOCIAL_INSURANCE = "0123456789"
OTHER_SOCIAL_INSURANCE = "0987654321"
TAX_CODE = "8012345678"


@pytest.fixture
def officer(client: TestClient, database: Database) -> dict[str, str]:
    return sign_in(client, database)


@pytest.fixture
def agency(database: Database) -> dict[str, str]:
    return add_agency(database)


@pytest.fixture
def pair(client: TestClient, officer: dict[str, str]) -> tuple[str, str]:
    """Two records of one person: the first to retire, the second to keep."""
    retired: str = register(client, officer)["pin"]
    surviving: str = register(client, officer, permanent_residence=None)["pin"]
    return retired, surviving


def link(client: TestClient, agency: dict[str, str], pin: str, key: str, **numbers: str) -> None:
    response = send(client, agency, update_body(pin, key, **numbers))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "applied"


def merge(client: TestClient, officer: dict[str, str], retired: str, surviving: str) -> None:
    body = {"retired_pin": retired, "surviving_pin": surviving, "legal_basis": MERGE_BASIS}
    response = client.post("/api/v1/merges", json=body, headers=officer)
    assert response.status_code == 201, response.text


def identifiers(database: Database) -> list[tuple[str, str, str, str]]:
    """Every linked number: (PIN of its holder, scheme, value, source)."""
    with database.read_session() as session:
        rows = session.execute(
            select(Person.pin, PersonIdentifier.scheme, PersonIdentifier.value, PersonIdentifier.source).join(
                Person, Person.id == PersonIdentifier.person_id
            )
        )
        return sorted(tuple(row) for row in rows)


def history(database: Database, pin: str, event_type: str) -> list[PersonEvent]:
    with database.read_session() as session:
        query = (
            select(PersonEvent)
            .join(Person, Person.id == PersonEvent.person_id)
            .where(Person.pin == pin, PersonEvent.event_type == event_type)
            .order_by(PersonEvent.id)
        )
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def outbox(database: Database, pin: str, history_type: str) -> list[dict[str, Any]]:
    with database.read_session() as session:
        query = select(OutboxEvent.changes).where(OutboxEvent.pin == pin, OutboxEvent.history_type == history_type)
        return list(session.scalars(query))


def test_the_retired_records_numbers_move_to_the_survivor_with_an_event_in_both_histories(
    client, database, officer, agency, pair
):
    retired, surviving = pair
    link(client, agency, retired, "b-1", social_insurance_number=SOCIAL_INSURANCE, tax_code=TAX_CODE)

    merge(client, officer, retired, surviving)

    assert identifiers(database) == [
        (surviving, "social_insurance_number", SOCIAL_INSURANCE, "bhxh"),
        (surviving, "tax_code", TAX_CODE, "bhxh"),
    ]
    moved = {
        "identifiers.social_insurance_number": [None, SOCIAL_INSURANCE],
        "identifiers.tax_code": [None, TAX_CODE],
    }
    left = {
        "identifiers.social_insurance_number": [SOCIAL_INSURANCE, None],
        "identifiers.tax_code": [TAX_CODE, None],
    }
    (unlinked,) = history(database, retired, "person.identifiers_unlinked")
    assert unlinked.changes == left
    (linked,) = history(database, surviving, "person.identifiers_linked")
    assert linked.changes == moved
    for event in (unlinked, linked):
        assert event.legal_basis == MERGE_BASIS
        assert event.actor == "official:officer"
        assert event.source_agency == f"police:{BA_DINH}"
    # Subscribers hear of both changes through the outbox.
    assert outbox(database, retired, "person.identifiers_unlinked") == [left]
    assert outbox(database, surviving, "person.identifiers_linked") == [moved]


def test_after_the_merge_the_agencys_update_for_the_surviving_pin_with_the_retired_records_number_is_applied(
    client, database, officer, agency, pair
):
    retired, surviving = pair
    link(client, agency, retired, "b-1", social_insurance_number=SOCIAL_INSURANCE)
    merge(client, officer, retired, surviving)

    response = send(client, agency, update_body(surviving, "b-2", social_insurance_number=SOCIAL_INSURANCE))
    batch = client.post(
        "/api/v1/sync/updates/batch",
        json={"updates": [update_body(surviving, "b-3", tax_code=TAX_CODE, social_insurance_number=SOCIAL_INSURANCE)]},
        headers=agency,
    )

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "applied"
    assert batch.status_code == 200, batch.text
    assert [item["outcome"] for item in batch.json()["items"]] == ["applied"]
    assert identifiers(database) == [
        (surviving, "social_insurance_number", SOCIAL_INSURANCE, "bhxh"),
        (surviving, "tax_code", TAX_CODE, "bhxh"),
    ]


def test_the_survivors_own_number_of_a_scheme_stays_and_the_retired_records_is_released_for_another_person(
    client, database, officer, agency, pair
):
    retired, surviving = pair
    link(client, agency, retired, "b-1", social_insurance_number=SOCIAL_INSURANCE, tax_code=TAX_CODE)
    link(client, agency, surviving, "b-2", social_insurance_number=OTHER_SOCIAL_INSURANCE)
    linked_before = history(database, surviving, "person.identifiers_linked")

    merge(client, officer, retired, surviving)

    # The survivor keeps its own social insurance number and takes the tax code; the retired record's
    # social insurance number is linked to no one.
    assert identifiers(database) == [
        (surviving, "social_insurance_number", OTHER_SOCIAL_INSURANCE, "bhxh"),
        (surviving, "tax_code", TAX_CODE, "bhxh"),
    ]
    (unlinked,) = history(database, retired, "person.identifiers_unlinked")
    assert unlinked.changes == {
        "identifiers.social_insurance_number": [SOCIAL_INSURANCE, None],
        "identifiers.tax_code": [TAX_CODE, None],
    }
    linked = history(database, surviving, "person.identifiers_linked")
    assert len(linked) == len(linked_before) + 1
    assert linked[-1].changes == {"identifiers.tax_code": [None, TAX_CODE]}

    # The released number can be linked again, to the person who truly holds it, without a review.
    other = register(client, officer, full_name="Trần Văn Bình", birth_date="1985-02-03", sex="M")["pin"]
    relinked = send(client, agency, update_body(other, "b-3", social_insurance_number=SOCIAL_INSURANCE))
    assert relinked.status_code == 200, relinked.text
    assert relinked.json()["outcome"] == "applied"
    assert (other, "social_insurance_number", SOCIAL_INSURANCE, "bhxh") in identifiers(database)


def test_a_merge_of_records_without_numbers_writes_no_identifier_event(client, database, officer, pair):
    retired, surviving = pair

    merge(client, officer, retired, surviving)

    assert history(database, retired, "person.identifiers_unlinked") == []
    assert history(database, surviving, "person.identifiers_linked") == []
    assert identifiers(database) == []
