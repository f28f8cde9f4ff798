"""``popreg match dedupe`` over a register with planted duplicates, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from builders import sign_in
from duplicate_builders import MERGE_BASIS
from matching_builders import duplicate_pairs, load_population
from popreg.cli import app
from popreg.kit.database import Database
from popreg.kit.settings import get_settings
from popreg.matching.models import DuplicateCandidate, DuplicateRun
from popreg.officials.rules import Role
from popreg.registry.models import Person


@pytest.fixture
def run(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, ["match", *args])
    get_settings.cache_clear()


def test_dedupe_clusters_the_planted_duplicates_and_queues_them_for_review(
    run: Any, database: Database, tmp_path: Path
) -> None:
    drawn = load_population(database, people=1200, seed=21, error_rate=0.05)
    planted = duplicate_pairs(drawn)
    assert len(planted) >= 40

    result = run("dedupe", "--threshold", "0.9", "--out", str(tmp_path / "pairs.csv"))

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    with database.unit_of_work() as session:
        runs = session.execute(select(DuplicateRun)).scalars().all()
        members = session.execute(select(DuplicateCandidate)).scalars().all()
        persons = session.execute(select(func.count()).select_from(Person)).scalar_one()
        provinces = {row[0]: row[1] for row in session.execute(select(Person.id, Person.home_province_code))}
    assert [(r.status, r.persons_scanned, r.clusters) for r in runs] == [("finished", persons, summary["clusters"])]
    assert {m.status for m in members} == {"open"}
    assert all(m.province_code == provinces[m.person_id] for m in members)
    assert all(0.9 <= m.match_probability <= 1 for m in members)
    clusters: dict[str, set[int]] = {}
    for member in members:
        clusters.setdefault(member.cluster_id, set()).add(member.person_id)
    assert all(len(cluster) >= 2 for cluster in clusters.values())
    found = {(a, b) for cluster in clusters.values() for a in cluster for b in cluster if a < b}
    recall = len(planted & found) / len(planted)
    precision = len(planted & found) / len(found)
    assert recall >= 0.9, recall
    assert precision >= 0.9, precision
    written = pd.read_csv(tmp_path / "pairs.csv")
    assert list(written.columns) == ["person_id_l", "person_id_r", "match_probability"]
    assert (written["match_probability"] >= 0.9).all()


def test_dedupe_of_one_province_only_reads_its_persons(run: Any, database: Database) -> None:
    load_population(database, people=1200, seed=21, error_rate=0.05)
    with database.unit_of_work() as session:
        province, count = session.execute(
            select(Person.home_province_code, func.count())
            .group_by(Person.home_province_code)
            .order_by(func.count().desc())
        ).first()  # type: ignore[misc]

    result = run("dedupe", "--province", province)

    assert result.exit_code == 0, result.output
    with database.unit_of_work() as session:
        scanned = session.execute(select(DuplicateRun.persons_scanned)).scalar_one()
        other = session.execute(
            select(func.count()).select_from(DuplicateCandidate).where(DuplicateCandidate.province_code != province)
        ).scalar_one()
    assert scanned == count
    assert other == 0


def test_a_threshold_that_is_not_a_probability_is_refused_and_nothing_is_written(run: Any, database: Database) -> None:
    result = run("dedupe", "--threshold", "1.5")

    assert result.exit_code == 2
    assert "MATCH_THRESHOLD_INVALID" in result.output
    assert "Traceback" not in result.output
    with database.unit_of_work() as session:
        assert session.execute(select(func.count()).select_from(DuplicateRun)).scalar_one() == 0


def test_a_deceased_person_is_compared_on_their_last_residence(database: Database) -> None:
    from popreg.matching.register import register_frame
    from popreg.registry.models import Residence

    drawn = load_population(database, people=1200, seed=21, error_rate=0.05)
    persons = drawn.persons.to_pandas()
    deceased = set(persons.loc[persons["life_status"] == "deceased", "person_id"].astype(int))
    assert deceased
    with database.unit_of_work() as session:
        frame = register_frame(session)
        open_ids = set(
            session.scalars(
                select(Residence.person_id).where(Residence.kind == "permanent", Residence.valid_to.is_(None))
            )
        )
        closed = session.execute(
            select(Residence.person_id, Residence.address_line).where(
                Residence.kind == "permanent", Residence.valid_to.is_not(None)
            )
        ).all()

    # No open residence, yet an address: the latest closed one.
    assert deceased - open_ids
    without_open = frame[~frame["record_id"].isin(open_ids)]
    assert set(without_open["record_id"]) >= deceased - open_ids
    assert without_open["address"].notna().all()
    closed_addresses = {(person, address) for person, address in closed}
    assert all(
        (person, address) in closed_addresses
        for person, address in zip(without_open["record_id"], without_open["address"], strict=True)
    )
    assert frame["record_id"].is_unique


def _clusters(database: Database, run_id: int) -> dict[str, frozenset[int]]:
    with database.read_session() as session:
        rows = session.execute(
            select(DuplicateCandidate.cluster_id, DuplicateCandidate.person_id).where(
                DuplicateCandidate.run_id == run_id
            )
        ).all()
    clusters: dict[str, set[int]] = {}
    for cluster_id, person_id in rows:
        clusters.setdefault(cluster_id, set()).add(person_id)
    return {cluster_id: frozenset(members) for cluster_id, members in clusters.items()}


def _pins(database: Database, person_ids: frozenset[int]) -> list[str]:
    with database.read_session() as session:
        return list(session.scalars(select(Person.pin).where(Person.id.in_(person_ids)).order_by(Person.id)))


def _pairs_written(path: Path) -> set[frozenset[int]]:
    written = pd.read_csv(path)
    return {frozenset(pair) for pair in zip(written["person_id_l"], written["person_id_r"], strict=True)}


@pytest.fixture
def national_admin(client: TestClient, database: Database) -> dict[str, str]:
    return sign_in(client, database, username="admin", role=Role.NATIONAL_ADMIN, jurisdiction_code=None)


def test_a_pair_an_official_dismissed_is_not_proposed_again(
    run: Any, client: TestClient, database: Database, national_admin: dict[str, str], tmp_path: Path
) -> None:
    load_population(database, people=1200, seed=21, error_rate=0.05)
    assert run("dedupe", "--threshold", "0.9").exit_code == 0
    before = _clusters(database, run_id=1)
    cluster_id, dismissed = next((key, members) for key, members in sorted(before.items()) if len(members) == 2)
    response = client.post(
        f"/api/v1/duplicates/1/{cluster_id}/dismiss",
        json={"reason": "Cha mẹ khác nhau: trích lục khai sinh 12/1990 và 47/1990"},
        headers=national_admin,
    )
    assert response.status_code == 200, response.text

    result = run("dedupe", "--threshold", "0.9", "--out", str(tmp_path / "pairs.csv"))

    assert result.exit_code == 0, result.output
    after = _clusters(database, run_id=2)
    # The same register and model: every other cluster is proposed again, the dismissed pair is not.
    assert set(after.values()) == set(before.values()) - {dismissed}
    assert dismissed not in _pairs_written(tmp_path / "pairs.csv")


def test_a_record_retired_by_a_merge_is_not_read_again(
    run: Any, client: TestClient, database: Database, national_admin: dict[str, str], tmp_path: Path
) -> None:
    load_population(database, people=1200, seed=21, error_rate=0.05)
    assert run("dedupe", "--threshold", "0.9").exit_code == 0
    with database.read_session() as session:
        persons = session.execute(select(func.count()).select_from(Person)).scalar_one()
    retired_id = None
    for cluster_id, members in sorted(_clusters(database, run_id=1).items()):
        if len(members) != 2:
            continue
        retired, surviving = _pins(database, members)
        merged = client.post(
            f"/api/v1/duplicates/1/{cluster_id}/merge",
            json={
                "retired_pin": retired,
                "surviving_pin": surviving,
                "legal_basis": MERGE_BASIS,
                "allow_identity_differences": True,
            },
            headers=national_admin,
        )
        if merged.status_code == 200:  # some pairs need their households settled first
            retired_id = min(members)
            break
    assert retired_id is not None

    result = run("dedupe", "--threshold", "0.9", "--out", str(tmp_path / "pairs.csv"))

    assert result.exit_code == 0, result.output
    with database.read_session() as session:
        scanned = session.execute(select(DuplicateRun.persons_scanned).where(DuplicateRun.id == 2)).scalar_one()
    assert scanned == persons - 1
    assert all(retired_id not in members for members in _clusters(database, run_id=2).values())
    assert all(retired_id not in pair for pair in _pairs_written(tmp_path / "pairs.csv"))
