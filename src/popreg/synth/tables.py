"""The households, household members, residences, relations and truth tables of one chunk.

Each is assembled from index arrays with Arrow gathers and fixed-width code columns
(:mod:`popreg.synth.columns`); nothing is done per row in Python. Household and residence ids
count from 1 within a chunk (the generator shifts them when it joins the chunks); person ids are
already final.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from popreg.synth.addresses import address_lines
from popreg.synth.alias import AliasTable
from popreg.synth.arrays import BoolArray, FloatArray, IntArray
from popreg.synth.columns import digits, fixed_width, from_vocabulary, rows, vocabulary
from popreg.synth.defects import Duplicates
from popreg.synth.frequencies import population_tables, vital_parameters
from popreg.synth.geography import CommuneFrame
from popreg.synth.households import RELATIONSHIP_CODES, HouseholdStructure
from popreg.synth.persons import DAYS_PER_YEAR, REFORM_DAY, PersonDraws
from popreg.synth.schema import HOUSEHOLD_MEMBERS, HOUSEHOLDS, RELATIONS, RESIDENCES, TRUTH

_MAXIMUM_HOUSEHOLD_AGE_YEARS = 40.0
_ADULT_AGE = 18.0
_TEMPORARY_RESIDENCE_AGES = (18.0, 45.0)
_TEMPORARY_RESIDENCE_MAXIMUM_DAYS = 730
_LAST_RESIDENCE_MAXIMUM_YEARS = 40.0
_RELATIONSHIPS = vocabulary(RELATIONSHIP_CODES)
_RELATION_KINDS = vocabulary(("father", "mother", "spouse"))
_RESIDENCE_KINDS = vocabulary(("permanent", "temporary"))


@dataclass(frozen=True)
class Places:
    """Places (indices into the commune frame) of each household and each deceased person."""

    household: IntArray
    household_on_2025_units: BoolArray
    deceased: IntArray


def joined_dates(
    rng: np.random.Generator,
    structure: HouseholdStructure,
    age: FloatArray,
    birth_day: IntArray,
    reference_day: int,
) -> IntArray:
    """The day each living person joined their household.

    A household was registered some time after its head came of age (up to 40 years before the
    reference day); members born later joined at birth.
    """
    head_adult_years = np.minimum(age[structure.head] - _ADULT_AGE, _MAXIMUM_HOUSEHOLD_AGE_YEARS)
    created = reference_day - (rng.random(structure.household_count) * head_adult_years * DAYS_PER_YEAR).astype(
        np.int64
    )
    return np.maximum(created[structure.household], birth_day[: len(structure.household)])


def _dates(days: IntArray, missing: BoolArray | None = None) -> pa.Date32Array:
    return pa.array(days.astype(np.int32), pa.date32(), mask=missing)


def households_table(
    frame: CommuneFrame,
    structure: HouseholdStructure,
    places: Places,
    lines: pa.StringArray,
    person_id: IntArray,
    *,
    chunk: int,
) -> pa.Table:
    """Households with their head, address and units.

    The household number is unique in the whole population: the 2025 province code, the chunk
    (3 digits) and the household's rank in its chunk (7 digits).
    """
    count = structure.household_count
    place = places.household
    on_2025 = places.household_on_2025_units
    rank = np.arange(1, count + 1, dtype=np.int64)
    number = np.concatenate(
        [
            rows(frame.place_province_chars, place),
            np.broadcast_to(digits(np.array([chunk]), 3), (count, 3)),
            digits(rank // 1000, 4),
            digits(rank % 1000, 3),
        ],
        axis=1,
    )
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(1, count + 1, dtype=np.int64)),
            fixed_width(number),
            pa.array(person_id[structure.head]),
            lines,
            frame.unit_codes(place, on_2025),
            frame.generations(on_2025),
            frame.current_communes(place),
            frame.current_provinces(place),
        ],
        schema=HOUSEHOLDS,
    )


def members_table(structure: HouseholdStructure, person_id: IntArray, joined_on: IntArray) -> pa.Table:
    """Every living person's membership of their household, with the relationship to its head."""
    return pa.Table.from_arrays(
        [
            pa.array(structure.household + 1),
            pa.array(person_id),
            from_vocabulary(_RELATIONSHIPS, structure.relationship),
            _dates(joined_on),
        ],
        schema=HOUSEHOLD_MEMBERS,
    )


def relations_table(structure: HouseholdStructure, person_id: IntArray) -> pa.Table:
    """Child-to-father and child-to-mother links, and spouse links in both directions."""
    subjects = []
    relatives = []
    kinds = []
    for kind, links in enumerate((structure.father, structure.mother, structure.spouse)):
        linked = np.flatnonzero(links >= 0)
        subjects.append(person_id[linked])
        relatives.append(person_id[links[linked]])
        kinds.append(np.full(len(linked), kind, dtype=np.int64))
    return pa.Table.from_arrays(
        [
            pa.array(np.concatenate(subjects)),
            pa.array(np.concatenate(relatives)),
            from_vocabulary(_RELATION_KINDS, np.concatenate(kinds)),
        ],
        schema=RELATIONS,
    )


def truth_table(person_id: IntArray, originals: int, duplicates: Duplicates) -> pa.Table:
    """Which person each record describes: originals themselves, duplicates their source."""
    return pa.Table.from_arrays(
        [
            pa.array(person_id),
            pa.array(np.concatenate([person_id[:originals], person_id[duplicates.source]])),
            pa.concat_arrays([pa.nulls(originals, pa.string()), duplicates.labels()]),
        ],
        schema=TRUTH,
    )


