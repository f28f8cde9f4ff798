"""Every query of the data-quality measures, and of their stored snapshots.

The measures come from a few aggregate queries grouped by the person's home province: the database counts, and
Python only adds up the 35 or so rows that come back. Nothing here reads persons one by one, so the
cost grows with one scan of each table involved (see ``docs/quality.md`` for the figures measured).
The same statements run on SQLite and PostgreSQL; the one expression that differs between them, the
days between an event and its recording, is compiled per dialect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    extract,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from popreg.audit import service as audit
from popreg.cards.models import Card
from popreg.kit.database import UTCDateTime
from popreg.quality.models import PersonVerification, QualityFigure, QualitySnapshot, VerificationWatermark
from popreg.quality.rules import (
    CONFIRMED,
    EARLIEST_PLAUSIBLE_BIRTH,
    ITEMISED_VERIFICATION_ACTIONS,
    LIFE_EVENT_TYPES,
    VERIFICATION_ACTIONS,
)
from popreg.registry.models import Person, PersonEvent, PersonRelation, Residence

ALIVE = "alive"
CURRENT_GENERATION = "2025"
VALID_CARD_STATUSES = ("produced", "issued")

# The tables of `popreg match dedupe` (the matching package), named here by their columns only, so
# that this measure reads a database whose matching tables are missing (not migrated yet) as "not
# measured" instead of failing.
duplicate_runs = table(
    "duplicate_runs", column("id", Integer), column("status", String), column("finished_at", UTCDateTime())
)
duplicate_candidates = table("duplicate_candidates", column("run_id"), column("person_id"), column("status"))


AnySelect = TypeVar("AnySelect", bound="Select[*tuple[Any, ...]]")


class recording_delay_days(FunctionElement[int]):  # noqa: N801 - a SQL function, named as one
    """Whole days from an event's effective date to the day (Vietnam time) it was recorded."""

    type = Integer()
    inherit_cache = True


@compiles(recording_delay_days, "sqlite")
def _delay_on_sqlite(element: recording_delay_days, compiler: SQLCompiler, **kw: Any) -> str:
    recorded, effective = (compiler.process(argument, **kw) for argument in element.clauses)
    # Timestamps are stored in UTC; Vietnam is UTC+7 all year round (no daylight saving time).
    return f"CAST(julianday(date({recorded}, '+7 hours')) - julianday({effective}) AS INTEGER)"


@compiles(recording_delay_days, "postgresql")
def _delay_on_postgresql(element: recording_delay_days, compiler: SQLCompiler, **kw: Any) -> str:
    recorded, effective = (compiler.process(argument, **kw) for argument in element.clauses)
    return f"(CAST(timezone('Asia/Ho_Chi_Minh', {recorded}) AS DATE) - {effective})"


class vietnam_day(FunctionElement[date]):  # noqa: N801 - a SQL function, named as one
    """The calendar day in Vietnam of a stored (UTC) timestamp."""

    type = Date()
    inherit_cache = True


@compiles(vietnam_day, "sqlite")
def _vietnam_day_on_sqlite(element: vietnam_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(argument, **kw) for argument in element.clauses)
    return f"date({moment}, '+7 hours')"


@compiles(vietnam_day, "postgresql")
def _vietnam_day_on_postgresql(element: vietnam_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(argument, **kw) for argument in element.clauses)
    return f"CAST(timezone('Asia/Ho_Chi_Minh', {moment}) AS DATE)"


@dataclass(frozen=True, slots=True)
class PersonCounts:
    """Counts of one province's persons alive (``province`` is ``None`` for no known home province),
    from the person row alone."""

    province: str | None
    alive: int
    pin_consistent: int
    dates_in_range: int
    pin_and_dates_in_range: int
    ethnicity_known: int
    birth_date_to_day: int
    touched_recently: int
    verified_recently: int
    touched_or_verified: int


@dataclass(frozen=True, slots=True)
class ParentConflicts:
    """Persons alive born on or before a recorded parent, among those whose own dates are in range, and
    among those whose PIN agrees as well (what the correct measures subtract)."""

    province: str | None
    dates_in_range: int
    pin_and_dates_in_range: int


@dataclass(frozen=True, slots=True)
class ResidenceCounts:
    """Current residences of one province's persons alive, and their holders of a permanent one."""

    province: str | None
    current: int
    current_on_2025_units: int
    with_permanent: int
    with_permanent_ethnicity_and_day: int


@dataclass(frozen=True, slots=True)
class PartCounts:
    """A numerator and a denominator of one province."""

    province: str | None
    numerator: int
    denominator: int


@dataclass(frozen=True, slots=True)
class MiddleDelay:
    """One of the (one or two) middle delays of a kind of life event, with how many events there were."""

    measure: str
    province: str | None
    delay_days: int
    events: int


