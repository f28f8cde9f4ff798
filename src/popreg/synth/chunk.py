"""One independent part ("chunk") of a synthetic population, drawn from its own random stream.

A population is drawn as chunks of at most :data:`CHUNK_SIZE` persons, each a complete small
population with its own households, so that chunks run in parallel and a large population never
holds all its intermediate arrays at once. Within a chunk, in order:

1. ages and sexes of the living from the 2019 census pyramid, and the deceased kept in the
   register (age at death, date of death in the last ten years); how precisely each date of
   birth is known;
2. households and family links (:mod:`popreg.synth.households`);
3. a place for each household and each deceased person (:mod:`popreg.synth.geography`), about
   5% of households still recorded on pre-2025 units;
4. ethnicity and religion drawn per household from its province (a few spouses of another group,
   a few persons of another religion than their household); names; children take their father's
   family name, ethnicity and place of origin;
5. the place of birth registration: mostly the province of residence (less so for older people),
   otherwise anywhere in proportion to population; births since 1 July 2025 on the 2025 units;
6. duplicates with defects, PINs, and the tables (:mod:`popreg.synth.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from popreg.synth.addresses import address_lines
from popreg.synth.arrays import BoolArray, FloatArray, IntArray
from popreg.synth.defects import make_duplicates
from popreg.synth.frequencies import household_parameters, population_tables, vital_parameters
from popreg.synth.geography import CommuneFrame, commune_frame
from popreg.synth.households import HouseholdStructure, form_households
from popreg.synth.names import draw_names
from popreg.synth.persons import (
    DAYS_PER_YEAR,
    REFORM_DAY,
    PersonDraws,
    ages_in_years,
    birth_years,
    persons_table,
    truncate_to_precision,
)
from popreg.synth.pins import pin_characters
from popreg.synth.tables import (
    Places,
    households_table,
    joined_dates,
    members_table,
    relations_table,
    residences_table,
    truth_table,
)

CHUNK_SIZE = 250_000
"""Most persons per chunk: small enough to parallelise and to bound the memory of intermediate arrays."""
MINIMUM_CHUNK_SIZE = 25_000
"""Fewest persons per chunk when a population is split for parallelism: enough for realistic
household matching (a chunk pairs spouses and places children only among its own persons)."""
PARALLEL_CHUNKS = 4
"""A population of at least ``PARALLEL_CHUNKS * MINIMUM_CHUNK_SIZE`` persons is split into at
least this many chunks. The split depends only on the number of persons, never on the machine."""
_SPOUSE_OF_OTHER_GROUP_SHARE = 0.05
_OWN_RELIGION_SHARE = 0.1
_DECEASED_FEMALE_SHARE = 0.45


@dataclass(frozen=True)
class ChunkPlan:
    """What one chunk draws: its persons, duplicates, random stream and first person id."""

    index: int
    chunks: int
    persons: int
    duplicates: int
    first_person_id: int
    seed: np.random.SeedSequence
    pin_key: int
    reference_day: int
    same_pin_share: float


@dataclass(frozen=True)
class ChunkTables:
    """The tables of one chunk; household and residence ids count from 1 within the chunk."""

    persons: pa.Table
    households: pa.Table
    household_members: pa.Table
    residences: pa.Table
    relations: pa.Table
    truth: pa.Table


def _follow_fathers(values: IntArray, father: IntArray) -> IntArray:
    """Children take their father's value; two passes reach the grandchildren of a co-resident
    grandfather (grandfather, head, child)."""
    out = values.copy()
    has_father = np.flatnonzero(father >= 0)
    for _ in range(2):
        out[has_father] = out[father[has_father]]
    return out


def _draw_ages(
    rng: np.random.Generator, living: int, deceased: int, reference_day: int
) -> tuple[IntArray, BoolArray, IntArray]:
    """Birth days and sexes of the living then the deceased, and the deceased's days of death."""
    tables = population_tables()
    vital = vital_parameters()
    cell = tables.age_sex.draw(rng.random(living))
    band = cell // 2
    uniform = rng.random(living)
    start = tables.age_band_start[band]
    age = start + uniform * (tables.age_band_end[band] - start)
    # The open band (85+) thins out towards 100: a density falling linearly to zero.
    last = band == len(tables.age_band_start) - 1
    age = np.where(last, 100.0 - 15.0 * np.sqrt(1.0 - uniform), age)
    living_birth = reference_day - 1 - (age * DAYS_PER_YEAR).astype(np.int64)

    death_band = vital.age_at_death.draw(rng.random(deceased))
    death_start = vital.age_at_death_start[death_band]
    death_age = death_start + rng.random(deceased) * (vital.age_at_death_end[death_band] - death_start)
    death_day = reference_day - 1 - (rng.random(deceased) * vital.death_years_back * DAYS_PER_YEAR).astype(np.int64)
    dead_birth = death_day - np.maximum(1, (death_age * DAYS_PER_YEAR).astype(np.int64))
    female = np.concatenate([(cell % 2) == 1, rng.random(deceased) < _DECEASED_FEMALE_SHARE])
    return np.concatenate([living_birth, dead_birth]), female, death_day


