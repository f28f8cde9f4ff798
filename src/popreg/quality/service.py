"""Use cases of data quality: measure the register, store a snapshot, and show an official the measures
of their jurisdiction with their trend.

Measuring reads the whole register (one aggregate query per measure), so the console and the API show
the latest stored snapshot by default and measure only when asked (``live``) or when nothing is
stored yet. Snapshots are taken by ``popreg quality snapshot`` (for a nightly timer) or
``popreg quality report --save``.

Every measurement first folds the access-log entries written since the last one into the day each
person was last confirmed by a partner (:func:`fold_verifications`), so "verified recently" reads one
row per person and never the whole log.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as day_time
from functools import cache
from importlib.resources import files

from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.kit.clock import VIETNAM, today_in_vietnam, utc_now
from popreg.kit.errors import Forbidden
from popreg.officials.rules import OfficialPrincipal
from popreg.quality import repository
from popreg.quality.models import QualitySnapshot
from popreg.quality.repository import ParentConflicts, PartCounts, PersonCounts, ResidenceCounts
from popreg.quality.rules import (
    MEASURES,
    NATIONAL,
    NO_PROVINCE,
    TREND_LENGTH,
    Figure,
    census_by_province,
    window_start,
)
from popreg.quality.schemas import DuplicateRunRead, FigureRead, QualityRead, ScopeRead, TrendPointRead
from popreg.units.catalogue import UnitGeneration, UnitLevel, UnknownUnitError, get_unit, to_current

Figures = dict[str, Figure]


@dataclass(frozen=True, slots=True)
class VerificationFold:
    """One fold of the access log: the entries after ``after_seq`` up to ``through_seq`` were read, and
    ``persons`` persons got a new "last confirmed" day."""

    after_seq: int
    through_seq: int
    persons: int
    seconds: float


@dataclass(slots=True)
class Measurement:
    """The measures of every scope measured, as of one day (``fold``: the access log folded first, if
    this measurement could write)."""

    as_of: date
    measured_at: datetime
    seconds: float
    duplicate_run: tuple[int, datetime] | None
    scopes: dict[str, Figures] = field(default_factory=dict)
    fold: VerificationFold | None = None


@cache
def census_population() -> Mapping[str, int]:
    """The 2019 census population of each current province (``synth/data/provinces_2019.json``, GSO)."""
    text = files("popreg.synth").joinpath("data", "provinces_2019.json").read_text(encoding="utf-8")
    census = [(item["code"], int(item["population"])) for item in json.loads(text)["items"]]
    current = {}
    for old_code, _population in census:
        merged_into = to_current(old_code, UnitLevel.PROVINCE)
        if merged_into:
            current[old_code] = merged_into[0].code
    return census_by_province(census, current)


def province_name(scope: str) -> str:
    if scope == NATIONAL:
        return "Việt Nam"
    if scope == NO_PROVINCE:
        return "No home province"
    unit = get_unit(scope, UnitGeneration.Y2025)
    return unit.name if unit is not None else scope


def require_province(code: str) -> str:
    """A current (2025) province code, else ``UNIT_UNKNOWN``."""
    unit = get_unit(code, UnitGeneration.Y2025)
    if unit is None or unit.level is not UnitLevel.PROVINCE:
        raise UnknownUnitError(code, UnitGeneration.Y2025)
    return code


def _start_of_day_utc(day: date) -> datetime:
    return datetime.combine(day, day_time(0), tzinfo=VIETNAM).astimezone(UTC)


def _scope(province: str | None) -> str:
    return province if province is not None else NO_PROVINCE


def _median_of_middles(delays: Sequence[int]) -> float:
    return sum(delays) / len(delays)


@dataclass(frozen=True, slots=True)
class RecordCounts:
    """Counts of one province's persons alive, for the correct and complete measures."""

    province: str | None
    alive: int
    pin_consistent: int
    dates_plausible: int
    correct: int
    ethnicity_known: int
    birth_date_to_day: int
    permanent_residence: int
    complete: int
    touched_recently: int
    verified_recently: int
    touched_or_verified: int


