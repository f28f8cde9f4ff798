"""Draw a synthetic population of Vietnam: persons, households, family relations, residences.

:func:`generate_population` is deterministic for a given seed (and reference date): the same
arguments give identical tables on every run and machine. Everything is drawn with NumPy array
operations and assembled with PyArrow; there is no Python loop per person, so a million persons
take about a second. How each part is drawn is documented where it is done:

* ages and sexes from the 2019 census pyramid (:mod:`~popreg.synth.frequencies`), a share of
  deceased persons kept in the register, the precision of dates of birth (:mod:`~popreg.synth.persons`);
* households and family links (:mod:`~popreg.synth.households`);
* places on the shipped unit catalogue, with about 5% of households still recorded on pre-2025
  units (:mod:`~popreg.synth.geography`, :mod:`~popreg.synth.addresses`);
* ethnicity and religion by province, shared within a household, children taking their father's
  ethnicity, family name and place of origin; names (:mod:`~popreg.synth.names`);
* PINs consistent with the province of birth registration, year of birth and sex, unique by
  construction (:mod:`~popreg.synth.pins`);
* with an error rate, labelled duplicates (:mod:`~popreg.synth.defects`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from popreg.synth.addresses import address_lines
from popreg.synth.arrays import BoolArray, IntArray
from popreg.synth.defects import Duplicates, make_duplicates
from popreg.synth.alias import AliasTable
from popreg.synth.frequencies import household_parameters, population_tables, vital_parameters
from popreg.synth.geography import CommuneFrame, commune_frame
from popreg.synth.households import RELATIONSHIP_CODES, HouseholdStructure, form_households
from popreg.synth.names import concat_name_columns, draw_names, name_columns
from popreg.synth.persons import (
    DAYS_PER_YEAR,
    REFORM_DAY,
    PersonDraws,
    ages_in_years,
    birth_years,
    day_number,
    persons_table,
    truncate_to_precision,
)
from popreg.synth.pins import pin_numbers
from popreg.synth.schema import HOUSEHOLD_MEMBERS, HOUSEHOLDS, RELATIONS, RESIDENCES, TRUTH

DEFAULT_REFERENCE_DATE = date(2026, 1, 1)
_SPOUSE_OF_OTHER_GROUP_SHARE = 0.05
_OWN_RELIGION_SHARE = 0.1
_DECEASED_FEMALE_SHARE = 0.45
_MAXIMUM_HOUSEHOLD_AGE_YEARS = 40.0
_TEMPORARY_RESIDENCE_AGES = (18.0, 45.0)
_TEMPORARY_RESIDENCE_MAXIMUM_DAYS = 730


@dataclass(frozen=True)
class SyntheticPopulation:
    """The tables of a synthetic population (schemas in :mod:`popreg.synth.schema`).

    ``truth`` maps every person record to the person it describes: ``entity_id`` is the
    ``person_id`` of the original record, so a duplicate shares it with its source, and ``defect``
    labels what is wrong with a duplicate (null for originals).
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


def _follow_fathers(values: IntArray, father: IntArray) -> IntArray:
    """Children take their father's value; two passes reach grandchildren of a co-resident grandfather."""
    out = values.copy()
    has_father = np.flatnonzero(father >= 0)
    for _ in range(2):
        out[has_father] = out[father[has_father]]
    return out


@dataclass(frozen=True)
class _Living:
    """The living persons' ages and sexes, drawn from the census pyramid."""

    birth_day: IntArray
    female: BoolArray


def _draw_living(rng: np.random.Generator, count: int, reference_day: int) -> _Living:
    tables = population_tables()
    cell = tables.age_sex.draw(rng.random(count))
    band = cell // 2
    uniform = rng.random(count)
    start = tables.age_band_start[band]
    age = start + uniform * (tables.age_band_end[band] - start)
    # The open band (85+) thins out towards 100: density falling linearly to zero.
    last = band == len(tables.age_band_start) - 1
    age = np.where(last, 100.0 - 15.0 * np.sqrt(1.0 - uniform), age)
    birth_day = reference_day - 1 - np.floor(age * DAYS_PER_YEAR).astype(np.int64)
    return _Living(birth_day=birth_day, female=(cell % 2) == 1)


