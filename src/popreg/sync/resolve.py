"""The review queue: officials look at the updates the register could not apply on its own (a conflict
with the register, contradictory updates, an uncertain match) and decide.

An official sees and resolves the queued updates of their jurisdiction (the home of the person, or of
the best candidate; an update placed nowhere only national administrators see). Accepting applies the
agency's fields as sent, over the register's newer value if need be, to the person named by the update
or the candidate the official picks; rejecting keeps the register as it is. Either decision is one
event in the person's history and one access-log entry, with the official's name and note.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.kit.clock import utc_now
from popreg.kit.errors import Conflict, InvalidInput, NotFound
from popreg.officials.rules import OfficialPrincipal, Place, require_jurisdiction, require_write
from popreg.registry.models import Person
from popreg.registry.service.common import record_event
from popreg.sync import apply
from popreg.sync.models import SyncUpdate
from popreg.sync.rules import IDENTIFIER_SCHEMES, Queued, ReviewStatus
from popreg.sync.schemas import AcceptIn, CandidateRead, RejectIn, ReviewPage, ReviewRead

REVIEW_PURPOSE = "sync review"


def _in_jurisdiction(principal: OfficialPrincipal) -> Any:
    code = principal.jurisdiction_code
    if code is None:
        return True
    if len(code) == 2:
        return SyncUpdate.province_code == code
    return SyncUpdate.commune_code == code


def get_all(
    session: Session, *, principal: OfficialPrincipal, status: ReviewStatus, page: int, page_size: int
) -> ReviewPage:
    """The reviews of the official's jurisdiction in one status, oldest first (the queue's order)."""
    query = (
        select(SyncUpdate)
        .where(SyncUpdate.review_status == status.value, _in_jurisdiction(principal))
        .order_by(SyncUpdate.received_at, SyncUpdate.id)
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    )
    rows = list(session.execute(query).scalars())
    return ReviewPage(
        items=views(session, rows[:page_size]), page=page, page_size=page_size, has_next=len(rows) > page_size
    )


def count_pending(session: Session, *, principal: OfficialPrincipal) -> int:
    query = select(func.count()).where(
        SyncUpdate.review_status == ReviewStatus.PENDING.value, _in_jurisdiction(principal)
    )
    return int(session.execute(query).scalar_one())


def get(session: Session, *, principal: OfficialPrincipal, review_id: int, for_update: bool = False) -> SyncUpdate:
    """A queued update within the official's jurisdiction (``SYNC_REVIEW_NOT_FOUND`` otherwise)."""
    query = select(SyncUpdate).where(SyncUpdate.id == review_id, SyncUpdate.review_status.is_not(None))
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No queued update {review_id}.", code="SYNC_REVIEW_NOT_FOUND")
    if principal.jurisdiction_code is not None:
        require_jurisdiction(principal, [Place(row.commune_code, row.province_code)])
    return row


def views(session: Session, rows: list[SyncUpdate]) -> list[ReviewRead]:
    person_ids = {row.person_id for row in rows if row.person_id} | {
        candidate["person_id"] for row in rows for candidate in row.candidates
    }
    persons = (
        {person.id: person for person in session.execute(select(Person).where(Person.id.in_(person_ids))).scalars()}
        if person_ids
        else {}
    )
    return [_view(row, persons) for row in rows]


def _view(row: SyncUpdate, persons: dict[int, Person]) -> ReviewRead:
    candidates = []
    for candidate in row.candidates:
        person = persons.get(candidate["person_id"])
        if person is not None:
            candidates.append(
                CandidateRead(
                    pin=person.pin,
                    full_name=person.full_name,
                    birth_date=person.birth_date.isoformat(),
                    sex=person.sex,
                    match_probability=round(float(candidate["probability"]), 4),
                )
            )
    person = persons.get(row.person_id) if row.person_id else None
    return ReviewRead(
        id=row.id,
        partner_id=row.partner_id,
        idempotency_key=row.idempotency_key,
        legal_basis=row.legal_basis,
        person_ref=row.person_ref,
        fields=row.fields,
        observed_at=row.observed_at,
        received_at=row.received_at,
        pin=person.pin if person else None,
        reason_code=row.reason_code,
        reason=row.reason,
        candidates=candidates,
        province_code=row.province_code,
        commune_code=row.commune_code,
        review_status=ReviewStatus(row.review_status or ReviewStatus.PENDING.value),
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        resolution_note=row.resolution_note,
    )


