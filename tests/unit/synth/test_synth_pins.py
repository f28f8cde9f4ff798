"""Personal identification numbers are unique and agree with birth province, year and sex."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow.compute as pc

from conftest import Drawn, column
from popreg.registry.pin import Sex, check_pin
from popreg.synth.pins import serials


def test_the_pins_of_distinct_persons_never_collide(drawn: Drawn) -> None:
    pins = column(drawn.originals, "pin")
    assert len(pins) == len(np.unique(pins))


def test_a_duplicate_carries_its_originals_pin_or_a_pin_nobody_else_has(drawn: Drawn) -> None:
    truth = drawn.population.truth
    pin = dict(zip(*(drawn.population.persons[c].to_pylist() for c in ("person_id", "pin")), strict=True))
    duplicates = truth.filter(pc.is_valid(truth["defect"]))
    original_pins = set(column(drawn.originals, "pin"))
    same = 0
    fresh = []
    for record, entity in zip(duplicates["record_id"].to_pylist(), duplicates["entity_id"].to_pylist(), strict=True):
        if pin[record] == pin[entity]:
            same += 1
        else:
            fresh.append(pin[record])
    assert abs(same / duplicates.num_rows - 0.5) < 0.03
    assert len(set(fresh)) == len(fresh)
    assert not set(fresh) & original_pins


def test_every_pin_passes_the_registers_check_against_birth_date_sex_and_province(drawn: Drawn) -> None:
    persons = drawn.population.persons
    sample = persons.take(np.random.default_rng(7).choice(persons.num_rows, 5000, replace=False))
    for pin, birth, sex, province in zip(
        *(sample[c].to_pylist() for c in ("pin", "birth_date", "sex", "birth_registration_code")), strict=True
    ):
        result = check_pin(pin, birth_date=birth, sex=Sex(sex), birth_province_code=province, today=date(2026, 1, 1))
        assert result.valid, (pin, result.errors)


def test_births_since_the_reform_are_registered_under_a_current_province_code(drawn: Drawn) -> None:
    persons = drawn.originals
    recent = persons.filter(pc.greater_equal(persons["birth_date"], date(2025, 7, 1)))
    current = {
        "01",
        "04",
        "08",
        "11",
        "12",
        "14",
        "15",
        "19",
        "20",
        "22",
        "24",
        "25",
        "31",
        "33",
        "37",
        "38",
        "40",
        "42",
        "44",
        "46",
        "48",
        "51",
        "52",
        "56",
        "66",
        "68",
        "75",
        "79",
        "80",
        "82",
        "86",
        "91",
        "92",
        "96",
    }
    assert recent.num_rows > 0
    assert {code[1:] for code in recent["birth_registration_code"].to_pylist()} <= current


def test_serials_of_one_prefix_are_a_permutation_of_the_whole_serial_space() -> None:
    drawn = serials(np.full(1_000_000, 79205), key=11)
    assert len(np.unique(drawn)) == 1_000_000
    assert drawn.min() == 0 and drawn.max() == 999_999


def test_serials_of_interleaved_lanes_never_collide() -> None:
    prefix = np.full(1000, 1190)
    lanes = [serials(prefix, key=3, lane=lane, lanes=4) for lane in range(4)]
    assert len(np.unique(np.concatenate(lanes))) == 4000


def test_serials_depend_on_the_key() -> None:
    prefix = np.full(100, 79205)
    assert not np.array_equal(serials(prefix, key=1), serials(prefix, key=2))
