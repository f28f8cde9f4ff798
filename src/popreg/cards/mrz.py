"""The machine-readable zone (MRZ) of identity documents, after ICAO Doc 9303 (eighth edition, 2021).

The MRZ ("MRZ" is the domain word used in popreg) is the block of OCR-B text on the back of a
citizen identity card or at the foot of a passport's data page. It holds only ``A``-``Z``, ``0``-``9``
and the filler ``<`` (Doc 9303 Part 3). Three sizes exist, each with its own part of Doc 9303:

* TD1 - identity cards: three lines of 30 characters (Part 5);
* TD2 - two lines of 36 characters (Part 6);
* TD3 - passports: two lines of 44 characters (Part 4).

Check digits (Part 3, section 4.9) protect the document number, the two dates, the TD3 personal
number and, through the composite check digit, the whole numeric part. Names, sex and nationality
carry no check digit in any size.

Vietnam fills the TD1 zone of the citizen identity card as follows (positions counted from 1)::

    line 1   ID  VNM  091005513  4  051091005513  <<  0
             1-2 3-5  6-14       15 16-27         28-29 30
             code     document   check   the PIN        check digit of the PIN (unconfirmed)
                      number = the last 9 digits of the PIN
    line 2   YYMMDD c  S  YYMMDD c  VNM  <<<<<<<<<<<  c
             1-6    7  8  9-14  15 16-18 19-29       30
             birth     sex expiry   nationality       composite
    line 3   SURNAME<<GIVEN<NAMES without diacritics, filled with < to 30 characters
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from popreg.kit.text import strip_diacritics
from popreg.registry.pin import VIETNAM_TIMEZONE, Sex, check_pin

FILLER = "<"
TD1_WIDTH = 30
TD2_WIDTH = 36
TD3_WIDTH = 44

MrzFormat = Literal["TD1", "TD2", "TD3"]

FIELD_NAMES = (
    "document_code",
    "issuing_state",
    "document_number",
    "birth_date",
    "sex",
    "expiry_date",
    "nationality",
    "surname",
    "given_names",
    "optional_data",
    "optional_data_2",
    "pin",
)
"""Every key of :attr:`MrzResult.fields`, always present (``None`` where nothing could be read)."""

_CHARACTER_VALUES: Mapping[str, int] = MappingProxyType(
    {FILLER: 0}
    | {str(digit): digit for digit in range(10)}
    | {chr(ord("A") + offset): 10 + offset for offset in range(26)}
)
_WEIGHTS = (7, 3, 1)
_LEGAL = frozenset(_CHARACTER_VALUES)
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_FILLER_RUN = re.compile(f"{FILLER}+")
_APOSTROPHES = frozenset("'\u2019`")
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_EXPIRY_WINDOW_YEARS = 50
_VIETNAM = "VNM"


def check_digit(text: str) -> int:
    """The ICAO 9303 check digit of ``text`` (Doc 9303 Part 3, section 4.9).

    Each character takes a value (``0``-``9`` as themselves, ``A``-``Z`` as 10-35, the filler ``<``
    as 0), values are multiplied by the weights 7, 3, 1 repeated from the left, and the check digit
    is the sum modulo 10: ``check_digit("L898902C3") == 6``. Raises :class:`ValueError` for any
    other character (lower case included).
    """
    total = 0
    for index, character in enumerate(text):
        value = _CHARACTER_VALUES.get(character)
        if value is None:
            raise ValueError(f"{character!r} cannot appear in an MRZ: only A-Z, 0-9 and < can.")
        total += value * _WEIGHTS[index % 3]
    return total % 10


def transliterate(text: str) -> str:
    """A name in MRZ characters: Latin letters without diacritics, words joined by ``<``.

    Vietnamese names lose their vowel and tone marks and ``đ`` becomes ``D`` (Doc 9303 Part 3 allows
    only A-Z in the name field). Apostrophes are dropped; spaces, hyphens and other punctuation
    become a single filler; digits and letters outside A-Z are dropped.
    ``transliterate("Nguyễn Thị Đoan-Trang") == "NGUYEN<THI<DOAN<TRANG"``.
    """
    plain = strip_diacritics(unicodedata.normalize("NFC", text)).upper()
    characters: list[str] = []
    for character in plain:
        if character in _ASCII_LETTERS:
            characters.append(character)
        elif character in _APOSTROPHES:
            continue
        elif not character.isalnum():
            characters.append(FILLER)
    return _FILLER_RUN.sub(FILLER, "".join(characters)).strip(FILLER)


def name_field(surname: str, given_names: str, width: int) -> str:
    """The name field of an MRZ line: ``SURNAME<<GIVEN<NAMES`` filled with ``<`` to ``width``.

    Doc 9303 Part 3 (truncation of names): when the name does not fit, the given names (the
    secondary identifier) are shortened first, from the end; the surname (primary identifier) is
    shortened only when it leaves no room for the first letter of the given names. A person
    registered with one name only has it written as the primary identifier.
    """
    primary, secondary = transliterate(surname), transliterate(given_names)
    if not primary:
        primary, secondary = secondary, ""
    if not secondary:
        return primary[:width].ljust(width, FILLER)
    if len(primary) + 3 > width:
        primary = primary[: width - 3].rstrip(FILLER)
    room = width - len(primary) - 2
    return f"{primary}{FILLER * 2}{secondary[:room].rstrip(FILLER)}".ljust(width, FILLER)


def generate_td1(
    *,
    pin: str,
    surname: str,
    given_names: str,
    birth_date: date,
    sex: Sex,
    expiry_date: date | None,
    nationality: str = _VIETNAM,
    document_code: str = "ID",
    issuing_state: str = _VIETNAM,
) -> tuple[str, str, str]:
    """The three 30-character lines of a Vietnamese citizen identity card's MRZ (Doc 9303 Part 5).

    Line 1: document code (2) + issuing state (3) + the last 9 digits of the PIN as document number
    (9) + its check digit (1) + optional data (15): the full 12-digit PIN, ``<<`` and one more digit.
    That last digit is written as the check digit of the 12-digit PIN: it was observed so on sample
    cards, but no published Vietnamese specification confirms it, so treat it as unconfirmed.

    Line 2: date of birth YYMMDD + check digit, sex ``M``/``F``, date of expiry YYMMDD + check digit,
    nationality (3), optional data (11 fillers), composite check digit. A card valid for life has no
    date of expiry: the date is written as six fillers and its check digit, computed on the fillers,
    is ``0`` (Doc 9303 Part 3, section 4.9: ``<`` counts as 0).

    Line 3: surname and given names, see :func:`name_field`.

    Raises :class:`ValueError` when an argument cannot be written (a PIN that is not 12 ASCII
    digits, a code longer than its field or with characters outside A-Z).
    """
    if not isinstance(pin, str) or not _TWELVE_DIGITS.fullmatch(pin):
        raise ValueError(f"A PIN is 12 ASCII digits, so {pin!r} cannot be written in an MRZ.")
    if not isinstance(sex, Sex):
        raise ValueError(f"Sex must be Sex.MALE or Sex.FEMALE, not {sex!r}.")
    code = _code_field(document_code, 2, "document code")
    state = _code_field(issuing_state, 3, "issuing state")
    nation = _code_field(nationality, 3, "nationality")
    document_number = pin[3:]
    line1 = f"{code}{state}{document_number}{check_digit(document_number)}{pin}{FILLER * 2}{check_digit(pin)}"
    birth = birth_date.strftime("%y%m%d")
    expiry = expiry_date.strftime("%y%m%d") if expiry_date is not None else FILLER * 6
    upper_part = f"{birth}{check_digit(birth)}{sex.value}{expiry}{check_digit(expiry)}{nation}"
    optional_2 = FILLER * 11
    composite = check_digit(line1[5:30] + upper_part[0:7] + upper_part[8:15] + optional_2)
    line2 = f"{upper_part}{optional_2}{composite}"
    line3 = name_field(surname, given_names, TD1_WIDTH)
    return line1, line2, line3


def _code_field(value: str, width: int, label: str) -> str:
    text = value.upper()
    if not 1 <= len(text) <= width or any(character not in _LEGAL for character in text):
        raise ValueError(f"The {label} is 1 to {width} characters A-Z or <, not {value!r}.")
    return text.ljust(width, FILLER)


class MrzErrorCode(StrEnum):
    """Stable codes of what is wrong with an MRZ; clients may rely on them."""

    LINE_COUNT = "MRZ_LINE_COUNT"
    LINE_LENGTH = "MRZ_LINE_LENGTH"
    FORMAT_UNKNOWN = "MRZ_FORMAT_UNKNOWN"
    ILLEGAL_CHARACTER = "MRZ_ILLEGAL_CHARACTER"
    LOWER_CASE = "MRZ_LOWER_CASE"
    CHECK_DIGIT = "MRZ_CHECK_DIGIT"
    DATE_INVALID = "MRZ_DATE_INVALID"
    SEX_INVALID = "MRZ_SEX_INVALID"
    VN_LAYOUT = "MRZ_VN_LAYOUT"
    PIN_MISMATCH = "MRZ_PIN_MISMATCH"
    PIN_INVALID = "MRZ_PIN_INVALID"


@dataclass(frozen=True)
class MrzError:
    """One thing wrong with an MRZ: a stable ``code`` and a ``message`` a person can act on."""

    code: MrzErrorCode
    message: str


@dataclass(frozen=True)
class MrzCheck:
    """One check digit: which field it protects, whether it holds, what was read and expected."""

    name: str
    valid: bool
    found: str
    expected: str | None


@dataclass(frozen=True)
class MrzResult:
    """What :func:`parse_mrz` read: the format, the fields, each check digit and each error.

    ``valid`` is true only when nothing at all is wrong: every check digit holds and no error was
    found. ``fields`` always has every key of :data:`FIELD_NAMES`; dates are ISO ``YYYY-MM-DD``.
    """

    format: MrzFormat | None
    valid: bool
    fields: Mapping[str, str | None]
    checks: tuple[MrzCheck, ...]
    errors: tuple[MrzError, ...]

    def to_json_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values (the body printed by ``popreg card parse-mrz``)."""
        return {
            "format": self.format,
            "valid": self.valid,
            "fields": dict(self.fields),
            "checks": [
                {"name": check.name, "valid": check.valid, "found": check.found, "expected": check.expected}
                for check in self.checks
            ],
            "errors": [{"code": error.code.value, "message": error.message} for error in self.errors],
        }


