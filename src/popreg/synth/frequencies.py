"""The published statistics the synthetic population is drawn from, as sampling tables.

Every table is a small JSON file in ``synth/data`` (``data/README.md`` cites each source). This
module reads them once per process and turns them into alias tables over index vocabularies
(:mod:`popreg.synth.alias`), so that drawing a million values takes a few array operations:

* population by pre-2025 province (2019 census), and the ethnic mix of each province: the census
  count of each of the 54 groups, placed where the group mainly lives, with the Kinh filling what
  the other groups leave;
* religion by province and ethnic group, calibrated so that the national shares of the 2019 census
  hold (the places and groups where a religion is concentrated get their own shares, everyone else
  the residual);
* family names by ethnic group, calibrated the same way against the national shares;
* middle and given names by sex and by decade of birth (Văn and Thị, and classic names, fade);
* the age-sex pyramid of the 2019 census.

These are aggregate statistics; no personal data is involved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
import numpy.typing as npt

from popreg.synth.alias import AliasTable
from popreg.synth.arrays import FloatArray, IntArray

SEXES = ("M", "F")
"""Sex codes in index order: index 0 is male, 1 female, everywhere in the generator."""


def _read(name: str) -> Any:
    text = files("popreg.synth").joinpath("data", name).read_text(encoding="utf-8")
    return json.loads(text)


_LOOKUP_SIZE = 2200
"""Step tables are tabulated at every whole number below this (ages and calendar years)."""


@dataclass(frozen=True)
class StepTable:
    """A value that changes at whole-number thresholds (of age, or of year of birth).

    The value in force at ``x`` is that of the last threshold not above ``x`` (before the first
    threshold, the first value). Thresholds are whole numbers, so the table is tabulated once
    at every whole number and looked up by ``floor(x)``: a gather, not a search.
    """

    thresholds: FloatArray
    values: FloatArray
    lookup: FloatArray

    @classmethod
    def from_lists(cls, thresholds: Sequence[float], values: Sequence[float]) -> StepTable:
        steps = np.asarray(thresholds, dtype=np.float64)
        if not np.array_equal(steps, np.floor(steps)) or steps.min() < 0 or steps.max() >= _LOOKUP_SIZE:
            raise ValueError(f"Step thresholds must be whole numbers from 0 to {_LOOKUP_SIZE - 1}.")
        levels = np.asarray(values, dtype=np.float64)
        position = np.searchsorted(steps, np.arange(_LOOKUP_SIZE), side="right") - 1
        return cls(steps, levels, levels[np.clip(position, 0, len(levels) - 1)])

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, float]) -> StepTable:
        pairs = sorted((float(key), float(value)) for key, value in mapping.items())
        return cls.from_lists([p[0] for p in pairs], [p[1] for p in pairs])

    def at(self, x: npt.ArrayLike) -> FloatArray:
        """The value in force at each ``x``."""
        whole = np.clip(np.asarray(x), 0, _LOOKUP_SIZE - 1).astype(np.int64)
        values: FloatArray = self.lookup[whole]
        return values


# -- population, ethnicity, religion --------------------------------------------------------------


@dataclass(frozen=True)
class PopulationTables:
    """Who lives where: provinces, the age-sex pyramid, ethnicity and religion."""

    province_codes: tuple[str, ...]
    """The 63 pre-2025 province codes (2 digits), in the order of every province-indexed array."""
    province_population: FloatArray
    province: AliasTable
    """Provinces in proportion to population."""
    age_band_start: FloatArray
    age_band_end: FloatArray
    age_sex: AliasTable
    """Over the cells (band, sex) flattened as ``band * 2 + sex``."""
    age_sex_count: FloatArray
    """Thousands of persons per (band, sex), shape (bands, 2)."""
    ethnic_codes: tuple[str, ...]
    ethnic_names: tuple[str, ...]
    ethnicity: AliasTable
    """One row per pre-2025 province: the distribution of the 54 groups there."""
    ethnicity_by_province: FloatArray
    """Persons of each group in each province (census scale), shape (63, 54)."""
    religion_codes: tuple[str, ...]
    religion: AliasTable
    """One row per cell ``province * 54 + group``: the distribution of religions."""
    religion_share: FloatArray
    """The same distributions as a matrix, shape (63 * 54, R)."""
    religion_national: FloatArray


def _ethnicity_by_province(
    province_codes: tuple[str, ...], population: FloatArray, items: list[dict[str, Any]]
) -> FloatArray:
    position = {code: i for i, code in enumerate(province_codes)}
    counts = np.zeros((len(province_codes), len(items)))
    spread = population / population.sum()
    for g, item in enumerate(items):
        concentration: dict[str, float] = item["concentration"]
        placed = np.zeros(len(province_codes))
        for code, share in concentration.items():
            placed[position[code]] = share
        counts[:, g] = item["population"] * (placed + (1.0 - placed.sum()) * spread)
    # A province cannot hold more minority people than residents: scale down where the rough
    # concentrations overshoot, leaving at least 3% Kinh. The Kinh (group 0) take the rest.
    minorities = counts[:, 1:].sum(axis=1)
    ceiling = 0.97 * population
    scale = np.minimum(1.0, ceiling / np.maximum(minorities, 1.0))
    counts[:, 1:] *= scale[:, None]
    counts[:, 0] = population - counts[:, 1:].sum(axis=1)
    return counts


def _religion_shares(
    payload: dict[str, Any],
    province_codes: tuple[str, ...],
    ethnic_codes: tuple[str, ...],
    persons: FloatArray,
) -> tuple[tuple[str, ...], FloatArray, FloatArray]:
    national: dict[str, float] = payload["national"]
    codes = ("none", *national)
    column = {code: i for i, code in enumerate(codes)}

    def vector(shares: Mapping[str, float]) -> FloatArray:
        out = np.zeros(len(codes))
        for code, share in shares.items():
            out[column[code]] = share
        out[0] = 1.0 - out[1:].sum()
        return out

    target = vector(national)
    cells = persons.reshape(-1)
    share = np.zeros((len(province_codes), len(ethnic_codes), len(codes)))
    fixed = np.zeros((len(province_codes), len(ethnic_codes)), dtype=bool)
    for code, shares in payload["by_province"].items():
        p = province_codes.index(code)
        share[p, :, :] = vector(shares)
        fixed[p, :] = True
    for code, shares in payload["by_ethnic_group"].items():
        g = ethnic_codes.index(code)
        share[:, g, :] = vector(shares)
        fixed[:, g] = True
    cell_share = share.reshape(-1, len(codes))
    fixed_flat = fixed.reshape(-1)
    # Everyone outside the places and groups listed gets the residual distribution that makes the
    # national shares come out as published.
    explained = (cells[fixed_flat, None] * cell_share[fixed_flat]).sum(axis=0)
    residual_mass = cells[~fixed_flat].sum()
    residual = np.clip(target * cells.sum() - explained, 0.0, None)[1:] / residual_mass
    cell_share[~fixed_flat] = vector(dict(zip(codes[1:], residual, strict=True)))
    return codes, cell_share, target


@cache
def population_tables() -> PopulationTables:
    """The population tables, read and calibrated once per process."""
    provinces = _read("provinces_2019.json")["items"]
    province_codes = tuple(item["code"] for item in provinces)
    population = np.array([item["population"] for item in provinces], dtype=np.float64)

    bands = _read("age_sex_2019.json")["items"]
    count = np.array([[band["male"], band["female"]] for band in bands], dtype=np.float64)
    ethnic_items = _read("ethnic_groups_2019.json")["items"]
    ethnic_codes = tuple(item["code"] for item in ethnic_items)
    persons = _ethnicity_by_province(province_codes, population, ethnic_items)
    religion_codes, religion_share, religion_national = _religion_shares(
        _read("religions_2019.json"), province_codes, ethnic_codes, persons
    )
    return PopulationTables(
        province_codes=province_codes,
        province_population=population,
        province=AliasTable.single(population),
        age_band_start=np.array([band["min_age"] for band in bands], dtype=np.float64),
        age_band_end=np.array([band["max_age_exclusive"] for band in bands], dtype=np.float64),
        age_sex=AliasTable.single(count.reshape(-1)),
        age_sex_count=count,
        ethnic_codes=ethnic_codes,
        ethnic_names=tuple(item["name"] for item in ethnic_items),
        ethnicity=AliasTable.from_weights(persons),
        ethnicity_by_province=persons,
        religion_codes=religion_codes,
        religion=AliasTable.from_weights(religion_share),
        religion_share=religion_share,
        religion_national=religion_national,
    )


# -- names -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameTables:
    """Vocabularies of name parts and the distributions to draw them from.

    ``family`` has one row per naming class: row 0 is everyone whose group has no table of its
    own (calibrated so that the national shares hold), then one row per group with a table;
    ``family_class_of_group`` gives the row of each of the 54 groups. ``middle`` and ``given``
    have four rows, ``sex * 2 + variant``, where the variant is 1 for the traditional middle name
    (Văn, Thị) and for the modern given names.
    """

    family_names: tuple[str, ...]
    family: AliasTable
    family_class_of_group: IntArray
    family_national: FloatArray
    middle_names: tuple[str, ...]
    middle: AliasTable
    traditional_middle_share: tuple[StepTable, StepTable]
    given_names: tuple[str, ...]
    given: AliasTable
    modern_given_share: StepTable


_EXACT_FAMILY_NAME_SHARE = 0.005
"""National family-name shares at least this large are reproduced exactly (up to sampling)."""


def _vocabulary(*tables: Mapping[str, float]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for table in tables:
        seen.update(dict.fromkeys(table))
    return tuple(seen)


def _weights(vocabulary: tuple[str, ...], table: Mapping[str, float]) -> FloatArray:
    position = {name: i for i, name in enumerate(vocabulary)}
    out = np.zeros(len(vocabulary))
    for name, weight in table.items():
        out[position[name]] = weight
    return out


@cache
def name_tables() -> NameTables:
    """The name tables, read and calibrated once per process."""
    population = population_tables()
    group_share = population.ethnicity_by_province.sum(axis=0)
    group_share /= group_share.sum()

    family = _read("family_names.json")
    national: dict[str, float] = family["national"]
    by_group: dict[str, dict[str, float]] = family["by_ethnic_group"]
    family_names = _vocabulary(national, *by_group.values())
    target = _weights(family_names, national)
    target /= target.sum()
    rows = []
    covered = 0.0
    explained = np.zeros(len(family_names))
    class_of_group = np.zeros(len(population.ethnic_codes), dtype=np.int64)
    for row, (code, table) in enumerate(by_group.items(), start=1):
        weights = _weights(family_names, table)
        weights /= weights.sum()
        g = population.ethnic_codes.index(code)
        class_of_group[g] = row
        explained += group_share[g] * weights
        covered += group_share[g]
        rows.append(weights)
    general = np.clip(target - explained, 0.0, None) / (1.0 - covered)
    # Where a group's table names someone more often than the national table allows, the clipped
    # difference is taken from the rarer names, so that the frequent ones keep their share.
    frequent = target >= _EXACT_FAMILY_NAME_SHARE
    rare_total = general[~frequent].sum()
    excess = general.sum() - 1.0
    general[~frequent] *= max(rare_total - excess, 0.0) / rare_total

    middle = _read("middle_names.json")
    middle_tables = [middle[variant][sex] for sex in SEXES for variant in ("other", "traditional")]
    middle_names = _vocabulary({"": 0.0}, *middle_tables)
    given = _read("given_names.json")
    given_tables = [given[variant][sex] for sex in SEXES for variant in ("classic", "modern")]
    given_names = _vocabulary(*given_tables)
    return NameTables(
        family_names=family_names,
        family=AliasTable.from_weights([general, *rows]),
        family_class_of_group=class_of_group,
        family_national=target,
        middle_names=middle_names,
        middle=AliasTable.from_weights([_weights(middle_names, t) for t in middle_tables]),
        traditional_middle_share=(
            StepTable.from_mapping(middle["traditional_share_by_birth_decade"]["M"]),
            StepTable.from_mapping(middle["traditional_share_by_birth_decade"]["F"]),
        ),
        given_names=given_names,
        given=AliasTable.from_weights([_weights(given_names, t) for t in given_tables]),
        modern_given_share=StepTable.from_mapping(given["modern_share_by_birth_decade"]),
    )


# -- living arrangements and vital events ------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A normal distribution of years, clipped to ``[low, high]``."""

    mean: float
    sd: float
    low: float
    high: float

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, float]) -> Gap:
        return cls(mapping["mean"], mapping["sd"], mapping["min"], mapping["max"])


