"""Specifications of the citizen identity card's QR text: writing it, and reading it tolerantly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from popreg.cards.qr import QrResult, QrWarningCode, generate_payload, parse_payload
from popreg.kit.text import canonical
from popreg.registry.pin import LEGACY_PROVINCE_CODES, Sex, compose_pin

TODAY = date(2025, 6, 1)
ADDRESS = "Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Hồ Chí Minh"


def a_payload(
    *,
    pin: str = "079205123456",
    old_id: str | None = "025123456",
    full_name: str = "Nguyễn Văn Đức",
    birth_date: date = date(2005, 3, 4),
    sex: Sex = Sex.MALE,
    address: str = ADDRESS,
    issue_date: date = date(2021, 6, 15),
) -> str:
    return generate_payload(
        pin=pin,
        old_id=old_id,
        full_name=full_name,
        birth_date=birth_date,
        sex=sex,
        address=address,
        issue_date=issue_date,
    )


def codes_of(result: QrResult) -> list[str]:
    return [warning.code.value for warning in result.warnings]


# --- writing ------------------------------------------------------------------------------------------


def test_the_payload_is_seven_fields_joined_by_bars_with_ddmmyyyy_dates_and_the_vietnamese_sex() -> None:
    assert a_payload() == f"079205123456|025123456|Nguyễn Văn Đức|04032005|Nam|{ADDRESS}|15062021"
    assert a_payload(old_id=None, pin="079305123456", sex=Sex.FEMALE).split("|")[1::3] == ["", "Nữ"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pin": "7920512345"}, "12 ASCII digits"),
        ({"old_id": "12345"}, "9 \\(or 12\\) digits"),
        ({"full_name": "A|B"}, "cannot contain"),
        ({"address": "line\nbreak"}, "cannot contain"),
        ({"sex": "F"}, "Sex"),
    ],
)
def test_a_payload_that_would_not_read_back_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        a_payload(**overrides)  # type: ignore[arg-type]


# --- reading ------------------------------------------------------------------------------------------


def test_a_seven_field_payload_is_read_into_every_field_without_warnings() -> None:
    result = parse_payload(a_payload(), today=TODAY)

    assert result.valid
    assert result.to_json_dict() == {
        "pin": "079205123456",
        "old_id": "025123456",
        "full_name": "Nguyễn Văn Đức",
        "birth_date": "2005-03-04",
        "sex": "M",
        "address": ADDRESS,
        "issue_date": "2021-06-15",
        "warnings": [],
        "valid": True,
    }


def test_trailing_empty_fields_of_newer_cards_are_ignored() -> None:
    result = parse_payload(a_payload() + "|||", today=TODAY)

    assert result.valid
    assert result.warnings == ()


def test_the_layout_without_the_old_number_is_recognised_by_a_name_in_the_second_field() -> None:
    result = parse_payload(f"079205123456|Nguyễn Văn Đức|04032005|Nam|{ADDRESS}|15062021", today=TODAY)

    assert result.valid
    assert result.old_id is None
    assert (result.full_name, result.issue_date) == ("Nguyễn Văn Đức", date(2021, 6, 15))


def test_six_fields_with_a_nine_digit_second_field_lack_the_issue_date() -> None:
    result = parse_payload(f"079205123456|025123456|Nguyễn Văn Đức|04032005|Nam|{ADDRESS}", today=TODAY)

    assert result.valid
    assert result.old_id == "025123456"
    assert result.issue_date is None
    assert codes_of(result) == ["QR_FIELD_COUNT"]
    assert "date of issue" in result.warnings[0].message


def test_an_empty_old_number_is_read_as_none() -> None:
    result = parse_payload(a_payload(old_id=None), today=TODAY)

    assert result.valid and result.old_id is None


def test_white_space_a_byte_order_mark_and_nu_without_diacritic_are_tolerated() -> None:
    text = "\ufeff 079305123456 |  | Trần   Thị  Bích |04032005| nu |Hà Nội| 15062021 \n"
    result = parse_payload(text, today=TODAY)

    assert result.valid
    assert (result.pin, result.full_name, result.sex, result.address) == (
        "079305123456",
        "Trần Thị Bích",
        Sex.FEMALE,
        "Hà Nội",
    )


def test_slashed_dates_are_read_too() -> None:
    result = parse_payload("079205123456||Nguyễn Văn Đức|04/03/2005|Nam|Huế|15/06/2021", today=TODAY)

    assert (result.birth_date, result.issue_date) == (date(2005, 3, 4), date(2021, 6, 15))


def test_a_decomposed_name_is_stored_in_its_composed_form() -> None:
    result = parse_payload("079205123456||Nguye\u0302\u0303n Va\u0306n Đức|04032005|Nam|Huế|15062021", today=TODAY)

    assert result.full_name == "Nguyễn Văn Đức"


# --- what could not be read -----------------------------------------------------------------------------

BAD_PAYLOADS = {
    "empty": ("", QrWarningCode.NOT_A_CARD),
    "a vietqr bank transfer": (
        "00020101021238570010A00000072701270006970436011301234567890200208QRIBFTTA53037045802VN6304ABCD",
        QrWarningCode.NOT_A_CARD,
    ),
    "a link": ("https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", QrWarningCode.NOT_A_CARD),
    "plain text": ("079205123456 Nguyễn Văn Đức", QrWarningCode.NOT_A_CARD),
    "a health-insurance card": ("HS4010120878811|4e677579e1bb856e|01/01/1990|1|", QrWarningCode.NOT_A_CARD),
    "too many fields": (a_payload() + "|extra", QrWarningCode.FIELD_COUNT),
    "too few fields": ("079205123456|025123456|Nguyễn Văn Đức", QrWarningCode.FIELD_COUNT),
    "an empty name": ("079205123456|025123456| |04032005|Nam|Huế|15062021", QrWarningCode.FIELD_MISSING),
    "an empty pin": ("|025123456|Nguyễn Văn Đức|04032005|Nam|Huế|15062021", QrWarningCode.FIELD_MISSING),
    "a short pin": ("07920512345|025123456|Nguyễn Văn Đức|04032005|Nam|Huế|15062021", QrWarningCode.PIN_INVALID),
    "a pin of another year": (a_payload(birth_date=date(2006, 3, 4)), QrWarningCode.PIN_INVALID),
    "a pin of the other sex": (a_payload(sex=Sex.FEMALE), QrWarningCode.PIN_INVALID),
    "an old number of 8 digits": (
        "079205123456|02512345|Nguyễn Văn Đức|04032005|Nam|Huế|15062021",
        QrWarningCode.OLD_ID_INVALID,
    ),
    "the 30th of february": ("079205123456||Nguyễn Văn Đức|30022005|Nam|Huế|15062021", QrWarningCode.DATE_INVALID),
    "a birth in the future": ("079205123456||Nguyễn Văn Đức|04032026|Nam|Huế|15062021", QrWarningCode.DATE_INVALID),
    "a sex in English words": ("079205123456||Nguyễn Văn Đức|04032005|Trai|Huế|15062021", QrWarningCode.SEX_UNKNOWN),
}


@pytest.mark.parametrize(("text", "code"), list(BAD_PAYLOADS.values()), ids=list(BAD_PAYLOADS))
def test_what_cannot_be_read_is_reported_with_a_stable_code(text: str, code: QrWarningCode) -> None:
    result = parse_payload(text, today=TODAY)

    assert code.value in codes_of(result)
    assert all(warning.message for warning in result.warnings)


def test_every_qr_warning_code_has_a_payload_that_produces_it() -> None:
    assert {code for _, code in BAD_PAYLOADS.values()} == set(QrWarningCode)


def test_another_documents_qr_code_gives_no_field_at_all() -> None:
    result = parse_payload(BAD_PAYLOADS["a vietqr bank transfer"][0], today=TODAY)

    assert not result.valid
    assert codes_of(result) == ["QR_NOT_A_CARD"]
    assert "VietQR" in result.warnings[0].message
    assert [result.pin, result.full_name, result.birth_date, result.sex] == [None, None, None, None]


def test_a_pin_inconsistent_with_birth_and_sex_is_kept_but_makes_the_card_invalid() -> None:
    result = parse_payload(a_payload(sex=Sex.FEMALE), today=TODAY)

    assert not result.valid
    assert result.pin == "079205123456"
    assert codes_of(result) == ["QR_PIN_INVALID"]
    assert "PIN_SEX_MISMATCH" in result.warnings[0].message


def test_a_pin_of_the_wrong_shape_is_not_read() -> None:
    result = parse_payload(BAD_PAYLOADS["a short pin"][0], today=TODAY)

    assert result.pin is None
    assert "PIN_INVALID_STRUCTURE" in result.warnings[0].message
    assert not result.valid


def test_an_unreadable_address_or_issue_date_is_reported_but_does_not_invalidate_the_card() -> None:
    result = parse_payload("079205123456||Nguyễn Văn Đức|04032005|Nam||31132021", today=TODAY)

    assert result.valid
    assert (result.address, result.issue_date) == (None, None)
    assert codes_of(result) == ["QR_DATE_INVALID", "QR_FIELD_MISSING"]


def test_an_issue_date_before_the_birth_is_not_read() -> None:
    result = parse_payload("079205123456||Nguyễn Văn Đức|04032005|Nam|Huế|03032005", today=TODAY)

    assert result.issue_date is None
    assert codes_of(result) == ["QR_DATE_INVALID"]


def test_a_missing_sex_or_birth_date_makes_the_card_invalid() -> None:
    assert not parse_payload("079205123456||Nguyễn Văn Đức|04032005||Huế|15062021", today=TODAY).valid
    assert not parse_payload("079205123456||Nguyễn Văn Đức||Nam|Huế|15062021", today=TODAY).valid


# --- properties -------------------------------------------------------------------------------------------

VIETNAMESE_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
NAME_ALPHABET = VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper() + " "


@st.composite
def card_data(draw: st.DrawFn) -> dict[str, object]:
    birth_date = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sex = draw(st.sampled_from(Sex))
    pin = compose_pin(
        draw(st.sampled_from(sorted(LEGACY_PROVINCE_CODES))), birth_date.year, sex, draw(st.integers(0, 999_999))
    )
    return {
        "pin": pin,
        "old_id": draw(st.none() | st.from_regex(r"[0-9]{9}", fullmatch=True)),
        "full_name": draw(st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=40).filter(str.strip)),
        "birth_date": birth_date,
        "sex": sex,
        "address": draw(st.text(alphabet=NAME_ALPHABET + "0123456789,./-", min_size=1, max_size=80).filter(str.strip)),
        "issue_date": birth_date + timedelta(days=draw(st.integers(0, (TODAY - birth_date).days))),
    }


@given(card_data())
def test_a_written_payload_reads_back_to_the_same_fields(data: dict[str, object]) -> None:
    result = parse_payload(generate_payload(**data), today=TODAY)  # type: ignore[arg-type]

    assert result.valid, result.warnings
    assert result.warnings == ()
    assert (result.pin, result.old_id, result.birth_date, result.sex, result.issue_date) == (
        data["pin"],
        data["old_id"],
        data["birth_date"],
        data["sex"],
        data["issue_date"],
    )
    assert result.full_name == canonical(str(data["full_name"]))
    assert result.address == canonical(str(data["address"]))


@given(st.text(max_size=200))
def test_reading_never_raises_whatever_the_text(text: str) -> None:
    result = parse_payload(text, today=TODAY)

    assert result.valid in (True, False)
    assert set(result.to_json_dict()) == {
        "pin",
        "old_id",
        "full_name",
        "birth_date",
        "sex",
        "address",
        "issue_date",
        "warnings",
        "valid",
    }
