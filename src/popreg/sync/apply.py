"""Applying an agency's fields to one person: the conflict checks and the writes.

Identifiers go to ``person_identifiers`` (loaded for a whole batch at once, written in bulk); register
fields go through the registry's use cases, so a death cancels the person's cards (``PersonDied``), a
move ends the previous permanent residence, and every change is one history event whose source is the
agency. Conflicts raise :class:`~popreg.sync.rules.Queued`; invalid values raise a domain error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from popreg.kit.clock import VIETNAM, utc_now
from popreg.kit.database import insert_many, one_of
from popreg.kit.errors import Conflict
from popreg.kit.text import canonical
from popreg.officials.rules import OfficialPrincipal
from popreg.registry import repository as registry_repository
from popreg.registry import service as registry
from popreg.registry.models import Person, PersonEvent
from popreg.registry.rules import LifeStatus, ResidenceKind
from popreg.registry.schemas import LifeStatusIn, PersonUpdate, ResidenceIn
from popreg.registry.service.common import PersonIdentity, PlannedEvent, record_event
from popreg.sync.models import PersonIdentifier
from popreg.sync.rules import (
    IDENTIFIER_SCHEMES,
    Queued,
    invalid_value,
    normalise_identifier,
    pydantic_problem,
)

_IDENTIFIERS = cast(Table, PersonIdentifier.__table__)
_UPDATE_IDENTIFIER = (
    update(_IDENTIFIERS)
    .where(_IDENTIFIERS.c.id == bindparam("row_id"))
    .values(value=bindparam("new_value"), source=bindparam("new_source"), observed_at=bindparam("new_observed"))
)


def observed_day(observed_at: datetime) -> date:
    return observed_at.astimezone(VIETNAM).date()


def clean_fields(fields: dict[str, Any], *, legal_basis: str) -> dict[str, Any]:
    """The update's fields validated by the registry's own rules, identifiers normalised. Raises
    ``SYNC_INVALID_VALUE`` for the first field at fault."""
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name in IDENTIFIER_SCHEMES:
            cleaned[name] = normalise_identifier(name, value)
        elif name == "full_name":
            try:
                PersonUpdate(full_name=value, legal_basis=legal_basis)
            except ValidationError as error:
                raise pydantic_problem(name, error) from None
            cleaned[name] = canonical(value)
        elif name == "death_date":
            if not isinstance(value, str):
                raise invalid_value(name, "must be a date written YYYY-MM-DD")
            try:
                cleaned[name] = LifeStatusIn(date=value, legal_basis=legal_basis).date.isoformat()
            except ValidationError:
                raise invalid_value(name, "is not a date written YYYY-MM-DD") from None
        else:
            kind = ResidenceKind.PERMANENT if name == "permanent_residence" else ResidenceKind.TEMPORARY
            if not isinstance(value, dict):
                raise invalid_value(name, "must be an object with address_line and unit_code")
            try:
                residence = ResidenceIn(**{**value, "kind": kind, "legal_basis": legal_basis})
            except (ValidationError, TypeError) as error:
                if isinstance(error, ValidationError):
                    raise pydantic_problem(name, error) from None
                raise invalid_value(name, "has unexpected members") from None
            cleaned[name] = residence.model_dump(
                mode="json", include={"address_line", "unit_code", "unit_generation", "valid_from"}
            )
    return cleaned


@dataclass(slots=True)
class IdentifierIndex:
    """The identifiers of a batch's persons and values, loaded in two queries; writes are collected and
    flushed in bulk. Reads see the writes planned before them, so a batch reads its own writes."""

    by_person: dict[tuple[int, str], dict[str, Any]]
    by_value: dict[tuple[str, str], dict[str, Any]]
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    freed: set[tuple[str, str]] = field(default_factory=set)  # the values that planned updates replace
    written_at: datetime = field(default_factory=utc_now)  # one batch, one moment of writing

    @classmethod
    def load(cls, session: Session, *, person_ids: Iterable[int], values: Iterable[str]) -> IdentifierIndex:
        columns = (
            _IDENTIFIERS.c.id,
            _IDENTIFIERS.c.person_id,
            _IDENTIFIERS.c.scheme,
            _IDENTIFIERS.c.value,
            _IDENTIFIERS.c.source,
            _IDENTIFIERS.c.observed_at,
            _IDENTIFIERS.c.updated_at,
        )
        rows: dict[int, dict[str, Any]] = {}
        conditions = [
            *one_of(session, _IDENTIFIERS.c.person_id, set(person_ids)),
            *one_of(session, _IDENTIFIERS.c.value, set(values)),
        ]
        for condition in conditions:
            rows.update({row.id: dict(row._mapping) for row in session.execute(select(*columns).where(condition))})
        return cls(
            by_person={(row["person_id"], row["scheme"]): row for row in rows.values()},
            by_value={(row["scheme"], row["value"]): row for row in rows.values()},
        )

    def check(
        self, person_id: int, scheme: str, value: str, *, observed_at: datetime, source: str, force: bool
    ) -> bool:
        """Whether writing ``value`` changes anything; raises :class:`Queued` on a conflict unless ``force``."""
        holder = self.by_value.get((scheme, value))
        if holder is not None and holder["person_id"] != person_id and not force:
            raise Queued(
                "SYNC_IDENTIFIER_HELD_BY_OTHER",
                f"The register links this {scheme.replace('_', ' ')} to another person.",
            )
        current = self.by_person.get((person_id, scheme))
        if current is None:
            return True
        if current["value"] == value:
            return False
        if not force and current["source"] != source and current["updated_at"] > observed_at:
            raise Queued(
                "SYNC_CONFLICT_NEWER_VALUE",
                f"The register's {scheme.replace('_', ' ')} was set by {current['source']} after you observed yours.",
            )
        return True

    def write(self, person_id: int, scheme: str, value: str, *, observed_at: datetime, source: str) -> str | None:
        """Plan the write; returns the previous value. A value held by another person is moved."""
        holder = self.by_value.get((scheme, value))
        if holder is not None and holder["person_id"] != person_id:
            self._remove(holder)
        current = self.by_person.get((person_id, scheme))
        row = {"person_id": person_id, "scheme": scheme, "value": value, "source": source}
        row |= {"observed_at": observed_at, "updated_at": self.written_at}
        if current is None:
            self.inserts.append(row)
            previous = None
        else:
            previous = current["value"]
            del self.by_value[(scheme, previous)]
            if "id" in current:
                self.updates.append(
                    {"row_id": current["id"], "new_value": value, "new_source": source, "new_observed": observed_at}
                )
                self.freed.add((scheme, previous))
                row["id"] = current["id"]
            else:
                current.update(row)
                row = current
        self.by_person[(person_id, scheme)] = row
        self.by_value[(scheme, value)] = row
        return previous

    def _remove(self, row: dict[str, Any]) -> None:
        del self.by_person[(row["person_id"], row["scheme"])]
        del self.by_value[(row["scheme"], row["value"])]
        if "id" in row:
            self.deletes.append(row["id"])
        else:
            self.inserts.remove(row)

    def flush(self, session: Session) -> None:
        """Write what was planned: deletes, then updates (a moved value is free by then), then inserts."""
        if self.deletes:
            session.execute(delete(_IDENTIFIERS).where(_IDENTIFIERS.c.id.in_(self.deletes)))
        if self.updates:
            taken = {(row["scheme"], row["value"]) for row in self.by_value.values() if "id" in row}
            if taken & self.freed:
                # A value moves from one updated row to another: two steps, so that the rows never meet
                # the unique constraint halfway, whatever the order of the updates.
                markers = [{"row_id": row["row_id"], "marker": f"~{row['row_id']}"} for row in self.updates]
                session.execute(
                    update(_IDENTIFIERS)
                    .where(_IDENTIFIERS.c.id == bindparam("row_id"))
                    .values(value=bindparam("marker")),
                    markers,
                )
            session.execute(_UPDATE_IDENTIFIER, self.updates)
        if self.inserts:
            insert_many(session, _IDENTIFIERS, [{k: v for k, v in row.items() if k != "id"} for row in self.inserts])
        self.inserts, self.updates, self.deletes, self.freed = [], [], [], set()


def identifier_checks(
    index: IdentifierIndex,
    person: PersonIdentity,
    fields: dict[str, Any],
    *,
    observed_at: datetime,
    source: str,
    force: bool,
) -> list[str]:
    """The identifier fields that would change (conflicts raise :class:`Queued`)."""
    return [
        name
        for name in IDENTIFIER_SCHEMES
        if name in fields
        and index.check(person.id, name, fields[name], observed_at=observed_at, source=source, force=force)
    ]


def write_identifiers(
    session: Session,
    index: IdentifierIndex,
    person: PersonIdentity,
    changed: list[str],
    fields: dict[str, Any],
    *,
    principal: OfficialPrincipal,
    legal_basis: str,
    observed_at: datetime,
    history: list[PlannedEvent] | None = None,
) -> None:
    """Plan the identifier writes and record their history event (the agency as source); with
    ``history``, the event is appended there for the caller to record with the batch's others."""
    if not changed:
        return
    source = principal.acting_for or principal.actor
    changes = {
        f"identifiers.{name}": [
            index.write(person.id, name, fields[name], observed_at=observed_at, source=source),
            fields[name],
        ]
        for name in changed
    }
    effective_date = min(observed_day(observed_at), _today())
    if history is not None:
        history.append(PlannedEvent(person, "person.identifiers_linked", changes, legal_basis, effective_date))
        return
    record_event(
        session,
        session.get_one(Person, person.id),  # already in the session: the register path loaded it
        event_type="person.identifiers_linked",
        changes=changes,
        principal=principal,
        legal_basis=legal_basis,
        effective_date=effective_date,
    )


