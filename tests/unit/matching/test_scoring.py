"""Comparison levels and Fellegi-Sunter probabilities of record pairs."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from popreg.matching.records import records_of
from popreg.matching.scoring import (
    DEFAULT_PARAMETERS,
    Parameters,
    compare,
    encode,
    estimate_prior,
    score_indexed,
    score_pairs,
)

BASE: dict[str, Any] = {
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": date(1990, 5, 12),
    "sex": "F",
    "commune_code": "00004",
    "address": "Số 12, ngõ 45, phố Đội Cấn",
}


def _levels(**changes: Any) -> dict[str, int]:
    levels = compare(records_of([BASE]), records_of([{**BASE, **changes}]))
    return {name: int(level[0]) for name, level in levels.items()}


def _probability(**changes: Any) -> float:
    probabilities, _ = score_pairs(records_of([BASE]), records_of([{**BASE, **changes}]), _defaults())
    return float(probabilities[0])


def _defaults() -> Parameters:
    return Parameters.from_mapping(DEFAULT_PARAMETERS)


def test_identical_records_agree_on_every_comparison() -> None:
    assert _levels() == {
        "family": 1,
        "middle": 1,
        "given": 1,
        "birth": 1,
        "sex": 1,
        "place": 1,
        "address": 1,
        # Fields the register does not hold are missing: no evidence either way.
        "identifier": 0,
        "postcode": 0,
        "locality": 0,
    }
    assert _probability() > 0.999


def test_an_initial_middle_name_is_its_own_level_and_still_a_match() -> None:
    assert _levels(full_name="Nguyễn T. M. Khai")["middle"] == 2
    assert _levels(full_name=None, family_name="Nguyen", middle_name="T. M.", given_name="Khai")["middle"] == 2
    assert _probability(full_name="Nguyễn T. M. Khai") > 0.99


def test_a_name_written_given_name_first_is_the_same_name() -> None:
    levels = _levels(full_name="Khai Nguyen Thi Minh")
    assert (levels["family"], levels["middle"], levels["given"]) == (1, 1, 1)


@pytest.mark.parametrize(
    ("born", "level"),
    [
        (date(1990, 5, 12), 1),
        (date(1990, 12, 5), 2),
        ("1990", 4),
        (date(1990, 9, 1), 4),
        (date(1991, 2, 1), 5),
        (date(1975, 5, 12), 6),
        (None, 0),
    ],
)
def test_birth_date_levels(born: Any, level: int) -> None:
    assert _levels(birth_date=born)["birth"] == level


def test_the_same_year_known_only_as_a_year_is_not_an_exact_date() -> None:
    only_year = {**BASE, "birth_date": "1950"}
    levels = compare(records_of([only_year]), records_of([only_year]))
    assert int(levels["birth"][0]) == 3  # same_imprecise: strangers share a year far more than a day
    month = {**BASE, "birth_date": "1950-03"}
    assert int(compare(records_of([month]), records_of([month]))["birth"][0]) == 3


def test_a_typo_in_the_given_name_is_fuzzy_and_a_different_person_is_unlikely() -> None:
    assert _levels(full_name="Nguyễn Thị Minh Khải")["given"] == 1  # tone marks fold away
    assert _levels(full_name="Nguyễn Thị Minh Khia")["given"] == 2
    assert _levels(full_name="Nguyễn Thị Minh Lan")["given"] == 3
    assert _probability(full_name="Nguyen Thi Minh Khia") > 0.9
    assert _probability(full_name="Trần Văn Hùng", sex="M", birth_date=date(1962, 1, 3), commune_code="26740") < 1e-6


def test_missing_values_add_no_evidence_either_way() -> None:
    assert _levels(sex=None, commune_code=None, address=None)["sex"] == 0
    assert _levels(commune_code=None, address="")["address"] == 0


def test_parameters_refuse_the_wrong_number_of_levels() -> None:
    broken = {**DEFAULT_PARAMETERS, "levels": {**DEFAULT_PARAMETERS["levels"], "sex": [[0.9, 0.5]]}}
    with pytest.raises(ValueError, match="sex"):
        Parameters.from_mapping(broken)


@pytest.mark.parametrize(
    ("other", "level"),
    [
        ("079 090 001 234", 1),  # the same number written with spaces
        ("079-090-001-234", 1),
        ("079090001235", 2),  # one digit mistyped
        ("079090001243", 2),  # two digits exchanged
        ("079090009999", 3),
        ("", 0),
    ],
)
def test_identifier_levels(other: str, level: int) -> None:
    left = {**BASE, "identifier": "079090001234"}
    levels = compare(records_of([left]), records_of([{**BASE, "identifier": other}]))
    assert int(levels["identifier"][0]) == level


def test_an_identifier_shared_outweighs_a_misspelt_name_and_a_different_one_weighs_against() -> None:
    misspelt = {**BASE, "full_name": "Nguyen Thi Minh Khia", "birth_date": date(1991, 5, 12)}
    without = _probability_of({**BASE}, misspelt)
    shared = _probability_of({**BASE, "identifier": "0790"}, {**misspelt, "identifier": "0790"})
    different = _probability_of({**BASE, "identifier": "0790"}, {**misspelt, "identifier": "5555"})
    assert different < without < shared


@pytest.mark.parametrize(
    ("changes", "postcode", "locality"),
    [
        ({}, 1, 1),
        ({"postcode": "2601", "locality": "Kingstn"}, 2, 2),
        ({"postcode": "4000", "locality": "Brisbane"}, 2, 3),
        ({"postcode": None, "locality": None}, 0, 0),
    ],
)
def test_postcode_and_locality_levels(changes: dict[str, Any], postcode: int, locality: int) -> None:
    left = {**BASE, "postcode": "2600", "locality": "Kingston"}
    levels = compare(records_of([left]), records_of([{**left, **changes}]))
    assert (int(levels["postcode"][0]), int(levels["locality"][0])) == (postcode, locality)


def _probability_of(left: dict[str, Any], right: dict[str, Any]) -> float:
    probabilities, _ = score_pairs(records_of([left]), records_of([right]), _defaults())
    return float(probabilities[0])


def test_term_frequencies_weigh_a_shared_rare_name_above_a_shared_common_one() -> None:
    # 98 records of one common name and 2 of a rare one; the pairs compared are (0, 1) and (98, 99).
    names = ["Nguyễn Văn An"] * 98 + ["Khổng Văn Bình"] * 2
    encoded = encode(records_of([{**BASE, "full_name": name, "sex": "M"} for name in names]))
    left, right = np.array([0, 98]), np.array([1, 99])
    low_prior = {**DEFAULT_PARAMETERS, "prior": 1e-12}  # keeps the probabilities away from 1
    plain, _ = score_indexed(encoded, left, right, Parameters.from_mapping(low_prior))
    adjusted, levels = score_indexed(
        encoded, left, right, Parameters.from_mapping({**low_prior, "term_frequencies": True})
    )
    assert plain[0] == pytest.approx(plain[1])
    assert adjusted[0] < plain[0]
    assert adjusted[1] > plain[1]
    # The correction is log2(u / frequency) on the exact family and given name.
    change = np.log2(adjusted / (1 - adjusted)) - np.log2(plain / (1 - plain))
    u_family, u_given = DEFAULT_PARAMETERS["levels"]["family"][0][1], DEFAULT_PARAMETERS["levels"]["given"][0][1]
    assert change[0] == pytest.approx(np.log2(u_family / 0.98) + np.log2(u_given / 0.98), abs=1e-6)
    assert change[1] == pytest.approx(np.log2(u_family / 0.02) + np.log2(u_given / 0.02), abs=1e-6)
    assert (levels["family"] == 1).all()


def test_the_prior_is_estimated_from_the_blocked_pairs() -> None:
    rng = np.random.default_rng(7)
    # 500 pairs of one person (strong evidence) and 50,000 of different persons (strong against),
    # among 10^7 pairs in all: the share of matches is 5e-5.
    weights = np.concatenate([rng.normal(30, 3, 500), rng.normal(-20, 5, 50_000)])
    assert estimate_prior(weights, 1e7) == pytest.approx(5e-5, rel=0.01)
    assert estimate_prior(np.zeros(0), 1e7) == pytest.approx(1e-4)


def test_scoring_indexed_pairs_equals_scoring_the_pairs_taken_out() -> None:
    people = [
        BASE,
        {**BASE, "full_name": "Nguyen Thi Minh Khia"},
        {**BASE, "full_name": "Trần Văn Hùng", "sex": "M", "birth_date": date(1962, 1, 3)},
        {**BASE, "full_name": "Khai Nguyen Thi Minh", "address": "So 12 ngo 45 pho Doi Can"},
        {**BASE, "full_name": "Nguyễn T. M. Khai", "birth_date": date(1990, 12, 5), "commune_code": None},
    ]
    records = records_of(people)
    left, right = np.array([0, 0, 0, 0, 1, 2, 3]), np.array([1, 2, 3, 4, 3, 4, 4])
    indexed, indexed_levels = score_indexed(encode(records), left, right, _defaults())
    taken, taken_levels = score_pairs(records.take(left), records.take(right), _defaults())
    assert np.allclose(indexed, taken, rtol=0, atol=1e-12)
    for name, level in indexed_levels.items():
        assert (level == taken_levels[name]).all(), name


def test_a_similarity_exactly_at_the_threshold_counts_as_similar() -> None:
    # Jaro-Winkler of these two is exactly 0.9 (as Splink's SQL computes it), not 0.8999999 (float32).
    levels = compare(records_of([{**BASE, "address": "thon thang loi"}]), records_of([{**BASE, "address": "thon ha"}]))
    assert int(levels["address"][0]) == 2
