"""The data-quality measures on a register whose every figure is known (tests/quality_builders.py)."""

from __future__ import annotations

from datetime import date, time

import pytest

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.quality import service
from quality_builders import (
    AS_OF,
    HA_NOI,
    HO_CHI_MINH,
    KNOWN,
    KNOWN_MEDIANS,
    add_event,
    add_person,
    build_known_register,
)


def _measure(database: Database, **kwargs):
    with database.read_session() as session:
        return service.measure_register(session, as_of=AS_OF, **kwargs)


@pytest.mark.parametrize("measure", sorted(KNOWN))
def test_each_measure_counts_exactly_the_records_at_fault_per_province_and_nationally(database, measure):
    build_known_register(database)
    measurement = _measure(database)
    assert set(measurement.scopes) == {"national", HA_NOI, HO_CHI_MINH}
    for scope, (numerator, denominator) in KNOWN[measure].items():
        figure = measurement.scopes[scope][measure]
        assert (figure.numerator, figure.denominator) == (numerator, denominator), scope
        expected = numerator / denominator if denominator else None
        assert figure.value == pytest.approx(expected) if expected is not None else figure.value is None


@pytest.mark.parametrize("measure", sorted(KNOWN_MEDIANS))
def test_the_median_recording_delay_is_taken_per_scope_in_vietnam_days(database, measure):
    build_known_register(database)
    measurement = _measure(database)
    for scope, (days, events) in KNOWN_MEDIANS[measure].items():
        figure = measurement.scopes[scope][measure]
        assert (figure.value, figure.denominator) == (days, events), scope


def test_one_province_is_measured_alone_with_the_same_figures(database):
    build_known_register(database)
    measurement = _measure(database, province=HO_CHI_MINH)
    assert set(measurement.scopes) == {HO_CHI_MINH}
    figures = measurement.scopes[HO_CHI_MINH]
    assert (figures["complete"].numerator, figures["complete"].denominator) == KNOWN["complete"][HO_CHI_MINH]
    assert figures["live.move_delay"].value == KNOWN_MEDIANS["live.move_delay"][HO_CHI_MINH][0]


def test_a_province_without_persons_has_zero_counts_and_no_value(database):
    build_known_register(database)
    figures = _measure(database, province="48").scopes["48"]  # Đà Nẵng: nobody registered there
    assert (figures["correct"].numerator, figures["correct"].denominator, figures["correct"].value) == (0, 0, None)


def test_duplicates_are_not_measured_before_a_first_finished_dedupe_run(database):
    build_known_register(database, with_dedupe=False)
    figure = _measure(database).scopes["national"]["clean.duplicate_candidates"]
    assert (figure.numerator, figure.denominator, figure.value) == (None, None, None)
    assert _measure(database).duplicate_run is None


def test_an_empty_register_measures_without_error(database):
    measurement = _measure(database)
    assert measurement.scopes["national"]["correct"].denominator == 0
    assert measurement.scopes["national"]["live.birth_delay"].value is None


def test_an_unknown_province_code_is_refused_with_a_stable_code(database):
    with pytest.raises(DomainError) as refused:
        _measure(database, province="99")
    assert refused.value.code == "UNIT_UNKNOWN"


def test_a_delay_counts_calendar_days_in_vietnam_not_in_utc(database):
    with database.unit_of_work() as session:
        person = add_person(session)
        # 00:30 in Vietnam on the ninth day is still the eighth day in UTC.
        add_event(
            session,
            person,
            event_type="residence.permanent_registered",
            effective_date=date(2026, 6, 1),
            delay_days=9,
            at=time(0, 30),
        )
    figure = _measure(database).scopes[HA_NOI]["live.move_delay"]
    assert (figure.value, figure.denominator) == (9, 1)


def test_events_recorded_after_the_day_of_measurement_are_left_out(database):
    with database.unit_of_work() as session:
        person = add_person(session)
        add_event(session, person, event_type="person.died", effective_date=AS_OF, delay_days=1)
    figure = _measure(database).scopes["national"]["live.death_delay"]
    assert (figure.value, figure.denominator) == (None, 0)