def _today() -> date:
    return utc_now().astimezone(VIETNAM).date()


def register_changes(
    session: Session, person: Person, fields: dict[str, Any], *, observed_at: datetime, source: str, force: bool
) -> list[str]:
    """The register fields that would change (conflicts raise :class:`Queued` unless ``force``)."""
    changed = []
    if "full_name" in fields and canonical(person.full_name) != fields["full_name"]:
        if not force and _last_change_of(session, person.id, "full_name", other_than=source) > observed_at:
            raise Queued("SYNC_CONFLICT_NEWER_VALUE", "The register's full name was changed after you observed yours.")
        changed.append("full_name")
    if "death_date" in fields:
        if person.life_status == LifeStatus.DECEASED.value:
            held = person.life_status_date.isoformat() if person.life_status_date else None
            if held != fields["death_date"]:
                if force:
                    raise Conflict(
                        f"The register records this death on {held}: a date of death is corrected by the "
                        "civil-status procedure (a corrected death extract), not by accepting an update.",
                        code="SYNC_DEATH_DATE_DIFFERS",
                    )
                raise Queued("SYNC_CONFLICT_REGISTER", f"The register already records this death on {held}.")
        else:
            changed.append("death_date")
    for name in ("permanent_residence", "temporary_residence"):
        if name in fields and _residence_changes(session, person, name, fields[name], observed_at, force=force):
            changed.append(name)
    return changed


