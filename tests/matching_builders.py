"""A small synthetic register with planted, labelled duplicates (``popreg synth`` draws it)."""

from __future__ import annotations

from functools import cache
from typing import Any

from popreg.kit.database import Database
from popreg.registry import bulk
from popreg.synth.generator import SyntheticPopulation, generate_population


@cache
def population(people: int = 400, seed: int = 11, error_rate: float = 0.1) -> SyntheticPopulation:
    """Duplicates get PINs of their own, as a register holding each PIN once must have them."""
    return generate_population(people, seed=seed, error_rate=error_rate, duplicate_same_pin_share=0.0)


def load_population(database: Database, **options: Any) -> SyntheticPopulation:
    """Load the population into an empty register: each record's ``person_id`` is its row id."""
    drawn = population(**options)
    with database.unit_of_work() as session:
        bulk.load(session, drawn, legal_basis="Synthetic data")
    return drawn


def duplicate_pairs(drawn: SyntheticPopulation) -> set[tuple[int, int]]:
    """The (original, duplicate) person ids that the truth table says are one person."""
    truth = drawn.truth.to_pylist()
    return {
        (min(row["entity_id"], row["record_id"]), max(row["entity_id"], row["record_id"]))
        for row in truth
        if row["defect"] is not None
    }
