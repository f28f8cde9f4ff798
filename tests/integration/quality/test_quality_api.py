"""`GET /api/v1/quality`: jurisdiction, snapshots and their trend, and refusals (both backends)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from builders import BA_DINH, sign_in
from popreg.officials.rules import Role
from popreg.quality import service
from popreg.quality.models import QualityFigure, QualitySnapshot
from popreg.registry.models import Person
from quality_builders import AS_OF, HA_NOI, HO_CHI_MINH, KNOWN, build_known_register


def _figure(scope: dict, measure: str) -> dict:
    return next(figure for figure in scope["figures"] if figure["measure"] == measure)


def _snapshot(database) -> int:
    with database.unit_of_work() as session:
        snapshot_id, _ = service.take_snapshot(session, taken_by="test", as_of=AS_OF)
        return snapshot_id


def test_a_national_administrator_sees_the_nation_and_every_province_measured_live(client, database):
    build_known_register(database)
    headers = sign_in(client, database, username="admin", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    response = client.get("/api/v1/quality", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "live"
    assert body["snapshot_id"] is None
    assert body["national"]["scope"] == "national"
    assert [scope["scope"] for scope in body["provinces"]] == [HA_NOI, HO_CHI_MINH]
    assert body["provinces"][0]["name"] == "Thành phố Hà Nội"
    assert body["duplicate_run"]["id"] == 2


def test_a_province_officer_sees_only_their_province(client, database):
    build_known_register(database)
    _snapshot(database)
    headers = sign_in(client, database, username="hcm", role=Role.PROVINCE_OFFICER, jurisdiction_code=HO_CHI_MINH)
    body = client.get("/api/v1/quality", headers=headers).json()
    assert body["national"] is None
    assert [scope["scope"] for scope in body["provinces"]] == [HO_CHI_MINH]
    complete = _figure(body["provinces"][0], "complete")
    assert (complete["numerator"], complete["denominator"]) == KNOWN["complete"][HO_CHI_MINH]
    refused = client.get("/api/v1/quality", params={"province": HA_NOI}, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "JURISDICTION_DENIED"


def test_a_commune_officer_sees_the_province_of_their_commune(client, database):
    build_known_register(database)
    headers = sign_in(client, database, username="badinh", role=Role.COMMUNE_OFFICER, jurisdiction_code=BA_DINH)
    body = client.get("/api/v1/quality", params={"live": "true"}, headers=headers).json()
    assert body["national"] is None
    assert [scope["scope"] for scope in body["provinces"]] == [HA_NOI]


def test_the_latest_snapshot_is_served_with_the_trend_of_every_measure(client, database):
    persons = build_known_register(database)
    first = _snapshot(database)
    # An official completes one year-only date of birth: the next snapshot shows it.
    with database.unit_of_work() as session:
        session.execute(update(Person).where(Person.id == persons["year_only_1"].id).values(birth_date_precision="day"))
    second = _snapshot(database)
    headers = sign_in(client, database, username="admin", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    body = client.get("/api/v1/quality", headers=headers).json()
    assert (body["source"], body["snapshot_id"]) == ("snapshot", second)
    to_day = _figure(body["national"], "complete.birth_date_to_day")
    assert (to_day["numerator"], to_day["denominator"]) == (8, 9)
    assert [point["snapshot_id"] for point in to_day["trend"]] == [first, second]
    assert [round(point["value"], 4) for point in to_day["trend"]] == [round(7 / 9, 4), round(8 / 9, 4)]
    hanoi = next(scope for scope in body["provinces"] if scope["scope"] == HA_NOI)
    assert [point["value"] for point in _figure(hanoi, "complete.birth_date_to_day")["trend"]] == [6 / 8, 7 / 8]
    only_last = client.get("/api/v1/quality", params={"trend": 1}, headers=headers).json()
    assert len(_figure(only_last["national"], "complete")["trend"]) == 1


def test_a_snapshot_stores_every_measure_of_every_scope(database):
    build_known_register(database)
    snapshot_id = _snapshot(database)
    with database.read_session() as session:
        stored = session.scalar(
            select(func.count()).select_from(QualityFigure).where(QualityFigure.snapshot_id == snapshot_id)
        )
        snapshot = session.get(QualitySnapshot, snapshot_id)
        assert snapshot is not None
        assert (snapshot.as_of, snapshot.taken_by, snapshot.duplicate_run_id) == (AS_OF, "test", 2)
    assert stored == 3 * len(service.MEASURES)


def test_refusals_have_stable_codes_and_store_nothing(client, database):
    build_known_register(database)
    headers = sign_in(client, database, username="admin", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)
    unknown = client.get("/api/v1/quality", params={"province": "99"}, headers=headers)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "UNIT_UNKNOWN")
    malformed = client.get("/api/v1/quality", params={"province": "1x"}, headers=headers)
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (422, "INPUT_INVALID")
    too_long = client.get("/api/v1/quality", params={"trend": 0}, headers=headers)
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (422, "INPUT_INVALID")
    anonymous = client.get("/api/v1/quality")
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "AUTH_REQUIRED")
    with database.read_session() as session:
        assert session.scalar(select(func.count()).select_from(QualitySnapshot)) == 0