@dataclass(frozen=True)
class HouseholdParameters:
    """How people are grouped into couples and households (``households_2019.json``)."""

    married_share: tuple[StepTable, StepTable]
    minimum_marriage_age: tuple[float, float]
    living_with_parents_share: StepTable
    mother_age_at_birth: Gap
    spouse_age_noise_sd: float
    couples_without_children_share: float
    lone_parent_share: tuple[float, float]
    lone_parent_ages: tuple[float, float]
    raised_by_grandparents_share: float
    grandparent_age_gap: Gap
    older_with_child_single: StepTable
    older_with_child_couple: StepTable
    parent_child_age_gap: Gap
    unmarried_joins_relatives_share: float
    female_head_share: float
    household_size_share: dict[str, float]


@cache
def household_parameters() -> HouseholdParameters:
    """The household parameters, read once per process."""
    data = _read("households_2019.json")
    bands = data["age_bands"]
    married = data["currently_married_share"]
    older = data["older_person_living_with_child_share"]
    lone = data["lone_parent_share_of_unmarried_adults"]
    return HouseholdParameters(
        married_share=(StepTable.from_lists(bands, married["M"]), StepTable.from_lists(bands, married["F"])),
        minimum_marriage_age=(data["minimum_marriage_age"]["M"], data["minimum_marriage_age"]["F"]),
        living_with_parents_share=StepTable.from_mapping(data["unmarried_living_with_parents_share"]),
        mother_age_at_birth=Gap.from_mapping(data["mother_age_at_birth"]),
        spouse_age_noise_sd=data["spouse_age_noise_sd"],
        couples_without_children_share=data["couples_without_children_share"],
        lone_parent_share=(lone["M"], lone["F"]),
        lone_parent_ages=(lone["min_age"], lone["max_age"]),
        raised_by_grandparents_share=data["children_raised_by_grandparents_share"],
        grandparent_age_gap=Gap.from_mapping(data["grandparent_age_gap"]),
        older_with_child_single=StepTable.from_lists(older["age_bands"], older["single"]),
        older_with_child_couple=StepTable.from_lists(older["age_bands"], older["couple"]),
        parent_child_age_gap=Gap.from_mapping(data["parent_child_age_gap"]),
        unmarried_joins_relatives_share=data["unmarried_adult_joins_relatives_share"],
        female_head_share=data["female_head_share_of_couples"],
        household_size_share=data["household_size_share"],
    )


