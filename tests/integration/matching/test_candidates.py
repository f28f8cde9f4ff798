"""Finding the person of an update that carries no PIN, on both backends."""

from __future__ import annotations

from datetime import date
from typing import Any

from matching_builders import load_population
from popreg.kit.database import Database
from popreg.kit.text import strip_diacritics
from popreg.matching.candidates import Demographics, find_candidates


def _originals(database: Database, count: int = 6) -> list[dict[str, Any]]:
    drawn = load_population(database)
    truth = {row["record_id"]: row for row in drawn.truth.to_pylist()}
    people = [row for row in drawn.persons.to_pylist() if truth[row["person_id"]]["defect"] is None]
    return [p for p in people if p["birth_date_precision"] == "day" and p["middle_name"]][:count]


def _best(database: Database, who: Demographics) -> list[Any]:
    with database.unit_of_work() as session:
        return find_candidates(session, who)


def test_exact_demographics_find_the_person_first_with_a_high_probability(database: Database) -> None:
    for person in _originals(database):
        found = _best(
            database, Demographics(full_name=person["full_name"], birth_date=person["birth_date"], sex=person["sex"])
        )
        assert found[0].pin == person["pin"]
        assert found[0].person_id == person["person_id"]
        assert found[0].match_probability > 0.99
        assert all(a.match_probability >= b.match_probability for a, b in zip(found, found[1:], strict=False))


def test_a_misspelt_given_name_still_finds_the_person(database: Database) -> None:
    for person in _originals(database):
        misspelt = f"{person['family_name']} {person['middle_name']} {person['given_name']}x"
        found = _best(database, Demographics(full_name=misspelt, birth_date=person["birth_date"], sex=person["sex"]))
        assert found and found[0].pin == person["pin"]
        assert found[0].match_probability > 0.5


def test_day_and_month_exchanged_still_finds_the_person(database: Database) -> None:
    people = [
        p
        for p in _originals(database, 50)
        if p["birth_date"].day <= 12 and p["birth_date"].day != p["birth_date"].month
    ]
    assert people
    for person in people[:4]:
        born: date = person["birth_date"]
        swapped = date(born.year, born.day, born.month)
        found = _best(database, Demographics(full_name=person["full_name"], birth_date=swapped, sex=person["sex"]))
        assert found and found[0].pin == person["pin"]
        assert found[0].match_probability > 0.5


def test_year_only_no_diacritics_and_given_name_first_find_the_person(database: Database) -> None:
    for person in _originals(database, 4):
        plain = strip_diacritics(f"{person['middle_name']} {person['given_name']} {person['family_name']}").upper()
        found = _best(database, Demographics(full_name=plain, birth_year=person["birth_date"].year, sex=person["sex"]))
        assert found and found[0].pin == person["pin"]


def test_an_initial_for_the_middle_name_matches_the_full_middle_name(database: Database) -> None:
    for person in _originals(database, 4):
        initial = f"{person['family_name']} {person['middle_name'][0]}. {person['given_name']}"
        found = _best(database, Demographics(full_name=initial, birth_date=person["birth_date"], sex=person["sex"]))
        assert found and found[0].pin == person["pin"]
        assert found[0].match_probability > 0.9


def test_nobody_like_the_description_gives_no_likely_candidate(database: Database) -> None:
    load_population(database)
    found = _best(database, Demographics(full_name="Zyx Qwv Plok", birth_date=date(1901, 3, 4), sex="M"))
    assert all(candidate.match_probability < 0.01 for candidate in found)
    assert _best(database, Demographics(full_name="   ")) == []


def test_a_planted_duplicate_finds_its_original(database: Database) -> None:
    drawn = load_population(database)
    persons = {row["person_id"]: row for row in drawn.persons.to_pylist()}
    duplicates = [
        row for row in drawn.truth.to_pylist() if row["defect"] in {"typo", "lost_diacritics", "swapped_day_month"}
    ]
    assert len(duplicates) >= 5
    for row in duplicates:
        copy, original = persons[row["record_id"]], persons[row["entity_id"]]
        found = _best(
            database, Demographics(full_name=copy["full_name"], birth_date=copy["birth_date"], sex=copy["sex"])
        )
        pins = [candidate.pin for candidate in found[:2]]
        assert original["pin"] in pins, (copy["full_name"], original["full_name"], found)
