"""A synthetic population of 200,000 persons (10% duplicates), drawn once for the synth tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from popreg.synth.generator import SyntheticPopulation, generate_population

PERSONS = 200_000
SEED = 2026
ERROR_RATE = 0.1


@dataclass(frozen=True)
class Drawn:
    """A population with its original records (the duplicates left out) at hand."""

    population: SyntheticPopulation
    originals: pa.Table
    duplicates: pa.Table

    def living(self) -> pa.Table:
        return self.originals.filter(pc.equal(self.originals["life_status"], "alive"))


def column(table: pa.Table, name: str) -> np.ndarray:
    """A column as a NumPy array (strings as objects, dates as datetime64[D])."""
    return table.column(name).to_numpy(zero_copy_only=False)


@pytest.fixture(scope="session")
def drawn() -> Drawn:
    population = generate_population(PERSONS, seed=SEED, error_rate=ERROR_RATE)
    is_original = pc.is_null(population.truth["defect"])
    original_ids = population.truth.filter(is_original)["record_id"]
    in_originals = pc.is_in(population.persons["person_id"], value_set=original_ids)
    return Drawn(
        population=population,
        originals=population.persons.filter(in_originals),
        duplicates=population.persons.filter(pc.invert(in_originals)),
    )
