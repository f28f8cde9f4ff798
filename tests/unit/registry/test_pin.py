"""Specifications of the PIN: structure, validation against the person, composition, serials."""

from __future__ import annotations

import random
from dataclasses import FrozenInstanceError
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from popreg.registry.pin import (
    LEGACY_PROVINCE_CODES,
    SERIAL_SPACE,
    PinCheck,
    PinErrorCode,
    SerialPermutation,
    Sex,
    century_sex_digit,
    check_pin,
    compose_pin,
    decode_century_sex,
)

FAR_FUTURE = date(2399, 12, 31)
TEST_KEY = b"popreg-unit-test-key-0123456789ab"
REGISTRATION_CODES = sorted(LEGACY_PROVINCE_CODES) + [f"{code}" for code in range(101, 296)]


def a_pin(*, province_code: str = "079", birth_year: int = 2005, sex: Sex = Sex.MALE, serial: int = 123456) -> str:
    return compose_pin(province_code, birth_year, sex, serial)


def codes_of(result: PinCheck) -> list[str]:
    return [error.code.value for error in result.errors]


# --- the parts of the number -------------------------------------------------------------------


def test_the_63_legacy_province_codes_are_three_digits_with_vietnamese_names() -> None:
    assert len(LEGACY_PROVINCE_CODES) == 63
    assert all(len(code) == 3 and code.isdigit() for code in LEGACY_PROVINCE_CODES)
    assert LEGACY_PROVINCE_CODES["001"] == "Hà Nội"
    assert LEGACY_PROVINCE_CODES["079"] == "Hồ Chí Minh"
    assert LEGACY_PROVINCE_CODES["046"] == "Thừa Thiên Huế"
    assert LEGACY_PROVINCE_CODES["077"] == "Bà Rịa - Vũng Tàu"
    assert LEGACY_PROVINCE_CODES["066"] == "Đắk Lắk"
    assert LEGACY_PROVINCE_CODES["067"] == "Đắk Nông"
    assert LEGACY_PROVINCE_CODES["096"] == "Cà Mau"


def test_the_legacy_province_codes_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        LEGACY_PROVINCE_CODES["099"] = "Nowhere"  # type: ignore[index]


@pytest.mark.parametrize(
    ("birth_year", "sex", "digit"),
    [
        (1900, Sex.MALE, 0),
        (1999, Sex.FEMALE, 1),
        (2000, Sex.MALE, 2),
        (2099, Sex.FEMALE, 3),
        (2105, Sex.MALE, 4),
        (2105, Sex.FEMALE, 5),
        (2250, Sex.MALE, 6),
        (2399, Sex.FEMALE, 9),
    ],
)
def test_the_century_sex_digit_is_twice_the_centuries_since_1900_plus_one_for_women(
    birth_year: int, sex: Sex, digit: int
) -> None:
    assert century_sex_digit(birth_year, sex) == digit


@pytest.mark.parametrize("birth_year", [1899, 2400])
def test_a_birth_year_outside_1900_to_2399_cannot_be_encoded(birth_year: int) -> None:
    with pytest.raises(ValueError, match="1900 to 2399"):
        century_sex_digit(birth_year, Sex.MALE)


