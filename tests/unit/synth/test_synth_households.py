"""Households have a plausible family structure and the family links are consistent."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from conftest import Drawn, column
from popreg.kit.text import split_full_name


def _by_id(table: pa.Table, name: str) -> dict[int, object]:
    return dict(zip(table["person_id"].to_pylist(), table[name].to_pylist(), strict=True))


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def test_every_household_has_exactly_one_head_who_is_its_member(drawn: Drawn) -> None:
    population = drawn.population
    members = population.household_members
    heads = members.filter(pc.equal(members["relationship_to_head"], "head"))
    assert heads.num_rows == population.households.num_rows
    head_of = dict(zip(heads["household_id"].to_pylist(), heads["person_id"].to_pylist(), strict=True))
    households = population.households
    assert head_of == dict(
        zip(households["household_id"].to_pylist(), households["head_person_id"].to_pylist(), strict=True)
    )


def test_every_living_person_belongs_to_one_household_and_no_deceased_person_does(drawn: Drawn) -> None:
    members = column(drawn.population.household_members, "person_id")
    assert len(members) == len(np.unique(members))
    assert set(members) == set(column(drawn.living(), "person_id"))


def test_household_ids_and_numbers_are_unique(drawn: Drawn) -> None:
    households = drawn.population.households
    assert pc.count_distinct(households["household_id"]).as_py() == households.num_rows
    assert pc.count_distinct(households["number"]).as_py() == households.num_rows
    assert column(households, "household_id").min() == 1
    assert column(households, "household_id").max() == households.num_rows


def test_spouses_are_adults_of_opposite_sex_linked_both_ways(drawn: Drawn) -> None:
    relations = drawn.population.relations
    spouses = relations.filter(pc.equal(relations["kind"], "spouse"))
    pairs = set(zip(spouses["person_id"].to_pylist(), spouses["relative_id"].to_pylist(), strict=True))
    assert pairs and all((b, a) in pairs for a, b in pairs)
    sex = _by_id(drawn.originals, "sex")
    birth = _by_id(drawn.originals, "birth_date")
    for a, b in pairs:
        assert sex[a] != sex[b]
        assert _years_later(birth[a], 18) <= date(2026, 1, 1)


def test_parents_are_at_least_15_years_older_than_their_children(drawn: Drawn) -> None:
    relations = drawn.population.relations
    parents = relations.filter(pc.is_in(relations["kind"], value_set=pa.array(["father", "mother"])))
    birth = _by_id(drawn.originals, "birth_date")
    sex = _by_id(drawn.originals, "sex")
    assert parents.num_rows > 0
    for child, parent, kind in zip(
        *(parents[c].to_pylist() for c in ("person_id", "relative_id", "kind")), strict=True
    ):
        assert _years_later(birth[parent], 15) <= birth[child]
        assert sex[parent] == ("M" if kind == "father" else "F")


def test_a_person_has_at_most_one_father_and_one_mother(drawn: Drawn) -> None:
    relations = drawn.population.relations
    for kind in ("father", "mother"):
        children = column(relations.filter(pc.equal(relations["kind"], kind)), "person_id")
        assert len(children) == len(np.unique(children))


def test_children_carry_their_fathers_family_name_and_live_with_their_parents(drawn: Drawn) -> None:
    relations = drawn.population.relations
    fathers = relations.filter(pc.equal(relations["kind"], "father"))
    family = _by_id(drawn.originals, "family_name")
    household = dict(
        zip(*(drawn.population.household_members[c].to_pylist() for c in ("person_id", "household_id")), strict=True)
    )
    for child, father in zip(fathers["person_id"].to_pylist(), fathers["relative_id"].to_pylist(), strict=True):
        assert family[child] == family[father]
        assert household[child] == household[father]


def test_households_hold_couples_children_grandparents_and_people_living_alone(drawn: Drawn) -> None:
    kinds = set(drawn.population.household_members["relationship_to_head"].to_pylist())
    assert kinds == {"head", "spouse", "child", "parent", "grandchild", "sibling", "other"}


def test_the_name_parts_are_those_the_register_splits_the_full_name_into(drawn: Drawn) -> None:
    sample = drawn.originals.slice(0, 5000)
    for full, family, middle, given in zip(
        *(sample[c].to_pylist() for c in ("full_name", "family_name", "middle_name", "given_name")), strict=True
    ):
        assert split_full_name(full) == (family, middle, given)