def _draw_deaths(rng: np.random.Generator, count: int, reference_day: int) -> tuple[IntArray, IntArray, BoolArray]:
    vital = vital_parameters()
    band = vital.age_at_death.draw(rng.random(count))
    start = vital.age_at_death_start[band]
    age = start + rng.random(count) * (vital.age_at_death_end[band] - start)
    death_day = reference_day - 1 - np.floor(rng.random(count) * vital.death_years_back * DAYS_PER_YEAR)
    death_day = death_day.astype(np.int64)
    birth_day = death_day - np.maximum(1, np.floor(age * DAYS_PER_YEAR).astype(np.int64))
    return birth_day, death_day, rng.random(count) < _DECEASED_FEMALE_SHARE


def _province_code_numbers(frame: CommuneFrame) -> tuple[IntArray, IntArray]:
    """Numeric codes of the pre-2025 provinces (by index) and of the 2025 provinces."""
    legacy = np.array([int(code) for code in population_tables().province_codes], dtype=np.int64)
    current = np.array([int(code) for code in frame.current_province_list], dtype=np.int64)
    return legacy, current


def generate_population(
    n: int,
    *,
    seed: int,
    error_rate: float = 0.0,
    reference_date: date = DEFAULT_REFERENCE_DATE,
    duplicate_same_pin_share: float = 0.5,
) -> SyntheticPopulation:
    """Draw ``n`` person records (living and deceased) plus ``round(error_rate * n)`` duplicates.

    ``reference_date`` is "today" for the population: ages, deaths and registrations are before it.
    ``duplicate_same_pin_share`` is the share of duplicates that keep their original's PIN (see
    :mod:`popreg.synth.defects`). Raises ``ValueError`` for a negative ``n`` or an error rate
    outside ``[0, 1]``.
    """
    if n < 0:
        raise ValueError(f"The number of persons must be zero or more, not {n}.")
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"The error rate is a share of the persons, from 0 to 1, not {error_rate}.")
    if not 0.0 <= duplicate_same_pin_share <= 1.0:
        raise ValueError(f"The share of duplicates keeping their PIN must be from 0 to 1, not {duplicate_same_pin_share}.")

    rng = np.random.default_rng(seed)
    tables = population_tables()
    vital = vital_parameters()
    frame = commune_frame()
    reference_day = day_number(reference_date)
    deceased_count = round(n * vital.deceased_share)
    living_count = n - deceased_count

    # Persons: the living first (indices 0..living-1), then the deceased.
    living = _draw_living(rng, living_count, reference_day)
    dead_birth, death_day, dead_female = _draw_deaths(rng, deceased_count, reference_day)
    deceased = np.arange(n) >= living_count
    female = np.concatenate([living.female, dead_female])
    birth_day, precision = truncate_to_precision(
        rng, np.concatenate([living.birth_day, dead_birth]), vital.year_precision, vital.month_precision
    )
    death_days = np.concatenate([np.zeros(living_count, dtype=np.int64), death_day])
    year = birth_years(birth_day)
    age = ages_in_years(reference_day, birth_day)

    structure = form_households(rng, age[:living_count], female[:living_count], household_parameters())
    household_count = structure.household_count
    father = np.concatenate([structure.father, np.full(deceased_count, -1, dtype=np.int64)])

    # Places: each household, and each deceased person's last residence.
    household_place = frame.draw_places(rng.random(household_count))
    household_on_2025_units = rng.random(household_count) >= vital.household_on_pre2025_units_share
    dead_place = frame.draw_places(rng.random(deceased_count))
    place = np.concatenate([household_place[structure.household], dead_place])
    province = frame.legacy_province[frame.place_legacy[place]]
    household_province = frame.legacy_province[frame.place_legacy[household_place]]

    # Ethnicity and religion are drawn per household from its province, with a few spouses from
    # another group and a few persons of another religion than their household's.
    group_count = len(tables.ethnic_codes)
    household_group = tables.ethnicity.draw(rng.random(household_count), household_province)
    dead_group = tables.ethnicity.draw(rng.random(deceased_count), province[living_count:])
    ethnicity = np.concatenate([household_group[structure.household], dead_group])
    spouse_of_other_group = np.concatenate(
        [(structure.spouse >= 0) & (rng.random(living_count) < _SPOUSE_OF_OTHER_GROUP_SHARE), np.zeros(deceased_count, dtype=bool)]
    )
    ethnicity[spouse_of_other_group] = tables.ethnicity.draw(
        rng.random(int(spouse_of_other_group.sum())), province[spouse_of_other_group]
    )
    ethnicity = _follow_fathers(ethnicity, father)
    household_religion = tables.religion.draw(
        rng.random(household_count), household_province * group_count + household_group
    )
    religion = np.concatenate([household_religion[structure.household], np.zeros(deceased_count, dtype=np.int64)])
    own_religion = deceased | (rng.random(n) < _OWN_RELIGION_SHARE)
    religion[own_religion] = tables.religion.draw(
        rng.random(int(own_religion.sum())), province[own_religion] * group_count + ethnicity[own_religion]
    )

    names = draw_names(rng, ethnicity, female, year)

    # Birth registration: mostly in the province of residence (less so for older people), else
    # anywhere in proportion to population; births since the reform use the 2025 province codes.
    legacy_code, current_code = _province_code_numbers(frame)
    stays = rng.random(n) < vital.born_in_province_of_residence.at(age)
    national = tables.province.draw(rng.random(n))
    birth_province = np.where(stays, province, national)
    after_reform = birth_day >= REFORM_DAY
    birth_code = np.where(
        after_reform, current_code[frame.legacy_province_current[birth_province]], legacy_code[birth_province]
    )
    elsewhere = frame.draw_places_in(birth_province, rng.random(n))
    unit_known = rng.random(n) < vital.birth_unit_known.at(year)
    birth_unit_place = np.where(unit_known, np.where(stays, place, elsewhere), -1)
    origin_known = rng.random(n) < vital.origin_known_share
    origin_place = _follow_fathers(
        np.where(origin_known, frame.draw_places_in(birth_province, rng.random(n)), -1), father
    )
    origin_on_2025_units = _follow_fathers(
        (after_reform | (rng.random(n) < vital.origin_on_2025_units_share)).astype(np.int64), father
    ).astype(bool)

    originals = PersonDraws(
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
        origin_place=origin_place,
        origin_on_2025_units=origin_on_2025_units,
        deceased=deceased,
        death_day=death_days,
    )
    on_2025_units = np.concatenate([household_on_2025_units[structure.household], np.zeros(deceased_count, dtype=bool)])
    duplicates = make_duplicates(
        rng,
        originals,
        round(error_rate * n),
        on_2025_units=on_2025_units,
        same_pin_share=duplicate_same_pin_share,
    )
    everyone = originals.concat(duplicates.draws)
    duplicate_count = len(duplicates.source)

    # PINs for everyone at once, so that fresh PINs of duplicates never collide with originals.
    fresh_pin = pin_numbers(
        everyone.birth_province_code, birth_years(everyone.birth_day), everyone.female, key=seed
    )
    pin = fresh_pin.copy()
    keeps = n + np.flatnonzero(duplicates.same_pin)
    pin[keeps] = fresh_pin[duplicates.source[duplicates.same_pin]]

    # Person ids: the records in a random order, so that ids say nothing about the record.
    person_id = np.empty(n + duplicate_count, dtype=np.int64)
    person_id[rng.permutation(n + duplicate_count)] = np.arange(1, n + duplicate_count + 1)
    names_written = concat_name_columns(
        name_columns(originals.names), name_columns(duplicates.draws.names, duplicates.stripped)
    )
    persons = persons_table(
        everyone,
        person_id=person_id,
        pin=pin,
        names=names_written,
        frame=frame,
        ethnic_codes=tables.ethnic_codes,
        religion_codes=tables.religion_codes,
    )

    household_lines = address_lines(rng, frame.place_current[household_place])
    households = _households_table(
        frame, structure, household_place, household_on_2025_units, household_lines, person_id
    )
    created = reference_day - np.floor(
        rng.random(household_count)
        * np.minimum(age[structure.head] - 18.0, _MAXIMUM_HOUSEHOLD_AGE_YEARS)
        * DAYS_PER_YEAR
    ).astype(np.int64)
    joined_on = np.maximum(created[structure.household], birth_day[:living_count])
    members = _members_table(structure, person_id[:living_count], joined_on)
    residences = _residences_table(
        rng,
        frame=frame,
        structure=structure,
        household_place=household_place,
        household_on_2025_units=household_on_2025_units,
        household_lines=household_lines,
        joined_on=joined_on,
        dead_place=dead_place,
        originals=originals,
        duplicates=duplicates,
        person_id=person_id,
        age=age,
        reference_day=reference_day,
    )
    relations = _relations_table(structure, person_id[:living_count])
    truth = pa.Table.from_arrays(
        [
            pa.array(person_id, pa.int64()),
            pa.array(np.concatenate([person_id[:n], person_id[duplicates.source]]), pa.int64()),
            pa.concat_arrays([pa.nulls(n, pa.string()), duplicates.labels()]),
        ],
        schema=TRUTH,
    )
    return SyntheticPopulation(persons, households, members, residences, relations, truth)


