"""Draw a synthetic population of Vietnam: persons, households, family relations, residences.

:func:`generate_population` is deterministic: the same arguments give identical tables on every
run and machine, whatever the number of threads. The population is drawn as independent chunks of
at most :data:`~popreg.synth.chunk.CHUNK_SIZE` persons (:mod:`popreg.synth.chunk`), each from its
own random stream spawned from the seed, on a pool of threads (NumPy and Arrow release the
interpreter lock in their kernels); the chunks' tables are then joined, household and residence
ids shifted to run on from one chunk to the next. Everything is array operations: there is no
Python loop per person.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from popreg.synth.chunk import CHUNK_SIZE, MINIMUM_CHUNK_SIZE, PARALLEL_CHUNKS, ChunkPlan, ChunkTables, draw_chunk
from popreg.synth.geography import commune_frame
from popreg.synth.names import name_parts
from popreg.synth.persons import day_number

DEFAULT_REFERENCE_DATE = date(2026, 1, 1)


@dataclass(frozen=True)
class SyntheticPopulation:
    """The tables of a synthetic population (schemas in :mod:`popreg.synth.schema`).

    ``truth`` maps every person record to the person it describes: ``entity_id`` is the
    ``person_id`` of the original record, so a duplicate shares it with its source, and ``defect``
    labels what is wrong with a duplicate (null for originals; see :mod:`popreg.synth.defects`).
    """

    persons: pa.Table
    households: pa.Table
    household_members: pa.Table
    residences: pa.Table
    relations: pa.Table
    truth: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        """Every table by name, in the order of :data:`popreg.synth.schema.TABLES`."""
        return {
            "persons": self.persons,
            "households": self.households,
            "household_members": self.household_members,
            "residences": self.residences,
            "relations": self.relations,
            "truth": self.truth,
        }


def _validate(n: int, error_rate: float, duplicate_same_pin_share: float) -> None:
    if n < 0:
        raise ValueError(f"The number of persons must be zero or more, not {n}.")
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"The error rate is a share of the persons, from 0 to 1, not {error_rate}.")
    if not 0.0 <= duplicate_same_pin_share <= 1.0:
        raise ValueError(
            f"The share of duplicates keeping their PIN must be from 0 to 1, not {duplicate_same_pin_share}."
        )


def plan_chunks(
    n: int,
    *,
    seed: int,
    error_rate: float = 0.0,
    reference_date: date = DEFAULT_REFERENCE_DATE,
    duplicate_same_pin_share: float = 0.5,
) -> list[ChunkPlan]:
    """How a population of ``n`` persons is split into chunks (sizes, seeds, first person ids)."""
    _validate(n, error_rate, duplicate_same_pin_share)
    # At least a few chunks once a population is large enough, so that all CPUs take part.
    count = max(1, -(-n // CHUNK_SIZE), min(PARALLEL_CHUNKS, n // MINIMUM_CHUNK_SIZE))
    sizes = [n // count + (1 if i < n % count else 0) for i in range(count)]
    streams = np.random.SeedSequence(seed).spawn(count)
    plans = []
    first_person_id = 1
    for index, (size, stream) in enumerate(zip(sizes, streams, strict=True)):
        duplicates = round(error_rate * size)
        plans.append(
            ChunkPlan(
                index=index,
                chunks=count,
                persons=size,
                duplicates=duplicates,
                first_person_id=first_person_id,
                seed=stream,
                pin_key=seed,
                reference_day=day_number(reference_date),
                same_pin_share=duplicate_same_pin_share,
            )
        )
        first_person_id += size + duplicates
    return plans


def _shift(table: pa.Table, column: str, offset: int) -> pa.Table:
    if offset == 0:
        return table
    index = table.schema.get_field_index(column)
    return table.set_column(index, table.schema.field(index), pc.add(table.column(column), offset))


def iter_population(
    n: int,
    *,
    seed: int,
    error_rate: float = 0.0,
    reference_date: date = DEFAULT_REFERENCE_DATE,
    duplicate_same_pin_share: float = 0.5,
    workers: int | None = None,
) -> Iterator[SyntheticPopulation]:
    """The population of :func:`generate_population`, one chunk at a time, ids already final.

    Lets a writer stream a population larger than memory: each chunk can be written and dropped
    before the next is drawn (``workers`` chunks are drawn at a time).
    """
    plans = plan_chunks(
        n,
        seed=seed,
        error_rate=error_rate,
        reference_date=reference_date,
        duplicate_same_pin_share=duplicate_same_pin_share,
    )
    threads = max(1, min(workers or os.cpu_count() or 1, len(plans)))
    # The shared tables are built once, here, rather than by several threads at the same time.
    commune_frame()
    name_parts()
    households_before = 0
    residences_before = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for chunk in _ordered(pool, plans, threads):
            households = _shift(chunk.households, "household_id", households_before)
            members = _shift(chunk.household_members, "household_id", households_before)
            residences = _shift(
                _shift(chunk.residences, "residence_id", residences_before), "household_id", households_before
            )
            households_before += chunk.households.num_rows
            residences_before += chunk.residences.num_rows
            yield SyntheticPopulation(
                persons=chunk.persons,
                households=households,
                household_members=members,
                residences=residences,
                relations=chunk.relations,
                truth=chunk.truth,
            )


def _ordered(pool: ThreadPoolExecutor, plans: list[ChunkPlan], ahead: int) -> Iterator[ChunkTables]:
    """Chunks in plan order, with at most ``ahead`` being drawn at a time."""
    pending = [pool.submit(draw_chunk, plan) for plan in plans[:ahead]]
    for following in [*plans[ahead:], *([None] * ahead)]:
        done = pending.pop(0)
        if following is not None:
            pending.append(pool.submit(draw_chunk, following))
        yield done.result()


def generate_population(
    n: int,
    *,
    seed: int,
    error_rate: float = 0.0,
    reference_date: date = DEFAULT_REFERENCE_DATE,
    duplicate_same_pin_share: float = 0.5,
    workers: int | None = None,
) -> SyntheticPopulation:
    """Draw ``n`` person records (living and deceased) plus about ``error_rate * n`` duplicates.

    ``reference_date`` is "today" for the population: ages, deaths and registrations are before
    it. With ``error_rate`` > 0, each chunk adds ``round(error_rate * chunk size)`` duplicates of
    its persons with labelled defects; ``duplicate_same_pin_share`` of them keep their original's
    PIN (see :mod:`popreg.synth.defects`). ``workers`` caps the threads (default: one per CPU).
    Raises ``ValueError`` for a negative ``n`` or a share outside ``[0, 1]``.
    """
    chunks = list(
        iter_population(
            n,
            seed=seed,
            error_rate=error_rate,
            reference_date=reference_date,
            duplicate_same_pin_share=duplicate_same_pin_share,
            workers=workers,
        )
    )
    return SyntheticPopulation(
        *(pa.concat_tables([getattr(chunk, name) for chunk in chunks]) for name in chunks[0].tables())
    )
