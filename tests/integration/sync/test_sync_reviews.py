"""The review queue on SQLite and PostgreSQL: officials see the queued updates of their jurisdiction and
accept, reject or pick the person; each decision is in the person's history and the access log."""

# ruff: noqa: F811

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from builders import HO_CHI_MINH, register, sign_in
from popreg.audit.models import AccessLogEntry
from popreg.kit.database import Database
from popreg.officials.rules import Role
from popreg.registry.models import Person, PersonEvent
from popreg.sync.models import PersonIdentifier

# The fixtures officer and person come from sharing_builders, agency from sync_builders (no conftest in this
# shared folder).
from sharing_builders import officer, person  # noqa: F401 - fixtures (see the note above)
from sync_builders import add_agency, agency, observed, send, update_body  # noqa: F401 - fixtures (see the note above)

STALE = observed(minutes_ago=60)


def queue_conflict(client, database: Database, agency: dict[str, str], pin: str) -> int:
    """A social insurance number set by another agency after this one's observation: queued."""
    other = add_agency(database, "vssid", write_fields=["social_insurance_number"])
    send(client, other, update_body(pin, "o-1", social_insurance_number="1111111111"))
    stale = update_body(pin, "s-1", social_insurance_number="2222222222", observed_at=STALE)
    response = send(client, agency, stale)
    assert response.status_code == 202, response.text
    update_id: int = response.json()["update_id"]
    return update_id


def number_of(database: Database, pin: str) -> str | None:
    with database.unit_of_work() as session:
        query = select(PersonIdentifier.value).join(Person, Person.id == PersonIdentifier.person_id)
        return session.scalar(query.where(Person.pin == pin))


def history(database: Database, pin: str, event_type: str) -> list[dict[str, Any]]:
    with database.unit_of_work() as session:
        query = select(PersonEvent.changes, PersonEvent.actor).join(Person, Person.id == PersonEvent.person_id)
        rows = session.execute(query.where(Person.pin == pin, PersonEvent.event_type == event_type))
        return [{"changes": changes, "actor": actor} for changes, actor in rows]


def test_an_official_accepts_a_queued_conflict_and_the_agency_value_replaces_the_register_one(
    client, database, agency, officer, person
):
    update_id = queue_conflict(client, database, agency, person)
    listed = client.get("/api/v1/sync/reviews", headers=officer).json()
    accepted = client.post(f"/api/v1/sync/reviews/{update_id}/accept", json={"note": "Đã xác minh"}, headers=officer)
    replay = send(client, agency, update_body(person, "s-1", social_insurance_number="2222222222", observed_at=STALE))

    assert [(item["id"], item["reason_code"], item["pin"]) for item in listed["items"]] == [
        (update_id, "SYNC_CONFLICT_NEWER_VALUE", person)
    ]
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["review_status"], accepted.json()["resolved_by"]) == ("accepted", "official:officer")
    assert number_of(database, person) == "2222222222"
    (decision,) = history(database, person, "sync.update_accepted")
    assert decision["actor"] == "official:officer"
    assert history(database, person, "person.identifiers_linked")[-1]["actor"] == "partner:bhxh"
    assert client.get("/api/v1/sync/reviews", headers=officer).json()["items"] == []
    assert (replay.json()["outcome"], replay.json()["review_status"]) == ("queued", "accepted")
    with database.unit_of_work() as session:
        entry = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "sync.review.accept")).one()
        assert (entry.principal_id, entry.person_pin) == ("officer", person)


def test_a_rejected_review_keeps_the_register_value_and_cannot_be_resolved_again(
    client, database, agency, officer, person
):
    update_id = queue_conflict(client, database, agency, person)
    rejected = client.post(f"/api/v1/sync/reviews/{update_id}/reject", json={"reason": "Số sai"}, headers=officer)
    again = client.post(f"/api/v1/sync/reviews/{update_id}/accept", json={}, headers=officer)
    resolved = client.get("/api/v1/sync/reviews", params={"status": "rejected"}, headers=officer).json()

    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["resolution_note"] == "Số sai"
    assert (again.status_code, again.json()["error"]["code"]) == (409, "SYNC_REVIEW_RESOLVED")
    assert number_of(database, person) == "1111111111"
    assert len(history(database, person, "sync.update_rejected")) == 1
    assert [item["id"] for item in resolved["items"]] == [update_id]