@dataclass(frozen=True)
class VitalParameters:
    """Deaths, precision of dates of birth, and places of birth registration (``vital_2019.json``)."""

    deceased_share: float
    death_years_back: float
    age_at_death_start: FloatArray
    age_at_death_end: FloatArray
    age_at_death: AliasTable
    year_precision: StepTable
    month_precision: StepTable
    born_in_province_of_residence: StepTable
    birth_unit_known: StepTable
    origin_known_share: float
    origin_on_2025_units_share: float
    temporary_residence_share: float
    temporary_destinations: dict[str, float]
    household_on_pre2025_units_share: float


@cache
def vital_parameters() -> VitalParameters:
    """The vital-event parameters, read once per process."""
    data = _read("vital_2019.json")
    death_bands = data["age_at_death"]["age_bands"]
    precision = data["birth_date_precision_by_birth_year"]
    in_province = data["birth_registered_in_province_of_residence_share"]
    unit_known = data["birth_registration_unit_known_share"]
    return VitalParameters(
        deceased_share=data["deceased_share"],
        death_years_back=data["death_years_back"],
        age_at_death_start=np.asarray(death_bands[:-1], dtype=np.float64),
        age_at_death_end=np.asarray(death_bands[1:], dtype=np.float64),
        age_at_death=AliasTable.single(data["age_at_death"]["share"]),
        year_precision=StepTable.from_lists(precision["birth_year_from"], precision["year"]),
        month_precision=StepTable.from_lists(precision["birth_year_from"], precision["month"]),
        born_in_province_of_residence=StepTable.from_lists(in_province["age_from"], in_province["share"]),
        birth_unit_known=StepTable.from_lists(unit_known["birth_year_from"], unit_known["share"]),
        origin_known_share=data["origin_known_share"],
        origin_on_2025_units_share=data["origin_recorded_on_2025_units_share"],
        temporary_residence_share=data["temporary_residence_share"],
        temporary_destinations=data["temporary_residence_destinations"],
        household_on_pre2025_units_share=data["household_on_pre2025_units_share"],
    )


@dataclass(frozen=True)
class AddressWords:
    """Word tables for street and village addresses (``addresses.json``)."""

    street_names: tuple[str, ...]
    village_names: tuple[str, ...]
    styles: dict[str, dict[str, Any]]
    style_by_current_province: dict[str, str]
    default_style: str
    numbered_village_share: float
    alley_share: float


@cache
def address_words() -> AddressWords:
    """The address word tables, read once per process."""
    data = _read("addresses.json")
    return AddressWords(
        street_names=tuple(data["street_names"]),
        village_names=tuple(data["village_names"]),
        styles=data["styles"],
        style_by_current_province=data["style_by_current_province"],
        default_style=data["default_style"],
        numbered_village_share=data["numbered_village_share"],
        alley_share=data["alley_share"],
    )
