"""Specifications of writing the TD1 MRZ of a Vietnamese citizen identity card (ICAO 9303 Part 5)."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.cards.mrz import check_digit, generate_td1, name_field, transliterate
from popreg.registry.pin import Sex


def a_card(
    *,
    pin: str = "079205123456",
    surname: str = "Nguyễn",
    given_names: str = "Văn Đức",
    birth_date: date = date(2005, 3, 4),
    sex: Sex = Sex.MALE,
    expiry_date: date | None = date(2030, 3, 4),
) -> tuple[str, str, str]:
    return generate_td1(
        pin=pin, surname=surname, given_names=given_names, birth_date=birth_date, sex=sex, expiry_date=expiry_date
    )


def test_a_vietnamese_card_is_written_exactly_as_built_by_hand_from_the_rules() -> None:
    # Line 1: ID, VNM, 205123456 (the last 9 digits of the PIN), its check digit 4, the PIN, <<, and
    # check_digit("079205123456") = 4. Line 2: 050304 check 0, M, 300304 check 6, VNM, 11 fillers,
    # composite 2. Line 3: the name without diacritics.
    assert a_card() == (
        "IDVNM2051234564079205123456<<4",
        "0503040M3003046VNM<<<<<<<<<<<2",
        "NGUYEN<<VAN<DUC<<<<<<<<<<<<<<<",
    )


def test_every_line_has_thirty_characters_and_the_fields_sit_at_their_icao_positions() -> None:
    line1, line2, line3 = a_card(
        pin="001160123456", birth_date=date(1960, 12, 31), sex=Sex.FEMALE, expiry_date=date(2035, 1, 2)
    )

    assert [len(line) for line in (line1, line2, line3)] == [30, 30, 30]
    # Line 1: code 2 + state 3 + number 9 + check 1 + optional data 15 = 30.
    assert (line1[0:2], line1[2:5], line1[5:14], line1[14], line1[15:30]) == (
        "ID",
        "VNM",
        "160123456",
        str(check_digit("160123456")),
        "001160123456<<" + str(check_digit("001160123456")),
    )
    # Line 2: birth 6 + check 1 + sex 1 + expiry 6 + check 1 + nationality 3 + optional 11 + composite 1 = 30.
    assert (line2[0:6], line2[6], line2[7], line2[8:14], line2[14], line2[15:18], line2[18:29]) == (
        "601231",
        str(check_digit("601231")),
        "F",
        "350102",
        str(check_digit("350102")),
        "VNM",
        "<" * 11,
    )
    assert line2[29] == str(check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]))


def test_a_card_valid_for_life_writes_the_expiry_as_fillers_with_check_digit_zero() -> None:
    _, line2, _ = a_card(pin="001160123456", birth_date=date(1960, 3, 4), sex=Sex.FEMALE, expiry_date=None)

    assert line2[8:15] == "<<<<<<0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nguyễn Thị Đoan-Trang", "NGUYEN<THI<DOAN<TRANG"),
        ("  Đặng   Thùy ", "DANG<THUY"),
        ("Hồ", "HO"),
        ("O'Neil", "ONEIL"),
        ("Lê 2", "LE"),
        ("Ngô\u0301", "NGO"),
    ],
)
def test_names_are_transliterated_to_upper_case_latin_letters_without_diacritics(text: str, expected: str) -> None:
    assert transliterate(text) == expected


def test_the_name_line_puts_two_fillers_between_surname_and_given_names() -> None:
    assert name_field("Trần", "Thị Bích Ngọc", 30) == "TRAN<<THI<BICH<NGOC<<<<<<<<<<<"


def test_a_person_with_one_registered_name_has_it_as_the_primary_identifier() -> None:
    assert name_field("", "Hơ Vin", 30) == "HO<VIN" + "<" * 24


def test_a_long_name_is_truncated_in_the_given_names_first() -> None:
    field = name_field("Nguyễn", "Hoàng Thị Phương Quỳnh Như Ngọc Trâm", 30)

    assert field == "NGUYEN<<HOANG<THI<PHUONG<QUYNH"
    assert len(field) == 30


def test_a_surname_too_long_for_the_line_is_truncated_so_that_the_given_names_still_begin() -> None:
    field = name_field("Tôn Nữ Công Tằng Hoàng Thị Phương", "Anh", 30)

    assert field == "TON<NU<CONG<TANG<HOANG<THI<<AN"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pin": "07920512345"}, "12 ASCII digits"),
        ({"pin": "07920512345x"}, "12 ASCII digits"),
        ({"sex": "M"}, "Sex.MALE"),
    ],
)
def test_a_card_that_cannot_be_written_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        a_card(**overrides)  # type: ignore[arg-type]


def test_codes_longer_than_their_field_are_refused() -> None:
    with pytest.raises(ValueError, match="issuing state"):
        generate_td1(
            pin="079205123456",
            surname="A",
            given_names="B",
            birth_date=date(2005, 1, 1),
            sex=Sex.MALE,
            expiry_date=None,
            issuing_state="VIET",
        )
