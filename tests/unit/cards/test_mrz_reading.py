"""Specifications of reading an MRZ: published specimens, two-digit years, and every error code."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date

import pytest

from popreg.cards.mrz import FIELD_NAMES, MrzErrorCode, MrzResult, check_digit, generate_td1, parse_mrz
from popreg.registry.pin import Sex

TODAY = date(2025, 6, 1)

# ICAO Doc 9303 Part 5 (Specifications for TD1 Size MROTDs), the TD1 example of the fictitious state
# "Utopia" (UTO) for Anna Maria Eriksson.
ICAO_TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
# ICAO Doc 9303 Part 4 (Specifications for Machine Readable Passports), the TD3 passport example.
ICAO_TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
# ICAO Doc 9303 Part 6 (Specifications for TD2 Size MROTDs), the TD2 example.
ICAO_TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6")
# ICAO Doc 9303 Part 5, the example of a document number longer than 9 characters (D23145890734):
# the check digit position holds < and the number ends in the optional data, followed by its check
# digit 9. Quoted from memory of the ICAO example; every one of its check digits verifies.
ICAO_TD1_LONG_NUMBER = (
    "I<UTOD23145890<7349<<<<<<<<<<<",
    "3407127M9507122UTO<<<<<<<<<<<2",
    "STEVENSON<<PETER<JOHN<<<<<<<<<",
)
# The specimen of the German identity card (Personalausweis, model of November 2010, "Erika
# Mustermann") published by the Federal Ministry of the Interior and the Bundesdruckerei; its MRZ
# is reproduced in public MRZ code (for instance the README of the Ruby gem "mrz"). Germany writes
# the one-letter code D and, on this model, no sex (<).
GERMAN_SPECIMEN = ("IDD<<T220001293<<<<<<<<<<<<<<<", "6408125<2010315D<<<<<<<<<<<<<4", "MUSTERMANN<<ERIKA<<<<<<<<<<<<<")


def a_vietnamese_card(
    *,
    pin: str = "079205123456",
    surname: str = "Nguyễn",
    given_names: str = "Văn Đức",
    birth_date: date = date(2005, 3, 4),
    sex: Sex = Sex.MALE,
    expiry_date: date | None = date(2030, 3, 4),
) -> list[str]:
    return list(
        generate_td1(
            pin=pin, surname=surname, given_names=given_names, birth_date=birth_date, sex=sex, expiry_date=expiry_date
        )
    )


def resealed(line1: str, line2: str, line3: str) -> list[str]:
    """TD1 lines with every check digit recomputed, so that only the deliberate defect remains."""
    line1 = line1[:14] + str(check_digit(line1[5:14])) + line1[15:]
    if line1[2:5] == "VNM":
        line1 = line1[:29] + str(check_digit(line1[15:27]))
    birth, expiry = line2[0:6], line2[8:14]
    birth_digit = str(check_digit(birth)) if set(birth) <= set("0123456789<") else line2[6]
    expiry_digit = str(check_digit(expiry)) if set(expiry) <= set("0123456789<") else line2[14]
    line2 = birth + birth_digit + line2[7] + expiry + expiry_digit + line2[15:]
    composite = check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    return [line1, line2[:29] + str(composite), line3]


def codes_of(result: MrzResult) -> list[str]:
    return [error.code.value for error in result.errors]


def failed_checks(result: MrzResult) -> list[str]:
    return [check.name for check in result.checks if not check.valid]


# --- check digits (ICAO 9303 Part 3, section 4.9) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digit"),
    [
        ("D23145890", 7),
        ("L898902C3", 6),
        ("740812", 2),
        ("120415", 9),
        ("ZE184226B<<<<<", 1),
        ("<<<<<<", 0),
        ("T22000129", 3),
    ],
)
def test_check_digits_weigh_values_7_3_1_and_take_the_sum_modulo_10(text: str, digit: int) -> None:
    assert check_digit(text) == digit


def test_check_digit_worked_by_hand_for_a_vietnamese_document_number() -> None:
    # 2*7 + 0*3 + 5*1 + 1*7 + 2*3 + 3*1 + 4*7 + 5*3 + 6*1 = 84
    assert check_digit("205123456") == 4


@pytest.mark.parametrize("text", ["abc", "D2314 5890", "É"])
def test_check_digit_refuses_characters_an_mrz_cannot_hold(text: str) -> None:
    with pytest.raises(ValueError, match="only A-Z, 0-9 and <"):
        check_digit(text)


# --- published specimens -----------------------------------------------------------------------------


def test_the_icao_td1_specimen_is_read_field_by_field_with_every_check_digit_valid() -> None:
    result = parse_mrz(ICAO_TD1, today=TODAY)

    assert result.format == "TD1"
    assert result.valid
    assert result.errors == ()
    assert dict(result.fields) == {
        "document_code": "I",
        "issuing_state": "UTO",
        "document_number": "D23145890",
        "birth_date": "1974-08-12",
        "sex": "F",
        "expiry_date": "2012-04-15",
        "nationality": "UTO",
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
        "optional_data": None,
        "optional_data_2": None,
        "pin": None,
    }
    assert [(check.name, check.valid) for check in result.checks] == [
        ("document_number", True),
        ("birth_date", True),
        ("expiry_date", True),
        ("composite", True),
    ]


def test_the_icao_td3_passport_specimen_is_read_with_its_personal_number_check() -> None:
    result = parse_mrz("\n".join(ICAO_TD3), today=TODAY)

    assert result.format == "TD3"
    assert result.valid
    assert result.fields["document_number"] == "L898902C3"
    assert result.fields["optional_data"] == "ZE184226B"
    assert (result.fields["surname"], result.fields["given_names"]) == ("ERIKSSON", "ANNA MARIA")
    assert (result.fields["birth_date"], result.fields["expiry_date"]) == ("1974-08-12", "2012-04-15")
    assert [check.name for check in result.checks] == [
        "document_number",
        "birth_date",
        "expiry_date",
        "personal_number",
        "composite",
    ]


def test_the_icao_td2_specimen_is_read_too() -> None:
    result = parse_mrz(ICAO_TD2, today=TODAY)

    assert result.format == "TD2"
    assert result.valid
    assert result.fields["document_number"] == "D23145890"
    assert result.fields["given_names"] == "ANNA MARIA"


def test_a_document_number_longer_than_nine_characters_continues_into_the_optional_data() -> None:
    result = parse_mrz(ICAO_TD1_LONG_NUMBER, today=TODAY)

    assert result.valid
    assert result.fields["document_number"] == "D23145890734"
    assert result.fields["optional_data"] is None
    assert result.fields["birth_date"] == "1934-07-12"


def test_a_long_document_number_whose_check_digit_counts_the_filler_is_also_accepted() -> None:
    # Some issuers compute the digit over "D23145890<124" (0) rather than over "D23145890124" (4).
    line1 = "I<UTOD23145890<1240" + "<" * 11
    upper_line2 = "7408122F1204159UTO" + "<" * 11
    line2 = upper_line2 + str(check_digit(line1[5:30] + upper_line2[0:7] + upper_line2[8:15] + upper_line2[18:29]))
    result = parse_mrz([line1, line2, ICAO_TD1[2]], today=TODAY)

    assert result.fields["document_number"] == "D23145890124"
    assert result.valid, result.errors


def test_the_german_specimen_card_is_read_with_an_unspecified_sex_and_one_letter_state_code() -> None:
    result = parse_mrz(GERMAN_SPECIMEN, today=TODAY)

    assert result.valid
    assert result.fields["document_code"] == "ID"
    assert result.fields["issuing_state"] == "D"
    assert result.fields["nationality"] == "D"
    assert result.fields["document_number"] == "T22000129"
    assert result.fields["sex"] is None
    assert (result.fields["birth_date"], result.fields["expiry_date"]) == ("1964-08-12", "2020-10-31")
    assert (result.fields["surname"], result.fields["given_names"]) == ("MUSTERMANN", "ERIKA")


def test_a_vietnamese_card_gives_its_pin_and_checks_the_last_digit_of_line_1() -> None:
    result = parse_mrz(a_vietnamese_card(), today=TODAY)

    assert result.valid
    assert result.fields["pin"] == "079205123456"
    assert result.fields["document_number"] == "205123456"
    assert result.fields["optional_data"] == "079205123456<<4"
    assert [check.name for check in result.checks][-1] == "pin"


def test_the_result_cannot_be_changed_and_always_has_every_field_key() -> None:
    result = parse_mrz("nonsense", today=TODAY)

    assert tuple(result.fields) == FIELD_NAMES
    with pytest.raises(FrozenInstanceError):
        result.valid = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.fields["pin"] = "1"  # type: ignore[index]


def test_the_json_form_lists_format_validity_fields_checks_and_errors() -> None:
    body = parse_mrz(ICAO_TD1, today=TODAY).to_json_dict()

    assert set(body) == {"format", "valid", "fields", "checks", "errors"}
    assert body["checks"][0] == {"name": "document_number", "valid": True, "found": "7", "expected": "7"}


# --- tolerated input -------------------------------------------------------------------------------------


def test_surrounding_white_space_blank_lines_and_crlf_are_ignored() -> None:
    text = "\r\n  \r\n" + "\r\n".join(f"  {line}\t" for line in ICAO_TD1) + "\r\n\r\n"

    assert parse_mrz(text, today=TODAY).valid


def test_a_zone_pasted_as_one_line_is_split_into_its_lines() -> None:
    assert parse_mrz("".join(ICAO_TD1), today=TODAY).format == "TD1"
    assert parse_mrz("".join(ICAO_TD3), today=TODAY).format == "TD3"
    assert parse_mrz("".join(ICAO_TD2), today=TODAY).valid


def test_a_td3_personal_number_of_fillers_may_have_a_filler_or_zero_as_check_digit() -> None:
    for personal_digit in ("<", "0"):
        line2 = "L898902C36UTO7408122F1204159" + "<" * 14 + personal_digit
        composite = check_digit(line2[0:10] + line2[13:20] + line2[21:43])
        result = parse_mrz([ICAO_TD3[0], line2 + str(composite)], today=TODAY)
        assert result.valid, (personal_digit, result.errors)


# --- two-digit years (ICAO 9303 Part 3, section 3.8) ----------------------------------------------------


@pytest.mark.parametrize(
    ("yymmdd", "today", "expected"),
    [
        ("250601", date(2025, 6, 1), "2025-06-01"),
        ("250602", date(2025, 6, 1), "1925-06-02"),
        ("991231", date(2025, 6, 1), "1999-12-31"),
        ("000229", date(2025, 6, 1), "2000-02-29"),
    ],
)
def test_a_birth_year_is_the_latest_that_is_not_in_the_future(yymmdd: str, today: date, expected: str) -> None:
    line2 = f"{yymmdd}{check_digit(yymmdd)}F1204159UTO<<<<<<<<<<<0"
    result = parse_mrz(resealed(ICAO_TD1[0], line2, ICAO_TD1[2]), today=today)

    assert result.fields["birth_date"] == expected


@pytest.mark.parametrize(
    ("yymmdd", "expected"),
    [("740101", "2074-01-01"), ("750101", "1975-01-01"), ("300101", "2030-01-01")],
)
def test_an_expiry_year_lies_within_fifty_years_of_today(yymmdd: str, expected: str) -> None:
    line2 = f"7408122F{yymmdd}0UTO<<<<<<<<<<<0"
    result = parse_mrz(resealed(ICAO_TD1[0], line2, ICAO_TD1[2]), today=TODAY)

    assert result.fields["expiry_date"] == expected


def test_a_card_valid_for_life_has_no_expiry_date_and_is_valid() -> None:
    lines = a_vietnamese_card(pin="001160123456", birth_date=date(1960, 3, 4), sex=Sex.FEMALE, expiry_date=None)
    result = parse_mrz(lines, today=TODAY)

    assert lines[1][8:15] == "<<<<<<0"
    assert result.valid
    assert result.fields["expiry_date"] is None


# --- bad input: a clear result, never an exception -----------------------------------------------------


def _card_with(line: int, position: int, text: str) -> list[str]:
    lines = a_vietnamese_card()
    lines[line] = lines[line][:position] + text + lines[line][position + len(text) :]
    return lines


BAD_INPUT = {
    "one line": ("IDVNM2051234564079205123456<<4", MrzErrorCode.LINE_COUNT),
    "nothing at all": ("  \n \r\n", MrzErrorCode.LINE_COUNT),
    "four lines": ("\n".join([*ICAO_TD1, ICAO_TD1[2]]), MrzErrorCode.LINE_COUNT),
    "not text": (None, MrzErrorCode.LINE_COUNT),
    "a line one character short": ([ICAO_TD1[0], ICAO_TD1[1][:-1], ICAO_TD1[2]], MrzErrorCode.LINE_LENGTH),
    "a passport line too long": ([ICAO_TD3[0], ICAO_TD3[1] + "<"], MrzErrorCode.LINE_LENGTH),
    "two lines of thirty": (ICAO_TD1[:2], MrzErrorCode.FORMAT_UNKNOWN),
    "a visa": (("V" + ICAO_TD3[0][1:], ICAO_TD3[1]), MrzErrorCode.FORMAT_UNKNOWN),
    "a space inside a line": (_card_with(2, 6, " "), MrzErrorCode.ILLEGAL_CHARACTER),
    "punctuation": (_card_with(2, 0, "*"), MrzErrorCode.ILLEGAL_CHARACTER),
    "lower case": ("\n".join(line.lower() for line in ICAO_TD1), MrzErrorCode.LOWER_CASE),
    "a wrong check digit": (_card_with(0, 14, "5"), MrzErrorCode.CHECK_DIGIT),
    "month 13": (resealed(ICAO_TD1[0], "7413122F1204159UTO<<<<<<<<<<<6", ICAO_TD1[2]), MrzErrorCode.DATE_INVALID),
    "an unknown sex code": (_card_with(1, 7, "Q"), MrzErrorCode.SEX_INVALID),
    "a vietnamese card without the pin": (
        resealed("IDVNM205123456<<<<<<<<<<<<<<<<", a_vietnamese_card()[1], a_vietnamese_card()[2]),
        MrzErrorCode.VN_LAYOUT,
    ),
    "a document number that is not the end of the pin": (
        resealed(*_card_with(0, 5, "205123457")),
        MrzErrorCode.PIN_MISMATCH,
    ),
    "a pin of the other sex": (a_vietnamese_card(pin="079305123456"), MrzErrorCode.PIN_INVALID),
}


@pytest.mark.parametrize(("given", "code"), list(BAD_INPUT.values()), ids=list(BAD_INPUT))
def test_bad_input_gives_an_invalid_result_with_a_stable_error_code(given: object, code: MrzErrorCode) -> None:
    result = parse_mrz(given, today=TODAY)  # type: ignore[arg-type]

    assert not result.valid
    assert code.value in codes_of(result)
    assert all(error.message for error in result.errors)


def test_every_mrz_error_code_has_a_bad_input_that_produces_it() -> None:
    assert {code for _, code in BAD_INPUT.values()} == set(MrzErrorCode)


def test_lower_case_is_reported_but_still_read_as_upper_case() -> None:
    result = parse_mrz([line.lower() for line in ICAO_TD1], today=TODAY)

    assert codes_of(result) == ["MRZ_LOWER_CASE"]
    assert result.fields["surname"] == "ERIKSSON"
    assert all(check.valid for check in result.checks)


def test_each_wrong_line_length_is_reported_and_no_field_is_guessed() -> None:
    result = parse_mrz([ICAO_TD1[0][:-2], ICAO_TD1[1], ICAO_TD1[2] + "<"], today=TODAY)

    assert result.format == "TD1"
    assert codes_of(result) == ["MRZ_LINE_LENGTH", "MRZ_LINE_LENGTH"]
    assert "Line 1 has 28 characters" in result.errors[0].message
    assert set(result.fields.values()) == {None}


def test_an_illegal_character_names_its_line_and_position_and_fails_the_checks_that_cover_it() -> None:
    result = parse_mrz(_card_with(0, 6, "?"), today=TODAY)

    assert "Line 1" in result.errors[0].message and "position 7" in result.errors[0].message
    assert failed_checks(result) == ["document_number", "composite"]


def test_a_wrong_check_digit_names_the_field_and_the_expected_digit() -> None:
    result = parse_mrz(_card_with(1, 6, "9"), today=TODAY)

    assert failed_checks(result) == ["birth_date", "composite"]
    assert codes_of(result) == ["MRZ_CHECK_DIGIT", "MRZ_CHECK_DIGIT"]
    assert result.errors[0].message.startswith("The check digit of the date of birth is '9', but the data gives 0")


def test_an_impossible_date_is_not_guessed() -> None:
    result = parse_mrz(resealed(ICAO_TD1[0], "7402302F1204159UTO<<<<<<<<<<<6", ICAO_TD1[2]), today=TODAY)

    assert codes_of(result) == ["MRZ_DATE_INVALID"]
    assert result.fields["birth_date"] is None


def test_a_birth_date_that_exists_only_in_the_future_is_invalid() -> None:
    line2 = "0002291F1204159UTO<<<<<<<<<<<0"
    result = parse_mrz(resealed(ICAO_TD1[0], line2, ICAO_TD1[2]), today=date(2000, 1, 1))

    assert codes_of(result) == ["MRZ_DATE_INVALID"]


def test_a_partly_unknown_date_is_reported_rather_than_guessed() -> None:
    result = parse_mrz(resealed(ICAO_TD1[0], "74<<<<0F1204159UTO<<<<<<<<<<<0", ICAO_TD1[2]), today=TODAY)

    assert codes_of(result) == ["MRZ_DATE_INVALID"]


def test_a_pin_inconsistent_with_the_zone_reports_the_pin_error_codes() -> None:
    result = parse_mrz(a_vietnamese_card(pin="079305123456"), today=TODAY)

    assert codes_of(result) == ["MRZ_PIN_INVALID"]
    assert "PIN_SEX_MISMATCH" in result.errors[0].message
    assert result.fields["pin"] == "079305123456"


def test_a_document_number_disagreeing_with_the_pin_gives_no_pin() -> None:
    result = parse_mrz(resealed(*_card_with(0, 5, "205123457")), today=TODAY)

    assert codes_of(result) == ["MRZ_PIN_MISMATCH"]
    assert result.fields["pin"] is None
