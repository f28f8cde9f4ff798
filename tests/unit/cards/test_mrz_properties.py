"""Properties of the MRZ: what is written reads back, and any single altered character is detected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from popreg.cards.mrz import check_digit, generate_td1, parse_mrz
from popreg.kit.text import strip_diacritics
from popreg.registry.pin import LEGACY_PROVINCE_CODES, Sex, compose_pin

TODAY = date(2025, 6, 1)
MRZ_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
GIVEN_SYLLABLES = [
    "Văn",
    "Thị",
    "Minh",
    "Đức",
    "Hòa",
    "Thủy",
    "Ngọc",
    "Anh",
    "Quỳnh",
    "Phương",
    "Hải",
    "Nguyệt",
    "Trường",
    "Đoan",
    "Tuấn",
    "Ánh",
    "Ưng",
    "Ơn",
]
# Positions covered by a check digit in TD1 (ICAO 9303 Part 5): all of line 1 after the state code
# (through the composite check digit), and on line 2 the two dates with their check digits, the
# optional data and the composite digit. Sex, nationality and the name line carry no check digit.
PROTECTED = [(0, index) for index in range(5, 30)] + [
    (1, index) for index in [*range(0, 7), *range(8, 15), *range(18, 30)]
]


@dataclass(frozen=True)
class Card:
    pin: str
    surname: str
    given_names: str
    birth_date: date
    sex: Sex
    expiry_date: date | None

    def lines(self) -> list[str]:
        return list(
            generate_td1(
                pin=self.pin,
                surname=self.surname,
                given_names=self.given_names,
                birth_date=self.birth_date,
                sex=self.sex,
                expiry_date=self.expiry_date,
            )
        )


@st.composite
def cards(draw: st.DrawFn) -> Card:
    # Two-digit years can only be told apart within a century: born within the last 100 years.
    birth_date = draw(st.dates(min_value=TODAY - timedelta(days=365 * 100 - 30), max_value=TODAY))
    sex = draw(st.sampled_from(Sex))
    province = draw(st.sampled_from(sorted(LEGACY_PROVINCE_CODES)))
    pin = compose_pin(province, birth_date.year, sex, draw(st.integers(0, 999_999)))
    expiry_window = st.dates(min_value=date(TODAY.year - 50, 1, 1), max_value=date(TODAY.year + 49, 12, 31))
    expiry_date = draw(st.none() | expiry_window)
    given_names = " ".join(draw(st.lists(st.sampled_from(GIVEN_SYLLABLES), min_size=1, max_size=3)))
    return Card(pin, draw(st.sampled_from(SURNAMES)), given_names, birth_date, sex, expiry_date)


def mrz_words(name: str) -> str:
    return " ".join(strip_diacritics(word).upper() for word in name.split())


@given(cards())
def test_a_written_card_reads_back_to_the_same_fields(card: Card) -> None:
    result = parse_mrz(card.lines(), today=TODAY)

    assert result.valid, result.errors
    assert result.format == "TD1"
    assert result.fields["pin"] == card.pin
    assert result.fields["document_number"] == card.pin[3:]
    assert result.fields["birth_date"] == card.birth_date.isoformat()
    assert result.fields["expiry_date"] == (card.expiry_date.isoformat() if card.expiry_date else None)
    assert result.fields["sex"] == card.sex.value
    assert result.fields["nationality"] == "VNM"
    assert result.fields["surname"] == mrz_words(card.surname)
    assert result.fields["given_names"] == mrz_words(card.given_names)


@given(cards(), st.sampled_from(PROTECTED), st.sampled_from(MRZ_CHARACTERS))
def test_any_single_changed_character_in_a_protected_position_makes_the_zone_invalid(
    card: Card, position: tuple[int, int], replacement: str
) -> None:
    lines = card.lines()
    line, index = position
    assume(lines[line][index] != replacement)
    lines[line] = lines[line][:index] + replacement + lines[line][index + 1 :]

    assert not parse_mrz(lines, today=TODAY).valid


def test_every_single_change_of_every_protected_character_of_one_card_is_detected() -> None:
    lines = Card("079205123456", "Nguyễn", "Văn Đức", date(2005, 3, 4), Sex.MALE, None).lines()
    undetected = []
    for line, index in PROTECTED:
        for replacement in MRZ_CHARACTERS.replace(lines[line][index], ""):
            altered = list(lines)
            altered[line] = altered[line][:index] + replacement + altered[line][index + 1 :]
            if parse_mrz(altered, today=TODAY).valid:
                undetected.append((line, index, replacement))

    assert undetected == []


@given(st.text(alphabet="0123456789", min_size=1, max_size=14), st.data())
def test_changing_one_digit_of_a_number_always_changes_its_check_digit(number: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(number) - 1))
    replacement = data.draw(st.sampled_from("0123456789".replace(number[index], "")))

    assert check_digit(number[:index] + replacement + number[index + 1 :]) != check_digit(number)


@given(st.text(max_size=120) | st.lists(st.text(max_size=50), max_size=4))
def test_reading_never_raises_whatever_the_input(text: str | list[str]) -> None:
    result = parse_mrz(text, today=TODAY)

    assert result.valid == (not result.errors and all(check.valid for check in result.checks))
