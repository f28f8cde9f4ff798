"""The administrative-unit catalogue: both generations of units, search and conversion.

Expected facts come from the statistics office's lists as compiled in the shipped data (see
``src/popreg/units/data/README.md``): Resolution 202/2025/QH15 for the provinces, the conversion
table of 1 July 2025 for the communes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from popreg.kit.errors import DomainError
from popreg.kit.text import fold
from popreg.units.catalogue import (
    Unit,
    UnitGeneration,
    UnitLevel,
    UnknownUnitError,
    children,
    communes,
    get_unit,
    is_within,
    pin_province_code,
    provinces,
    require_unit,
    search_units,
    to_current,
)

PRE = UnitGeneration.PRE_2025
NOW = UnitGeneration.Y2025

# DOMAIN.md: the 63 province codes a PIN may carry.
PIN_PROVINCE_PREFIXES = (
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036 "
    "037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075 "
    "077 079 080 082 083 084 086 087 089 091 092 093 094 095 096"
).split()


# -- counts ------------------------------------------------------------------------------------


def test_2025_generation_has_34_provinces_and_3321_communes() -> None:
    assert len(provinces(NOW)) == 34
    assert len(communes(NOW)) == 3321


def test_2025_communes_are_2621_communes_687_wards_and_13_special_zones() -> None:
    assert Counter(u.kind for u in communes(NOW)) == {"Xã": 2621, "Phường": 687, "Đặc khu": 13}


def test_2025_generation_has_no_district_level() -> None:
    assert all(u.parent_code == u.province_code for u in communes(NOW))
    assert search_units("ba dinh", generation=NOW, level=UnitLevel.DISTRICT) == []


def test_pre_2025_generation_has_63_provinces_their_districts_and_communes() -> None:
    assert len(provinces(PRE)) == 63
    districts = [d for p in provinces(PRE) for d in children(p.code, PRE)]
    assert len(districts) == 696
    assert all(d.level is UnitLevel.DISTRICT for d in districts)
    assert len(communes(PRE)) == 10051
    assert sum(len(children(d.code, PRE)) for d in districts) == 10051


def test_2025_province_codes_are_a_subset_of_the_63_legacy_codes() -> None:
    current = {p.code for p in provinces(NOW)}
    legacy = {p.code for p in provinces(PRE)}
    assert current <= legacy
    assert len(legacy - current) == 29


def test_legacy_province_codes_are_the_pin_prefixes_of_domain_md() -> None:
    assert sorted(pin_province_code(p.code) for p in provinces(PRE)) == PIN_PROVINCE_PREFIXES


def test_codes_are_zero_padded_by_level() -> None:
    for generation in UnitGeneration:
        assert all(len(p.code) == 2 for p in provinces(generation))
        assert all(len(c.code) == 5 for c in communes(generation))
    assert all(len(d.code) == 3 for p in provinces(PRE) for d in children(p.code, PRE))


# -- lookup by code ----------------------------------------------------------------------------


def test_lookup_by_code_gives_vietnamese_name_type_word_and_parents() -> None:
    ward = get_unit("00004")
    assert ward == Unit(
        code="00004",
        name="Phường Ba Đình",
        short_name="Ba Đình",
        kind="Phường",
        level=UnitLevel.COMMUNE,
        generation=NOW,
        parent_code="01",
        province_code="01",
    )
    hanoi = get_unit("01")
    assert hanoi is not None
    assert (hanoi.name, hanoi.short_name, hanoi.kind, hanoi.parent_code) == (
        "Thành phố Hà Nội",
        "Hà Nội",
        "Thành phố",
        None,
    )


def test_same_code_means_a_different_unit_in_each_generation() -> None:
    old = get_unit("00004", PRE)
    assert old is not None
    assert (old.name, old.parent_code, old.province_code) == ("Phường Trúc Bạch", "001", "01")
    district = get_unit("001", PRE)
    assert district is not None
    assert (district.name, district.kind, district.level) == ("Quận Ba Đình", "Quận", UnitLevel.DISTRICT)
    assert get_unit("001", NOW) is None


def test_special_zone_keeps_its_type_word() -> None:
    con_dao = search_units("Côn Đảo", generation=NOW)[0]
    assert (con_dao.name, con_dao.kind, con_dao.short_name, con_dao.province_code) == (
        "Đặc khu Côn Đảo",
        "Đặc khu",
        "Côn Đảo",
        "79",
    )


def test_unknown_code_gives_none() -> None:
    assert get_unit("99999") is None
    assert get_unit("1") is None  # codes keep their leading zeros
    assert get_unit("") is None


def test_require_unit_refuses_an_unknown_code_with_unit_unknown() -> None:
    assert require_unit("00004").name == "Phường Ba Đình"
    with pytest.raises(UnknownUnitError) as raised:
        require_unit("99999", PRE)
    error = raised.value
    assert isinstance(error, ValueError)
    assert isinstance(error, DomainError)
    assert error.code == "UNIT_UNKNOWN"
    assert (error.unit_code, error.generation) == ("99999", PRE)
    assert error.to_dict()["details"] == {"unit_code": "99999", "generation": "pre2025"}


def test_units_are_immutable() -> None:
    unit = require_unit("00004")
    with pytest.raises(dataclasses.FrozenInstanceError):
        unit.name = "x"  # type: ignore[misc]


# -- hierarchy ---------------------------------------------------------------------------------


def test_children_of_a_2025_province_are_its_communes() -> None:
    hanoi = children("01")
    assert len(hanoi) == 126
    assert Counter(u.kind for u in hanoi) == {"Xã": 75, "Phường": 51}
    assert [u.code for u in hanoi] == sorted(u.code for u in hanoi)


def test_children_of_a_pre_2025_province_are_districts_and_of_a_district_communes() -> None:
    assert len(children("01", PRE)) == 30
    assert {u.level for u in children("01", PRE)} == {UnitLevel.DISTRICT}
    assert "Phường Trúc Bạch" in [u.name for u in children("001", PRE)]
    assert len(communes(PRE, province_code="01")) == 526


def test_children_of_a_commune_or_unknown_code_are_empty() -> None:
    assert children("00004") == []
    assert children("nope") == []
    assert communes(NOW, province_code="02") == []  # Hà Giang exists only before 2025


def test_is_within_holds_for_the_area_itself_and_what_lies_inside() -> None:
    assert is_within("00004", "01")
    assert is_within("01", "01")
    assert not is_within("00004", "79")
    assert is_within("00004", "001", PRE)
    assert is_within("00004", "01", PRE)
    assert is_within("001", "01", PRE)
    assert not is_within("01", "00004")  # a province is not inside its commune


def test_is_within_is_false_for_unknown_codes() -> None:
    assert not is_within("99999", "01")
    assert not is_within("00004", "99")
    assert not is_within("00004", "001")  # no districts since 1 July 2025


# -- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["ba dinh", "BA ĐÌNH", "Ba Đình", "  ba   đình ", "phường ba đình", "Ba Dinh", "Ba \u0110i\u0300nh"],
)
def test_search_is_accent_and_case_insensitive(query: str) -> None:
    found = search_units(query, generation=NOW, level=UnitLevel.COMMUNE)
    assert found[0].code == "00004"
    assert found[0].province_code == "01"


def test_search_puts_exact_matches_before_prefix_before_substring() -> None:
    found = search_units("ba dinh", generation=NOW)
    names = [u.name for u in found]
    exact = [u for u in found if u.short_name in ("Ba Đình", "Ba Dinh")]
    assert found[: len(exact)] == exact
    assert names[0] == "Phường Ba Đình"
    prefix = search_units("ba d", generation=NOW, limit=100)
    assert [u.name for u in prefix[:3]] == ["Xã Bà Điểm", "Phường Ba Đình", "Xã Ba Đình"]
    starts = [fold(u.short_name).startswith("ba d") for u in prefix]
    assert starts == sorted(starts, reverse=True)  # every prefix match before any substring match
    assert True in starts
    assert False in starts
    substring = search_units("quoc tu giam", generation=NOW)
    assert [u.name for u in substring] == ["Phường Văn Miếu - Quốc Tử Giám"]


def test_search_lists_current_units_before_pre_2025_units() -> None:
    found = search_units("ba dinh")
    generations = [u.generation for u in found]
    assert generations == sorted(generations, key=lambda g: g is PRE)
    assert "Quận Ba Đình" in [u.name for u in found]


def test_search_within_a_province_keeps_only_its_units() -> None:
    found = search_units("ba dinh", within="01")
    assert found
    assert all(u.province_code == "01" for u in found)
    assert {u.generation for u in found} == {NOW, PRE}
    assert all(u.code != "01" for u in search_units("ha noi", within="01"))


def test_search_within_a_pre_2025_district_keeps_only_its_communes() -> None:
    found = search_units("phuong", within="001", limit=100)
    assert len(found) == len(children("001", PRE)) == 13
    assert all(u.parent_code == "001" and u.generation is PRE for u in found)


def test_search_honours_level_generation_and_limit() -> None:
    found = search_units("ha", level=UnitLevel.PROVINCE, generation=PRE, limit=3)
    assert len(found) == 3
    assert all(u.level is UnitLevel.PROVINCE and u.generation is PRE for u in found)
    assert search_units("ha", limit=0) == []


def test_search_with_empty_or_unmatched_query_finds_nothing() -> None:
    assert search_units("") == []
    assert search_units(" - ") == []
    assert search_units("zzzz") == []
    assert search_units("ba dinh", within="99") == []


# -- conversion to the 2025 units --------------------------------------------------------------


def test_pre_2025_ward_converts_to_the_2025_ward_it_became_part_of() -> None:
    # Conversion table: Phường Quán Thánh (00013, Quận Ba Đình) went whole into Phường Ba Đình.
    assert get_unit("00013", PRE) is not None
    assert [u.code for u in to_current("00013")] == ["00004"]


def test_split_pre_2025_ward_lists_every_successor_the_namesake_first() -> None:
    # Conversion table: Phường Ngọc Hà (00016) was split between Phường Ba Đình and Phường Ngọc Hà.
    successors = to_current("00016")
    assert [u.name for u in successors] == ["Phường Ngọc Hà", "Phường Ba Đình"]
    assert all(u.generation is NOW for u in successors)


def test_province_merger_converts_to_the_merged_province() -> None:
    assert [u.name for u in to_current("02", UnitLevel.PROVINCE)] == ["Tỉnh Tuyên Quang"]
    assert [u.code for u in to_current("02", UnitLevel.PROVINCE)] == ["08"]
    assert [u.code for u in to_current("77", UnitLevel.PROVINCE)] == ["79"]  # Bà Rịa - Vũng Tàu -> HCMC
    assert [u.code for u in to_current("82", UnitLevel.PROVINCE)] == ["82"]  # Tiền Giang -> Đồng Tháp


def test_every_pre_2025_province_converts_to_exactly_one_2025_province() -> None:
    for province in provinces(PRE):
        assert len(to_current(province.code, UnitLevel.PROVINCE)) == 1
    for province in provinces(NOW):
        assert [u.code for u in to_current(province.code, UnitLevel.PROVINCE)] == [province.code]


def test_pre_2025_district_converts_to_the_communes_that_received_it() -> None:
    received = to_current("001", UnitLevel.DISTRICT)
    assert "00004" in [u.code for u in received]
    assert all(u.province_code == "01" for u in received)


def test_almost_every_pre_2025_commune_has_a_successor_in_the_same_merged_province() -> None:
    converted = 0
    for commune in communes(PRE):
        successors = to_current(commune.code)
        if successors:
            converted += 1
            merged = to_current(commune.province_code, UnitLevel.PROVINCE)[0]
            assert merged.code in {u.province_code for u in successors}
    assert converted >= 10_000


def test_unknown_code_converts_to_nothing() -> None:
    assert to_current("99999") == []
    assert to_current("99", UnitLevel.PROVINCE) == []
    assert to_current("00004", UnitLevel.DISTRICT) == []


# -- PIN province prefix -----------------------------------------------------------------------


def test_pin_province_code_pads_the_province_code_to_three_digits() -> None:
    assert pin_province_code("01") == "001"
    assert pin_province_code("96") == "096"


def test_pin_province_code_accepts_provinces_abolished_in_2025() -> None:
    assert pin_province_code("02") == "002"  # Hà Giang, merged into Tuyên Quang
    assert get_unit("02") is None


def test_pin_province_code_refuses_what_is_not_a_province_code() -> None:
    for code in ("03", "001", "00004", "1", ""):
        with pytest.raises(UnknownUnitError):
            pin_province_code(code)