def _unit_columns(
    frame: CommuneFrame, place: IntArray, on_2025_units: BoolArray
) -> tuple[pa.StringArray, pa.StringArray, pa.StringArray, pa.StringArray]:
    """Unit code as recorded, its generation, and the current commune and province of each place."""
    return (
        frame.unit_codes(place, on_2025_units),
        frame.generations(on_2025_units),
        frame.current_communes(place),
        frame.current_provinces(place),
    )


def _households_table(
    frame: CommuneFrame,
    structure: HouseholdStructure,
    place: IntArray,
    on_2025_units: BoolArray,
    lines: pa.StringArray,
    person_id: IntArray,
) -> pa.Table:
    count = structure.household_count
    household_id = np.arange(1, count + 1, dtype=np.int64)
    unit_code, generation, commune, province = _unit_columns(frame, place, on_2025_units)
    # The household book number: the current province code and the id on ten digits.
    number = pc.binary_join_element_wise(
        province, pc.utf8_lpad(pa.array(household_id).cast(pa.string()), 10, "0"), ""
    )
    return pa.Table.from_arrays(
        [
            pa.array(household_id),
            number,
            pa.array(person_id[structure.head]),
            lines,
            unit_code,
            generation,
            commune,
            province,
        ],
        schema=HOUSEHOLDS,
    )


