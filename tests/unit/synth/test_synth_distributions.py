"""The synthetic population follows the published statistics it is drawn from."""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pyarrow.compute as pc

from conftest import Drawn, column
from popreg.synth.frequencies import household_parameters, population_tables

REFERENCE_YEAR_DAYS = np.datetime64("2026-01-01")


def _share(values: np.ndarray, wanted: object) -> float:
    return float(np.mean(values == wanted))


def _ages(table) -> np.ndarray:  # type: ignore[no-untyped-def]
    birth = column(table, "birth_date").astype("datetime64[D]")
    return (REFERENCE_YEAR_DAYS - birth).astype(np.int64) / 365.2425


def test_nguyen_is_the_family_name_of_38_percent_within_2_points(drawn: Drawn) -> None:
    assert abs(_share(column(drawn.originals, "family_name"), "Nguyễn") - 0.38) <= 0.02


def test_the_ten_most_frequent_family_names_are_the_usual_ones(drawn: Drawn) -> None:
    counts = pc.value_counts(drawn.originals["family_name"]).to_pylist()
    top = {item["values"] for item in sorted(counts, key=lambda item: -item["counts"])[:6]}
    assert top == {"Nguyễn", "Trần", "Lê", "Phạm", "Phan", "Hoàng"}


def test_men_and_women_are_nearly_as_many_overall(drawn: Drawn) -> None:
    sex = column(drawn.living(), "sex")
    ratio = np.sum(sex == "M") / np.sum(sex == "F")
    assert 0.97 <= ratio <= 1.03


def test_boys_outnumber_girls_among_children_as_the_sex_ratio_at_birth_says(drawn: Drawn) -> None:
    living = drawn.living()
    children = _ages(living) < 15
    sex = column(living, "sex")[children]
    ratio = np.sum(sex == "M") / np.sum(sex == "F")
    assert 1.05 <= ratio <= 1.16


def test_ten_year_age_bands_are_within_2_points_of_the_census_pyramid(drawn: Drawn) -> None:
    tables = population_tables()
    census = tables.age_sex_count.sum(axis=1)
    expected = np.add.reduceat(census, np.arange(0, len(census), 2)) / census.sum()
    ages = _ages(drawn.living())
    band = np.minimum(ages // 10, len(expected) - 1).astype(int)
    observed = np.bincount(band, minlength=len(expected)) / len(ages)
    assert np.max(np.abs(observed - expected)) <= 0.02


def test_kinh_are_85_percent_and_the_largest_minorities_follow(drawn: Drawn) -> None:
    ethnicity = column(drawn.originals, "ethnicity_code")
    assert abs(_share(ethnicity, "01") - 0.853) <= 0.02
    for code, share in {"02": 0.019, "03": 0.019, "06": 0.015, "08": 0.0145, "05": 0.0137}.items():
        assert abs(_share(ethnicity, code) - share) <= 0.005


def test_ethnic_groups_live_where_they_are_concentrated(drawn: Drawn) -> None:
    living = drawn.living()
    residences = drawn.population.residences.filter(pc.is_valid(drawn.population.residences["household_id"]))
    province = dict(zip(residences["person_id"].to_pylist(), residences["province_code"].to_pylist(), strict=True))

    def provinces_of(code: str) -> list[str]:
        ids = living.filter(pc.equal(living["ethnicity_code"], code))["person_id"].to_pylist()
        return [province[i] for i in ids]

    khmer = provinces_of("05")
    # The Khmer live mostly in the Mekong delta: Cần Thơ (with Sóc Trăng), Vĩnh Long (with Trà Vinh), An Giang.
    assert np.mean(np.isin(khmer, ["92", "86", "91", "96", "79"])) > 0.8
    hmong = provinces_of("08")
    assert np.mean(np.isin(hmong, ["08", "11", "14", "15", "12", "04"])) > 0.75


def test_religions_follow_the_census_shares_within_1_point(drawn: Drawn) -> None:
    religion = column(drawn.originals, "religion_code")
    expected = {"none": 0.863, "catholicism": 0.061, "buddhism": 0.048, "protestantism": 0.010, "hoa_hao": 0.011}
    for code, share in expected.items():
        assert abs(_share(religion, code) - share) <= 0.01, code


def test_population_by_current_province_follows_the_census_of_its_former_provinces(drawn: Drawn) -> None:
    residences = drawn.population.residences.filter(pc.is_valid(drawn.population.residences["household_id"]))
    province = column(residences, "province_code")
    # Hồ Chí Minh City absorbed Bình Dương and Bà Rịa - Vũng Tàu: 12.57 of 96.2 million in 2019.
    assert abs(_share(province, "79") - 12.57 / 96.21) <= 0.01
    # Hà Nội was not merged: 8.05 million.
    assert abs(_share(province, "01") - 8.05 / 96.21) <= 0.01
    assert len(set(province)) == 34


def test_household_sizes_are_within_6_points_of_the_census_distribution(drawn: Drawn) -> None:
    sizes = np.bincount(column(drawn.population.household_members, "household_id"))[1:]
    observed = np.bincount(np.minimum(sizes, 6), minlength=7)[1:] / len(sizes)
    expected = household_parameters().household_size_share
    for size, share in zip(["1", "2", "3", "4", "5", "6+"], observed, strict=True):
        assert abs(share - expected[size]) <= 0.06, size


def test_about_one_household_in_nine_is_a_person_living_alone(drawn: Drawn) -> None:
    sizes = np.bincount(column(drawn.population.household_members, "household_id"))[1:]
    assert 0.08 <= np.mean(sizes == 1) <= 0.16


def test_about_3_percent_of_the_records_are_of_deceased_persons(drawn: Drawn) -> None:
    assert abs(_share(column(drawn.originals, "life_status"), "deceased") - 0.03) <= 0.003


def test_dates_known_only_to_the_year_are_more_common_among_older_people(drawn: Drawn) -> None:
    ages = _ages(drawn.originals)
    year_only = column(drawn.originals, "birth_date_precision") == "year"
    assert 0.005 <= year_only.mean() <= 0.06
    assert year_only[ages >= 70].mean() > 5 * year_only[ages < 30].mean()
    births = column(drawn.originals, "birth_date").astype("datetime64[D]")
    january_first = births == births.astype("datetime64[Y]").astype("datetime64[D]")
    assert january_first[year_only].all()


def test_about_5_percent_of_households_are_still_recorded_on_pre2025_units(drawn: Drawn) -> None:
    generation = column(drawn.population.households, "unit_generation")
    assert abs(_share(generation, "pre2025") - 0.05) <= 0.01


def test_the_shipped_tables_cite_a_source() -> None:
    data = files("popreg.synth").joinpath("data")
    for name in (entry.name for entry in data.iterdir() if entry.name.endswith(".json")):
        assert json.loads(data.joinpath(name).read_text(encoding="utf-8"))["source"], name
