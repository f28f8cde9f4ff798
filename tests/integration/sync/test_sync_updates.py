"""POST /api/v1/sync/updates and /updates/batch on SQLite and PostgreSQL: outcomes, idempotency, the
policy's writable fields, validation, conflicts, history and read-your-writes."""

# ruff: noqa: F811

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from builders import register
from popreg.audit.models import AccessLogEntry
from popreg.kit.database import Database
from popreg.registry.models import Person, PersonEvent
from popreg.sharing.gate import PartnerGate
from popreg.sync.api import handle
from popreg.sync.models import PersonIdentifier, SyncUpdate

# The fixtures officer and person come from sharing_builders, agency from sync_builders (no conftest in this
# shared folder).
from sharing_builders import access_token, bearer, officer, person  # noqa: F401 - fixtures (see the note above)
from sync_builders import BASIS, add_agency, agency, observed, send, send_batch, update_body  # noqa: F401 - fixtures (see the note above)


def now() -> str:
    return datetime.now(UTC).isoformat()


def identifiers(database: Database) -> list[tuple[str, str, str]]:
    with database.unit_of_work() as session:
        rows = session.execute(select(PersonIdentifier.scheme, PersonIdentifier.value, PersonIdentifier.source))
        return sorted(tuple(row) for row in rows)


def events(database: Database, pin: str, event_type: str) -> list[PersonEvent]:
    with database.unit_of_work() as session:
        query = (
            select(PersonEvent)
            .join(Person, Person.id == PersonEvent.person_id)
            .where(Person.pin == pin, PersonEvent.event_type == event_type)
        )
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def stored_updates(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(SyncUpdate)) or 0)


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_an_identifier_sent_by_pin_is_applied_once_with_the_agency_as_its_source(client, database, agency, person):
    first = send(client, agency, update_body(person, "bhxh-1", social_insurance_number="0123456789"))
    again = send(client, agency, update_body(person, "bhxh-1", social_insurance_number="0123456789"))

    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "applied"
    assert first.json()["replayed"] is False
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["update_id"] == first.json()["update_id"]
    assert identifiers(database) == [("social_insurance_number", "0123456789", "bhxh")]
    (event,) = events(database, person, "person.identifiers_linked")
    assert event.source_agency == "bhxh"
    assert event.actor == "partner:bhxh"
    assert event.changes == {"identifiers.social_insurance_number": [None, "0123456789"]}


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(client, database, agency, person):
    send(client, agency, update_body(person, "bhxh-1", social_insurance_number="0123456789"))
    reused = send(client, agency, update_body(person, "bhxh-1", social_insurance_number="9999999999"))

    assert reused.status_code == 409
    assert error_code(reused) == "SYNC_IDEMPOTENCY_KEY_REUSED"
    assert identifiers(database) == [("social_insurance_number", "0123456789", "bhxh")]


def test_a_field_outside_the_policy_is_rejected(client, database, person):
    headers = add_agency(database, "tax", write_fields=["tax_code"])
    response = send(client, headers, update_body(person, "t-1", social_insurance_number="0123456789"))

    assert response.status_code == 403
    assert error_code(response) == "SYNC_FIELD_DENIED"
    assert identifiers(database) == []


def test_an_agency_without_sync_in_its_policy_cannot_call_the_channel(client, database, person):
    from sharing_builders import add_partner

    add_partner(database, partner_id="bank")
    headers = {"Authorization": bearer(access_token("bank", scope=("verify", "read")))}
    response = send(client, headers, update_body(person))
    missing = send(client, {}, update_body(person))

    assert response.status_code == 403
    assert error_code(response) == "POLICY_OPERATION_DENIED"
    assert missing.status_code == 401
    assert error_code(missing) == "PARTNER_TOKEN_MISSING"
    assert stored_updates(database) == 0


def test_an_unknown_pin_is_rejected_and_a_resend_gets_the_same_answer(client, database, agency, person):
    unknown = "079099000000"
    first = send(client, agency, update_body(unknown, "u-1"))
    again = send(client, agency, update_body(unknown, "u-1"))

    assert first.status_code == again.status_code == 404
    assert error_code(first) == error_code(again) == "SYNC_PERSON_NOT_FOUND"
    assert again.json()["error"]["details"]["replayed"] is True
    assert identifiers(database) == []