@pytest.mark.parametrize("digit", range(10))
def test_decoding_the_century_sex_digit_inverts_encoding(digit: int) -> None:
    century_start, sex = decode_century_sex(digit)
    assert century_start == 1900 + 100 * (digit // 2)
    assert sex is (Sex.FEMALE if digit % 2 else Sex.MALE)
    assert century_sex_digit(century_start, sex) == digit


@pytest.mark.parametrize("digit", [-1, 10, True])
def test_only_the_digits_0_to_9_decode_to_a_century_and_sex(digit: int) -> None:
    with pytest.raises(ValueError, match="0 to 9"):
        decode_century_sex(digit)


# --- valid numbers -----------------------------------------------------------------------------


def test_a_woman_born_in_1990_in_ha_noi_has_a_valid_pin_starting_0011_90() -> None:
    result = check_pin("001190123456", birth_year=1990, sex=Sex.FEMALE, birth_province_code="001")

    assert result.valid
    assert result.errors == ()
    assert result.province_code == "001"
    assert result.province_name == "Hà Nội"
    assert result.registered_abroad is False
    assert result.birth_year == 1990
    assert result.sex is Sex.FEMALE
    assert result.serial == "123456"


def test_a_man_born_in_2005_in_ho_chi_minh_city_has_century_sex_digit_2() -> None:
    result = check_pin("079205000001", birth_date=date(2005, 7, 14), sex=Sex.MALE)

    assert result.valid
    assert (result.province_name, result.birth_year, result.sex) == ("Hồ Chí Minh", 2005, Sex.MALE)


@pytest.mark.parametrize(("pin", "sex"), [("048405000000", Sex.MALE), ("048505999999", Sex.FEMALE)])
def test_a_person_born_in_2105_gets_century_sex_digit_4_or_5(pin: str, sex: Sex) -> None:
    result = check_pin(pin, birth_year=2105, sex=sex, today=date(2105, 1, 1))

    assert result.valid
    assert result.birth_year == 2105
    assert result.sex is sex


@pytest.mark.parametrize("code", ["101", "200", "295"])
def test_a_birth_registered_abroad_starts_with_a_country_code_101_to_295(code: str) -> None:
    result = check_pin(f"{code}205000042", birth_province_code=code)

    assert result.valid
    assert result.registered_abroad is True
    assert result.province_code == code
    assert result.province_name is None


def test_surrounding_white_space_is_ignored() -> None:
    result = check_pin(" \t079205123456\n ")

    assert result.valid
    assert result.pin == "079205123456"


# --- structure ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pin",
    [
        "",
        "   ",
        "07920512345",
        "0792051234567",
        "079 205 123456",
        "079-205-123456",
        "07920512345A",
        "０７９２０５１２３４５６",  # full-width digits
        "07920512345６",  # one full-width digit
        "٠٧٩٢٠٥١٢٣٤٥٦",  # Arabic-Indic digits
        "+79205123456",
        "079205123456\x00",
    ],
)
def test_anything_but_exactly_twelve_ascii_digits_is_an_invalid_structure(pin: str) -> None:
    result = check_pin(pin)

    assert not result.valid
    assert codes_of(check_pin(pin)) == ["PIN_INVALID_STRUCTURE"]
    assert result.birth_year is None
    assert result.province_code is None
    assert result.sex is None
    assert result.serial is None


def test_no_pin_at_all_is_an_invalid_structure_rather_than_an_exception() -> None:
    result = check_pin(None)

    assert codes_of(check_pin(None)) == ["PIN_INVALID_STRUCTURE"]
    assert result.pin == ""
    assert "nothing was entered" in result.errors[0].message


def test_the_structure_message_says_how_many_characters_were_entered() -> None:
    message = check_pin("07920512345").errors[0].message

    assert "exactly 12 digits" in message
    assert "11 characters" in message


def test_a_structure_error_stops_the_consistency_checks() -> None:
    assert codes_of(check_pin("07920512345", birth_year=1950, sex=Sex.FEMALE, birth_province_code="001")) == [
        "PIN_INVALID_STRUCTURE"
    ]


@given(st.text())
def test_checking_any_text_never_raises_and_accepts_only_twelve_ascii_digits(text: str) -> None:
    result = check_pin(text, today=FAR_FUTURE)

    stripped = text.strip()
    well_formed = len(stripped) == 12 and all(ch in "0123456789" for ch in stripped)
    assert (PinErrorCode.INVALID_STRUCTURE not in [error.code for error in result.errors]) == well_formed


# --- place of birth registration ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["000", "003", "097", "099", "100", "296", "999"])
def test_a_prefix_that_is_neither_a_province_nor_a_country_code_is_unknown(code: str) -> None:
    result = check_pin(f"{code}205123456")

    assert [error.code for error in result.errors] == [PinErrorCode.UNKNOWN_PROVINCE]
    assert result.province_code == code
    assert result.province_name is None
    assert result.registered_abroad is False