def _pending(row: SyncUpdate) -> None:
    if row.review_status != ReviewStatus.PENDING.value:
        raise Conflict(f"This update was already {row.review_status}.", code="SYNC_REVIEW_RESOLVED")


def _person_for(session: Session, row: SyncUpdate, pin: str | None) -> Person:
    """The update's person, or the candidate the official names (one of the stored candidates)."""
    if pin:
        allowed = {candidate["pin"] for candidate in row.candidates}
        if row.person_id is not None:
            held = session.get(Person, row.person_id)
            allowed |= {held.pin} if held else set()
        if pin not in allowed:
            raise InvalidInput(
                "Pick the person among the update's candidates.",
                code="SYNC_CANDIDATE_UNKNOWN",
                details={"field": "pin"},
            )
        picked: Person = session.execute(select(Person).where(Person.pin == pin)).scalar_one()
        return picked
    if row.person_id is None:
        raise InvalidInput(
            "The update names no person: pick one of its candidates (pin).",
            code="SYNC_PERSON_REQUIRED",
            details={"field": "pin"},
        )
    person = session.get(Person, row.person_id)
    if person is None:  # a foreign key guards it
        raise NotFound("The update's person is gone.", code="SYNC_PERSON_NOT_FOUND")
    return person


def accept(session: Session, *, principal: OfficialPrincipal, review_id: int, data: AcceptIn) -> ReviewRead:
    """Apply a queued update as sent, to its person or the candidate picked; the agency is the changes'
    source, the official the decision's author. A refusal of the registry (the person died meanwhile,
    a unit that does not exist) is the answer, and the update stays queued."""
    require_write(principal)
    row = get(session, principal=principal, review_id=review_id, for_update=True)
    _pending(row)
    person = _person_for(session, row, data.pin)
    require_jurisdiction(principal, [Place(person.home_commune_code, person.home_province_code)])
    acting = dataclasses.replace(principal, acting_for=row.partner_id)
    fields = row.fields
    index = apply.IdentifierIndex.load(
        session, person_ids=[person.id], values=[v for k, v in fields.items() if k in IDENTIFIER_SCHEMES]
    )
    try:
        identifiers = apply.identifier_checks(
            index, person, fields, observed_at=row.observed_at, source=row.partner_id, force=True
        )
        register = apply.register_changes(
            session, person, fields, observed_at=row.observed_at, source=row.partner_id, force=True
        )
    except Queued as queued:  # force=True never queues
        raise Conflict(queued.message, code=queued.code) from None
    apply.write_register(session, person, register, fields, principal=acting, legal_basis=row.legal_basis)
    apply.write_identifiers(
        session,
        index,
        person,
        identifiers,
        fields,
        principal=acting,
        legal_basis=row.legal_basis,
        observed_at=row.observed_at,
    )
    index.flush(session)
    row.person_id = person.id
    _resolve(session, principal, row, person, ReviewStatus.ACCEPTED, data.note)
    return views(session, [row])[0]


def reject(session: Session, *, principal: OfficialPrincipal, review_id: int, data: RejectIn) -> ReviewRead:
    """Keep the register as it is; the reason is kept, shown to the agency's operators and logged."""
    require_write(principal)
    row = get(session, principal=principal, review_id=review_id, for_update=True)
    _pending(row)
    person = session.get(Person, row.person_id) if row.person_id else None
    _resolve(session, principal, row, person, ReviewStatus.REJECTED, data.reason)
    return views(session, [row])[0]


def _resolve(
    session: Session,
    principal: OfficialPrincipal,
    row: SyncUpdate,
    person: Person | None,
    status: ReviewStatus,
    note: str,
) -> None:
    row.review_status = status.value
    row.resolved_by = principal.actor
    row.resolved_at = utc_now()
    row.resolution_note = note or None
    session.flush()
    decision = {"update_id": row.id, "partner": row.partner_id, "key": row.idempotency_key, "decision": status.value}
    if person is not None:
        record_event(
            session,
            person,
            event_type=f"sync.update_{status.value}",
            changes={f"sync_updates.{row.id}": [None, {**decision, "fields": sorted(row.fields), "note": note}]},
            principal=principal,
            legal_basis=row.legal_basis,
            source_agency=row.partner_id,
        )
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action=f"sync.review.{'accept' if status is ReviewStatus.ACCEPTED else 'reject'}",
        person_pin=person.pin if person else None,
        fields=(f"update={row.id}", f"partner={row.partner_id}", *sorted(row.fields)),
        purpose=REVIEW_PURPOSE,
        legal_basis=row.legal_basis[:300],
    )
