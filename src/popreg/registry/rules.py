"""Civil-status rules of the register, as plain Python (no database, no web framework).

Every function here either returns a value or raises a :class:`~popreg.kit.errors.DomainError` with
a stable code; the service calls them before it writes anything, so a refused change stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from popreg.kit.errors import Conflict, InvalidInput

EARLIEST_BIRTH_YEAR = 1880
# The fields of a person that the register records and history events carry (the folded name, the
# home unit and the version are derived, not registered).
PERSON_FIELDS = (
    "pin",
    "full_name",
    "family_name",
    "middle_name",
    "given_name",
    "birth_date",
    "birth_date_precision",
    "sex",
    "ethnicity_code",
    "religion_code",
    "nationality",
    "birth_registration_code",
    "birth_registration_unit_code",
    "origin_unit_code",
    "origin_unit_generation",
    "life_status",
    "life_status_date",
)


class DatePrecision(StrEnum):
    """How much of a date of birth is known: older records often carry only the year."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class LifeStatus(StrEnum):
    """Life status (Law on Civil Status 2014; Civil Code 2015 Art. 68 and 71 on declarations by a court)."""

    ALIVE = "alive"
    DECEASED = "deceased"
    DECLARED_MISSING = "declared_missing"
    DECLARED_DEAD = "declared_dead"
    # Not a civil status of the person: the record was a duplicate and was retired by a merge into
    # the surviving record, to which its PIN now redirects (see registry/service/merge.py).
    MERGED = "merged"


class ResidenceKind(StrEnum):
    """Law on Residence 2020: a permanent residence (one at a time) and temporary residences."""

    PERMANENT = "permanent"
    TEMPORARY = "temporary"


class RelationKind(StrEnum):
    FATHER = "father"
    MOTHER = "mother"
    SPOUSE = "spouse"
    GUARDIAN = "guardian"


class HouseholdRelationship(StrEnum):
    """A member's relationship to the head of the household, as the residence register records it."""

    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDCHILD = "grandchild"
    GRANDPARENT = "grandparent"
    SIBLING = "sibling"
    CHILD_IN_LAW = "child_in_law"
    OTHER = "other"


