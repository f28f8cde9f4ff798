"""A population is a function of its seed: the same seed draws the same tables, always."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.synth.chunk import CHUNK_SIZE
from popreg.synth.generator import generate_population
from popreg.synth.schema import TABLES


def _same(first, second) -> bool:  # type: ignore[no-untyped-def]
    return all(first.tables()[name].equals(second.tables()[name]) for name in TABLES)


def test_the_same_seed_draws_identical_tables() -> None:
    assert _same(
        generate_population(30_000, seed=5, error_rate=0.1), generate_population(30_000, seed=5, error_rate=0.1)
    )


def test_a_different_seed_draws_different_tables() -> None:
    first = generate_population(30_000, seed=5)
    second = generate_population(30_000, seed=6)
    assert not first.persons.equals(second.persons)
    assert first.persons["pin"].to_pylist() != second.persons["pin"].to_pylist()


def test_the_tables_do_not_depend_on_the_number_of_threads() -> None:
    persons = CHUNK_SIZE + 20_000
    assert _same(generate_population(persons, seed=9, workers=1), generate_population(persons, seed=9, workers=2))


def test_every_table_has_the_registers_column_names_and_types() -> None:
    population = generate_population(2_000, seed=1, error_rate=0.05)
    for name, schema in TABLES.items():
        assert population.tables()[name].schema.equals(schema), name


def test_the_requested_number_of_persons_is_drawn_with_ids_from_one() -> None:
    population = generate_population(12_345, seed=2, error_rate=0.2)
    ids = sorted(population.persons["person_id"].to_pylist())
    assert ids == list(range(1, 12_345 + 2_469 + 1))


def test_nobody_is_born_after_the_reference_date() -> None:
    population = generate_population(5_000, seed=3, reference_date=date(2020, 6, 30))
    assert max(population.persons["birth_date"].to_pylist()) < date(2020, 6, 30)


def test_an_empty_population_has_empty_tables() -> None:
    population = generate_population(0, seed=1)
    assert all(table.num_rows == 0 for table in population.tables().values())


@pytest.mark.parametrize(("n", "error_rate"), [(-1, 0.0), (10, 1.5), (10, -0.1)])
def test_impossible_sizes_and_rates_are_refused(n: int, error_rate: float) -> None:
    with pytest.raises(ValueError, match="must be|is a share"):
        generate_population(n, seed=1, error_rate=error_rate)
