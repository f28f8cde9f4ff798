"""The review of likely duplicates by officials: the open clusters in their jurisdiction, a cluster's
members side by side, merging two members, dismissing a cluster as different people.

``popreg match dedupe`` stores its clusters in ``duplicate_candidates`` (one row per member). A
cluster is *open* while two or more of its members await a decision. Every decision names the
official and the time on the rows it closes, is written into the persons' histories (the merge's own
events; a ``duplicate.dismissed`` event citing the reason) and into the access log.

Jurisdiction: a province officer sees the clusters with a member whose ``province_code`` is theirs, a
commune officer those with a member whose home commune is theirs, national officials and auditors all.
Merging needs both records in the official's jurisdiction (the register checks it); dismissing needs
every open member in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from popreg.audit import service as audit
from popreg.kit.clock import utc_now
from popreg.kit.errors import Conflict, InvalidInput, NotFound
from popreg.kit.events import PersonsMerged
from popreg.matching.models import DuplicateCandidate, DuplicateRun
from popreg.matching.review_schemas import (
    CandidateStatus,
    ClusterDismissIn,
    ClusterMember,
    ClusterMemberSummary,
    ClusterMergeIn,
    ClusterMergeRead,
    ClusterPage,
    ClusterRead,
    ClusterSummary,
)
from popreg.officials.rules import OfficialPrincipal, require_jurisdiction, require_write
from popreg.registry import service as registry
from popreg.registry.merge_schemas import MergeIn
from popreg.registry.models import Person
from popreg.registry.rules import LifeStatus
from popreg.registry.schemas import PersonRead

REVIEW_PURPOSE = "duplicate_review"
FINISHED_RUN = "finished"
# The fields compared side by side, in the order a page shows them.
COMPARED_FIELDS = (
    "full_name",
    "birth_date",
    "sex",
    "ethnicity_code",
    "religion_code",
    "nationality",
    "birth_registration_code",
    "birth_registration_unit_code",
    "origin_unit_code",
    "life_status",
    "permanent_address",
    "household_number",
    "father_pin",
    "mother_pin",
    "spouse_pin",
)


def list_open_clusters(
    session: Session, *, principal: OfficialPrincipal, page: int = 1, page_size: int = 20
) -> ClusterPage:
    """Open clusters of finished runs with a member in the official's jurisdiction, strongest first."""
    best = func.max(DuplicateCandidate.match_probability)
    query = (
        select(DuplicateCandidate.run_id, DuplicateCandidate.cluster_id, best)
        .join(DuplicateRun, DuplicateRun.id == DuplicateCandidate.run_id)
        .where(DuplicateCandidate.status == CandidateStatus.OPEN.value, DuplicateRun.status == FINISHED_RUN)
        .group_by(DuplicateCandidate.run_id, DuplicateCandidate.cluster_id)
        .having(func.count() >= 2)
        .order_by(best.desc(), DuplicateCandidate.run_id, DuplicateCandidate.cluster_id)
        .limit(page_size + 1)
        .offset((page - 1) * page_size)
    )
    if principal.jurisdiction_code is not None:
        query = query.where(_has_member_in(principal.jurisdiction_code))
    clusters = session.execute(query).all()
    shown = clusters[:page_size]
    members = _open_members_of(session, [(run_id, cluster_id) for run_id, cluster_id, _ in shown])
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="duplicate.list",
        person_pin=None,
        fields=(f"page={page}",),
        purpose=REVIEW_PURPOSE,
    )
    return ClusterPage(
        items=[
            ClusterSummary(
                run_id=run_id,
                cluster_id=cluster_id,
                best_match_probability=float(probability),
                members=members.get((run_id, cluster_id), []),
            )
            for run_id, cluster_id, probability in shown
        ],
        page=page,
        page_size=page_size,
        has_next=len(clusters) > page_size,
    )


