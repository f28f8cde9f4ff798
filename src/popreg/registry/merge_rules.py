"""Rules of merging two records of the same person (pure: no database, no web framework).

A duplicate is two records, hence two PINs, for one person: the register keeps one (the surviving
record) and retires the other, whose PIN then redirects to the survivor. Both histories are kept.
What follows the person to the survivor (current residences, household membership, family ties)
is decided by the service; these rules decide whether two records may be merged at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from popreg.kit.errors import Conflict, InvalidInput
from popreg.registry.rules import LifeStatus, PartialDate

MAX_CHAIN = 64
"""A chain of merges longer than this is a defect of the data, not a history (each merge retires a record)."""


class PersonMerged(Conflict):
    """The PIN read belongs to a retired record: the person's record is now ``surviving_pin``.

    The registry API answers a read of the person with ``308 Permanent Redirect`` to the survivor;
    every other operation on the retired PIN is refused with this error (409).
    """

    code = "PERSON_MERGED"

    def __init__(self, *, retired_pin: str, surviving_pin: str) -> None:
        super().__init__(
            f"The record of PIN {retired_pin} was merged into the record of PIN {surviving_pin}; "
            f"use PIN {surviving_pin}.",
            details={"retired_pin": retired_pin, "merged_into": surviving_pin},
        )
        self.retired_pin = retired_pin
        self.surviving_pin = surviving_pin


@dataclass(frozen=True, slots=True)
class MergeParty:
    """What the rules need to know of one of the two records."""

    pin: str
    sex: str
    birth: PartialDate
    life_status: LifeStatus
    merged_into: str | None = None
    """The PIN the record now redirects to, when it was already retired."""


def dates_may_agree(first: PartialDate, second: PartialDate) -> bool:
    """Two dates of birth may be the same day when their ranges overlap (``1990`` and ``1990-05-12`` do)."""
    return first.earliest() <= second.latest() and second.earliest() <= first.latest()


def identity_differences(retired: MergeParty, surviving: MergeParty) -> list[str]:
    """The identity fields on which the two records cannot describe one person."""
    differences = []
    if retired.sex != surviving.sex:
        differences.append("sex")
    if not dates_may_agree(retired.birth, surviving.birth):
        differences.append("birth_date")
    return differences


def check_merge(retired: MergeParty, surviving: MergeParty, *, allow_identity_differences: bool) -> None:
    """Whether ``retired`` may be merged into ``surviving``.

    Refused: a record into itself; a record already retired (it redirects already); into a retired
    record (merge into the record it redirects to instead, so chains stay short); two records of
    different life status (record the death or annul the declaration on one of them first); two
    records of different sex or incompatible dates of birth, unless the official states that the
    difference is a recording error (``allow_identity_differences``), which the legal basis must
    then document.
    """
    if retired.pin == surviving.pin:
        raise InvalidInput(
            "A record cannot be merged into itself: give the PIN of the record to retire and the PIN of "
            "the record to keep.",
            code="MERGE_SAME_PERSON",
            details={"field": "retired_pin"},
        )
    if retired.merged_into is not None:
        raise Conflict(
            f"The record of PIN {retired.pin} was already merged into PIN {retired.merged_into}.",
            code="MERGE_ALREADY_RETIRED",
            details={"field": "retired_pin", "merged_into": retired.merged_into},
        )
    if surviving.merged_into is not None:
        raise Conflict(
            f"The record of PIN {surviving.pin} is itself retired (merged into PIN {surviving.merged_into}); "
            f"keep PIN {surviving.merged_into} instead.",
            code="MERGE_SURVIVOR_RETIRED",
            details={"field": "surviving_pin", "merged_into": surviving.merged_into},
        )
    if retired.life_status is not surviving.life_status:
        raise Conflict(
            f"The two records differ in life status ({retired.life_status.value} and "
            f"{surviving.life_status.value}); record the death or annul the declaration on one of them first.",
            code="MERGE_LIFE_STATUS_DIFFERS",
        )
    differences = identity_differences(retired, surviving)
    if differences and not allow_identity_differences:
        raise Conflict(
            "The two records differ in " + " and ".join(field.replace("_", " ") for field in differences) + "; "
            "merge them only if the difference is a recording error, stating so explicitly.",
            code="MERGE_IDENTITY_DIFFERS",
            details={"fields": differences},
        )


def follow_chain(first_step: str, next_of: Callable[[str], str | None]) -> str:
    """The PIN a retired PIN finally redirects to: ``next_of`` gives the PIN a retired PIN was merged
    into, or ``None`` for a record that was not retired (A -> B, then B -> C: A leads to C)."""
    current = first_step
    for _ in range(MAX_CHAIN):
        following = next_of(current)
        if following is None:
            return current
        current = following
    raise Conflict("The chain of merges of this record does not end.", code="MERGE_CHAIN_BROKEN")
