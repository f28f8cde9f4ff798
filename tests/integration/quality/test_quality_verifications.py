"""The measure "verified recently": partners' confirmations, made through the real verification API,
folded from the access log into each person's last confirmed day and measured, on SQLite and
PostgreSQL.

The register here is written row by row (``quality_builders``) with records last changed 400 days
ago, so that "updated in the last year" counts nobody and every live figure comes from the partners.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from builders import sign_in
from popreg.audit import service as audit_service
from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.database import Database, make_engine
from popreg.kit.errors import DomainError
from popreg.officials.rules import Role
from popreg.quality import repository, service
from popreg.quality.models import PersonVerification
from popreg.quality.service import Measurement
from popreg.sharing.bulk_api import BULK_PATH
from popreg.sharing.schemas import PartnerKind
from quality_builders import HA_NOI, HO_CHI_MINH, SAIGON_WARD, add_access, add_person
from sharing_builders import access_token, add_partner, bearer

BIRTH = "1990-05-12"
NAMES = {
    "an": "Nguyễn Thị An",
    "binh": "Trần Thị Bình",
    "chi": "Lê Thị Chi",
    "dung": "Phạm Thị Dung",
    "giang": "Hoàng Thị Giang",
    "hai": "Vũ Thị Hải",
    "em": "Đỗ Thị Em",
}


@pytest.fixture
def people(database: Database) -> dict[str, str]:
    """Six persons alive, five in Hà Nội and "em" in Hồ Chí Minh City, and "hai", deceased; every record
    last changed 400 days ago. Returns their PINs."""
    stale = utc_now() - timedelta(days=400)
    with database.unit_of_work() as session:
        made = {
            key: add_person(session, full_name=name, updated_at=stale)
            for key, name in NAMES.items()
            if key not in ("em", "hai")
        }
        made["em"] = add_person(
            session,
            full_name=NAMES["em"],
            birth_registration_code="079",
            province=HO_CHI_MINH,
            commune=SAIGON_WARD,
            updated_at=stale,
        )
        made["hai"] = add_person(
            session,
            full_name=NAMES["hai"],
            life_status="deceased",
            life_status_date=date(2026, 1, 2),
            updated_at=stale,
        )
        return {key: person.pin for key, person in made.items()}


@pytest.fixture
def partner(database: Database) -> str:
    """A social-insurance agency that may verify and read; returns its access token."""
    add_partner(database, partner_id="bhxh", kind=PartnerKind.AGENCY)
    return access_token("bhxh")


def claims(key: str, *, name: str | None = None) -> dict[str, str]:
    return {"full_name": name or NAMES[key], "birth_date": BIRTH, "sex": "F"}


def verify(client: TestClient, token: str, pin: str, **claimed: str) -> str:
    """One verification through POST /api/v1/verify; its overall result."""
    response = client.post(
        "/api/v1/verify",
        json={"pin": pin, "purpose": "account-opening", "claims": claimed},
        headers={"Authorization": bearer(token)},
    )
    assert response.status_code == 200, response.text
    result: str = response.json()["result"]
    return result


def verify_batch(client: TestClient, token: str, items: list[tuple[str, dict[str, str]]]) -> list[str]:
    response = client.post(
        "/api/v1/verify/batch",
        json={"purpose": "account-opening", "items": [{"pin": pin, "claims": claimed} for pin, claimed in items]},
        headers={"Authorization": bearer(token)},
    )
    assert response.status_code == 200, response.text
    return [item["result"] for item in response.json()["results"]]


def verify_bulk(client: TestClient, token: str, rows: list[tuple[str, str]]) -> dict[str, Any]:
    """A bulk file of (PIN, full name) rows, verified as a job by the application's own runner."""
    content = ("pin,full_name\n" + "".join(f"{pin},{name}\n" for pin, name in rows)).encode()
    accepted = client.post(
        BULK_PATH,
        files={"file": ("claims.csv", content, "application/octet-stream")},
        data={"purpose": "account-opening"},
        headers={"Authorization": bearer(token)},
    )
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 60
    while True:
        status: dict[str, Any] = client.get(
            f"{BULK_PATH}/{accepted.json()['job_id']}", headers={"Authorization": bearer(token)}
        ).json()
        if status["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def read(client: TestClient, token: str, pin: str) -> None:
    """An eKYC read by the agency, on a legal basis."""
    response = client.post(
        "/api/v1/persons/read",
        json={
            "pin": pin,
            "purpose": "account-opening",
            "fields": ["full_name"],
            "legal_basis": "Luật Bảo hiểm xã hội 2024, Điều 16",
        },
        headers={"Authorization": bearer(token)},
    )
    assert response.status_code == 200, response.text


def measure(database: Database, **kwargs: Any) -> Measurement:
    with database.unit_of_work() as session:
        return service.measure_register(session, **kwargs)


def counts(measurement: Measurement, measure_key: str = "live.verified_recently") -> dict[str, tuple[Any, Any]]:
    return {
        scope: (figures[measure_key].numerator, figures[measure_key].denominator)
        for scope, figures in measurement.scopes.items()
    }


def snapshot(database: Database) -> Measurement:
    with database.unit_of_work() as session:
        return service.take_snapshot(session, taken_by="test")[1]


def days_kept(database: Database) -> dict[str, Any]:
    with database.read_session() as session:
        rows = session.execute(select(PersonVerification.person_pin, PersonVerification.last_verified_on))
        return {str(pin): day for pin, day in rows}


def measure_read_only(database: Database) -> Measurement:
    """Measure through a read-only engine, as on a streaming replica (on SQLite: ``query_only``)."""
    engine = make_engine(database.url, read_only=True)
    if database.backend == "sqlite":
        event.listen(engine, "connect", lambda connection, _record: connection.execute("PRAGMA query_only = ON"))
    try:
        with Session(engine) as session, session.begin():
            return service.measure_register(session)
    finally:
        engine.dispose()


def test_matches_through_the_api_count_once_per_person_alive_and_nothing_else_counts(client, database, people, partner):
    assert verify(client, partner, people["an"], **claims("an")) == "match"
    assert verify(client, partner, people["binh"], **claims("binh", name="Trần Thị Bông")) == "no_match"
    assert verify_batch(
        client,
        partner,
        [
            (people["chi"], claims("chi")),
            (people["dung"], claims("dung", name="Phạm Văn Dũng")),
            (people["hai"], claims("hai")),  # deceased: confirmed, but not in "persons alive"
            ("12345", claims("an")),
        ],
    ) == ["match", "no_match", "match", "no_match"]
    bulk = verify_bulk(client, partner, [(people["em"], NAMES["em"]), (people["an"], NAMES["an"])])
    assert (bulk["status"], bulk["counts"]["match"]) == ("completed", 2)
    read(client, partner, people["giang"])

    measurement = measure(database)

    assert counts(measurement) == {"national": (3, 6), HA_NOI: (2, 5), HO_CHI_MINH: (1, 1)}
    assert counts(measurement, "live.touched_or_verified") == counts(measurement)
    assert counts(measurement, "live.touched_recently")["national"] == (0, 6)
    today = today_in_vietnam()
    assert days_kept(database) == {people[key]: today for key in ("an", "chi", "hai", "em")}


def test_the_api_and_the_dashboard_show_the_measure_with_its_counts(client, database, people, partner):
    verify(client, partner, people["an"], **claims("an"))
    headers = sign_in(client, database, username="admin", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    body = client.get("/api/v1/quality", params={"live": "true"}, headers=headers).json()
    figure = next(f for f in body["national"]["figures"] if f["measure"] == "live.verified_recently")
    assert (figure["numerator"], figure["denominator"], figure["dimension"]) == (1, 6, "live")
    headline = next(f for f in body["national"]["figures"] if f["headline"] and f["dimension"] == "live")
    assert headline["measure"] == "live.touched_or_verified"


def test_a_second_snapshot_folds_only_the_entries_logged_since_the_first(client, database, people, partner):
    verify(client, partner, people["an"], **claims("an"))
    first = snapshot(database)
    assert first.fold is not None
    assert (first.fold.after_seq, first.fold.persons) == (0, 1)
    assert counts(first)["national"] == (1, 6)

    verify(client, partner, people["an"], **claims("an"))  # the same person again, the same day
    verify(client, partner, people["chi"], **claims("chi"))
    second = snapshot(database)
    assert second.fold is not None
    assert second.fold.after_seq == first.fold.through_seq
    assert second.fold.through_seq > first.fold.through_seq
    assert second.fold.persons == 1  # chi; an's day did not move
    assert counts(second)["national"] == (2, 6)

    third = snapshot(database)
    assert third.fold is not None
    assert (third.fold.after_seq, third.fold.through_seq, third.fold.persons) == (second.fold.through_seq,) * 2 + (0,)
    assert counts(third)["national"] == (2, 6)
    assert len(days_kept(database)) == 2


def test_folding_the_same_entries_again_counts_nobody_twice(client, database, people, partner):
    verify(client, partner, people["an"], **claims("an"))
    verify_batch(client, partner, [(people["chi"], claims("chi")), (people["an"], claims("an"))])
    before = counts(measure(database))
    with database.unit_of_work() as session:
        through = audit_service.last_seq(session)
        assert repository.fold_verifications(session, after_seq=0, through_seq=through) == 0
    assert counts(measure(database)) == before == {"national": (2, 6), HA_NOI: (2, 5), HO_CHI_MINH: (0, 1)}


def test_a_confirmation_counts_for_the_365_days_ending_on_the_day_of_measurement(client, database, people, partner):
    verify(client, partner, people["an"], **claims("an"))
    today = today_in_vietnam()
    assert counts(measure(database, as_of=today + timedelta(days=364)))["national"] == (1, 6)
    assert counts(measure(database, as_of=today + timedelta(days=365)))["national"] == (0, 6)


def test_the_day_kept_is_the_latest_in_vietnam_and_never_moves_back(database, people):
    with database.unit_of_work() as session:
        # 17:30 UTC on 3 March is 00:30 on 4 March in Vietnam.
        add_access(session, at=datetime(2026, 3, 3, 17, 30, tzinfo=UTC), pin=people["an"])
    measure(database)
    with database.unit_of_work() as session:
        # Logged later, but of an earlier moment (an entry whose time the caller gave).
        add_access(session, at=datetime(2026, 2, 1, 3, 0, tzinfo=UTC), pin=people["an"])
    measure(database)
    assert days_kept(database) == {people["an"]: date(2026, 3, 4)}


def test_a_read_only_database_measures_what_was_folded_last_and_writes_nothing(client, database, people, partner):
    verify(client, partner, people["an"], **claims("an"))
    never_folded = measure_read_only(database)
    assert never_folded.fold is None
    figure = never_folded.scopes["national"]["live.verified_recently"]
    assert (figure.numerator, figure.denominator, figure.value) == (None, None, None)
    assert days_kept(database) == {}

    measure(database)  # the primary folds "an"
    verify(client, partner, people["chi"], **claims("chi"))  # logged, not folded yet
    replica = measure_read_only(database)
    assert replica.fold is None
    assert counts(replica)["national"] == (1, 6)
    assert set(days_kept(database)) == {people["an"]}


def test_a_refused_measurement_folds_nothing(database, people):
    with database.unit_of_work() as session:
        add_access(session, at=utc_now(), pin=people["an"])
    with pytest.raises(DomainError) as refused:
        measure(database, province="99")
    assert refused.value.code == "UNIT_UNKNOWN"
    with database.read_session() as session:
        assert repository.folded_through(session) is None
        assert session.scalar(select(func.count()).select_from(PersonVerification)) == 0