def test_officials_see_and_resolve_only_the_reviews_of_their_jurisdiction(client, database, agency, person):
    update_id = queue_conflict(client, database, agency, person)
    elsewhere = sign_in(client, database, username="hcm", role=Role.PROVINCE_OFFICER, jurisdiction_code=HO_CHI_MINH)
    province = sign_in(client, database, username="hanoi", role=Role.PROVINCE_OFFICER, jurisdiction_code="01")
    auditor = sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)

    assert client.get("/api/v1/sync/reviews", headers=elsewhere).json()["items"] == []
    refused = client.post(f"/api/v1/sync/reviews/{update_id}/accept", json={}, headers=elsewhere)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "JURISDICTION_DENIED")
    assert [item["id"] for item in client.get("/api/v1/sync/reviews", headers=province).json()["items"]] == [update_id]
    read_only = client.post(f"/api/v1/sync/reviews/{update_id}/reject", json={"reason": "x"}, headers=auditor)
    assert (read_only.status_code, read_only.json()["error"]["code"]) == (403, "ROLE_READ_ONLY")
    missing = client.get("/api/v1/sync/reviews/999999", headers=province)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "SYNC_REVIEW_NOT_FOUND")
    assert number_of(database, person) == "1111111111"


def test_an_uncertain_match_is_queued_with_its_candidates_and_the_official_picks_the_person(
    client, database, agency, officer
):
    twins = [
        register(client, officer, full_name="Lê Văn Nam", sex="M", birth_date="1985-03-04")["pin"] for _ in range(2)
    ]
    who = {"full_name": "Lê Văn Nam", "birth_date": "1985-03-04", "sex": "M", "province_code": "01"}
    now = datetime.now(UTC).isoformat()
    queued = send(client, agency, update_body(None, "dm-1", person=who, tax_code="0109876543", observed_at=now))
    review = client.get(f"/api/v1/sync/reviews/{queued.json()['update_id']}", headers=officer).json()
    wrong = client.post(f"/api/v1/sync/reviews/{review['id']}/accept", json={"pin": "001000000000"}, headers=officer)
    unnamed = client.post(f"/api/v1/sync/reviews/{review['id']}/accept", json={}, headers=officer)
    picked = client.post(f"/api/v1/sync/reviews/{review['id']}/accept", json={"pin": twins[1]}, headers=officer)

    assert (queued.status_code, queued.json()["code"]) == (202, "SYNC_MATCH_UNCERTAIN")
    assert sorted(candidate["pin"] for candidate in review["candidates"]) == sorted(twins)
    assert review["pin"] is None
    assert wrong.json()["error"]["code"] == "SYNC_CANDIDATE_UNKNOWN"
    assert unnamed.json()["error"]["code"] == "SYNC_PERSON_REQUIRED"
    assert picked.status_code == 200, picked.text
    assert picked.json()["pin"] == twins[1]
    assert number_of(database, twins[1]) == "0109876543"
    assert number_of(database, twins[0]) is None


def test_demographics_of_a_single_clear_person_are_applied_and_unknown_ones_rejected(client, database, agency, person):
    known = {"full_name": "Nguyễn Thị Minh Khai", "birth_date": "1990-05-12", "sex": "F", "province_code": "01"}
    unknown = {"full_name": "Phạm Quốc Trung", "birth_date": "1950-01-01", "sex": "M"}
    now = datetime.now(UTC).isoformat()
    applied = send(client, agency, update_body(None, "dm-1", person=known, tax_code="0101234567", observed_at=now))
    rejected = send(client, agency, update_body(None, "dm-2", person=unknown, tax_code="0107654321", observed_at=now))

    assert applied.json()["outcome"] == "applied", applied.text
    assert "pin" not in applied.json()
    assert number_of(database, person) == "0101234567"
    assert (rejected.status_code, rejected.json()["error"]["code"]) == (404, "SYNC_NO_MATCH")