_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date of birth with its precision. Unknown parts are stored as the first month or day."""

    value: date
    precision: DatePrecision

    @classmethod
    def parse(cls, text: str, *, field: str = "birth_date") -> PartialDate:
        """Read ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; anything else is ``DATE_INVALID``."""
        match = _PARTIAL_DATE.match(text.strip())
        if not match:
            raise InvalidInput(
                f"{field} must be written YYYY-MM-DD, or YYYY-MM or YYYY when only part of it is known.",
                code="DATE_INVALID",
                details={"field": field, "value": text},
            )
        year, month, day = match.group(1), match.group(2), match.group(3)
        try:
            value = date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            raise InvalidInput(
                f"{field} {text} is not a date that exists.",
                code="DATE_INVALID",
                details={"field": field, "value": text},
            ) from None
        precision = DatePrecision.DAY if day else DatePrecision.MONTH if month else DatePrecision.YEAR
        return cls(value, precision)

    def earliest(self) -> date:
        return self.value

    def latest(self) -> date:
        """The last day the partial date may stand for."""
        if self.precision is DatePrecision.YEAR:
            return date(self.value.year, 12, 31)
        if self.precision is DatePrecision.MONTH:
            next_month = date(self.value.year + self.value.month // 12, self.value.month % 12 + 1, 1)
            return date.fromordinal(next_month.toordinal() - 1)
        return self.value

    def __str__(self) -> str:
        if self.precision is DatePrecision.YEAR:
            return f"{self.value.year:04d}"
        if self.precision is DatePrecision.MONTH:
            return f"{self.value.year:04d}-{self.value.month:02d}"
        return self.value.isoformat()


def check_birth_date(birth: PartialDate, *, today: date) -> None:
    """A date of birth cannot be in the future, nor earlier than any living record could be."""
    if birth.earliest() > today:
        raise InvalidInput(
            f"The date of birth {birth} is in the future.",
            code="BIRTH_DATE_IN_FUTURE",
            details={"field": "birth_date"},
        )
    if birth.value.year < EARLIEST_BIRTH_YEAR:
        raise InvalidInput(
            f"The date of birth {birth} is before {EARLIEST_BIRTH_YEAR}; check the year.",
            code="BIRTH_DATE_IMPOSSIBLE",
            details={"field": "birth_date"},
        )


def check_event_date(event_date: date, *, birth: PartialDate, today: date, field: str) -> None:
    """A life event (death, move) happens after birth and not in the future."""
    if event_date > today:
        raise InvalidInput(f"{field} {event_date} is in the future.", code="DATE_IN_FUTURE", details={"field": field})
    if event_date < birth.earliest():
        raise InvalidInput(
            f"{field} {event_date} is before the person's date of birth ({birth}).",
            code="DATE_BEFORE_BIRTH",
            details={"field": field},
        )


def require_legal_basis(legal_basis: str | None) -> str:
    """Every change to the register cites the document that authorises it (decision, extract, form)."""
    text = (legal_basis or "").strip()
    if len(text) < 3:
        raise InvalidInput(
            "A change to the register needs its legal basis: the number and date of the document "
            "that authorises it (for example 'Trích lục khai tử số 12/2026 ngày 03/01/2026').",
            code="LEGAL_BASIS_REQUIRED",
            details={"field": "legal_basis"},
        )
    return text


def check_parent_older(*, parent: PartialDate, child: PartialDate, kind: RelationKind) -> None:
    """A parent is born before the child; with partial dates, only a certain contradiction is refused."""
    if parent.earliest() >= child.latest():
        raise InvalidInput(
            f"The {kind.value} (born {parent}) cannot be born after the child (born {child}).",
            code="RELATION_PARENT_NOT_OLDER",
            details={"field": "relative_pin"},
        )


def check_life_transition(current: LifeStatus, new: LifeStatus) -> None:
    """Death is final except by a court's annulment of a declaration (missing / dead). A merged
    (retired) record never changes again, and only the merge procedure retires a record."""
    if current is LifeStatus.MERGED:
        raise_merged()
    if new is LifeStatus.MERGED:
        raise Conflict(
            "A record is retired only by merging it into the record it duplicates.",
            code="LIFE_STATUS_TRANSITION_INVALID",
        )
    if new is LifeStatus.ALIVE:
        if current not in (LifeStatus.DECLARED_MISSING, LifeStatus.DECLARED_DEAD):
            raise Conflict(
                "Only a court declaration of missing or dead can be annulled back to alive.",
                code="LIFE_STATUS_TRANSITION_INVALID",
            )
        return
    if current is LifeStatus.DECEASED:
        raise Conflict("The person is already recorded as deceased.", code="PERSON_ALREADY_DECEASED")
    if current is new:
        raise Conflict(f"The person is already recorded as {new.value}.", code="LIFE_STATUS_UNCHANGED")


def raise_merged() -> None:
    raise Conflict(
        "This record was merged into another person's record and is no longer kept up to date; "
        "change the surviving record (reading this PIN tells which).",
        code="PERSON_MERGED",
    )


def require_alive(status: LifeStatus, *, action: str) -> None:
    if status is LifeStatus.MERGED:
        raise_merged()
    if status in (LifeStatus.DECEASED, LifeStatus.DECLARED_DEAD):
        raise Conflict(f"Cannot {action}: the person is recorded as {status.value}.", code="PERSON_DECEASED")


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The fields that differ, as ``{field: [before, after]}`` (the shape of a history event)."""
    return {key: [before.get(key), after[key]] for key in after if before.get(key) != after[key]}


# The parts of the as-of state that are collections of records keyed by id inside events.
COLLECTIONS = ("residences", "relations", "households", "cards")


def replay(changes_in_order: Iterable[Mapping[str, list[Any]]]) -> dict[str, Any]:
    """Rebuild a person's record from the ``changes`` of their history events, oldest first.

    Plain keys are person fields. Keys ``residences.<id>``, ``relations.<id>`` and
    ``households.<id>`` and ``cards.<id>`` carry a whole sub-record; an ``after`` of ``None`` removes it.
    """
    state: dict[str, Any] = {name: {} for name in COLLECTIONS}
    for changes in changes_in_order:
        for key, (_before, after) in changes.items():
            collection, _, item_id = key.partition(".")
            if item_id and collection in COLLECTIONS:
                if after is None:
                    state[collection].pop(item_id, None)
                else:
                    state[collection][item_id] = after
            else:
                state[key] = after
    for name in COLLECTIONS:
        state[name] = [state[name][key] for key in sorted(state[name], key=int)]
    return state