def get_cluster(session: Session, *, principal: OfficialPrincipal, run_id: int, cluster_id: str) -> ClusterRead:
    """A cluster with each member's whole record; every member's read goes to the access log."""
    rows = _cluster_rows(session, run_id, cluster_id)
    persons = [_person(session, row.person_id) for row in rows]
    require_jurisdiction(principal, [place for person in persons for place in registry.person_places(session, person)])
    for person in persons:
        _log(session, principal, action="duplicate.review", pin=person.pin, note=f"cluster={run_id}/{cluster_id}")
    return _cluster_view(session, run_id, cluster_id, rows, persons)


def merge_in_cluster(
    session: Session, *, principal: OfficialPrincipal, run_id: int, cluster_id: str, data: ClusterMergeIn
) -> ClusterMergeRead:
    """Merge two open members of the cluster (see :func:`popreg.registry.service.merge_persons`).

    The retired member's rows close as ``merged`` (through :func:`close_candidates_of_retired`, which
    the register's :class:`PersonsMerged` event triggers); the survivor's row closes too once no other
    open member is left beside it.
    """
    require_write(principal)
    rows = _cluster_rows(session, run_id, cluster_id, for_update=True)
    open_pins = {_person(session, row.person_id).pin: row for row in rows if row.status == CandidateStatus.OPEN}
    if len(open_pins) < 2:
        raise Conflict("This cluster has already been decided.", code="DUPLICATE_CLUSTER_CLOSED")
    for field in ("retired_pin", "surviving_pin"):
        if getattr(data, field) not in open_pins:
            raise InvalidInput(
                f"PIN {getattr(data, field)} is not an open member of this cluster.",
                code="DUPLICATE_NOT_IN_CLUSTER",
                details={"field": field},
            )
    merge = registry.merge_persons(
        session,
        principal=principal,
        data=MergeIn(
            retired_pin=data.retired_pin,
            surviving_pin=data.surviving_pin,
            legal_basis=data.legal_basis,
            allow_identity_differences=data.allow_identity_differences,
        ),
    )
    session.flush()
    rows = _cluster_rows(session, run_id, cluster_id)
    persons = [_person(session, row.person_id) for row in rows]
    return ClusterMergeRead(merge=merge, cluster=_cluster_view(session, run_id, cluster_id, rows, persons))


def dismiss_cluster(
    session: Session, *, principal: OfficialPrincipal, run_id: int, cluster_id: str, data: ClusterDismissIn
) -> ClusterRead:
    """Record that the cluster's open members are different people, with the reason, in each one's history."""
    require_write(principal)
    reason = _require_reason(data.reason)
    rows = _cluster_rows(session, run_id, cluster_id, for_update=True)
    open_rows = [row for row in rows if row.status == CandidateStatus.OPEN]
    if len(open_rows) < 2:
        raise Conflict("This cluster has already been decided.", code="DUPLICATE_CLUSTER_CLOSED")
    now = utc_now()
    for row in open_rows:
        person = _person(session, row.person_id)
        require_jurisdiction(principal, registry.person_places(session, person))
        others = sorted(_person(session, other.person_id).pin for other in open_rows if other is not row)
        registry.record_history(
            session,
            principal=principal,
            pin=person.pin,
            event_type="duplicate.dismissed",
            changes={"not_duplicate_of": [None, ", ".join(others)]},
            legal_basis=reason,
        )
        row.status = CandidateStatus.DISMISSED.value
        row.decided_by = principal.actor
        row.decided_at = now
        _log(session, principal, action="duplicate.dismiss", pin=person.pin, note=f"cluster={run_id}/{cluster_id}")
    session.flush()
    persons = [_person(session, row.person_id) for row in rows]
    return _cluster_view(session, run_id, cluster_id, rows, persons)