def combine_counts(
    persons: Iterable[PersonCounts], conflicts: Iterable[ParentConflicts], residences: Iterable[ResidenceCounts]
) -> list[RecordCounts]:
    """Per province: the persons' own checks, less those born on or before a parent (dates and correct),
    with the holders of a current permanent residence (permanent, and complete)."""
    conflicts_of = {row.province: row for row in conflicts}
    residences_of = {row.province: row for row in residences}
    combined = []
    for row in persons:
        conflict = conflicts_of.get(row.province, ParentConflicts(row.province, 0, 0))
        residence = residences_of.get(row.province, ResidenceCounts(row.province, 0, 0, 0, 0))
        combined.append(
            RecordCounts(
                province=row.province,
                alive=row.alive,
                pin_consistent=row.pin_consistent,
                dates_plausible=row.dates_in_range - conflict.dates_in_range,
                correct=row.pin_and_dates_in_range - conflict.pin_and_dates_in_range,
                ethnicity_known=row.ethnicity_known,
                birth_date_to_day=row.birth_date_to_day,
                permanent_residence=residence.with_permanent,
                complete=residence.with_permanent_ethnicity_and_day,
                touched_recently=row.touched_recently,
                verified_recently=row.verified_recently,
                touched_or_verified=row.touched_or_verified,
            )
        )
    return combined


def fold_verifications(session: Session) -> VerificationFold | None:
    """Bring the per-person day of the last confirmation by a partner up to the end of the access log.

    Only the entries logged since the previous fold are read (a watermark keeps the last sequence number
    folded), in one set-based statement, so the nightly cost follows the day's traffic and not the
    log's size; folding twice counts nothing twice. On a read-only database (a replica) nothing is
    folded and ``None`` is returned: the measure then reads what the primary folded last.
    """
    if repository.is_read_only(session):
        return None
    started = time.perf_counter()
    now = utc_now()
    after = repository.take_watermark(session, now=now)
    through = audit.last_seq(session)
    persons = 0
    if through > after:
        persons = repository.fold_verifications(session, after_seq=after, through_seq=through)
        repository.move_watermark(session, folded_seq=through, now=now)
    return VerificationFold(after, max(after, through), persons, round(time.perf_counter() - started, 3))


def measure_register(session: Session, *, as_of: date | None = None, province: str | None = None) -> Measurement:
    """Take every measure of ``docs/quality.md``, per province and nationally, or for one province,
    after folding the access log's new verifications (:func:`fold_verifications`)."""
    started = time.perf_counter()
    as_of = as_of or today_in_vietnam()
    if province is not None:
        require_province(province)
    fold = fold_verifications(session)
    verifications_folded = fold is not None or repository.folded_through(session) is not None
    since = _start_of_day_utc(window_start(as_of))
    until = _start_of_day_utc(date.fromordinal(as_of.toordinal() + 1))
    residences = repository.residence_counts(session, as_of=as_of, province=province)
    records = combine_counts(
        repository.person_counts(
            session, as_of=as_of, touched_since=since, verified_since=window_start(as_of), province=province
        ),
        repository.parent_conflicts(session, as_of=as_of, province=province),
        residences,
    )
    cards = repository.card_counts(session, province=province)
    units = [PartCounts(row.province, row.current_on_2025_units, row.current) for row in residences]
    duplicate_run = repository.latest_duplicate_run(session) if repository.has_duplicate_tables(session) else None
    duplicates = (
        repository.open_duplicate_counts(session, run_id=duplicate_run[0], province=province)
        if duplicate_run is not None
        else None
    )
    delays = repository.middle_delays(
        session, recorded_from=since, recorded_before=until, province=province, by_province=True
    )
    if province is None:
        delays += [
            repository.MiddleDelay(delay.measure, NATIONAL, delay.delay_days, delay.events)
            for delay in repository.middle_delays(
                session, recorded_from=since, recorded_before=until, province=None, by_province=False
            )
        ]
    scopes = _figures(
        records=records,
        cards=cards,
        units=units,
        duplicates=duplicates,
        delays=delays,
        verifications_folded=verifications_folded,
        national=province is None,
        only=province,
    )
    return Measurement(
        as_of=as_of,
        measured_at=utc_now(),
        seconds=round(time.perf_counter() - started, 3),
        duplicate_run=duplicate_run,
        scopes=scopes,
        fold=fold,
    )