def test_a_pin_from_another_province_than_the_stated_one_is_a_province_mismatch() -> None:
    result = check_pin("079205123456", birth_province_code="001")

    assert codes_of(check_pin("079205123456", birth_province_code="001")) == ["PIN_PROVINCE_MISMATCH"]
    assert "Hồ Chí Minh (079)" in result.errors[0].message
    assert "Hà Nội (001)" in result.errors[0].message


def test_a_two_digit_statistics_office_province_code_is_read_with_its_leading_zero() -> None:
    assert check_pin("079205123456", birth_province_code="79").valid
    assert check_pin("001190123456", birth_province_code=" 1 ").valid


def test_a_domestic_registration_stated_for_a_birth_registered_abroad_is_a_province_mismatch() -> None:
    assert codes_of(check_pin("101205123456", birth_province_code="079")) == ["PIN_PROVINCE_MISMATCH"]


# --- year of birth -----------------------------------------------------------------------------


def test_a_date_of_birth_in_another_year_is_a_birth_year_mismatch() -> None:
    result = check_pin("079205123456", birth_date=date(2004, 12, 31))

    assert codes_of(check_pin("079205123456", birth_date=date(2004, 12, 31))) == ["PIN_BIRTH_YEAR_MISMATCH"]
    assert "2005" in result.errors[0].message
    assert "2004" in result.errors[0].message


def test_a_stated_birth_year_from_another_century_is_a_birth_year_mismatch() -> None:
    assert codes_of(check_pin("079205123456", birth_year=1905)) == ["PIN_BIRTH_YEAR_MISMATCH"]


def test_a_birth_year_disagreeing_with_the_date_of_birth_is_reported_once() -> None:
    assert codes_of(check_pin("079205123456", birth_date=date(2005, 1, 1), birth_year=2006)) == [
        "PIN_BIRTH_YEAR_MISMATCH"
    ]


def test_a_birth_year_after_the_current_year_cannot_have_been_issued() -> None:
    assert check_pin("079225123456", today=date(2025, 12, 31)).valid
    assert codes_of(check_pin("079226123456", today=date(2025, 12, 31))) == ["PIN_BIRTH_YEAR_IN_FUTURE"]


def test_without_a_given_date_the_current_year_in_vietnam_is_used() -> None:
    assert codes_of(check_pin("079999123456")) == ["PIN_BIRTH_YEAR_IN_FUTURE"]
    assert check_pin("079000123456").valid


# --- sex ---------------------------------------------------------------------------------------


def test_an_odd_century_sex_digit_for_a_man_is_a_sex_mismatch() -> None:
    result = check_pin("079305123456", sex=Sex.MALE)

    assert codes_of(check_pin("079305123456", sex=Sex.MALE)) == ["PIN_SEX_MISMATCH"]
    assert "female" in result.errors[0].message


def test_an_even_century_sex_digit_for_a_woman_is_a_sex_mismatch() -> None:
    assert codes_of(check_pin("079205123456", sex=Sex.FEMALE)) == ["PIN_SEX_MISMATCH"]


# --- several problems, JSON --------------------------------------------------------------------


def test_all_consistency_errors_are_reported_together() -> None:
    result = check_pin(
        "999905000001",
        birth_year=1990,
        sex=Sex.MALE,
        birth_province_code="079",
        today=date(2025, 1, 1),
    )

    assert [error.code for error in result.errors] == [
        PinErrorCode.UNKNOWN_PROVINCE,
        PinErrorCode.BIRTH_YEAR_IN_FUTURE,
        PinErrorCode.BIRTH_YEAR_MISMATCH,
        PinErrorCode.SEX_MISMATCH,
        PinErrorCode.PROVINCE_MISMATCH,
    ]
    assert not result.valid
    assert result.birth_year == 2305