def _members_table(structure: HouseholdStructure, person_id: IntArray, joined_on: IntArray) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array(structure.household + 1),
            pa.array(person_id),
            pa.array(RELATIONSHIP_CODES, pa.string()).take(pa.array(structure.relationship)),
            pa.array(joined_on.astype(np.int32), pa.date32()),
        ],
        schema=HOUSEHOLD_MEMBERS,
    )


def _relations_table(structure: HouseholdStructure, person_id: IntArray) -> pa.Table:
    """Child-to-father and child-to-mother links, and spouse links in both directions."""
    subjects = []
    relatives = []
    kinds = []
    for kind, (links) in enumerate((structure.father, structure.mother, structure.spouse)):
        linked = np.flatnonzero(links >= 0)
        subjects.append(person_id[linked])
        relatives.append(person_id[links[linked]])
        kinds.append(np.full(len(linked), kind, dtype=np.int64))
    return pa.Table.from_arrays(
        [
            pa.array(np.concatenate(subjects)),
            pa.array(np.concatenate(relatives)),
            pa.array(["father", "mother", "spouse"], pa.string()).take(pa.array(np.concatenate(kinds))),
        ],
        schema=RELATIONS,
    )


def _residences_table(
    rng: np.random.Generator,
    *,
    frame: CommuneFrame,
    structure: HouseholdStructure,
    household_place: IntArray,
    household_on_2025_units: BoolArray,
    household_lines: pa.StringArray,
    joined_on: IntArray,
    dead_place: IntArray,
    originals: PersonDraws,
    duplicates: Duplicates,
    person_id: IntArray,
    age: np.ndarray,
    reference_day: int,
) -> pa.Table:
    """Permanent residences of the living (at their household), closed ones of the deceased,
    temporary ones of some young adults elsewhere, and one for each duplicate record."""
    vital = vital_parameters()
    tables = population_tables()
    living_count = len(structure.household)
    deceased_count = len(dead_place)
    n = living_count + deceased_count

    # The deceased: their last permanent residence, closed on the day of death.
    dead_lines = address_lines(rng, frame.place_current[dead_place])
    dead_birth = originals.birth_day[living_count:]
    dead_death = originals.death_day[living_count:]
    dead_from = np.maximum(dead_birth, dead_death - np.floor(rng.random(deceased_count) * 40 * DAYS_PER_YEAR).astype(np.int64))

    # Temporary residences: young adults registered away from home, mostly in the big cities.
    low, high = _TEMPORARY_RESIDENCE_AGES
    candidates = np.flatnonzero((age[:living_count] >= low) & (age[:living_count] < high))
    share = min(1.0, vital.temporary_residence_share * living_count / max(len(candidates), 1))
    movers = candidates[rng.random(len(candidates)) < share]
    destination_weight = (tables.province_population / tables.province_population.sum()) * (
        1.0 - sum(vital.temporary_destinations.values())
    )
    for code, weight in vital.temporary_destinations.items():
        destination_weight[tables.province_codes.index(code)] += weight
    destination = AliasTable.single(destination_weight).draw(rng.random(len(movers)))
    temporary_place = frame.draw_places_in(destination, rng.random(len(movers)))
    temporary_lines = address_lines(rng, frame.place_current[temporary_place])
    temporary_from = reference_day - 1 - np.floor(rng.random(len(movers)) * _TEMPORARY_RESIDENCE_MAXIMUM_DAYS).astype(np.int64)

    # Duplicates: the residence of their source, possibly on the pre-2025 code of the same place.
    source = duplicates.source
    original_place = np.concatenate([household_place[structure.household], dead_place])
    original_on_2025 = np.concatenate([household_on_2025_units[structure.household], np.zeros(deceased_count, dtype=bool)])
    original_lines = pa.concat_arrays([household_lines.take(pa.array(structure.household)), dead_lines])
    original_from = np.concatenate([joined_on, dead_from])
    original_to = np.concatenate([np.full(living_count, -1, dtype=np.int64), dead_death])
    duplicate_on_2025 = original_on_2025[source] & ~duplicates.outdated_address

    place = np.concatenate([original_place, temporary_place, original_place[source]])
    on_2025 = np.concatenate([original_on_2025, np.ones(len(movers), dtype=bool), duplicate_on_2025])
    unit_code, generation, commune, province = _unit_columns(frame, place, on_2025)
    household = np.concatenate(
        [structure.household, np.full(deceased_count + len(movers), -1, dtype=np.int64), np.full(len(source), -1)]
    )
    valid_to = np.concatenate([original_to, np.full(len(movers), -1, dtype=np.int64), original_to[source]])
    kind = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(len(movers), dtype=np.int64), np.zeros(len(source), dtype=np.int64)])
    residents = np.concatenate([person_id[:n], person_id[movers], person_id[n:]])
    total = len(residents)
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(1, total + 1, dtype=np.int64)),
            pa.array(residents),
            pa.array(["permanent", "temporary"], pa.string()).take(pa.array(kind)),
            pa.concat_arrays([original_lines, temporary_lines, original_lines.take(pa.array(source))]),
            unit_code,
            generation,
            commune,
            province,
            pa.array(household + 1, pa.int64(), mask=household < 0),
            pa.array(
                np.concatenate([original_from, temporary_from, original_from[source]]).astype(np.int32), pa.date32()
            ),
            pa.array(valid_to.astype(np.int32), pa.date32(), mask=valid_to < 0),
        ],
        schema=RESIDENCES,
    )
