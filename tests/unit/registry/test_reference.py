"""Specifications of the register's reference lists: ethnic groups and religions."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import FrozenInstanceError

import pytest

from popreg.registry.reference import (
    EthnicGroup,
    Religion,
    ethnic_groups,
    get_ethnic_group,
    get_religion,
    religions,
)


def test_there_are_54_ethnic_groups_coded_01_to_54_in_order() -> None:
    codes = [group.code for group in ethnic_groups()]

    assert codes == [f"{number:02d}" for number in range(1, 55)]


def test_ethnic_group_names_are_unique_and_in_vietnamese_and_english() -> None:
    groups = ethnic_groups()

    assert len({group.name for group in groups}) == 54
    assert all(group.name.strip() and group.name_en.strip() for group in groups)
    assert all(group.name_en.isascii() for group in groups)
    assert all(unicodedata.is_normalized("NFC", group.name) for group in groups)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("01", "Kinh"),
        ("04", "Hoa"),
        ("05", "Khơ-me"),
        ("08", "HMông (Mông)"),
        ("12", "Ê-đê"),
        ("23", "Bru-Vân Kiều"),
        ("54", "Rơ-măm"),
    ],
)
def test_an_ethnic_group_is_found_by_its_official_code(code: str, name: str) -> None:
    group = get_ethnic_group(code)

    assert isinstance(group, EthnicGroup)
    assert (group.code, group.name) == (code, name)


@pytest.mark.parametrize("code", ["00", "55", "1", "001", "Kinh", ""])
def test_an_unknown_ethnic_group_code_finds_nothing(code: str) -> None:
    assert get_ethnic_group(code) is None


def test_religions_start_with_none_and_have_unique_lower_case_codes() -> None:
    listed = religions()
    codes = [religion.code for religion in listed]

    assert listed[0] == Religion(code="none", name="Không", name_en="None")
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[a-z][a-z_]*", code) for code in codes)
    assert all(religion.name.strip() and religion.name_en.strip() for religion in listed)


def test_the_sixteen_recognised_religions_are_listed_besides_none() -> None:
    assert len(religions()) == 17


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("buddhism", "Phật giáo"),
        ("catholicism", "Công giáo"),
        ("cao_dai", "Cao Đài"),
        ("hoa_hao", "Phật giáo Hòa Hảo"),
    ],
)
def test_a_religion_is_found_by_its_stable_code(code: str, name: str) -> None:
    religion = get_religion(code)

    assert religion is not None
    assert religion.name == name


def test_an_unknown_religion_code_finds_nothing() -> None:
    assert get_religion("Buddhism") is None
    assert get_religion("") is None


def test_changing_a_returned_list_does_not_change_the_reference_data() -> None:
    ethnic_groups().clear()
    religions().clear()

    assert len(ethnic_groups()) == 54
    assert len(religions()) == 17


def test_reference_entries_are_immutable() -> None:
    group = ethnic_groups()[0]
    with pytest.raises(FrozenInstanceError):
        group.name = "Việt"  # type: ignore[misc]