def test_the_error_codes_are_the_stable_strings_clients_rely_on() -> None:
    assert {code.value for code in PinErrorCode} == {
        "PIN_INVALID_STRUCTURE",
        "PIN_UNKNOWN_PROVINCE",
        "PIN_BIRTH_YEAR_MISMATCH",
        "PIN_SEX_MISMATCH",
        "PIN_PROVINCE_MISMATCH",
        "PIN_BIRTH_YEAR_IN_FUTURE",
    }


def test_the_json_form_lists_decoded_parts_error_codes_and_messages() -> None:
    payload = check_pin("001190123456", sex=Sex.MALE).to_json_dict()

    assert payload == {
        "valid": False,
        "pin": "001190123456",
        "province_code": "001",
        "province_name": "Hà Nội",
        "registered_abroad": False,
        "birth_year": 1990,
        "sex": "F",
        "serial": "123456",
        "errors": ["PIN_SEX_MISMATCH"],
        "messages": [check_pin("001190123456", sex=Sex.MALE).errors[0].message],
    }


def test_the_json_form_of_an_unreadable_pin_has_no_decoded_parts() -> None:
    payload = check_pin("abc").to_json_dict()

    assert payload["sex"] is None
    assert payload["birth_year"] is None
    assert payload["errors"] == ["PIN_INVALID_STRUCTURE"]
    assert len(payload["messages"]) == 1


def test_a_check_result_is_immutable() -> None:
    result = check_pin("079205123456")
    with pytest.raises(FrozenInstanceError):
        result.valid = False  # type: ignore[misc]


# --- composing a number ------------------------------------------------------------------------


def test_composing_puts_province_century_sex_year_and_zero_padded_serial_in_order() -> None:
    assert compose_pin("001", 1990, Sex.FEMALE, 42) == "001190000042"
    assert compose_pin("079", 2005, Sex.MALE, 123456) == "079205123456"
    assert compose_pin("101", 2105, Sex.FEMALE, 999_999) == "101505999999"


@pytest.mark.parametrize("province_code", ["003", "097", "100", "296", "79", "0790", "abc"])
def test_composing_refuses_an_unknown_place_of_birth_registration(province_code: str) -> None:
    with pytest.raises(ValueError, match="province code"):
        compose_pin(province_code, 2005, Sex.MALE, 1)


@pytest.mark.parametrize("serial", [-1, SERIAL_SPACE, True])
def test_composing_refuses_a_serial_outside_000000_to_999999(serial: int) -> None:
    with pytest.raises(ValueError, match="0 to 999999"):
        compose_pin("079", 2005, Sex.MALE, serial)


def test_composing_refuses_a_birth_year_the_pin_cannot_encode() -> None:
    with pytest.raises(ValueError, match="1900 to 2399"):
        compose_pin("079", 1899, Sex.MALE, 1)


def test_composing_refuses_a_sex_that_is_not_a_sex_value() -> None:
    with pytest.raises(ValueError, match="Sex.MALE or Sex.FEMALE"):
        compose_pin("079", 2005, "M", 1)  # type: ignore[arg-type]


@given(
    province_code=st.sampled_from(REGISTRATION_CODES),
    birth_year=st.integers(min_value=1900, max_value=2399),
    sex=st.sampled_from(Sex),
    serial=st.integers(min_value=0, max_value=SERIAL_SPACE - 1),
)
def test_a_composed_pin_checks_valid_and_decodes_to_what_it_was_made_from(
    province_code: str, birth_year: int, sex: Sex, serial: int
) -> None:
    pin = a_pin(province_code=province_code, birth_year=birth_year, sex=sex, serial=serial)

    result = check_pin(pin, birth_year=birth_year, sex=sex, birth_province_code=province_code, today=FAR_FUTURE)

    assert result.valid, result.errors
    assert result.province_code == province_code
    assert result.registered_abroad == (province_code not in LEGACY_PROVINCE_CODES)
    assert result.birth_year == birth_year
    assert result.sex is sex
    assert result.serial == f"{serial:06d}"


