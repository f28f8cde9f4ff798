"""Duplicate records with realistic, labelled defects, for record-linkage and data-quality work.

A duplicate is a second record of an existing person, as registers accumulate them: entered again
by another office, migrated from an older system, or sent by another agency. Each duplicate
carries one defect, and three in ten a second one:

* ``typo`` - one name part misspelt (wrong or missing tone mark, l/n, i/y, s/x, d/gi, ch/tr, a
  dropped final letter, two letters swapped, a letter dropped or doubled);
* ``lost_diacritics`` - the name written without diacritics ("Nguyen Van An"); its folded key is
  the same as the original's;
* ``swapped_day_month`` - day and month of birth exchanged (only where the day is 12 or less and
  differs from the month, and the date is known to the day);
* ``missing_field`` - the middle name, the commune of birth registration or the place of origin
  left empty (whichever the original has);
* ``outdated_address`` - the permanent residence still recorded on the pre-2025 commune code of
  the same place (only for persons whose household is recorded on the 2025 units).

Half the duplicates keep the original's PIN (the same number typed under a misspelt name, as an
inbound feed would send it); the others carry a different, wrongly issued PIN that is still
consistent with the duplicate's own date of birth, sex and province of birth registration, so
it passes a PIN check and only matching finds it. Note that a register enforcing one record per
PIN cannot load the duplicates that share their original's PIN: load them as an inbound feed, or
draw the population with ``duplicate_same_pin_share=0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

import numpy as np
import pyarrow as pa

from popreg.synth.alias import AliasTable
from popreg.synth.arrays import BoolArray, IntArray
from popreg.synth.columns import from_vocabulary
from popreg.synth.names import TYPO_VARIANTS, name_parts
from popreg.synth.persons import DAY, PersonDraws, calendar_parts, from_calendar


class Defect(IntFlag):
    """The defects a duplicate can carry; ``label`` gives the stored text."""

    TYPO = 1
    LOST_DIACRITICS = 2
    SWAPPED_DAY_MONTH = 4
    MISSING_FIELD = 8
    OUTDATED_ADDRESS = 16


DEFECT_CODES = ("typo", "lost_diacritics", "swapped_day_month", "missing_field", "outdated_address")
_DEFECTS = AliasTable.single((0.3, 0.25, 0.1, 0.15, 0.2))
_SECOND_DEFECT_SHARE = 0.3
_TYPO_PARTS = AliasTable.single((0.25, 0.15, 0.6))
"""Family, middle, given: the given name is written most often and so misspelt most often."""


def defect_label(flags: int) -> str:
    """The stored label of a combination of defects, codes joined by ``;`` ("typo;outdated_address")."""
    return ";".join(code for bit, code in enumerate(DEFECT_CODES) if flags & (1 << bit))


_LABELS = pa.array([defect_label(flags) or None for flags in range(1 << len(DEFECT_CODES))], pa.string())


@dataclass(frozen=True)
class Duplicates:
    """Duplicate records: their source person (index into the originals), their draws and defects."""

    source: IntArray
    draws: PersonDraws
    defects: IntArray
    stripped: BoolArray
    same_pin: BoolArray

    @property
    def outdated_address(self) -> BoolArray:
        outdated: BoolArray = (self.defects & Defect.OUTDATED_ADDRESS) != 0
        return outdated

    def labels(self) -> pa.StringArray:
        """The defect label of each duplicate."""
        return from_vocabulary(_LABELS, self.defects)


def _eligibility(draws: PersonDraws, on_2025_units: BoolArray) -> list[BoolArray]:
    _, month, day = calendar_parts(draws.birth_day)
    has_missing = (
        (draws.middle != name_parts().empty_middle) | (draws.birth_unit_place >= 0) | (draws.origin_place >= 0)
    )
    always = np.ones(len(draws), dtype=bool)
    return [
        always,
        always,
        (draws.precision == DAY) & (day <= 12) & (day != month),
        has_missing,
        on_2025_units & ~draws.deceased,
    ]


def _choose_defects(rng: np.random.Generator, eligible: list[BoolArray]) -> IntArray:
    size = len(eligible[0])
    allowed = np.stack(eligible, axis=1)
    first = _DEFECTS.draw(rng.random(size))
    first = np.where(allowed[np.arange(size), first], first, 0)
    second = _DEFECTS.draw(rng.random(size))
    add_second = (rng.random(size) < _SECOND_DEFECT_SHARE) & allowed[np.arange(size), second] & (second != first)
    return (1 << first) | np.where(add_second, 1 << second, 0)


def _misspell(rng: np.random.Generator, draws: PersonDraws, chosen: BoolArray) -> PersonDraws:
    parts = name_parts()
    size = len(draws)
    part = _TYPO_PARTS.draw(rng.random(size))
    part = np.where((part == 1) & (draws.middle == parts.empty_middle), 2, part)
    variant = rng.integers(0, TYPO_VARIANTS, size)
    changes = {}
    for index, (name, vocabulary) in enumerate(
        (("family", parts.family), ("middle", parts.middle), ("given", parts.given))
    ):
        current: IntArray = getattr(draws, name)
        misspelt = vocabulary.size + current * TYPO_VARIANTS + variant
        changes[name] = np.where(chosen & (part == index), misspelt, current)
    return draws.with_changes(**changes)


def _swap_day_and_month(draws: PersonDraws, chosen: BoolArray) -> PersonDraws:
    year, month, day = calendar_parts(draws.birth_day)
    swapped = from_calendar(year, np.where(chosen, day, month), np.where(chosen, month, day))
    return draws.with_changes(birth_day=swapped)


def _empty_a_field(rng: np.random.Generator, draws: PersonDraws, chosen: BoolArray) -> PersonDraws:
    empty_middle = name_parts().empty_middle
    available = np.stack([draws.middle != empty_middle, draws.birth_unit_place >= 0, draws.origin_place >= 0], axis=1)
    # A random field among those the record has: random keys, the unavailable ones never win.
    field = np.argmax(np.where(available, rng.random(available.shape), -1.0), axis=1)
    return draws.with_changes(
        middle=np.where(chosen & (field == 0), empty_middle, draws.middle),
        birth_unit_place=np.where(chosen & (field == 1), -1, draws.birth_unit_place),
        origin_place=np.where(chosen & (field == 2), -1, draws.origin_place),
    )


def make_duplicates(
    rng: np.random.Generator,
    originals: PersonDraws,
    count: int,
    *,
    on_2025_units: BoolArray,
    same_pin_share: float,
) -> Duplicates:
    """``count`` duplicates of distinct persons drawn at random among the originals.

    ``on_2025_units`` says, per original, whether its permanent residence is recorded on the 2025
    units (an outdated address is only a defect for those).
    """
    source = np.sort(rng.choice(len(originals), size=count, replace=False))
    draws = originals.take(source)
    defects = _choose_defects(rng, _eligibility(draws, on_2025_units[source]))
    draws = _misspell(rng, draws, (defects & Defect.TYPO) != 0)
    draws = _swap_day_and_month(draws, (defects & Defect.SWAPPED_DAY_MONTH) != 0)
    draws = _empty_a_field(rng, draws, (defects & Defect.MISSING_FIELD) != 0)
    return Duplicates(
        source=source,
        draws=draws,
        defects=defects,
        stripped=(defects & Defect.LOST_DIACRITICS) != 0,
        same_pin=rng.random(count) < same_pin_share,
    )