def _residence_changes(
    session: Session, person: Person, name: str, value: dict[str, Any], observed_at: datetime, *, force: bool
) -> bool:
    kind = "permanent" if name == "permanent_residence" else "temporary"
    current = [r for r in registry_repository.residences_of(session, person.id, current_only=True) if r.kind == kind]
    for residence in current:
        if residence.unit_code == value["unit_code"] and canonical(residence.address_line) == canonical(
            value["address_line"]
        ):
            return False
    if kind == "permanent" and current and not force and current[0].created_at > observed_at:
        raise Queued(
            "SYNC_CONFLICT_NEWER_VALUE", "A newer permanent residence was registered after you observed this move."
        )
    return True


def _last_change_of(session: Session, person_id: int, field_name: str, *, other_than: str) -> datetime:
    """When another source last changed a person field (the register's creation counts)."""
    rows = session.execute(
        select(PersonEvent.recorded_at, PersonEvent.changes, PersonEvent.source_agency)
        .where(PersonEvent.person_id == person_id)
        .order_by(PersonEvent.id.desc())
    )
    for recorded_at, changes, source in rows:
        if field_name in changes and source != other_than:
            changed_at: datetime = recorded_at
            return changed_at
    return datetime.min.replace(tzinfo=VIETNAM)


def write_register(
    session: Session,
    person: Person,
    changed: list[str],
    fields: dict[str, Any],
    *,
    principal: OfficialPrincipal,
    legal_basis: str,
) -> None:
    """Write the register fields through the registry's use cases (history, cards, residences)."""
    if "full_name" in changed:
        registry.update_person(
            session,
            principal=principal,
            pin=person.pin,
            data=PersonUpdate(full_name=fields["full_name"], legal_basis=legal_basis),
        )
    for name in ("permanent_residence", "temporary_residence"):
        if name in changed:
            kind = ResidenceKind.PERMANENT if name == "permanent_residence" else ResidenceKind.TEMPORARY
            data = ResidenceIn(
                **fields[name], kind=kind, end_current=kind is ResidenceKind.PERMANENT, legal_basis=legal_basis
            )
            if (
                kind is ResidenceKind.PERMANENT
                and registry_repository.current_permanent_residence(session, person.id) is None
            ):
                data = data.model_copy(update={"end_current": False})
            registry.register_residence(session, principal=principal, pin=person.pin, data=data)
    if "death_date" in changed:
        registry.set_life_status(
            session,
            principal=principal,
            pin=person.pin,
            data=LifeStatusIn(status=LifeStatus.DECEASED, date=fields["death_date"], legal_basis=legal_basis),
        )