def test_malformed_values_are_rejected_with_their_field(client, database, agency, person):
    bad_number = send(client, agency, update_body(person, "v-1", social_insurance_number="12AB"))
    bad_pin = send(client, agency, update_body("12345", "v-2"))
    unknown_field = send(client, agency, update_body(person, "v-3", blood_group="O"))
    future = update_body(person, "v-4")
    future["observed_at"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    in_future = send(client, agency, future)
    no_key = update_body(person)
    del no_key["idempotency_key"]
    not_json = client.post("/api/v1/sync/updates", content=b"{", headers=agency)

    assert (bad_number.status_code, error_code(bad_number)) == (422, "SYNC_INVALID_VALUE")
    assert bad_number.json()["error"]["message"].startswith("The value of social_insurance_number")
    assert (bad_pin.status_code, error_code(bad_pin)) == (422, "PIN_INVALID_STRUCTURE")
    assert (unknown_field.status_code, error_code(unknown_field)) == (422, "SYNC_FIELD_UNKNOWN")
    assert (send(client, agency, no_key).status_code, error_code(send(client, agency, no_key))) == (
        422,
        "SYNC_UPDATE_INVALID",
    )
    assert error_code(in_future) == "SYNC_INVALID_VALUE"
    assert (not_json.status_code, error_code(not_json)) == (400, "INPUT_MALFORMED_JSON")
    assert identifiers(database) == []


def test_a_death_reported_by_a_hospital_is_recorded_and_a_verification_right_after_sees_it(
    client, database, agency, person
):
    death = send(client, agency, update_body(person, "d-1", death_date="2026-11-20"))
    verified = client.post(
        "/api/v1/verify",
        json={
            "pin": person,
            "purpose": "social-insurance",
            "claims": {"full_name": "Nguyễn Thị Minh Khai", "birth_date": "1990-05-12"},
        },
        headers=agency,
    )

    assert death.status_code == 200, death.text
    assert verified.status_code == 200, verified.text
    assert verified.json()["result"] == "match"
    assert verified.json()["person_status"] == "deceased"
    (event,) = events(database, person, "person.died")
    assert (event.source_agency, event.legal_basis) == ("bhxh", BASIS)


def test_a_name_correction_is_seen_by_the_next_verification(client, agency, person):
    corrected = send(client, agency, update_body(person, "n-1", full_name="Nguyễn Thị Minh Khuê", observed_at=now()))
    claims = {"full_name": "Nguyễn Thị Minh Khuê"}
    verified = client.post(
        "/api/v1/verify",
        json={"pin": person, "purpose": "social-insurance", "claims": claims, "mode": "exact"},
        headers=agency,
    )

    assert corrected.json()["outcome"] == "applied", corrected.text
    assert verified.json()["result"] == "match"


def test_a_move_registers_the_new_permanent_residence_and_ends_the_old_one(client, database, agency, officer, person):
    move = {"address_line": "Số 3, phố Tràng Tiền", "unit_code": "00070"}
    moved = send(client, agency, update_body(person, "m-1", permanent_residence=move, observed_at=now()))
    again = send(client, agency, update_body(person, "m-2", permanent_residence=move, observed_at=now()))
    record = client.get(f"/api/v1/persons/{person}", headers=sign_in_national(client, database)).json()

    assert moved.json()["outcome"] == "applied", moved.text
    assert again.json()["outcome"] == "applied"
    current = [r for r in record["residences"] if r["valid_to"] is None]
    assert [(r["kind"], r["unit_code"]) for r in current] == [("permanent", "00070")]
    assert len(events(database, person, "residence.permanent_registered")) == 2  # the birth's and the move's


def sign_in_national(client, database) -> dict[str, str]:
    from builders import sign_in
    from popreg.officials.rules import Role

    return sign_in(client, database, username="national", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)


def test_a_register_refusal_rejects_the_update_and_leaves_nothing(client, database, agency, person):
    response = send(
        client,
        agency,
        update_body(
            person,
            "x-1",
            social_insurance_number="0123456789",
            permanent_residence={"address_line": "Số 1, phố Huế", "unit_code": "99999"},
            observed_at=now(),
        ),
    )

    assert (response.status_code, error_code(response)) == (422, "UNIT_UNKNOWN")
    assert identifiers(database) == []


def test_a_value_set_by_another_agency_after_the_observation_is_queued(client, database, agency, person):
    other = add_agency(database, "vssid", write_fields=["social_insurance_number"])
    send(client, other, update_body(person, "o-1", social_insurance_number="1111111111"))
    stale = update_body(person, "s-1", social_insurance_number="2222222222", observed_at=observed(minutes_ago=60))
    queued = send(client, agency, stale)
    fresh = send(client, agency, update_body(person, "s-2", social_insurance_number="2222222222", observed_at=now()))

    assert queued.status_code == 202
    assert (queued.json()["outcome"], queued.json()["code"]) == ("queued", "SYNC_CONFLICT_NEWER_VALUE")
    assert queued.json()["review_status"] == "pending"
    assert fresh.json()["outcome"] == "applied"
    assert identifiers(database) == [("social_insurance_number", "2222222222", "bhxh")]


def test_a_number_linked_to_another_person_is_queued(client, database, agency, officer, person):
    other = register(client, officer, full_name="Trần Văn Bình", sex="M")["pin"]
    send(client, agency, update_body(person, "h-1", tax_code="0101234567"))
    taken = send(client, agency, update_body(other, "h-2", tax_code="0101234567"))

    assert taken.json()["code"] == "SYNC_IDENTIFIER_HELD_BY_OTHER"
    assert identifiers(database) == [("tax_code", "0101234567", "bhxh")]


def test_a_batch_answers_each_update_in_order_and_its_resend_has_no_second_effect(
    client, database, agency, officer, person
):
    second = register(client, officer, full_name="Trần Văn Bình", sex="M")["pin"]
    updates = [
        update_body(person, "b-1", social_insurance_number="0123456789"),
        update_body(second, "b-2", tax_code="0101234567", driving_licence_number="012345678901"),
        update_body("079099000000", "b-3"),
        update_body(second, "b-4", health_insurance_card_number="dn4010123456789"),
        {"idempotency_key": "b-5"},
        update_body(person, "b-1", social_insurance_number="0123456789"),
    ]
    first = send_batch(client, agency, updates)
    again = send_batch(client, agency, updates)

    assert first.status_code == 200, first.text
    body = first.json()
    assert [(item["outcome"], item["code"]) for item in body["items"]] == [
        ("applied", None),
        ("applied", None),
        ("rejected", "SYNC_PERSON_NOT_FOUND"),
        ("applied", None),
        ("rejected", "SYNC_UPDATE_INVALID"),
        ("applied", None),
    ]
    assert body["items"][5]["replayed"] is True
    assert (body["applied"], body["queued"], body["rejected"]) == (4, 0, 2)
    assert [item["replayed"] for item in again.json()["items"]] == [True, True, True, True, False, True]
    assert [item["update_id"] for item in again.json()["items"]] == [item["update_id"] for item in body["items"]]
    assert identifiers(database) == [
        ("driving_licence_number", "012345678901", "bhxh"),
        ("health_insurance_card_number", "DN4010123456789", "bhxh"),
        ("social_insurance_number", "0123456789", "bhxh"),
        ("tax_code", "0101234567", "bhxh"),
    ]
    assert stored_updates(database) == 4
    with database.unit_of_work() as session:
        entry = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "sync.batch")).first()
        assert entry is not None
        assert (entry.principal_kind, entry.principal_id) == ("partner", "bhxh")


