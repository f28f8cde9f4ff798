"""Every address is on a real commune of the shipped unit catalogue, old codes included."""

from __future__ import annotations

from datetime import date

import pyarrow.compute as pc

from conftest import Drawn
from popreg.units.catalogue import UnitGeneration, UnitLevel, get_unit, to_current


def _check_units(table) -> None:  # type: ignore[no-untyped-def]
    rows = zip(
        *(table[c].to_pylist() for c in ("unit_code", "unit_generation", "commune_code", "province_code")), strict=True
    )
    for unit_code, generation, commune_code, province_code in set(rows):
        commune = get_unit(commune_code, UnitGeneration.Y2025)
        assert commune is not None and commune.level is UnitLevel.COMMUNE
        assert commune.province_code == province_code
        if generation == "2025":
            assert unit_code == commune_code
        else:
            old = get_unit(unit_code, UnitGeneration.PRE_2025)
            assert old is not None and old.level is UnitLevel.COMMUNE
            assert commune_code in {unit.code for unit in to_current(unit_code)}


def test_every_residence_is_on_a_commune_of_the_catalogue_and_old_codes_convert_to_it(drawn: Drawn) -> None:
    _check_units(drawn.population.residences)


def test_every_household_is_on_a_commune_of_the_catalogue_and_old_codes_convert_to_it(drawn: Drawn) -> None:
    _check_units(drawn.population.households)


def test_residences_of_household_members_are_at_the_household(drawn: Drawn) -> None:
    population = drawn.population
    households = {row["household_id"]: row for row in population.households.to_pylist()}
    residences = population.residences.filter(pc.is_valid(population.residences["household_id"]))
    for row in residences.slice(0, 20_000).to_pylist():
        household = households[row["household_id"]]
        assert row["kind"] == "permanent" and row["valid_to"] is None
        for field in ("address_line", "unit_code", "commune_code"):
            assert row[field] == household[field]


def test_birth_registration_and_origin_units_are_communes_of_their_generation(drawn: Drawn) -> None:
    persons = drawn.originals.slice(0, 20_000)
    for birth_unit, born in zip(
        persons["birth_registration_unit_code"].to_pylist(), persons["birth_date"].to_pylist(), strict=True
    ):
        if birth_unit is not None:
            generation = UnitGeneration.Y2025 if born.isoformat() >= "2025-07-01" else UnitGeneration.PRE_2025
            assert get_unit(birth_unit, generation) is not None
    for origin, generation in zip(
        persons["origin_unit_code"].to_pylist(), persons["origin_unit_generation"].to_pylist(), strict=True
    ):
        assert (origin is None) == (generation is None)
        if origin is not None:
            assert get_unit(origin, UnitGeneration(generation)) is not None


def test_deceased_persons_have_no_current_residence_and_died_after_birth(drawn: Drawn) -> None:
    persons = drawn.originals
    deceased = persons.filter(pc.equal(persons["life_status"], "deceased")).to_pylist()
    residences = drawn.population.residences.to_pylist()
    current = {row["person_id"] for row in residences if row["valid_to"] is None}
    for person in deceased:
        assert person["person_id"] not in current
        assert person["birth_date"] < person["life_status_date"] < date(2026, 1, 1)