# --- serials -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def permutation() -> SerialPermutation:
    return SerialPermutation(TEST_KEY)


@pytest.mark.parametrize("prefix", ["079205", "101599"])
def test_the_serial_permutation_is_a_bijection_on_all_one_million_serials(
    permutation: SerialPermutation, prefix: str
) -> None:
    serials = {permutation.serial(prefix, counter) for counter in range(SERIAL_SPACE)}

    assert len(serials) == SERIAL_SPACE
    assert min(serials) == 0
    assert max(serials) == SERIAL_SPACE - 1


@settings(max_examples=50)
@given(
    prefix=st.from_regex(r"[0-9]{6}", fullmatch=True).filter(str.isascii),
    counter=st.integers(min_value=0, max_value=SERIAL_SPACE - 1),
)
def test_the_counter_of_an_issued_serial_can_be_recovered_for_audit(prefix: str, counter: int) -> None:
    permutation = SerialPermutation(TEST_KEY)
    serial = permutation.serial(prefix, counter)

    assert 0 <= serial < SERIAL_SPACE
    assert permutation.counter(prefix, serial) == counter


def test_every_serial_of_a_prefix_maps_back_to_a_distinct_counter(permutation: SerialPermutation) -> None:
    sample = random.Random(7).sample(range(SERIAL_SPACE), 20_000)

    counters = [permutation.counter("001190", serial) for serial in sample]

    assert len(set(counters)) == len(sample)
    assert [permutation.serial("001190", counter) for counter in counters] == sample


def test_different_keys_shuffle_the_serials_differently() -> None:
    first = SerialPermutation(TEST_KEY)
    second = SerialPermutation(b"another-secret-key-of-32-bytes!!")

    first_serials = [first.serial("079205", counter) for counter in range(1000)]
    second_serials = [second.serial("079205", counter) for counter in range(1000)]

    assert sum(a == b for a, b in zip(first_serials, second_serials, strict=True)) < 10


def test_different_prefixes_shuffle_the_serials_differently(permutation: SerialPermutation) -> None:
    boys = [permutation.serial("079225", counter) for counter in range(1000)]
    girls = [permutation.serial("079325", counter) for counter in range(1000)]

    assert sum(a == b for a, b in zip(boys, girls, strict=True)) < 10


def test_consecutive_counters_do_not_give_consecutive_or_ordered_serials(
    permutation: SerialPermutation,
) -> None:
    serials = [permutation.serial("079225", counter) for counter in range(10_000)]
    steps = [later - earlier for earlier, later in zip(serials, serials[1:], strict=False)]

    assert steps.count(1) < 5
    assert serials != sorted(serials)
    assert 0.4 < sum(step > 0 for step in steps) / len(steps) < 0.6


def test_the_same_key_always_gives_the_same_serials() -> None:
    assert SerialPermutation(TEST_KEY).serial("079225", 0) == SerialPermutation(TEST_KEY).serial("079225", 0)


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 15])
def test_a_key_shorter_than_16_bytes_is_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        SerialPermutation(key)


def test_the_key_never_appears_in_the_representation() -> None:
    assert "popreg-unit-test-key" not in repr(SerialPermutation(TEST_KEY))


@pytest.mark.parametrize("prefix", ["07920", "0792051", "07920a", "０７９２０５"])
def test_a_prefix_must_be_six_ascii_digits(permutation: SerialPermutation, prefix: str) -> None:
    with pytest.raises(ValueError, match="six digits PPPGYY"):
        permutation.serial(prefix, 0)


@pytest.mark.parametrize("counter", [-1, SERIAL_SPACE])
def test_a_prefix_has_exactly_one_million_counters(permutation: SerialPermutation, counter: int) -> None:
    with pytest.raises(ValueError, match="1,000,000 serials"):
        permutation.serial("079205", counter)
    with pytest.raises(ValueError, match="1,000,000 serials"):
        permutation.counter("079205", counter)
