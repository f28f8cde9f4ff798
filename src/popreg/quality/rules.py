"""What popreg measures of its own data quality, and how a figure is read (pure rules, no database).

The programme's watchword for the population database is that its data be *correct, complete,
clean and live* ("đúng, đủ, sạch, sống"). No official metric defines these words, so popreg defines
one set of measures, each with a numerator and a denominator so that an official sees how many
records are at fault and not only what share. The definitions are written out in ``docs/quality.md``;
this module is their single source in code.

Scope: every measure is taken per current (2025) province, by the person's *home province* (their
current permanent residence, else temporary, else last residence, else place of birth registration,
as kept on the person row for jurisdiction), and nationally. Persons without a known home province
count nationally only. Unless a measure says otherwise its population is the persons recorded as
alive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

NATIONAL = "national"
NO_PROVINCE = "none"
RECENT_DAYS = 365
"""The window of the "live" measures: events recorded, and records touched or verified, in the last 365 days."""

EARLIEST_PLAUSIBLE_BIRTH = date(1880, 1, 1)
"""The register's earliest accepted date of birth (``registry.rules.EARLIEST_BIRTH_YEAR``)."""

TREND_LENGTH = 8
"""How many stored snapshots the trend shows by default."""


class Dimension(StrEnum):
    CORRECT = "correct"
    COMPLETE = "complete"
    CLEAN = "clean"
    LIVE = "live"


class Kind(StrEnum):
    """How a figure's value reads: a share of the denominator, a ratio that may pass 1, or days."""

    SHARE = "share"
    RATIO = "ratio"
    MEDIAN_DAYS = "median_days"


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    dimension: Dimension
    kind: Kind
    higher_is_better: bool
    label: str
    definition: str
    headline: bool = False


MEASURES: tuple[Measure, ...] = (
    Measure(
        "correct",
        Dimension.CORRECT,
        Kind.SHARE,
        True,
        "Correct records",
        "Persons alive whose PIN agrees with their record and whose dates are plausible (the next two measures).",
        headline=True,
    ),
    Measure(
        "correct.pin_consistent",
        Dimension.CORRECT,
        Kind.SHARE,
        True,
        "PIN agrees with the record",
        "Persons alive whose PIN's first three digits equal the recorded birth-registration code, "
        "whose century-and-sex digit equals 2 x (century after 1900) + (1 if female), and whose "
        "year digits equal the last two digits of the year of birth (Circular 59/2021, Art. 4).",
    ),
    Measure(
        "correct.dates_plausible",
        Dimension.CORRECT,
        Kind.SHARE,
        True,
        "Plausible dates",
        "Persons alive born on or after 1880-01-01 and not after the day of measurement, whose "
        "life-status date (if any) is not before their birth, and who are younger than every "
        "recorded father and mother.",
    ),
    Measure(
        "correct.cards_agree",
        Dimension.CORRECT,
        Kind.SHARE,
        True,
        "Card number agrees with the PIN",
        "Of the persons alive who hold a produced or issued identity card, those whose card number "
        "is their current PIN.",
    ),
    Measure(
        "complete",
        Dimension.COMPLETE,
        Kind.SHARE,
        True,
        "Complete records",
        "Persons alive with all three mandatory items below.",
        headline=True,
    ),
    Measure(
        "complete.ethnicity_known",
        Dimension.COMPLETE,
        Kind.SHARE,
        True,
        "Ethnicity known",
        "Persons alive whose ethnic group is recorded.",
    ),
    Measure(
        "complete.birth_date_to_day",
        Dimension.COMPLETE,
        Kind.SHARE,
        True,
        "Date of birth to the day",
        "Persons alive whose date of birth is known to the day (not only the month or the year).",
    ),
    Measure(
        "complete.permanent_residence",
        Dimension.COMPLETE,
        Kind.SHARE,
        True,
        "Current permanent residence",
        "Persons alive with a permanent residence registration that has not ended.",
    ),
    Measure(
        "complete.census_coverage",
        Dimension.COMPLETE,
        Kind.RATIO,
        True,
        "Coverage of the census population",
        "Persons alive divided by the population counted at the 1 April 2019 census (GSO) in the "
        "pre-2025 provinces that form the province. Near 1 for a full register; a synthetic or "
        "partial register shows its sampling rate.",
    ),
    Measure(
        "clean.current_unit_codes",
        Dimension.CLEAN,
        Kind.SHARE,
        True,
        "Addresses on current unit codes",
        "Current residence registrations (not ended on the day of measurement) of persons alive "
        "whose address is recorded on the units in force since 1 July 2025.",
        headline=True,
    ),
    Measure(
        "clean.duplicate_candidates",
        Dimension.CLEAN,
        Kind.SHARE,
        False,
        "Likely duplicates awaiting review",
        "Persons alive who are open candidates of a duplicate cluster in the latest finished run of "
        "`popreg match dedupe`. Not measured before a first run.",
    ),
    Measure(
        "live.touched_or_verified",
        Dimension.LIVE,
        Kind.SHARE,
        True,
        "Records updated or confirmed in the last year",
        "Persons alive whose record was created or changed, or confirmed by a partner (the next two "
        "measures), in the 365 days up to the day of measurement.",
        headline=True,
    ),
    Measure(
        "live.touched_recently",
        Dimension.LIVE,
        Kind.SHARE,
        True,
        "Records updated in the last year",
        "Persons alive whose record was created or changed in the 365 days up to the day of measurement.",
    ),
    Measure(
        "live.verified_recently",
        Dimension.LIVE,
        Kind.SHARE,
        True,
        "Records confirmed by a partner in the last year",
        "Persons alive of whom a partner verified claims that all matched the register (a single "
        "verification, or an item of a batch or bulk one) in the 365 days up to the day of measurement.",
    ),
    Measure(
        "live.birth_delay",
        Dimension.LIVE,
        Kind.MEDIAN_DAYS,
        False,
        "Days from birth to registration (median)",
        "Median days from the date of birth to the day (Vietnam time) the birth was registered, over "
        "registrations recorded in the last 365 days with a date of birth known to the day.",
    ),
    Measure(
        "live.death_delay",
        Dimension.LIVE,
        Kind.MEDIAN_DAYS,
        False,
        "Days from death to recording (median)",
        "Median days from the date of death to the day it was recorded, over deaths recorded in the last 365 days.",
    ),
    Measure(
        "live.move_delay",
        Dimension.LIVE,
        Kind.MEDIAN_DAYS,
        False,
        "Days from a move to its registration (median)",
        "Median days from the date a residence starts to the day it was registered, over residence "
        "registrations recorded in the last 365 days.",
    ),
)
MEASURES_BY_KEY: Mapping[str, Measure] = {measure.key: measure for measure in MEASURES}

