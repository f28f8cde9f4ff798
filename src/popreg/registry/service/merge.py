"""Merging a duplicate record into the record that is kept, and redirecting the retired PIN.

A person registered twice holds two records and two PINs. An official with both records in their
jurisdiction retires one (the *retired* record) into the other (the *surviving* record), citing the
document that authorises it. Nothing is deleted:

* the retired record keeps its row, its PIN and its whole history; its life status becomes
  ``merged`` and its history ends with a ``person.merged_into`` event naming the survivor;
* the survivor's history gets a ``person.merged_from`` event listing what it took over;
* what follows the person moves to the survivor, each move written into both histories:
  current residences (the survivor's own permanent residence wins: the retired one is ended),
  the current household membership (with the headship of the household), and current family ties
  in both directions (a child's link to the retired parent now names the survivor);
* the retired record's identity cards and applications are cancelled by the cards package
  (domain event :class:`~popreg.kit.events.PersonsMerged`): a card carries the retired PIN;
* the numbers other agencies linked to the retired record move to the survivor (or are released)
  by the sync package, on the same event; consents stay as given and count for the survivor, which
  the sharing package finds with :func:`pins_of_same_person`;
* a ``person_merges`` row records who merged what, when and on what basis; reading the retired PIN
  redirects to the survivor, following later merges (A into B, then B into C: A leads to C).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from popreg.kit import events
from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.errors import Conflict, DomainError
from popreg.kit.events import PersonsMerged
from popreg.officials.rules import OfficialPrincipal, require_jurisdiction, require_write
from popreg.registry import repository
from popreg.registry.merge_models import PersonMerge
from popreg.registry.merge_rules import MergeParty, PersonMerged, check_merge, follow_chain
from popreg.registry.merge_schemas import MergeIn, MergeRead
from popreg.registry.models import Household, Person, PersonRelation
from popreg.registry.rules import (
    LifeStatus,
    PartialDate,
    RelationKind,
    ResidenceKind,
    diff,
    require_legal_basis,
)
from popreg.registry.service.common import (
    load_person,
    log_read,
    person_places,
    precision,
    record_event,
    refresh_home,
    residence_record,
    snapshot,
    touch,
)
from popreg.registry.service.households import _membership_record

MERGE_PURPOSE = "duplicate_merge"
Changes = dict[str, list[Any]]


def surviving_pin_of(session: Session, pin: str) -> str | None:
    """The PIN a retired PIN finally redirects to (after every later merge), or ``None`` when the
    record of ``pin`` was not retired."""
    merge = repository.merge_of_retired(session, pin)
    if merge is None:
        return None

    def next_of(step: str) -> str | None:
        following = repository.merge_of_retired(session, step)
        return following.surviving_pin if following else None

    return follow_chain(merge.surviving_pin, next_of)


def pins_of_same_person(pin: str) -> Select[tuple[str]]:
    """A query of ``pin`` and of every PIN retired into its record, directly or through a chain of
    merges, to embed in another package's query of what it keeps by PIN and what must follow the
    person to the record kept (the sharing package's consents)."""
    return repository.pins_of_same_person(pin)


def refuse_if_retired(session: Session, person: Person) -> None:
    """Refuse to read a retired record as a current one: :class:`PersonMerged` names the survivor."""
    if person.life_status == LifeStatus.MERGED:
        surviving = surviving_pin_of(session, person.pin)
        if surviving is not None:
            raise PersonMerged(retired_pin=person.pin, surviving_pin=surviving)


def merge_persons(session: Session, *, principal: OfficialPrincipal, data: MergeIn) -> MergeRead:
    """Retire ``data.retired_pin`` into ``data.surviving_pin`` (see the module's docstring).

    Both records must lie in the official's jurisdiction. Refusals (nothing stored):
    ``MERGE_SAME_PERSON``, ``MERGE_ALREADY_RETIRED``, ``MERGE_SURVIVOR_RETIRED``,
    ``MERGE_LIFE_STATUS_DIFFERS``, ``MERGE_IDENTITY_DIFFERS`` (unless ``allow_identity_differences``),
    ``MERGE_HOUSEHOLD_CONFLICT``, ``LEGAL_BASIS_REQUIRED``, ``JURISDICTION_DENIED``, ``ROLE_READ_ONLY``.
    """
    require_write(principal)
    legal_basis = require_legal_basis(data.legal_basis)
    # Both rows are locked in PIN order, so two merges of the same pair never wait on each other.
    by_pin: dict[str, Person] = {}
    for field, pin in sorted((("retired_pin", data.retired_pin), ("surviving_pin", data.surviving_pin)), key=_pin_of):
        if pin not in by_pin:
            by_pin[pin] = _load(session, pin, field=field)
    retired, surviving = by_pin[data.retired_pin], by_pin[data.surviving_pin]
    for person in by_pin.values():
        require_jurisdiction(principal, person_places(session, person))
    check_merge(
        _party(session, retired),
        _party(session, surviving),
        allow_identity_differences=data.allow_identity_differences,
    )
    today = today_in_vietnam()
    _check_households(session, retired, surviving)

    merge = _Merge(session, retired, surviving, today)
    merge.move_residences()
    merge.move_household()
    merge.move_relations()

    before = snapshot(retired)
    retired.life_status = LifeStatus.MERGED.value
    retired.life_status_date = today
    merge.retired_changes.update(diff(before, snapshot(retired)))
    merge.retired_changes["merged_into"] = [None, surviving.pin]
    earlier = repository.retired_pins_of(session, surviving.id)
    merge.surviving_changes["merged_from"] = [earlier or None, [*earlier, retired.pin]]
    # The retired record keeps the home unit it had, so the officials who knew it still find it.
    refresh_home(session, surviving)
    touch(retired)
    touch(surviving)
    record_event(
        session,
        retired,
        event_type="person.merged_into",
        changes=merge.retired_changes,
        principal=principal,
        legal_basis=legal_basis,
        effective_date=today,
    )
    record_event(
        session,
        surviving,
        event_type="person.merged_from",
        changes=merge.surviving_changes,
        principal=principal,
        legal_basis=legal_basis,
        effective_date=today,
    )
    for holder_id, changes in merge.third_party_changes.items():
        holder = session.get(Person, holder_id)
        if holder is not None:
            touch(holder)
            record_event(
                session,
                holder,
                event_type="relation.relative_merged",
                changes=changes,
                principal=principal,
                legal_basis=legal_basis,
                effective_date=today,
            )
    row = PersonMerge(
        retired_person_id=retired.id,
        surviving_person_id=surviving.id,
        retired_pin=retired.pin,
        surviving_pin=surviving.pin,
        merged_at=utc_now(),
        actor=principal.actor,
        legal_basis=legal_basis,
    )
    session.add(row)
    session.flush()
    events.publish(
        session,
        PersonsMerged(
            retired_pin=retired.pin,
            surviving_pin=surviving.pin,
            date=today,
            actor=principal.actor,
            legal_basis=legal_basis,
        ),
    )
    for pin, note in ((retired.pin, f"merged_into={surviving.pin}"), (surviving.pin, f"merged_from={retired.pin}")):
        log_read(session, principal, action="person.merge", pin=pin, fields=(note,), purpose=MERGE_PURPOSE)
    session.flush()
    return MergeRead(
        retired_pin=row.retired_pin,
        surviving_pin=row.surviving_pin,
        merged_at=row.merged_at,
        actor=row.actor,
        legal_basis=row.legal_basis,
        moved=merge.moved,
    )


def _pin_of(item: tuple[str, str]) -> str:
    return item[1]


def _load(session: Session, pin: str, *, field: str) -> Person:
    try:
        return load_person(session, pin, for_update=True)
    except DomainError as error:
        error.details = {**error.details, "field": field}
        raise


def _party(session: Session, person: Person) -> MergeParty:
    status = LifeStatus(person.life_status)
    return MergeParty(
        pin=person.pin,
        sex=person.sex,
        birth=PartialDate(person.birth_date, precision(person)),
        life_status=status,
        merged_into=surviving_pin_of(session, person.pin) if status is LifeStatus.MERGED else None,
    )


def _check_households(session: Session, retired: Person, surviving: Person) -> None:
    """A household has one head: a retired head's headship passes to the survivor only when the
    survivor belongs to no household (else an official first settles who heads which household)."""
    membership = repository.current_membership(session, retired.id)
    if membership is None or membership[1].head_person_id != retired.id:
        return
    if repository.current_membership(session, surviving.id) is not None:
        raise Conflict(
            f"The retired record heads household {membership[1].number} and the surviving record belongs to "
            "a household too; record the change of head or the move first, then merge.",
            code="MERGE_HOUSEHOLD_CONFLICT",
            details={"household_number": membership[1].number},
        )


class _Merge:
    """The moves of one merge and the history changes they make on each person."""

    def __init__(self, session: Session, retired: Person, surviving: Person, today: date) -> None:
        self.session = session
        self.retired = retired
        self.surviving = surviving
        self.today = today
        self.retired_changes: Changes = {}
        self.surviving_changes: Changes = {}
        self.third_party_changes: defaultdict[int, Changes] = defaultdict(dict)
        self.moved: list[str] = []

    def move_residences(self) -> None:
        """Current residences follow the person; one permanent residence at a time, the survivor's first."""
        kept_permanent = repository.current_permanent_residence(self.session, self.surviving.id)
        for residence in repository.residences_of(self.session, self.retired.id, current_only=True):
            household = self.session.get(Household, residence.household_id) if residence.household_id else None
            number = household.number if household else None
            key = f"residences.{residence.id}"
            before = residence_record(residence, number)
            if residence.kind == ResidenceKind.PERMANENT and kept_permanent is not None:
                residence.valid_to = max(self.today, residence.valid_from)
                self.retired_changes[key] = [before, residence_record(residence, number)]
                self.moved.append(f"residence {residence.id} ended: the surviving record has a permanent residence")
                continue
            residence.person_id = self.surviving.id
            self.retired_changes[key] = [before, None]
            self.surviving_changes[key] = [None, before]
            self.moved.append(f"{residence.kind} residence {residence.id} moved to the surviving record")
        self.session.flush()

    def move_household(self) -> None:
        """The membership moves when the survivor has none; otherwise the retired record leaves."""
        membership = repository.current_membership(self.session, self.retired.id)
        if membership is None:
            return
        member, household = membership
        key = f"households.{member.id}"
        before = _membership_record(household, member)
        if repository.current_membership(self.session, self.surviving.id) is None:
            member.person_id = self.surviving.id
            if household.head_person_id == self.retired.id:
                household.head_person_id = self.surviving.id
            self.retired_changes[key] = [before, None]
            self.surviving_changes[key] = [None, before]
            self.moved.append(f"membership of household {household.number} moved to the surviving record")
        else:
            member.left_on = max(self.today, member.joined_on)
            self.retired_changes[key] = [before, _membership_record(household, member)]
            self.moved.append(f"membership of household {household.number} ended: the survivor belongs to one")
        self.session.flush()

    def move_relations(self) -> None:
        """Current family ties follow the person, in both directions; a tie the survivor already has
        (or a tie between the two records themselves) is ended instead of doubled."""
        retired, surviving = self.retired, self.surviving
        for relation in repository.current_relations_of(self.session, retired.id):
            relative = self.session.get(Person, relation.relative_id)
            key = f"relations.{relation.id}"
            before = _relation_record(relation, relative)
            already = relation.kind != RelationKind.GUARDIAN and repository.current_relation(
                self.session, surviving.id, relation.kind
            )
            if relation.relative_id == surviving.id or already:
                relation.valid_to = self.today
                self.retired_changes[key] = [before, _relation_record(relation, relative)]
                self.moved.append(f"{relation.kind} tie {relation.id} ended: the survivor has one")
                continue
            relation.person_id = surviving.id
            self.retired_changes[key] = [before, None]
            self.surviving_changes[key] = [None, before]
            self.moved.append(f"{relation.kind} tie {relation.id} moved to the surviving record")
        self.session.flush()
        for relation in repository.current_relations_to(self.session, retired.id):
            holder_changes = (
                self.surviving_changes
                if relation.person_id == surviving.id
                else self.third_party_changes[relation.person_id]
            )
            key = f"relations.{relation.id}"
            before = _relation_record(relation, retired)
            if self._tie_would_double(relation):
                relation.valid_to = self.today
                holder_changes[key] = [before, _relation_record(relation, retired)]
                self.moved.append(f"{relation.kind} tie {relation.id} to the retired record ended")
                continue
            relation.relative_id = surviving.id
            holder_changes[key] = [before, _relation_record(relation, surviving)]
            self.moved.append(f"{relation.kind} tie {relation.id} now names the surviving record")
        self.session.flush()

    def _tie_would_double(self, relation: PersonRelation) -> bool:
        """Whether pointing another person's tie at the survivor would duplicate or contradict a tie."""
        if relation.person_id == self.surviving.id:
            return True  # the two records were tied to each other
        if relation.kind == RelationKind.SPOUSE:
            spouse = repository.current_relation(self.session, self.surviving.id, RelationKind.SPOUSE.value)
            return spouse is None or spouse.relative_id != relation.person_id
        return any(
            other.relative_id == self.surviving.id and other.kind == relation.kind
            for other in repository.current_relations_of(self.session, relation.person_id)
        )


def _relation_record(relation: PersonRelation, relative: Person | None) -> dict[str, Any]:
    """A family tie as history events carry it (the shape :func:`persons._link` writes)."""
    return {
        "kind": relation.kind,
        "relative_pin": relative.pin if relative else None,
        "relative_name": relative.full_name if relative else None,
        "valid_from": relation.valid_from.isoformat() if relation.valid_from else None,
        "valid_to": relation.valid_to.isoformat() if relation.valid_to else None,
    }
