"""Builders of duplicate-detection results, written directly through the ORM models (as a run of
``popreg match dedupe`` stores them), so that the review can be tested on its own."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from popreg.kit.clock import utc_now
from popreg.kit.database import Database
from popreg.matching.models import DuplicateCandidate, DuplicateRun
from popreg.registry.models import Person

MERGE_BASIS = "Quyết định hợp nhất hồ sơ trùng số 7/2026 ngày 05/01/2026"


def add_cluster(
    database: Database,
    pins: Sequence[str],
    *,
    cluster_id: str = "c-1",
    run_id: int | None = None,
    probabilities: Sequence[float] | None = None,
    run_status: str = "finished",
) -> tuple[int, str]:
    """A cluster of ``pins`` (open), in a new finished run unless ``run_id`` is given; returns its key."""
    with database.unit_of_work() as session:
        if run_id is None:
            now = utc_now()
            run = DuplicateRun(
                started_at=now,
                finished_at=now,
                status=run_status,
                persons_scanned=len(pins),
                pairs_scored=len(pins) * (len(pins) - 1) // 2,
                threshold=0.9,
                clusters=1,
                actor="operator:test",
            )
            session.add(run)
            session.flush()
            run_id = run.id
        for position, pin in enumerate(pins):
            person = session.execute(select(Person).where(Person.pin == pin)).scalar_one()
            session.add(
                DuplicateCandidate(
                    run_id=run_id,
                    cluster_id=cluster_id,
                    person_id=person.id,
                    province_code=person.home_province_code,
                    match_probability=probabilities[position] if probabilities else 0.97,
                    status="open",
                )
            )
    return run_id, cluster_id


def candidate_statuses(database: Database, run_id: int, cluster_id: str) -> dict[str, tuple[str, str | None]]:
    """Each member's (status, decided_by), by PIN."""
    with database.read_session() as session:
        rows = session.execute(
            select(Person.pin, DuplicateCandidate.status, DuplicateCandidate.decided_by)
            .join(Person, Person.id == DuplicateCandidate.person_id)
            .where(DuplicateCandidate.run_id == run_id, DuplicateCandidate.cluster_id == cluster_id)
        ).all()
        return {pin: (status, decided_by) for pin, status, decided_by in rows}