LIFE_EVENT_TYPES: Mapping[str, tuple[str, ...]] = {
    "live.birth_delay": ("person.registered",),
    "live.death_delay": ("person.died",),
    "live.move_delay": ("residence.permanent_registered", "residence.temporary_registered"),
}
"""Which history events record each kind of life event. Imported records (``person.imported``) are
left out: their recording time is that of the migration, not of the event."""

# What confirms a record, for "verified recently": a verification by a partner that knew the person
# well enough for every claim to match. A read (eKYC, action "read") does not count: the partner
# receives the register's data and confirms nothing (and an agency reads on a legal basis without the
# person taking part). Neither does a no-match, a refused request or an invalid item: the partner's
# data disagreed, or was never compared. ``popreg.sharing`` writes these actions and results
# (gateway.py, bulk.py).
CONFIRMED = "match"
"""The result of a verification whose every claimed attribute agreed with the register."""
VERIFICATION_ACTIONS = ("verify",)
"""Access-log actions of one verification: the entry itself names the person and holds the result."""
ITEMISED_VERIFICATION_ACTIONS = ("verify.batch", "verify.bulk")
"""Access-log actions whose items (``access_log_item``) name each person verified, with their result."""


@dataclass(frozen=True, slots=True)
class Figure:
    """One measure in one scope. ``value`` is ``None`` when the measure was not taken."""

    measure: str
    numerator: int | None
    denominator: int | None
    value: float | None

    @classmethod
    def share(cls, measure: str, numerator: int, denominator: int) -> Figure:
        return cls(measure, numerator, denominator, numerator / denominator if denominator else None)

    @classmethod
    def median(cls, measure: str, days: float | None, events: int) -> Figure:
        return cls(measure, None, events, days if events else None)

    @classmethod
    def not_measured(cls, measure: str) -> Figure:
        return cls(measure, None, None, None)


def window_start(as_of: date) -> date:
    """The first day of the "live" window that ends on ``as_of``."""
    return as_of - timedelta(days=RECENT_DAYS - 1)


def census_by_province(census: Iterable[tuple[str, int]], current_province: Mapping[str, str]) -> dict[str, int]:
    """The 2019 census population of each current province: the sum of the pre-2025 provinces that
    went into it (Resolution 202/2025/QH15 merged every old province whole into one new one)."""
    totals: dict[str, int] = {}
    for old_code, population in census:
        new_code = current_province.get(old_code)
        if new_code is not None:
            totals[new_code] = totals.get(new_code, 0) + population
    return totals


def format_value(measure: Measure, value: float | None) -> str:
    """A figure's value as an official reads it: ``97.3%``, ``0.011`` or ``12 days``."""
    if value is None:
        return "not measured"
    if measure.kind is Kind.SHARE:
        return f"{value * 100:.1f}%"
    if measure.kind is Kind.RATIO:
        return f"{value:.3f}"
    return f"{value:g} days"