def test_a_number_freed_earlier_in_a_batch_can_be_taken_by_another_person_in_the_same_batch(
    client, database, agency, officer, person
):
    other = register(client, officer, full_name="Trần Văn Bình", sex="M")["pin"]
    send_batch(
        client,
        agency,
        [
            update_body(person, "f-1", social_insurance_number="1111111111"),
            update_body(other, "f-2", social_insurance_number="2222222222"),
        ],
    )
    # The first person's number changes, and the number it gave up goes to the other person, whose own
    # row is updated: the two stored rows exchange a value inside one flush.
    moved = send_batch(
        client,
        agency,
        [
            update_body(person, "f-3", social_insurance_number="3333333333", observed_at=now()),
            update_body(other, "f-4", social_insurance_number="1111111111", observed_at=now()),
        ],
    )

    assert [item["outcome"] for item in moved.json()["items"]] == ["applied", "applied"], moved.text
    with database.unit_of_work() as session:
        held = dict(
            session.execute(
                select(Person.pin, PersonIdentifier.value).join(Person, Person.id == PersonIdentifier.person_id)
            ).all()
        )
    assert held == {person: "3333333333", other: "1111111111"}


def test_contradictory_updates_in_one_batch_are_both_queued(client, database, agency, person):
    response = send_batch(
        client,
        agency,
        [
            update_body(person, "c-1", social_insurance_number="0123456789"),
            update_body(person, "c-2", social_insurance_number="9876543210"),
        ],
    )

    assert [(item["outcome"], item["code"]) for item in response.json()["items"]] == [
        ("queued", "SYNC_CONFLICT_IN_BATCH"),
        ("queued", "SYNC_CONFLICT_IN_BATCH"),
    ]
    assert identifiers(database) == []


def test_a_batch_over_a_thousand_updates_is_refused_whole(client, database, agency, person):
    response = send_batch(client, agency, [update_body(person, f"k-{n}") for n in range(1001)])

    assert (response.status_code, error_code(response)) == (422, "INPUT_INVALID")
    assert stored_updates(database) == 0


def test_the_same_update_sent_twice_at_once_has_one_effect(database, settings, agency, person):
    gate = PartnerGate(database, settings)
    body = update_body(person, "race-1", social_insurance_number="0123456789")

    def send_once(_: int) -> Any:
        outcomes, _transaction = handle(
            database, gate, authorization=agency["Authorization"], updates=[body], action="sync"
        )
        return outcomes[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(send_once, range(2))

    assert first.update_id == second.update_id
    assert sorted([first.replayed, second.replayed]) == [False, True]
    assert identifiers(database) == [("social_insurance_number", "0123456789", "bhxh")]
    assert stored_updates(database) == 1