def _in_scope(statement: AnySelect, province: str | None, person: Any = Person) -> AnySelect:
    return statement if province is None else statement.where(person.home_province_code == province)


def _province_key(person: Any = Person) -> ColumnElement[str]:
    """The grouping key: the home province, '' when unknown. An expression rather than the bare column,
    so that SQLite reads the table in storage order instead of walking the province index and fetching
    every row out of order (several times slower on a register that does not fit in memory)."""
    # A constant, not a bound parameter: PostgreSQL must see the same expression in SELECT and GROUP BY.
    return func.coalesce(person.home_province_code, literal_column("''"))


def _province(key: str) -> str | None:
    return key or None


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _count_persons_if(condition: ColumnElement[bool], person_id: Any) -> ColumnElement[Any]:
    return func.count(func.distinct(case((condition, person_id), else_=None)))


def pin_consistent(person: Any = Person) -> ColumnElement[bool]:
    """The PIN's ``PPP`` is the birth-registration code, ``G`` the century-and-sex digit, ``YY`` the year."""
    year = cast(extract("year", person.birth_date), Integer)
    century_sex = 2 * ((year - 1900) // 100) + case((person.sex == "F", 1), else_=0)
    return and_(
        func.substr(person.pin, 1, 3) == person.birth_registration_code,
        func.substr(person.pin, 4, 1) == cast(century_sex, String),
        func.substr(person.pin, 5, 2) == func.substr(cast(year, String), 3, 2),
    )


def dates_in_range(as_of: date, person: Any = Person) -> ColumnElement[bool]:
    """Born in the register's range and not after the day of measurement; no status date before birth."""
    return and_(
        person.birth_date >= EARLIEST_PLAUSIBLE_BIRTH,
        person.birth_date <= as_of,
        or_(person.life_status_date.is_(None), person.life_status_date >= person.birth_date),
    )


def person_counts(
    session: Session, *, as_of: date, touched_since: datetime, verified_since: date, province: str | None
) -> list[PersonCounts]:
    """One scan of ``persons``: the checks that need nothing but the person's own row, and the day the
    person was last confirmed by a partner (one lookup by PIN in ``person_verifications``)."""
    pin_ok, in_range = pin_consistent(), dates_in_range(as_of)
    touched = Person.updated_at >= touched_since
    verified = PersonVerification.last_verified_on >= verified_since
    key = _province_key()
    statement = _in_scope(
        select(
            key,
            func.count(),
            _count_if(pin_ok),
            _count_if(in_range),
            _count_if(and_(pin_ok, in_range)),
            _count_if(Person.ethnicity_code.is_not(None)),
            _count_if(Person.birth_date_precision == "day"),
            _count_if(touched),
            _count_if(verified),
            _count_if(or_(touched, verified)),
        )
        .select_from(Person)
        .outerjoin(PersonVerification, PersonVerification.person_pin == Person.pin)
        .where(Person.life_status == ALIVE)
        .group_by(key),
        province,
    )
    return [PersonCounts(_province(row[0]), *(int(value) for value in row[1:])) for row in session.execute(statement)]


def parent_conflicts(session: Session, *, as_of: date, province: str | None) -> list[ParentConflicts]:
    """Persons alive born on or before one of their recorded parents: one pass over the father and mother
    relations, each joined to the two persons it links."""
    child, parent = aliased(Person), aliased(Person)
    key = _province_key(child)
    statement = _in_scope(
        select(
            key,
            _count_persons_if(dates_in_range(as_of, child), child.id),
            _count_persons_if(and_(pin_consistent(child), dates_in_range(as_of, child)), child.id),
        )
        .select_from(PersonRelation)
        .join(child, child.id == PersonRelation.person_id)
        .join(parent, parent.id == PersonRelation.relative_id)
        .where(
            PersonRelation.kind.in_(("father", "mother")),
            parent.birth_date >= child.birth_date,
            child.life_status == ALIVE,
        )
        .group_by(key),
        province,
        child,
    )
    return [ParentConflicts(_province(row[0]), int(row[1]), int(row[2])) for row in session.execute(statement)]


def residence_counts(session: Session, *, as_of: date, province: str | None) -> list[ResidenceCounts]:
    """One pass over the current residences (not ended on the day of measurement) of persons alive."""
    permanent = Residence.kind == "permanent"
    key = _province_key()
    statement = _in_scope(
        select(
            key,
            func.count(),
            _count_if(Residence.unit_generation == CURRENT_GENERATION),
            _count_persons_if(permanent, Person.id),
            _count_persons_if(
                and_(permanent, Person.ethnicity_code.is_not(None), Person.birth_date_precision == "day"), Person.id
            ),
        )
        .select_from(Residence)
        .join(Person, Person.id == Residence.person_id)
        .where(Person.life_status == ALIVE, or_(Residence.valid_to.is_(None), Residence.valid_to >= as_of))
        .group_by(key),
        province,
    )
    rows = session.execute(statement)
    return [ResidenceCounts(_province(row[0]), *(int(value) for value in row[1:])) for row in rows]


def card_counts(session: Session, *, province: str | None) -> list[PartCounts]:
    """Persons alive holding a produced or issued card, and those whose card carries their PIN."""
    key = _province_key()
    statement = _in_scope(
        select(key, _count_if(Card.pin == Person.pin), func.count())
        .select_from(Card)
        .join(Person, Person.id == Card.person_id)
        .where(Card.status.in_(VALID_CARD_STATUSES), Person.life_status == ALIVE)
        .group_by(key),
        province,
    )
    return [PartCounts(_province(row[0]), int(row[1]), int(row[2])) for row in session.execute(statement)]


def has_duplicate_tables(session: Session) -> bool:
    inspector = inspect(session.connection())
    return bool(inspector.has_table("duplicate_runs") and inspector.has_table("duplicate_candidates"))


def latest_duplicate_run(session: Session) -> tuple[int, datetime] | None:
    """The id and end of the latest finished ``popreg match dedupe`` run, if any."""
    row = session.execute(
        select(duplicate_runs.c.id, duplicate_runs.c.finished_at)
        .where(duplicate_runs.c.status == "finished", duplicate_runs.c.finished_at.is_not(None))
        .order_by(duplicate_runs.c.finished_at.desc(), duplicate_runs.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), row[1])


def open_duplicate_counts(session: Session, *, run_id: int, province: str | None) -> list[PartCounts]:
    """Persons alive who are open candidates of the run (the denominator is filled in by the caller)."""
    statement = _in_scope(
        select(_province_key(), func.count(func.distinct(duplicate_candidates.c.person_id)))
        .select_from(duplicate_candidates)
        .join(Person, Person.id == duplicate_candidates.c.person_id)
        .where(
            duplicate_candidates.c.run_id == run_id,
            duplicate_candidates.c.status == "open",
            Person.life_status == ALIVE,
        )
        .group_by(_province_key()),
        province,
    )
    return [PartCounts(_province(row[0]), int(row[1]), 0) for row in session.execute(statement)]


def middle_delays(
    session: Session, *, recorded_from: datetime, recorded_before: datetime, province: str | None, by_province: bool
) -> list[MiddleDelay]:
    """The middle recording delay(s) of each kind of life event recorded in the window, per province or
    over the whole scope: the median is taken by the database (window functions), not in Python."""
    kind = case(
        *((PersonEvent.event_type.in_(types), literal(measure)) for measure, types in LIFE_EVENT_TYPES.items()),
        else_=literal(""),
    )
    all_types = [event_type for types in LIFE_EVENT_TYPES.values() for event_type in types]
    birth_types = LIFE_EVENT_TYPES["live.birth_delay"]
    province_column = _province_key() if by_province else literal_column("''")
    events = _in_scope(
        select(
            kind.label("measure"),
            province_column.label("province"),
            recording_delay_days(PersonEvent.recorded_at, PersonEvent.effective_date).label("delay"),
        )
        .join(Person, Person.id == PersonEvent.person_id)
        .where(
            PersonEvent.event_type.in_(all_types),
            PersonEvent.recorded_at >= recorded_from,
            PersonEvent.recorded_at < recorded_before,
            # A birth's effective date is the date of birth only when it is known to the day.
            or_(PersonEvent.event_type.not_in(birth_types), Person.birth_date_precision == "day"),
        ),
        province,
    ).subquery("events")
    partition = [events.c.measure, events.c.province]
    ranked = select(
        events.c.measure,
        events.c.province,
        events.c.delay,
        func.row_number().over(partition_by=partition, order_by=events.c.delay).label("position"),
        func.count().over(partition_by=partition).label("events"),
    ).subquery("ranked")
    middle = select(ranked.c.measure, ranked.c.province, ranked.c.delay, ranked.c.events).where(
        ranked.c.position.in_(((ranked.c.events + 1) // 2, (ranked.c.events + 2) // 2))
    )
    return [MiddleDelay(row[0], _province(row[1]), int(row[2]), int(row[3])) for row in session.execute(middle)]


# -- verifications folded from the access log -----------------------------------------------------

WATERMARK_ID = 1


def _insert(session: Session, model: Any) -> Any:
    """An INSERT that takes ``ON CONFLICT`` on the session's backend (both spell it the same way)."""
    return postgresql.insert(model) if session.get_bind().dialect.name == "postgresql" else sqlite.insert(model)


def is_read_only(session: Session) -> bool:
    """Whether the session's transaction may not write (a PostgreSQL streaming replica or read-only
    transaction, a SQLite connection with ``query_only``): there the verifications are measured as
    they were folded last."""
    if session.get_bind().dialect.name == "postgresql":
        return bool(session.execute(text("SELECT current_setting('transaction_read_only')")).scalar_one() == "on")
    return bool(session.execute(text("PRAGMA query_only")).scalar_one())


def take_watermark(session: Session, *, now: datetime) -> int:
    """The sequence number folded so far (0 before a first fold), its row locked until the transaction
    ends, so that two folds never run at once (the second waits, then sees what the first folded)."""
    session.execute(
        _insert(session, VerificationWatermark)
        .values(id=WATERMARK_ID, folded_seq=0, folded_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return int(
        session.execute(
            select(VerificationWatermark.folded_seq).where(VerificationWatermark.id == WATERMARK_ID).with_for_update()
        ).scalar_one()
    )


def folded_through(session: Session) -> int | None:
    """The sequence number folded so far; ``None`` when the access log was never folded."""
    return session.scalar(select(VerificationWatermark.folded_seq).where(VerificationWatermark.id == WATERMARK_ID))


def move_watermark(session: Session, *, folded_seq: int, now: datetime) -> None:
    session.execute(
        update(VerificationWatermark)
        .where(VerificationWatermark.id == WATERMARK_ID)
        .values(folded_seq=folded_seq, folded_at=now)
    )


def fold_verifications(session: Session, *, after_seq: int, through_seq: int) -> int:
    """Fold the confirmations logged in ``(after_seq, through_seq]`` into ``person_verifications``, in
    one set-based statement: each confirmed PIN's latest day (Vietnam time), inserted or moved forward,
    never back (a later fold of an earlier entry, or the same entry twice, changes nothing). Returns
    how many persons' days were inserted or moved."""
    confirmed = audit.persons_with_result(
        after_seq=after_seq,
        through_seq=through_seq,
        actions=VERIFICATION_ACTIONS,
        itemised_actions=ITEMISED_VERIFICATION_ACTIONS,
        result=CONFIRMED,
    ).subquery("confirmed")
    # The latest moment per PIN first, then its day: one time-zone conversion per person, not per item.
    latest = select(confirmed.c.pin, vietnam_day(func.max(confirmed.c.at))).group_by(confirmed.c.pin)
    days = PersonVerification.__table__
    statement = _insert(session, days).from_select(["person_pin", "last_verified_on"], latest)
    upsert = statement.on_conflict_do_update(
        index_elements=["person_pin"],
        set_={"last_verified_on": statement.excluded.last_verified_on},
        where=statement.excluded.last_verified_on > days.c.last_verified_on,
    )
    # SQLAlchemy keeps the row count of an INSERT ... SELECT only when asked to.
    result = session.connection().execute(upsert.execution_options(preserve_rowcount=True))
    return int(result.rowcount)


# -- snapshots ----------------------------------------------------------------------------------


def add_snapshot(
    session: Session,
    *,
    taken_at: datetime,
    as_of: date,
    taken_by: str,
    seconds: float,
    duplicate_run: tuple[int, datetime] | None,
    figures: Iterable[tuple[str, str, int | None, int | None, float | None]],
) -> QualitySnapshot:
    snapshot = QualitySnapshot(
        taken_at=taken_at,
        as_of=as_of,
        taken_by=taken_by,
        seconds=seconds,
        duplicate_run_id=duplicate_run[0] if duplicate_run else None,
        duplicate_run_finished_at=duplicate_run[1] if duplicate_run else None,
    )
    session.add(snapshot)
    session.flush()
    session.add_all(
        QualityFigure(
            snapshot_id=snapshot.id,
            scope=scope,
            measure=measure,
            numerator=numerator,
            denominator=denominator,
            value=value,
        )
        for scope, measure, numerator, denominator, value in figures
    )
    session.flush()
    return snapshot


def latest_snapshots(session: Session, *, limit: int) -> Sequence[QualitySnapshot]:
    """The last ``limit`` snapshots, newest first."""
    return session.scalars(select(QualitySnapshot).order_by(QualitySnapshot.id.desc()).limit(limit)).all()


def figures_of(
    session: Session, *, snapshot_ids: Sequence[int], scopes: Sequence[str] | None
) -> Sequence[QualityFigure]:
    statement = select(QualityFigure).where(QualityFigure.snapshot_id.in_(snapshot_ids))
    if scopes is not None:
        statement = statement.where(QualityFigure.scope.in_(scopes))
    return session.scalars(statement).all()