def _province_code_numbers(frame: CommuneFrame) -> tuple[IntArray, IntArray]:
    """Numeric codes of the pre-2025 provinces (by index) and of the 2025 provinces (by index)."""
    legacy = np.array([int(code) for code in population_tables().province_codes], dtype=np.int64)
    current = np.array([int(code) for code in frame.current_province_list], dtype=np.int64)
    return legacy, current


def _draw_persons(
    rng: np.random.Generator,
    plan: ChunkPlan,
    frame: CommuneFrame,
) -> tuple[PersonDraws, HouseholdStructure, Places, FloatArray]:
    """Every attribute of the chunk's original persons, their households and places.

    Returns the draws, the household structure, the places of households and deceased persons,
    and each person's age in years at the reference day.
    """
    tables = population_tables()
    vital = vital_parameters()
    n = plan.persons
    deceased_count = round(n * vital.deceased_share)
    living_count = n - deceased_count
    exact_birth, female, death_day = _draw_ages(rng, living_count, deceased_count, plan.reference_day)
    birth_day, precision = truncate_to_precision(rng, exact_birth, vital.year_precision, vital.month_precision)
    year = birth_years(birth_day)
    age = ages_in_years(plan.reference_day, birth_day)
    deceased = np.arange(n) >= living_count

    structure = form_households(rng, age[:living_count], female[:living_count], household_parameters())
    father = np.concatenate([structure.father, np.full(deceased_count, -1, dtype=np.int64)])
    households = structure.household_count
    places = Places(
        household=frame.draw_places(rng.random(households)),
        household_on_2025_units=rng.random(households) >= vital.household_on_pre2025_units_share,
        deceased=frame.draw_places(rng.random(deceased_count)),
    )
    place = np.concatenate([places.household[structure.household], places.deceased])
    province = frame.legacy_province[frame.place_legacy[place]]
    household_province = frame.legacy_province[frame.place_legacy[places.household]]

    # Ethnicity and religion are drawn per household from its province.
    groups = len(tables.ethnic_codes)
    household_group = tables.ethnicity.draw(rng.random(households), household_province)
    ethnicity = np.concatenate(
        [
            household_group[structure.household],
            tables.ethnicity.draw(rng.random(deceased_count), province[living_count:]),
        ]
    )
    other_group = np.flatnonzero(
        (np.concatenate([structure.spouse, np.full(deceased_count, -1)]) >= 0)
        & (rng.random(n) < _SPOUSE_OF_OTHER_GROUP_SHARE)
    )
    ethnicity[other_group] = tables.ethnicity.draw(rng.random(len(other_group)), province[other_group])
    ethnicity = _follow_fathers(ethnicity, father)
    household_religion = tables.religion.draw(rng.random(households), household_province * groups + household_group)
    religion = np.concatenate([household_religion[structure.household], np.zeros(deceased_count, dtype=np.int64)])
    own = np.flatnonzero(deceased | (rng.random(n) < _OWN_RELIGION_SHARE))
    religion[own] = tables.religion.draw(rng.random(len(own)), province[own] * groups + ethnicity[own])

    names = draw_names(rng, ethnicity, female, year)

    legacy_code, current_code = _province_code_numbers(frame)
    stays = rng.random(n) < vital.born_in_province_of_residence.at(age)
    birth_province = np.where(stays, province, tables.province.draw(rng.random(n)))
    after_reform = birth_day >= REFORM_DAY
    birth_code = np.where(
        after_reform, current_code[frame.legacy_province_current[birth_province]], legacy_code[birth_province]
    )
    unit_known = rng.random(n) < vital.birth_unit_known.at(year)
    birth_unit_place = np.where(unit_known, place, -1)
    away = np.flatnonzero(unit_known & ~stays)
    birth_unit_place[away] = frame.draw_places_in(birth_province[away], rng.random(len(away)))
    # The place of origin ("quê quán") is the father's; others get one in their birth province.
    origin_place = np.full(n, -1, dtype=np.int64)
    own_origin = np.flatnonzero((father < 0) & (rng.random(n) < vital.origin_known_share))
    origin_place[own_origin] = frame.draw_places_in(birth_province[own_origin], rng.random(len(own_origin)))
    origin_on_2025 = after_reform | (rng.random(n) < vital.origin_on_2025_units_share)

    draws = PersonDraws(
        female=female,
        birth_day=birth_day,
        precision=precision,
        ethnicity=ethnicity,
        religion=religion,
        family=_follow_fathers(names.family, father),
        middle=names.middle,
        given=names.given,
        birth_province_code=birth_code,
        birth_unit_place=birth_unit_place,
        birth_unit_on_2025_units=after_reform,
        origin_place=_follow_fathers(origin_place, father),
        origin_on_2025_units=_follow_fathers(origin_on_2025.astype(np.int64), father).astype(bool),
        deceased=deceased,
        death_day=np.concatenate([np.zeros(living_count, dtype=np.int64), death_day]),
    )
    return draws, structure, places, age