def parse_mrz(text_or_lines: str | Sequence[str], *, today: date | None = None) -> MrzResult:
    """Read a TD1, TD2 or TD3 MRZ into its fields, checking every check digit. Never raises.

    Input is one string (lines separated by ``\\n`` or ``\\r\\n``) or a sequence of lines. White
    space around lines and blank lines are ignored; a zone pasted as one line of 90, 72 or 88
    characters is split into TD1, TD2 or TD3 lines. The format follows from the number and length of
    the lines: 3 x 30 is TD1 (Doc 9303 Part 5), 2 x 36 TD2 (Part 6), 2 x 44 TD3 (Part 4).

    Lower case is not MRZ text: it is reported (``MRZ_LOWER_CASE``) and the upper-cased text is
    still read, so the reader sees what it would say. Two-digit years (Part 3, section 3.8) are
    expanded with ``today`` (default: today in Asia/Ho_Chi_Minh): a date of birth to the latest year
    not in the future, a date of expiry to the 100 years from 50 years before ``today``.

    A Vietnamese identity card (issuing state ``VNM``, document code starting with ``I``) is also
    checked against Vietnam's layout (see the module docstring): ``pin`` is filled when the optional
    data holds a 12-digit PIN whose last 9 digits are the document number, and that PIN is checked
    against the date of birth and sex with :func:`popreg.registry.pin.check_pin`.
    """
    reader = _Reader(today or datetime.now(VIETNAM_TIMEZONE).date())
    lines = reader.lines_of(text_or_lines)
    if lines is not None:
        reader.read(lines)
    return reader.result()


