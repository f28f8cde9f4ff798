"""Receiving agencies' updates: one outcome per update, exactly one effect per idempotency key.

A batch is handled in the caller's transaction in set-based steps: the keys already received, the
persons named by PIN and the identifiers involved are each loaded with one query per thousand, the
identifier writes and the update records are written in bulk. Updates that touch the register itself
(a death, a move, a name) go one by one through the registry's use cases, each inside a savepoint so
that a refusal leaves nothing behind.

Order of the checks, for each update: its shape (``SYNC_UPDATE_INVALID``), its key (a replay returns
the first outcome; another body under the same key is ``SYNC_IDEMPOTENCY_KEY_REUSED``), the policy's
writable fields (``SYNC_FIELD_DENIED``), the values (``SYNC_FIELD_UNKNOWN``, ``SYNC_INVALID_VALUE``),
the person (``PIN_INVALID_STRUCTURE``, ``SYNC_PERSON_NOT_FOUND``, a demographic match), contradictions
inside the batch, and conflicts with the register.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from popreg.kit.clock import utc_now
from popreg.kit.database import insert_many, one_of
from popreg.kit.errors import DomainError, InvalidInput
from popreg.officials.rules import OfficialPrincipal, Role
from popreg.registry.models import Person
from popreg.registry.pin import PIN_SHAPE
from popreg.registry.rules import LifeStatus, raise_merged
from popreg.registry.service.common import PlannedEvent, record_events
from popreg.sync import apply
from popreg.sync.models import SyncUpdate
from popreg.sync.rules import (
    IDENTIFIER_SCHEMES,
    Outcome,
    Queued,
    ReviewStatus,
    body_hash,
    canonical_value,
    check_field_names,
    contradictions,
    decide_match,
    denied_fields,
)
from popreg.sync.schemas import UpdateIn, UpdateOutcome

_UPDATES = cast(Table, SyncUpdate.__table__)
MAX_BATCH = 1000
_REPLAY_COLUMNS = ("id", "idempotency_key", "body_hash", "outcome", "reason_code", "reason", "review_status")


@dataclass(frozen=True, slots=True)
class Agency:
    """The authenticated agency and the fields its policy lets it write."""

    partner_id: str
    write_fields: frozenset[str]

    def principal(self) -> OfficialPrincipal:
        """The agency's system as the registry's use cases see it: national reach, its own name as the
        source and actor of every change."""
        return OfficialPrincipal(
            id=0,
            username=f"sync-{self.partner_id}",
            display_name=self.partner_id,
            role=Role.NATIONAL_ADMIN,
            jurisdiction_code=None,
            acting_for=self.partner_id,
        )


@dataclass(frozen=True, slots=True)
class _PersonRow:
    """What the batch needs of a matched person; the registry's ORM object is loaded only for the
    updates that go through its use cases (deaths, moves, names), not for a thousand identifier ones."""

    id: int
    pin: str
    life_status: str
    home_province_code: str | None
    home_commune_code: str | None


_PERSON_ROW = (Person.id, Person.pin, Person.life_status, Person.home_province_code, Person.home_commune_code)


@dataclass(slots=True)
class _Item:
    """One update of a batch on its way to an outcome."""

    index: int
    raw: Any
    update: UpdateIn | None = None
    hash: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    person: _PersonRow | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    outcome: Outcome | None = None
    code: str | None = None
    message: str | None = None
    replay: UpdateOutcome | None = None
    sibling: _Item | None = None  # an earlier update of the batch with the same key and body

    def settle(self, outcome: Outcome, code: str | None = None, message: str | None = None) -> None:
        self.outcome, self.code, self.message = outcome, code, message

    def refuse(self, error: DomainError) -> None:
        self.settle(Outcome.REJECTED, error.code, error.message)


def receive(session: Session, *, agency: Agency, updates: Sequence[Any]) -> list[UpdateOutcome]:
    """Handle a batch of updates (already parsed JSON objects) from ``agency``; one outcome each, in order.

    Flushes, never commits: the caller's commit makes every outcome durable at once.
    """
    items = [_Item(index=index, raw=raw) for index, raw in enumerate(updates)]
    fresh = _parse(items)
    fresh = _replays(session, agency, fresh)
    for item in fresh:
        _check_fields(agency, item)
    candidates = [item for item in fresh if item.outcome is None]
    _find_persons(session, candidates)
    resolved = [item for item in candidates if item.outcome is None and item.person is not None]
    _queue_contradictions(resolved)
    _apply(session, agency, [item for item in resolved if item.outcome is None])
    _store(session, agency, fresh)
    return [_answer(item) for item in items]


def _answer(item: _Item) -> UpdateOutcome:
    if item.sibling is not None:
        return _answer(item.sibling).model_copy(update={"replayed": True})
    return item.replay or _outcome_of(item)


def _parse(items: list[_Item]) -> list[_Item]:
    for item in items:
        if not isinstance(item.raw, dict):
            item.settle(Outcome.REJECTED, "SYNC_UPDATE_INVALID", "Each update is a JSON object.")
            continue
        try:
            item.update = UpdateIn.model_validate(item.raw)
        except ValidationError as error:
            problems = error.errors(include_url=False, include_input=False)
            where = ", ".join(".".join(str(part) for part in problem.get("loc", ())) for problem in problems[:5])
            item.settle(Outcome.REJECTED, "SYNC_UPDATE_INVALID", f"The update is not valid: {where}.")
            continue
        item.hash = body_hash(item.update.model_dump(mode="json"))
    return [item for item in items if item.update is not None]


def _replays(session: Session, agency: Agency, items: list[_Item]) -> list[_Item]:
    """Settle the keys received before (in an earlier request or earlier in this batch)."""
    keys = {item.update.idempotency_key for item in items if item.update}
    stored: dict[str, Any] = {}
    columns = [_UPDATES.c[name] for name in _REPLAY_COLUMNS]
    for among_keys in one_of(session, _UPDATES.c.idempotency_key, keys):
        query = select(*columns).where(_UPDATES.c.partner_id == agency.partner_id, among_keys)
        stored.update({row.idempotency_key: row for row in session.execute(query)})
    fresh: list[_Item] = []
    first_in_batch: dict[str, _Item] = {}
    for item in items:
        assert item.update is not None  # noqa: S101 - parsed above
        key = item.update.idempotency_key
        earlier = stored.get(key)
        if earlier is not None:
            item.replay = replayed(earlier) if earlier.body_hash == item.hash else _key_reused(key)
            continue
        sibling = first_in_batch.get(key)
        if sibling is not None:
            if sibling.hash == item.hash:
                item.sibling = sibling
            else:
                item.replay = _key_reused(key)
            continue
        first_in_batch[key] = item
        fresh.append(item)
    return fresh


def _key_reused(key: str) -> UpdateOutcome:
    return UpdateOutcome.model_construct(  # values of our own making: no validation
        idempotency_key=key,
        update_id=None,
        outcome=Outcome.REJECTED,
        code="SYNC_IDEMPOTENCY_KEY_REUSED",
        message="This idempotency key was used for a different update; the first one stands. Use a new key.",
    )


def replayed(row: Any) -> UpdateOutcome:
    """The first outcome of a key received before."""
    return UpdateOutcome.model_construct(  # values of our own making: no validation
        idempotency_key=row.idempotency_key,
        update_id=row.id,
        outcome=Outcome(row.outcome),
        code=row.reason_code,
        message=row.reason,
        replayed=True,
        review_status=ReviewStatus(row.review_status) if row.review_status else None,
    )


def _check_fields(agency: Agency, item: _Item) -> None:
    assert item.update is not None  # noqa: S101 - parsed above
    update = item.update
    try:
        check_field_names(update.fields)
        denied = denied_fields(update.fields, agency.write_fields)
        if denied:
            item.settle(
                Outcome.REJECTED,
                "SYNC_FIELD_DENIED",
                f"Your policy does not let you write: {', '.join(denied)}.",
            )
            return
        item.fields = apply.clean_fields(update.fields, legal_basis=update.legal_basis)
        if update.observed_at > utc_now():
            raise InvalidInput(
                "observed_at is in the future.", code="SYNC_INVALID_VALUE", details={"field": "observed_at"}
            )
        if update.person.pin is not None and not PIN_SHAPE.fullmatch(update.person.pin):
            raise InvalidInput(
                "A personal identification number has exactly 12 digits.",
                code="PIN_INVALID_STRUCTURE",
                details={"field": "person.pin"},
            )
    except DomainError as error:
        item.refuse(error)


def _find_persons(session: Session, items: list[_Item]) -> None:
    """Persons by PIN in one query per thousand; persons without PIN through the matching engine."""
    by_pin = [item for item in items if item.update and item.update.person.pin]
    pins = sorted({item.update.person.pin for item in by_pin if item.update and item.update.person.pin})
    persons: dict[str, _PersonRow] = {}
    for among_pins in one_of(session, Person.pin, pins):
        persons.update({row.pin: _PersonRow(*row) for row in session.execute(select(*_PERSON_ROW).where(among_pins))})
    for item in by_pin:
        assert item.update is not None  # noqa: S101 - filtered above
        assert item.update.person.pin is not None  # noqa: S101
        item.person = persons.get(item.update.person.pin)
        if item.person is None:
            item.settle(Outcome.REJECTED, "SYNC_PERSON_NOT_FOUND", "No person with this PIN is in the register.")
    for item in items:
        if item.update is not None and not item.update.person.pin:
            _match(session, item)


def _match(session: Session, item: _Item) -> None:
    from popreg.sync.matching import candidates_for  # the matching engine is loaded only when needed

    assert item.update is not None  # noqa: S101 - parsed above
    found = candidates_for(session, item.update.person)
    item.candidates = [{"person_id": c.person_id, "pin": c.pin, "probability": c.match_probability} for c in found]
    decision = decide_match([(c.person_id, c.match_probability) for c in found])
    if decision.outcome is Outcome.APPLIED:
        row = session.execute(select(*_PERSON_ROW).where(Person.id == decision.person_id)).one_or_none()
        item.person = _PersonRow(*row) if row is not None else None
    elif decision.outcome is Outcome.QUEUED:
        item.settle(Outcome.QUEUED, decision.code, "The person could not be told apart among the candidates.")
    else:
        item.settle(Outcome.REJECTED, decision.code, "The register holds no person matching these demographics.")


def _queue_contradictions(items: list[_Item]) -> None:
    writes = [
        (item.index, item.person.id, name, canonical_value(value))
        for item in items
        if item.person is not None
        for name, value in item.fields.items()
    ]
    contradicted = contradictions(writes)
    for item in items:
        if item.index in contradicted:
            item.settle(
                Outcome.QUEUED,
                "SYNC_CONFLICT_IN_BATCH",
                "Another update of this batch sets the same field of this person to a different value.",
            )


def _apply(session: Session, agency: Agency, items: list[_Item]) -> None:
    principal = agency.principal()
    index = apply.IdentifierIndex.load(
        session,
        person_ids=[item.person.id for item in items if item.person is not None],
        values=[value for item in items for name, value in item.fields.items() if name in IDENTIFIER_SCHEMES],
    )
    # Identifier updates (the bulk of the traffic) have their history events written together at the end.
    history: list[PlannedEvent] = []
    for item in items:
        assert item.update is not None  # noqa: S101 - resolved above
        assert item.person is not None  # noqa: S101
        try:
            if item.person.life_status == LifeStatus.MERGED.value:
                raise_merged()  # a retired record is not kept up to date: the agency must use the surviving PIN
            if set(item.fields) <= set(IDENTIFIER_SCHEMES):
                _apply_identifiers(session, index, principal, item, history)
            else:
                with session.begin_nested():
                    _apply_with_register(session, index, principal, item)
        except Queued as queued:
            item.settle(Outcome.QUEUED, queued.code, queued.message)
        except DomainError as error:
            item.refuse(error)
    record_events(session, history, principal=principal)
    index.flush(session)


def _apply_identifiers(
    session: Session,
    index: apply.IdentifierIndex,
    principal: OfficialPrincipal,
    item: _Item,
    history: list[PlannedEvent],
) -> None:
    assert item.update is not None  # noqa: S101 - resolved above
    assert item.person is not None  # noqa: S101
    update, source = item.update, principal.acting_for or ""
    changed = apply.identifier_checks(
        index, item.person, item.fields, observed_at=update.observed_at, source=source, force=False
    )
    apply.write_identifiers(
        session,
        index,
        item.person,
        changed,
        item.fields,
        principal=principal,
        legal_basis=update.legal_basis,
        observed_at=update.observed_at,
        history=history,
    )
    item.settle(Outcome.APPLIED)


def _apply_with_register(
    session: Session, index: apply.IdentifierIndex, principal: OfficialPrincipal, item: _Item
) -> None:
    assert item.update is not None  # noqa: S101 - resolved above
    assert item.person is not None  # noqa: S101
    update, source = item.update, principal.acting_for or ""
    person = session.get_one(Person, item.person.id)
    identifiers = apply.identifier_checks(
        index, person, item.fields, observed_at=update.observed_at, source=source, force=False
    )
    register = apply.register_changes(
        session, person, item.fields, observed_at=update.observed_at, source=source, force=False
    )
    apply.write_register(session, person, register, item.fields, principal=principal, legal_basis=update.legal_basis)
    apply.write_identifiers(
        session,
        index,
        person,
        identifiers,
        item.fields,
        principal=principal,
        legal_basis=update.legal_basis,
        observed_at=update.observed_at,
    )
    item.settle(Outcome.APPLIED)


def _store(session: Session, agency: Agency, items: list[_Item]) -> None:
    """One row per new key, whatever its outcome: a resend gets the same answer."""
    now = utc_now()
    rows = []
    places = _places(session, items)
    for item in items:
        assert item.update is not None  # noqa: S101 - every item is settled
        assert item.outcome is not None  # noqa: S101
        update = item.update
        queued = item.outcome is Outcome.QUEUED
        province, commune = places.get(item.index, (update.person.province_code, None))
        rows.append(
            {
                "partner_id": agency.partner_id,
                "idempotency_key": update.idempotency_key,
                "body_hash": item.hash,
                "legal_basis": update.legal_basis,
                "person_ref": update.person.model_dump(mode="json", exclude_none=True),
                "fields": item.fields or update.fields,
                "observed_at": update.observed_at,
                "received_at": now,
                "person_id": item.person.id if item.person is not None else None,
                "outcome": item.outcome.value,
                "reason_code": item.code,
                "reason": (item.message or "")[:500] or None,
                "candidates": item.candidates,
                "province_code": province,
                "commune_code": commune,
                "review_status": ReviewStatus.PENDING.value if queued else None,
                "resolved_by": None,
                "resolved_at": None,
                "resolution_note": None,
            }
        )
    if not rows:
        return
    # A plain executemany, then the ids by key: far cheaper than RETURNING over a thousand wide rows.
    insert_many(session, _UPDATES, rows)
    keys = [str(row["idempotency_key"]) for row in rows]
    ids: dict[str, int] = {}
    for among_keys in one_of(session, _UPDATES.c.idempotency_key, keys):
        query = select(_UPDATES.c.idempotency_key, _UPDATES.c.id).where(
            _UPDATES.c.partner_id == agency.partner_id, among_keys
        )
        ids.update({row[0]: row[1] for row in session.execute(query)})
    for item, key in zip(items, keys, strict=True):
        item.replay = _outcome_of(item, update_id=ids[key])


def _places(session: Session, items: list[_Item]) -> dict[int, tuple[str | None, str | None]]:
    """Where each queued update belongs for review: its person's home, else the best candidate's."""
    places: dict[int, tuple[str | None, str | None]] = {}
    wanted: dict[int, int] = {}
    for item in items:
        if item.person is not None:
            places[item.index] = (item.person.home_province_code, item.person.home_commune_code)
        elif item.candidates and item.outcome is Outcome.QUEUED:
            wanted[item.index] = item.candidates[0]["person_id"]
    if wanted:
        homes = {
            row.id: (row.home_province_code, row.home_commune_code)
            for row in session.execute(
                select(Person.id, Person.home_province_code, Person.home_commune_code).where(
                    Person.id.in_(set(wanted.values()))
                )
            )
        }
        places.update({index: homes.get(person_id, (None, None)) for index, person_id in wanted.items()})
    return places


def _outcome_of(item: _Item, *, update_id: int | None = None) -> UpdateOutcome:
    assert item.outcome is not None  # noqa: S101 - every item is settled
    return UpdateOutcome.model_construct(  # values of our own making: no validation
        idempotency_key=item.update.idempotency_key if item.update else _raw_key(item.raw),
        update_id=update_id,
        outcome=item.outcome,
        code=item.code,
        message=item.message,
        review_status=ReviewStatus.PENDING if item.outcome is Outcome.QUEUED else None,
    )


def _raw_key(raw: Any) -> str | None:
    key = raw.get("idempotency_key") if isinstance(raw, dict) else None
    return key[:100] if isinstance(key, str) else None
