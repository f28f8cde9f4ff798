"""The building blocks of the generator: alias tables, fixed-width columns, names and misspellings."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from popreg.kit.text import fold
from popreg.synth.alias import AliasTable
from popreg.synth.columns import code_matrix, digits, fixed_width
from popreg.synth.frequencies import StepTable
from popreg.synth.generator import generate_population
from popreg.synth.names import TYPO_VARIANTS, misspellings, name_parts


def test_an_alias_table_draws_each_outcome_with_its_weight() -> None:
    weights = np.array([0.5, 0.0, 0.2, 0.3])
    drawn = AliasTable.single(weights).draw(np.random.default_rng(1).random(400_000))
    assert np.allclose(np.bincount(drawn, minlength=4) / len(drawn), weights, atol=0.005)


def test_an_alias_table_draws_from_the_row_asked_for() -> None:
    table = AliasTable.from_weights([[1.0, 0.0], [0.0, 0.0, 1.0]])
    rows = np.array([0, 1, 1, 0])
    assert table.draw(np.random.default_rng(2).random(4), rows).tolist() == [0, 2, 2, 0]


def test_a_distribution_without_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="positive weight"):
        AliasTable.single([0.0, 0.0])


def test_fixed_width_columns_write_digits_codes_and_nulls() -> None:
    values = np.array([0, 7, 123_456, 999_999])
    assert fixed_width(digits(values, 6)).to_pylist() == ["000000", "000007", "123456", "999999"]
    assert fixed_width(digits(np.array([1, 79]), 3), np.array([False, True])).to_pylist() == ["001", None]
    assert fixed_width(code_matrix(["01", "54"])).to_pylist() == ["01", "54"]


def test_a_step_table_gives_the_value_of_the_last_threshold_reached() -> None:
    table = StepTable.from_mapping({"18": 0.9, "20": 0.8, "25": 0.5})
    assert table.at(np.array([10.0, 18.0, 19.9, 20.0, 30.0])).tolist() == [0.9, 0.9, 0.9, 0.8, 0.5]


def test_misspellings_differ_from_the_name_and_stay_in_nfc() -> None:
    rng = np.random.default_rng(3)
    for name in ("Nguyễn", "Hùng", "Thị Ngọc", "Lan", "Trang"):
        variants = misspellings(name, rng)
        assert len(variants) == TYPO_VARIANTS
        assert all(v != name and unicodedata.is_normalized("NFC", v) for v in variants)


def test_every_vocabulary_form_agrees_with_the_register_text_functions() -> None:
    parts = name_parts()
    for part in (parts.family, parts.middle, parts.given):
        plain = part.plain.to_pylist()
        assert part.folded.to_pylist() == [fold(value) for value in plain]


def test_full_names_are_nfc_and_their_folded_key_is_the_registers_fold() -> None:
    persons = generate_population(20_000, seed=21, error_rate=0.2).persons
    for full, folded in zip(persons["full_name"].to_pylist(), persons["name_folded"].to_pylist(), strict=True):
        assert unicodedata.is_normalized("NFC", full)
        assert folded == fold(full)


@pytest.mark.parametrize("name", ["Quyên", "Đặng", "Nguyễn", "Lợi", "Hưng", "Thủy"])
def test_a_wrong_tone_mark_still_composes_into_vietnamese_letters(name: str) -> None:
    for variant in misspellings(name, np.random.default_rng(5)):
        assert not any(unicodedata.combining(ch) for ch in variant), variant