def _residence_batch(
    frame: CommuneFrame,
    *,
    first_id: int,
    person_id: IntArray,
    temporary: bool,
    lines: pa.StringArray,
    place: IntArray,
    on_2025_units: BoolArray,
    household: IntArray | None,
    valid_from: IntArray,
    valid_to: IntArray | None,
) -> pa.Table:
    """Residences of one kind; ``valid_to`` of -1 (or no array) means still valid."""
    count = len(person_id)
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(first_id, first_id + count, dtype=np.int64)),
            pa.array(person_id),
            from_vocabulary(_RESIDENCE_KINDS, np.full(count, int(temporary))),
            lines,
            frame.unit_codes(place, on_2025_units),
            frame.generations(on_2025_units),
            frame.current_communes(place),
            frame.current_provinces(place),
            pa.array(household + 1) if household is not None else pa.nulls(count, pa.int64()),
            _dates(valid_from),
            _dates(valid_to, valid_to < 0) if valid_to is not None else pa.nulls(count, pa.date32()),
        ],
        schema=RESIDENCES,
    )


def residences_table(
    rng: np.random.Generator,
    *,
    frame: CommuneFrame,
    structure: HouseholdStructure,
    places: Places,
    household_lines: pa.StringArray,
    joined_on: IntArray,
    originals: PersonDraws,
    duplicates: Duplicates,
    person_id: IntArray,
    age: FloatArray,
    reference_day: int,
) -> pa.Table:
    """Residence registrations (Law on Residence 2020), in four batches:

    * every living person's permanent residence, at their household, from the day they joined;
    * every deceased person's last permanent residence, closed on the day of death;
    * temporary residences of about 3% of the living, young adults registered away from home,
      mostly in the big cities and industrial provinces, within the last two years;
    * one permanent residence per duplicate record: its source's, and for an outdated address
      still recorded on the pre-2025 code of the same place. Duplicates belong to no household.
    """
    vital = vital_parameters()
    tables = population_tables()
    living = len(structure.household)
    deceased = len(places.deceased)
    household = structure.household

    dead_lines = address_lines(rng, frame.place_current[places.deceased])
    # Those who died before the reform were last registered on the units of their time.
    dead_on_2025 = originals.death_day[living:] >= REFORM_DAY
    dead_birth = originals.birth_day[living:]
    dead_death = originals.death_day[living:]
    dead_from = np.maximum(
        dead_birth,
        dead_death - (rng.random(deceased) * _LAST_RESIDENCE_MAXIMUM_YEARS * DAYS_PER_YEAR).astype(np.int64),
    )

    low, high = _TEMPORARY_RESIDENCE_AGES
    candidates = np.flatnonzero((age[:living] >= low) & (age[:living] < high))
    share = min(1.0, vital.temporary_residence_share * living / max(len(candidates), 1))
    movers = candidates[rng.random(len(candidates)) < share]
    weight = tables.province_population / tables.province_population.sum()
    weight *= 1.0 - sum(vital.temporary_destinations.values())
    for code, destination_share in vital.temporary_destinations.items():
        weight[tables.province_codes.index(code)] += destination_share
    destination = AliasTable.single(weight).draw(rng.random(len(movers)))
    temporary_place = frame.draw_places_in(destination, rng.random(len(movers)))
    temporary_lines = address_lines(rng, frame.place_current[temporary_place])
    temporary_from = reference_day - 1 - (rng.random(len(movers)) * _TEMPORARY_RESIDENCE_MAXIMUM_DAYS).astype(np.int64)

    # A duplicate's residence is its source's: gather from the living and the deceased alike.
    source = duplicates.source
    living_source = source < living
    line_pool = pa.concat_arrays([household_lines, dead_lines])
    pool_index = np.where(
        living_source, household[np.minimum(source, living - 1)], len(household_lines) + source - living
    )
    source_place = np.concatenate([places.household[household], places.deceased])[source]
    source_on_2025 = np.concatenate([places.household_on_2025_units[household], dead_on_2025])[source]
    source_from = np.concatenate([joined_on, dead_from])[source]
    source_to = np.concatenate([np.full(living, -1), dead_death])[source]

    batches = [
        _residence_batch(
            frame,
            first_id=1,
            person_id=person_id[:living],
            temporary=False,
            lines=from_vocabulary(household_lines, household),
            place=places.household[household],
            on_2025_units=places.household_on_2025_units[household],
            household=household,
            valid_from=joined_on,
            valid_to=None,
        ),
        _residence_batch(
            frame,
            first_id=1 + living,
            person_id=person_id[living : living + deceased],
            temporary=False,
            lines=dead_lines,
            place=places.deceased,
            on_2025_units=dead_on_2025,
            household=None,
            valid_from=dead_from,
            valid_to=dead_death,
        ),
        _residence_batch(
            frame,
            first_id=1 + living + deceased,
            person_id=person_id[movers],
            temporary=True,
            lines=temporary_lines,
            place=temporary_place,
            on_2025_units=np.ones(len(movers), dtype=bool),
            household=None,
            valid_from=temporary_from,
            valid_to=None,
        ),
    ]
    if len(source):
        batches.append(
            _residence_batch(
                frame,
                first_id=1 + living + deceased + len(movers),
                person_id=person_id[living + deceased :],
                temporary=False,
                lines=from_vocabulary(line_pool, pool_index),
                place=source_place,
                on_2025_units=source_on_2025 & ~duplicates.outdated_address,
                household=None,
                valid_from=source_from,
                valid_to=source_to,
            )
        )
    return pa.concat_tables(batches)