def close_candidates_of_retired(session: Session, event: PersonsMerged) -> None:
    """Whatever way a record was retired (a cluster's review, the merge API, the CLI), its open rows
    close as ``merged``; a cluster's survivor closes too when no other open member is left beside it.
    The handler of :class:`PersonsMerged`."""
    retired = registry.get_person_record(session, pin=event.retired_pin)
    surviving = registry.get_person_record(session, pin=event.surviving_pin)
    now = utc_now()
    clusters = session.execute(
        select(DuplicateCandidate.run_id, DuplicateCandidate.cluster_id).where(
            DuplicateCandidate.person_id == retired.id, DuplicateCandidate.status == CandidateStatus.OPEN.value
        )
    ).all()
    closing = {"status": CandidateStatus.MERGED.value, "decided_by": event.actor, "decided_at": now}
    session.execute(
        update(DuplicateCandidate)
        .where(DuplicateCandidate.person_id == retired.id, DuplicateCandidate.status == CandidateStatus.OPEN.value)
        .values(**closing)
    )
    for run_id, cluster_id in clusters:
        still_open = session.execute(
            select(DuplicateCandidate).where(
                DuplicateCandidate.run_id == run_id,
                DuplicateCandidate.cluster_id == cluster_id,
                DuplicateCandidate.status == CandidateStatus.OPEN.value,
            )
        ).scalars()
        remaining = list(still_open)
        if len(remaining) == 1 and remaining[0].person_id == surviving.id:
            remaining[0].status = CandidateStatus.MERGED.value
            remaining[0].decided_by = event.actor
            remaining[0].decided_at = now
    session.flush()


def dismissed_pairs(session: Session) -> set[tuple[int, int]]:
    """The pairs of persons (smaller id first) that an official found to be different people: any
    two members of one cluster whose rows closed as ``dismissed``. Duplicate detection does not
    propose them again."""
    first, second = aliased(DuplicateCandidate), aliased(DuplicateCandidate)
    query = (
        select(first.person_id, second.person_id)
        .join(
            second,
            and_(
                second.run_id == first.run_id,
                second.cluster_id == first.cluster_id,
                second.person_id > first.person_id,
            ),
        )
        .where(
            first.status == CandidateStatus.DISMISSED.value,
            second.status == CandidateStatus.DISMISSED.value,
        )
        .distinct()
    )
    return {(int(a), int(b)) for a, b in session.execute(query)}


# ---------------------------------------------------------------------------------------------
# Reading clusters


def _has_member_in(code: str) -> Any:
    """Whether the cluster of the outer row has an open member in a province (2 digits) or commune (5)."""
    member = aliased(DuplicateCandidate)
    in_scope = select(member.id).where(
        member.run_id == DuplicateCandidate.run_id,
        member.cluster_id == DuplicateCandidate.cluster_id,
        member.status == CandidateStatus.OPEN.value,
    )
    if len(code) == 2:
        in_scope = in_scope.where(member.province_code == code)
    else:
        in_scope = in_scope.join(Person, Person.id == member.person_id).where(Person.home_commune_code == code)
    return exists(in_scope)


def _open_members_of(
    session: Session, clusters: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], list[ClusterMemberSummary]]:
    if not clusters:
        return {}
    run_ids = {run_id for run_id, _ in clusters}
    cluster_ids = {cluster_id for _, cluster_id in clusters}
    rows = session.execute(
        select(DuplicateCandidate, Person)
        .join(Person, Person.id == DuplicateCandidate.person_id)
        .where(
            DuplicateCandidate.run_id.in_(run_ids),
            DuplicateCandidate.cluster_id.in_(cluster_ids),
            DuplicateCandidate.status == CandidateStatus.OPEN.value,
        )
        .order_by(DuplicateCandidate.match_probability.desc(), DuplicateCandidate.id)
    ).all()
    wanted = set(clusters)
    members: dict[tuple[int, str], list[ClusterMemberSummary]] = {}
    for candidate, person in rows:
        key = (candidate.run_id, candidate.cluster_id)
        if key in wanted:
            members.setdefault(key, []).append(
                ClusterMemberSummary(
                    pin=person.pin,
                    full_name=person.full_name,
                    birth_date=person.birth_date.isoformat(),
                    province_code=candidate.province_code,
                )
            )
    return members