def _figures(
    *,
    records: Sequence[RecordCounts],
    cards: Sequence[PartCounts],
    units: Sequence[PartCounts],
    duplicates: Sequence[PartCounts] | None,
    delays: Sequence[repository.MiddleDelay],
    verifications_folded: bool,
    national: bool,
    only: str | None,
) -> dict[str, Figures]:
    """Figures of each scope from the grouped counts; the national figures are their sums (medians are
    measured nationally by the database, a median of medians would be wrong). The measures of
    confirmations are not measured on a database where the access log was never folded (a replica
    before the primary's first fold): that is not the same as nobody verified."""
    zeros = [0] * (len(RecordCounts.__dataclass_fields__) - 1)
    empty = RecordCounts(None, *zeros)
    by_scope: dict[str, RecordCounts] = {_scope(row.province): row for row in records}
    if only is not None:
        by_scope.setdefault(only, RecordCounts(only, *zeros))
    if national:
        by_scope[NATIONAL] = _sum_records(records) if records else empty
    parts = {
        "correct.cards_agree": _by_scope(cards, national),
        "clean.current_unit_codes": _by_scope(units, national),
    }
    open_duplicates = _by_scope(duplicates, national) if duplicates is not None else None
    middles: dict[tuple[str, str], list[int]] = defaultdict(list)
    events: dict[tuple[str, str], int] = {}
    for delay in delays:
        scope = delay.province if delay.province == NATIONAL else _scope(delay.province)
        middles[(scope, delay.measure)].append(delay.delay_days)
        events[(scope, delay.measure)] = delay.events
    census = census_population()
    result: dict[str, Figures] = {}
    for scope, counts in by_scope.items():
        alive = counts.alive
        expected = sum(census.values()) if scope == NATIONAL else census.get(scope)
        figures = [
            Figure.share("correct", counts.correct, alive),
            Figure.share("correct.pin_consistent", counts.pin_consistent, alive),
            Figure.share("correct.dates_plausible", counts.dates_plausible, alive),
            Figure.share("complete", counts.complete, alive),
            Figure.share("complete.ethnicity_known", counts.ethnicity_known, alive),
            Figure.share("complete.birth_date_to_day", counts.birth_date_to_day, alive),
            Figure.share("complete.permanent_residence", counts.permanent_residence, alive),
            Figure("complete.census_coverage", alive, expected, alive / expected if expected else None),
            Figure.share("live.touched_recently", counts.touched_recently, alive),
        ]
        if verifications_folded:
            figures.append(Figure.share("live.verified_recently", counts.verified_recently, alive))
            figures.append(Figure.share("live.touched_or_verified", counts.touched_or_verified, alive))
        else:
            figures.append(Figure.not_measured("live.verified_recently"))
            figures.append(Figure.not_measured("live.touched_or_verified"))
        for measure, counted in parts.items():
            numerator, denominator = counted.get(scope, (0, 0))
            figures.append(Figure.share(measure, numerator, denominator))
        if open_duplicates is None:
            figures.append(Figure.not_measured("clean.duplicate_candidates"))
        else:
            figures.append(Figure.share("clean.duplicate_candidates", open_duplicates.get(scope, (0, 0))[0], alive))
        for measure in ("live.birth_delay", "live.death_delay", "live.move_delay"):
            found = middles.get((scope, measure))
            figures.append(
                Figure.median(measure, _median_of_middles(found), events[(scope, measure)])
                if found
                else Figure.median(measure, None, 0)
            )
        order = {measure.key: position for position, measure in enumerate(MEASURES)}
        result[scope] = {figure.measure: figure for figure in sorted(figures, key=lambda f: order[f.measure])}
    return result


def _sum_records(records: Iterable[RecordCounts]) -> RecordCounts:
    rows = list(records)
    totals = [
        sum(getattr(row, name) for row in rows) for name in RecordCounts.__dataclass_fields__ if name != "province"
    ]
    return RecordCounts(NATIONAL, *totals)


def _by_scope(parts: Iterable[PartCounts], national: bool) -> dict[str, tuple[int, int]]:
    result = {_scope(part.province): (part.numerator, part.denominator) for part in parts}
    if national:
        result[NATIONAL] = (sum(n for n, _ in result.values()), sum(d for _, d in result.values()))
    return result


def take_snapshot(session: Session, *, taken_by: str, as_of: date | None = None) -> tuple[int, Measurement]:
    """Measure the whole register and store every scope's figures, for the trend."""
    measurement = measure_register(session, as_of=as_of)
    snapshot = repository.add_snapshot(
        session,
        taken_at=measurement.measured_at,
        as_of=measurement.as_of,
        taken_by=taken_by,
        seconds=measurement.seconds,
        duplicate_run=measurement.duplicate_run,
        figures=(
            (scope, figure.measure, figure.numerator, figure.denominator, figure.value)
            for scope, figures in measurement.scopes.items()
            for figure in figures.values()
        ),
    )
    return snapshot.id, measurement


