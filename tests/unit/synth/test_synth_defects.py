"""Duplicates carry realistic, labelled defects, and the truth says whose record each one is."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow.compute as pc
import pytest

from conftest import ERROR_RATE, PERSONS, Drawn
from popreg.kit.text import fold, strip_diacritics
from popreg.synth.defects import DEFECT_CODES
from popreg.synth.generator import generate_population
from popreg.units.catalogue import to_current

Record = dict[str, Any]


@pytest.fixture(scope="module")
def duplicates(drawn: Drawn) -> list[tuple[Record, Record, list[str]]]:
    """Every duplicate with its source record and its defects."""
    truth = drawn.population.truth.filter(pc.is_valid(drawn.population.truth["defect"]))
    persons = {row["person_id"]: row for row in drawn.population.persons.to_pylist()}
    return [
        (persons[record], persons[entity], label.split(";"))
        for record, entity, label in zip(
            *(truth[c].to_pylist() for c in ("record_id", "entity_id", "defect")), strict=True
        )
    ]


def _pairs(
    duplicates: list[tuple[Record, Record, list[str]]], defect: str, *, alone: bool = False
) -> list[tuple[Record, Record]]:
    """(duplicate, source) of the duplicates carrying ``defect`` (``alone``: and no other)."""
    return [(d, s) for d, s, defects in duplicates if defect in defects and (not alone or len(defects) == 1)]


def test_about_the_error_rate_of_records_are_duplicates(drawn: Drawn) -> None:
    assert abs(drawn.duplicates.num_rows / PERSONS - ERROR_RATE) < 0.001


def test_every_duplicate_points_to_a_distinct_original_and_originals_to_themselves(drawn: Drawn) -> None:
    truth = drawn.population.truth
    assert sorted(truth["record_id"].to_pylist()) == sorted(drawn.population.persons["person_id"].to_pylist())
    originals = set(drawn.originals["person_id"].to_pylist())
    duplicates = truth.filter(pc.is_valid(truth["defect"]))
    sources = duplicates["entity_id"].to_pylist()
    assert set(sources) <= originals and len(set(sources)) == len(sources)
    plain = truth.filter(pc.is_null(truth["defect"]))
    assert plain["record_id"].to_pylist() == plain["entity_id"].to_pylist()


def test_a_duplicate_is_the_same_person_as_its_source(duplicates: list[tuple[Record, Record, list[str]]]) -> None:
    for duplicate, source, _ in duplicates:
        for field in ("sex", "religion_code", "birth_registration_code", "life_status"):
            assert duplicate[field] == source[field]
        assert duplicate["birth_date"].year == source["birth_date"].year


def test_every_kind_of_defect_occurs_and_some_duplicates_have_two(drawn: Drawn) -> None:
    labels = Counter(drawn.population.truth["defect"].drop_null().to_pylist())
    single = {label for label in labels if ";" not in label}
    assert single == set(DEFECT_CODES)
    assert 0.1 < sum(n for label, n in labels.items() if ";" in label) / sum(labels.values()) < 0.35


def test_a_name_with_lost_diacritics_folds_to_the_same_key_as_the_original(
    duplicates: list[tuple[Record, Record, list[str]]],
) -> None:
    pairs = _pairs(duplicates, "lost_diacritics", alone=True)
    assert pairs
    for duplicate, source in pairs:
        assert duplicate["name_folded"] == source["name_folded"]
        assert duplicate["full_name"] == strip_diacritics(source["full_name"])
        assert duplicate["full_name"].isascii()


def test_a_typo_changes_one_name_part_only(duplicates: list[tuple[Record, Record, list[str]]]) -> None:
    pairs = _pairs(duplicates, "typo", alone=True)
    assert pairs
    for duplicate, source in pairs:
        changed = [part for part in ("family_name", "middle_name", "given_name") if duplicate[part] != source[part]]
        assert len(changed) == 1
        assert duplicate["name_folded"] == fold(duplicate["full_name"])


def test_swapped_day_and_month_exchange_the_day_and_month_of_birth(
    duplicates: list[tuple[Record, Record, list[str]]],
) -> None:
    pairs = _pairs(duplicates, "swapped_day_month")
    assert pairs
    for duplicate, source in pairs:
        born = source["birth_date"]
        assert duplicate["birth_date"] == born.replace(month=born.day, day=born.month)
        assert born.day != born.month and source["birth_date_precision"] == "day"


def test_a_missing_field_empties_a_field_the_original_has(duplicates: list[tuple[Record, Record, list[str]]]) -> None:
    pairs = _pairs(duplicates, "missing_field")
    assert pairs
    for duplicate, source in pairs:
        emptied = [
            (not duplicate["middle_name"] and bool(source["middle_name"])),
            duplicate["birth_registration_unit_code"] is None and source["birth_registration_unit_code"] is not None,
            duplicate["origin_unit_code"] is None and source["origin_unit_code"] is not None,
        ]
        assert sum(emptied) == 1


def test_an_outdated_address_is_the_old_code_of_the_same_commune(
    drawn: Drawn, duplicates: list[tuple[Record, Record, list[str]]]
) -> None:
    pairs = _pairs(duplicates, "outdated_address")
    assert pairs
    residences = drawn.population.residences
    by_person = {
        row["person_id"]: row for row in residences.filter(pc.equal(residences["kind"], "permanent")).to_pylist()
    }
    for duplicate, source in pairs:
        old, current = by_person[duplicate["person_id"]], by_person[source["person_id"]]
        assert current["unit_generation"] == "2025" and old["unit_generation"] == "pre2025"
        assert old["commune_code"] == current["commune_code"]
        assert current["commune_code"] in {unit.code for unit in to_current(old["unit_code"])}
        assert old["address_line"] == current["address_line"]


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_share_of_duplicates_keeping_their_pin_can_be_chosen(share: float) -> None:
    population = generate_population(5_000, seed=4, error_rate=0.2, duplicate_same_pin_share=share)
    distinct = pc.count_distinct(population.persons["pin"]).as_py()
    assert distinct == (6_000 if share == 0.0 else 5_000)