def _cluster_rows(
    session: Session, run_id: int, cluster_id: str, *, for_update: bool = False
) -> list[DuplicateCandidate]:
    """A cluster's rows, strongest match first; ``for_update`` locks them, so that two officials
    deciding the same cluster at once are served one after the other."""
    query = (
        select(DuplicateCandidate)
        .where(DuplicateCandidate.run_id == run_id, DuplicateCandidate.cluster_id == cluster_id)
        .order_by(DuplicateCandidate.match_probability.desc(), DuplicateCandidate.id)
    )
    rows = list(session.execute(query.with_for_update() if for_update else query).scalars())
    if not rows:
        raise NotFound(f"There is no cluster {cluster_id} in run {run_id}.", code="DUPLICATE_CLUSTER_NOT_FOUND")
    return rows


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("The person is not in the register.", code="PERSON_NOT_FOUND")
    return person


def _cluster_view(
    session: Session, run_id: int, cluster_id: str, rows: Sequence[DuplicateCandidate], persons: Sequence[Person]
) -> ClusterRead:
    members = []
    for row, person in zip(rows, persons, strict=True):
        retired = person.life_status == LifeStatus.MERGED
        members.append(
            ClusterMember(
                match_probability=row.match_probability,
                status=CandidateStatus(row.status),
                decided_by=row.decided_by,
                decided_at=row.decided_at,
                merged_into=registry.surviving_pin_of(session, person.pin) if retired else None,
                person=registry.person_view(session, person),
            )
        )
    open_count = sum(1 for row in rows if row.status == CandidateStatus.OPEN)
    return ClusterRead(
        run_id=run_id,
        cluster_id=cluster_id,
        open=open_count >= 2,
        members=members,
        differing_fields=differing_fields([member.person for member in members]),
    )


def compared_values(person: PersonRead) -> dict[str, str | None]:
    """The values a reviewer compares, one per field of :data:`COMPARED_FIELDS`."""
    permanent = next((r for r in person.residences if r.kind == "permanent" and r.valid_to is None), None)
    relatives = {r.kind.value: r.relative_pin for r in person.relations if r.valid_to is None}
    return {
        "full_name": person.full_name,
        "birth_date": person.birth_date,
        "sex": person.sex.value,
        "ethnicity_code": person.ethnicity_code,
        "religion_code": person.religion_code,
        "nationality": person.nationality,
        "birth_registration_code": person.birth_registration_code,
        "birth_registration_unit_code": person.birth_registration_unit_code,
        "origin_unit_code": person.origin_unit_code,
        "life_status": person.life_status.value,
        "permanent_address": f"{permanent.address_line} ({permanent.unit_code})" if permanent else None,
        "household_number": person.household.number if person.household else None,
        "father_pin": relatives.get("father"),
        "mother_pin": relatives.get("mother"),
        "spouse_pin": relatives.get("spouse"),
    }


def differing_fields(persons: Sequence[PersonRead]) -> list[str]:
    """The compared fields on which the persons do not all agree (an unknown value agrees with any)."""
    values = [compared_values(person) for person in persons]
    differing = []
    for field in COMPARED_FIELDS:
        known = {value[field] for value in values if value[field] not in (None, "")}
        if len(known) > 1:
            differing.append(field)
    return differing


def _require_reason(reason: str) -> str:
    text = reason.strip()
    if len(text) < 3:
        raise InvalidInput(
            "Say why the records are different people and what evidence shows it.",
            code="DUPLICATE_DISMISS_REASON_REQUIRED",
            details={"field": "reason"},
        )
    return text


def _log(session: Session, principal: OfficialPrincipal, *, action: str, pin: str, note: str) -> None:
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action=action,
        person_pin=pin,
        fields=(note,),
        purpose=REVIEW_PURPOSE,
    )