def visible_province(principal: OfficialPrincipal) -> str | None:
    """The province whose measures an official sees, ``None`` for the whole country.

    National administrators and auditors without a jurisdiction see every province and the nation; a
    province officer sees their province, and a commune officer the province of their commune (the
    measures are counts per province and name no one).
    """
    code = principal.jurisdiction_code
    if code is None:
        return None
    if len(code) == 2:
        return code
    unit = get_unit(code, UnitGeneration.Y2025)
    return unit.province_code if unit is not None else code


def quality_for_official(
    session: Session,
    *,
    principal: OfficialPrincipal,
    province: str | None = None,
    live: bool = False,
    trend_length: int = TREND_LENGTH,
    as_of: date | None = None,
) -> QualityRead:
    """The measures an official may see, from the latest snapshot (or measured now), with their trend.

    Refusals: ``UNIT_UNKNOWN`` (not a current province code), ``JURISDICTION_DENIED`` (a province other
    than the official's own).
    """
    if province is not None:
        require_province(province)
    allowed = visible_province(principal)
    if allowed is not None and province is not None and province != allowed:
        raise Forbidden(
            "This province is outside your jurisdiction: you see the measures of your own province.",
            code="JURISDICTION_DENIED",
        )
    chosen = province or allowed
    snapshots = repository.latest_snapshots(session, limit=trend_length)
    if live or not snapshots:
        measurement = measure_register(session, as_of=as_of, province=chosen)
        source, snapshot_id = "live", None
    else:
        latest = snapshots[0]
        measurement = _stored(session, latest, chosen)
        source, snapshot_id = "snapshot", latest.id
    trend = _trend(session, snapshots, chosen)
    scopes = [scope for scope in measurement.scopes if chosen is None or scope == chosen]
    return QualityRead(
        source=source,
        snapshot_id=snapshot_id,
        as_of=measurement.as_of,
        measured_at=measurement.measured_at,
        seconds=measurement.seconds,
        duplicate_run=DuplicateRunRead(id=measurement.duplicate_run[0], finished_at=measurement.duplicate_run[1])
        if measurement.duplicate_run
        else None,
        national=_scope_read(NATIONAL, measurement.scopes[NATIONAL], trend) if NATIONAL in scopes else None,
        provinces=[
            _scope_read(scope, measurement.scopes[scope], trend) for scope in sorted(s for s in scopes if s != NATIONAL)
        ],
    )


def _stored(session: Session, snapshot: QualitySnapshot, province: str | None) -> Measurement:
    scopes: dict[str, Figures] = defaultdict(dict)
    for row in repository.figures_of(
        session, snapshot_ids=[snapshot.id], scopes=None if province is None else [province]
    ):
        scopes[row.scope][row.measure] = Figure(row.measure, row.numerator, row.denominator, row.value)
    if province is not None and province not in scopes:
        scopes[province] = {}
    run = (
        (snapshot.duplicate_run_id, snapshot.duplicate_run_finished_at)
        if snapshot.duplicate_run_id is not None and snapshot.duplicate_run_finished_at is not None
        else None
    )
    return Measurement(snapshot.as_of, snapshot.taken_at, snapshot.seconds, run, dict(scopes))


Trend = dict[tuple[str, str], list[TrendPointRead]]


def _trend(session: Session, snapshots: Sequence[QualitySnapshot], province: str | None) -> Trend:
    """Each scope's and measure's value in the given snapshots, oldest first."""
    if not snapshots:
        return {}
    taken = {snapshot.id: snapshot.taken_at for snapshot in snapshots}
    figures = repository.figures_of(session, snapshot_ids=list(taken), scopes=None if province is None else [province])
    trend: Trend = defaultdict(list)
    for row in sorted(figures, key=lambda row: row.snapshot_id):
        trend[(row.scope, row.measure)].append(
            TrendPointRead(snapshot_id=row.snapshot_id, taken_at=taken[row.snapshot_id], value=row.value)
        )
    return trend


def _scope_read(scope: str, figures: Figures, trend: Trend) -> ScopeRead:
    reads = []
    for measure in MEASURES:
        figure = figures.get(measure.key, Figure.not_measured(measure.key))
        reads.append(
            FigureRead(
                measure=measure.key,
                dimension=measure.dimension,
                label=measure.label,
                definition=measure.definition,
                kind=measure.kind,
                higher_is_better=measure.higher_is_better,
                headline=measure.headline,
                numerator=figure.numerator,
                denominator=figure.denominator,
                value=figure.value,
                trend=trend.get((scope, measure.key), []),
            )
        )
    return ScopeRead(scope=scope, name=province_name(scope), figures=reads)