class _Reader:
    """Collects the fields, checks and errors of one :func:`parse_mrz` call."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.format: MrzFormat | None = None
        self.fields: dict[str, str | None] = dict.fromkeys(FIELD_NAMES)
        self.checks: list[MrzCheck] = []
        self.errors: list[MrzError] = []

    def error(self, code: MrzErrorCode, message: str) -> None:
        self.errors.append(MrzError(code, message))

    def result(self) -> MrzResult:
        valid = not self.errors and all(check.valid for check in self.checks)
        return MrzResult(self.format, valid, MappingProxyType(self.fields), tuple(self.checks), tuple(self.errors))

    # --- lines and format -----------------------------------------------------------------------

    def lines_of(self, text_or_lines: str | Sequence[str]) -> list[str] | None:
        """The cleaned, upper-cased lines, or ``None`` after reporting why no format applies."""
        if isinstance(text_or_lines, str):
            raw = text_or_lines
        elif isinstance(text_or_lines, Sequence) and all(isinstance(line, str) for line in text_or_lines):
            raw = "\n".join(text_or_lines)
        else:
            self.error(MrzErrorCode.LINE_COUNT, "Give the MRZ as text, or as a list of lines of text.")
            return None
        lines = [line.strip() for line in raw.splitlines() if line.strip()]
        if len(lines) == 1 and len(lines[0]) in _SPLITS:
            width = _SPLITS[len(lines[0])]
            lines = [lines[0][start : start + width] for start in range(0, len(lines[0]), width)]
        if any(character.islower() for line in lines for character in line):
            self.error(
                MrzErrorCode.LOWER_CASE,
                "The MRZ contains lower-case letters, which an MRZ never holds: it was read as if in "
                "upper case. Re-read or re-type the zone exactly as printed.",
            )
            lines = [line.upper() for line in lines]
        if len(lines) not in (2, 3):
            self.error(
                MrzErrorCode.LINE_COUNT,
                f"An MRZ has 3 lines (identity card, TD1) or 2 lines (passport, TD2/TD3), but "
                f"{len(lines)} non-blank line(s) were given.",
            )
            return None
        self.format = _format_of(lines)
        widths = {len(line) for line in lines}
        if self.format is None:
            self.error(
                MrzErrorCode.FORMAT_UNKNOWN,
                f"{len(lines)} lines of {len(lines[0])} characters starting {lines[0][:2]!r} match no format "
                "read here: TD1 is 3 lines of 30, TD2 2 lines of 36, TD3 2 lines of 44 (visas, document "
                "code V, Doc 9303 Part 7, are not read).",
            )
            return None
        expected = _WIDTHS[self.format]
        if widths != {expected}:
            for number, line in enumerate(lines, start=1):
                if len(line) != expected:
                    self.error(
                        MrzErrorCode.LINE_LENGTH,
                        f"Line {number} has {len(line)} characters; every line of a {self.format} MRZ "
                        f"has {expected}. A character was probably dropped or added: re-read the zone.",
                    )
            return None
        for number, line in enumerate(lines, start=1):
            illegal = [(position, character) for position, character in enumerate(line, 1) if character not in _LEGAL]
            if illegal:
                shown = ", ".join(f"{character!r} at position {position}" for position, character in illegal)
                self.error(
                    MrzErrorCode.ILLEGAL_CHARACTER,
                    f"Line {number} holds characters an MRZ cannot hold ({shown}): only A-Z, 0-9 and < "
                    "are allowed. Spaces inside a line are usually an OCR artefact: remove them.",
                )
        return lines

    def read(self, lines: list[str]) -> None:
        if self.format == "TD1":
            self.read_td1(*lines)
        else:
            self.read_two_lines(lines[0], lines[1])

    # --- the sizes ------------------------------------------------------------------------------

    def read_td1(self, line1: str, line2: str, line3: str) -> None:
        """Doc 9303 Part 5: the numeric data on lines 1 and 2, the name on line 3."""
        self.read_codes(line1)
        optional = self.read_document_number(line1[5:14], line1[14], line1[15:30])
        self.fields["optional_data"] = optional
        self.read_dates_and_sex(line2[0:6], line2[6], line2[7], line2[8:14], line2[14])
        self.fields["nationality"] = _code(line2[15:18])
        self.fields["optional_data_2"] = line2[18:29].rstrip(FILLER) or None
        composite_data = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
        self.verify("composite", "The composite check digit", composite_data, line2[29])
        self.read_names(line3)
        if self.fields["issuing_state"] == _VIETNAM and line1.startswith("I"):
            self.read_vietnamese_card(line1, line2)

    def read_two_lines(self, line1: str, line2: str) -> None:
        """Doc 9303 Part 4 (TD3) and Part 6 (TD2): name on line 1, numeric data on line 2."""
        width = len(line1)
        self.read_codes(line1)
        self.read_names(line1[5:])
        self.fields["nationality"] = _code(line2[10:13])
        optional = self.read_document_number(line2[0:9], line2[9], line2[28:35] if width == TD2_WIDTH else "")
        self.read_dates_and_sex(line2[13:19], line2[19], line2[20], line2[21:27], line2[27])
        if width == TD3_WIDTH:
            optional = line2[28:42].rstrip(FILLER) or None
            label = "The check digit of the personal number"
            self.verify("personal_number", label, line2[28:42], line2[42], filler_digit_allowed=True)
        self.fields["optional_data"] = optional
        composite_data = line2[0:10] + line2[13:20] + line2[21 : width - 1]
        self.verify("composite", "The composite check digit", composite_data, line2[-1])

    # --- the fields -----------------------------------------------------------------------------

    def read_codes(self, line1: str) -> None:
        self.fields["document_code"] = _code(line1[0:2])
        self.fields["issuing_state"] = _code(line1[2:5])

    def read_document_number(self, number: str, digit: str, optional: str) -> str | None:
        """Fill ``document_number`` and return what remains of the optional data.

        Doc 9303 Part 5 (and Part 6) for numbers longer than 9 characters: the check digit position
        holds ``<``, the number continues at the start of the optional data and is followed there by
        its check digit. ICAO computes that digit on the whole number; some issuers include the
        ``<``, so either is accepted.
        """
        if digit == FILLER and optional and optional[0] != FILLER:
            segment, _, rest = optional.partition(FILLER)
            whole = number + segment[:-1]
            self.fields["document_number"] = whole
            self.verify(
                "document_number",
                "The check digit of the document number",
                whole,
                segment[-1],
                alternative=number + FILLER + segment[:-1],
            )
            return rest.strip(FILLER) or None
        self.fields["document_number"] = number.rstrip(FILLER) or None
        self.verify("document_number", "The check digit of the document number", number, digit)
        return optional.rstrip(FILLER) or None

    def read_dates_and_sex(self, birth: str, birth_digit: str, sex: str, expiry: str, expiry_digit: str) -> None:
        self.fields["birth_date"] = self.read_date("date of birth", birth, expiry=False)
        self.verify("birth_date", "The check digit of the date of birth", birth, birth_digit)
        self.fields["sex"] = self.read_sex(sex)
        self.fields["expiry_date"] = self.read_date("date of expiry", expiry, expiry=True)
        self.verify("expiry_date", "The check digit of the date of expiry", expiry, expiry_digit)

    def read_date(self, label: str, text: str, *, expiry: bool) -> str | None:
        """An ISO date from YYMMDD (Doc 9303 Part 3, section 3.8), or ``None``.

        Six fillers mean "no date" (no expiry for a card valid for life, an unknown date of birth)
        and are not an error; anything else that is not a real date is ``MRZ_DATE_INVALID``.
        """
        if text == FILLER * 6:
            return None
        found = None
        if _SIX_DIGITS.fullmatch(text):
            found = self.expiry_date(text) if expiry else self.birth_date(text)
        if found is None:
            self.error(
                MrzErrorCode.DATE_INVALID,
                f"The {label} {text!r} is not a date YYMMDD (year, month 01-12, day of that month)"
                + ("" if expiry else " on or before today")
                + ". Re-read the zone or the printed date.",
            )
            return None
        return found.isoformat()

    def birth_date(self, text: str) -> date | None:
        for century in (2000, 1900):
            candidate = _date_or_none(century + int(text[0:2]), int(text[2:4]), int(text[4:6]))
            if candidate is not None and candidate <= self.today:
                return candidate
        return None

    def expiry_date(self, text: str) -> date | None:
        first = self.today.year - _EXPIRY_WINDOW_YEARS
        year = first + (int(text[0:2]) - first) % 100
        return _date_or_none(year, int(text[2:4]), int(text[4:6]))

    def read_sex(self, character: str) -> str | None:
        """Doc 9303 Part 3: ``M`` male, ``F`` female, ``X`` or ``<`` unspecified."""
        if character in ("M", "F"):
            return character
        if character not in ("X", FILLER):
            self.error(
                MrzErrorCode.SEX_INVALID,
                f"The sex is {character!r}; an MRZ writes M, F, or X or < when unspecified.",
            )
        return None

    def read_names(self, field: str) -> None:
        primary, _, secondary = field.partition(FILLER * 2)
        self.fields["surname"] = " ".join(part for part in primary.split(FILLER) if part) or None
        self.fields["given_names"] = " ".join(part for part in secondary.split(FILLER) if part) or None

    def read_vietnamese_card(self, line1: str, line2: str) -> None:
        """Vietnam's TD1 layout: the document number is repeated inside the full PIN in line 1."""
        number, pin, separator, final, optional_2 = line1[5:14], line1[15:27], line1[27:29], line1[29], line2[18:29]
        if (
            not _NINE_DIGITS.fullmatch(number)
            or line1[14] not in "0123456789"
            or not _TWELVE_DIGITS.fullmatch(pin)
            or separator != FILLER * 2
            or optional_2 != FILLER * 11
        ):
            self.error(
                MrzErrorCode.VN_LAYOUT,
                "A Vietnamese identity card writes in line 1 the last 9 digits of the PIN, their check "
                "digit, the 12-digit PIN, << and one digit, and leaves positions 19-29 of line 2 empty "
                f"(<); this zone does not (line 1: {line1}, line 2: {line2}).",
            )
            return
        if pin[3:] != number:
            self.error(
                MrzErrorCode.PIN_MISMATCH,
                f"The document number {number} should be the last 9 digits of the PIN {pin} written after "
                "it; one of the two was misread or altered.",
            )
            return
        self.fields["pin"] = pin
        self.verify("pin", "The last digit of line 1 (the PIN's check digit: an unconfirmed rule)", pin, final)
        birth, sex = self.fields["birth_date"], self.fields["sex"]
        outcome = check_pin(
            pin,
            birth_date=date.fromisoformat(birth) if birth else None,
            sex=Sex(sex) if sex else None,
            today=self.today,
        )
        if not outcome.valid:
            codes = ", ".join(error.code.value for error in outcome.errors)
            details = " ".join(error.message for error in outcome.errors)
            self.error(MrzErrorCode.PIN_INVALID, f"The PIN {pin} is not consistent ({codes}): {details}")

    def verify(
        self,
        name: str,
        label: str,
        data: str,
        digit: str,
        *,
        filler_digit_allowed: bool = False,
        alternative: str | None = None,
    ) -> None:
        """Record one check digit; a wrong one is ``MRZ_CHECK_DIGIT``.

        ``filler_digit_allowed``: Doc 9303 Part 4 lets the TD3 personal number's check digit be
        ``<`` when the number is all fillers. ``alternative``: other data whose check digit is also
        accepted (a long document number computed with its ``<``, see :meth:`read_document_number`).
        """
        computed = _check_digit_or_none(data)
        expected = None if computed is None else str(computed)
        if filler_digit_allowed and set(data) == {FILLER} and digit == FILLER:
            expected = FILLER
        if alternative is not None and digit != expected and digit == str(_check_digit_or_none(alternative)):
            expected = digit
        passed = digit == expected
        self.checks.append(MrzCheck(name, passed, digit, expected))
        if not passed:
            gives = f"the data gives {expected}" if expected is not None else "the data holds illegal characters"
            self.error(
                MrzErrorCode.CHECK_DIGIT,
                f"{label} is {digit!r}, but {gives} ({data!r}): a character was misread or altered.",
            )


_WIDTHS: Mapping[MrzFormat, int] = MappingProxyType({"TD1": TD1_WIDTH, "TD2": TD2_WIDTH, "TD3": TD3_WIDTH})
_SPLITS: Mapping[int, int] = MappingProxyType(
    {3 * TD1_WIDTH: TD1_WIDTH, 2 * TD2_WIDTH: TD2_WIDTH, 2 * TD3_WIDTH: TD3_WIDTH}
)
"""A zone pasted as one line, by its length: the width of each of its lines."""


def _format_of(lines: list[str]) -> MrzFormat | None:
    """The format the lines were meant to be: by line count, then by the longest line."""
    if len(lines) == 3:
        return "TD1"
    if lines[0].startswith("V"):
        return None
    longest = max(len(line) for line in lines)
    if abs(longest - TD3_WIDTH) <= 2:
        return "TD3"
    if abs(longest - TD2_WIDTH) <= 2:
        return "TD2"
    return None


def _code(text: str) -> str | None:
    return text.strip(FILLER) or None


def _check_digit_or_none(text: str) -> int | None:
    try:
        return check_digit(text)
    except ValueError:
        return None


def _date_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