def draw_chunk(plan: ChunkPlan) -> ChunkTables:
    """Draw one chunk and build its tables (a pure function of the plan: deterministic)."""
    rng = np.random.default_rng(plan.seed)
    frame = commune_frame()
    tables = population_tables()
    originals, structure, places, age = _draw_persons(rng, plan, frame)
    living_count = len(structure.household)
    on_2025_units = np.concatenate(
        [places.household_on_2025_units[structure.household], np.zeros(plan.persons - living_count, dtype=bool)]
    )
    duplicates = make_duplicates(
        rng, originals, plan.duplicates, on_2025_units=on_2025_units, same_pin_share=plan.same_pin_share
    )
    everyone = originals.concat(duplicates.draws)
    records = len(everyone)

    # PINs for originals and duplicates at once, so a duplicate's new PIN never equals another's.
    pins = pin_characters(
        everyone.birth_province_code,
        birth_years(everyone.birth_day),
        everyone.female,
        key=plan.pin_key,
        lane=plan.index,
        lanes=plan.chunks,
    )
    keeps = np.flatnonzero(duplicates.same_pin)
    pins[plan.persons + keeps] = pins[duplicates.source[keeps]]

    # Person ids in a random order within the chunk, so that an id says nothing about the record.
    person_id = np.empty(records, dtype=np.int64)
    person_id[rng.permutation(records)] = np.arange(plan.first_person_id, plan.first_person_id + records)
    persons = pa.concat_tables(
        [
            persons_table(
                originals,
                person_id=person_id[: plan.persons],
                pin=pins[: plan.persons],
                frame=frame,
                ethnic_codes=tables.ethnic_codes,
                religion_codes=tables.religion_codes,
            ),
            persons_table(
                duplicates.draws,
                person_id=person_id[plan.persons :],
                pin=pins[plan.persons :],
                stripped=duplicates.stripped,
                frame=frame,
                ethnic_codes=tables.ethnic_codes,
                religion_codes=tables.religion_codes,
            ),
        ]
    )
    living_ids = person_id[:living_count]
    household_lines = address_lines(rng, frame.place_current[places.household])
    joined_on = joined_dates(rng, structure, age, originals.birth_day, plan.reference_day)
    residences = residences_table(
        rng,
        frame=frame,
        structure=structure,
        places=places,
        household_lines=household_lines,
        joined_on=joined_on,
        originals=originals,
        duplicates=duplicates,
        person_id=person_id,
        age=age,
        reference_day=plan.reference_day,
    )
    return ChunkTables(
        persons=persons,
        households=households_table(frame, structure, places, household_lines, living_ids, chunk=plan.index),
        household_members=members_table(structure, living_ids, joined_on),
        residences=residences,
        relations=relations_table(structure, living_ids),
        truth=truth_table(person_id, plan.persons, duplicates),
    )
