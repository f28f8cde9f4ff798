"""The personal identification number (PIN): its structure, its validation and its issuance.

Every Vietnamese citizen receives a PIN ("số định danh cá nhân") when the birth is registered; it
never changes and is never reused, and it is also the number of the citizen identity card. "PIN" is
the domain word used throughout popreg for this number.

Structure (Circular 59/2021/TT-BCA, Art. 4; the six-digit code plus six-digit serial layout comes
from Decree 137/2015/NĐ-CP, Art. 13; the province codes from Circular 07/2016/TT-BCA, Appendix 1)::

    PPP  G  YY  NNNNNN
    079  2  05  123456   -> birth registered in Hồ Chí Minh (079), male (2 is even),
                            born in the 2000s (2 // 2 = 1 century after 1900), in 2005,
                            serial 123456.

* ``PPP`` - where the birth was registered: one of the 63 province codes of
  :data:`LEGACY_PROVINCE_CODES` (the statistics office's two-digit province code with a leading
  zero), or, for a birth registered abroad, a country code from 101 to 295. Since July 2025 the
  country has 34 provinces, but a PIN is permanent, so all 63 legacy codes stay valid forever.
* ``G`` - century of birth and sex together: 0 male / 1 female for 1900-1999, 2 / 3 for 2000-2099,
  4 / 5 for 2100-2199, and so on up to 8 / 9 for 2300-2399. In general
  ``year = 1900 + 100 * (G // 2) + YY``; an even digit is male, an odd digit female.
* ``YY`` - the last two digits of the year of birth.
* ``NNNNNN`` - a serial that tells nothing about the person. There is no check digit, so a typing
  error is caught only by comparing the number with the person's date of birth, sex and place of
  birth registration, which is what :func:`check_pin` does.

Issuance: the first six digits ``PPPGYY`` (the prefix) follow from the birth registration; the
serial is drawn from :class:`SerialPermutation`, a keyed permutation of a per-prefix counter, so
issued numbers never collide and cannot be guessed from one another.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import TypedDict
from zoneinfo import ZoneInfo

PIN_LENGTH = 12
SERIAL_SPACE = 1_000_000
"""How many serials exist per prefix ``PPPGYY``: ``NNNNNN`` runs from 000000 to 999999."""

FIRST_BIRTH_YEAR = 1900
LAST_BIRTH_YEAR = 2399
"""The ten century-and-sex digits cover the five centuries from 1900 to 2399."""

ABROAD_CODES = range(101, 296)
"""Country codes used as ``PPP`` for a birth registered abroad (a Vietnamese mission)."""

VIETNAM_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")

LEGACY_PROVINCE_CODES: Mapping[str, str] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa - Vũng Tàu",
        "079": "Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)
"""The 63 provinces that existed before July 2025, by their three-digit PIN code, with the
province's Vietnamese name. A PIN is permanent, so these codes stay valid after the 2025 merger."""

PIN_SHAPE = re.compile(r"[0-9]{12}")
"""Exactly twelve ASCII digits: the shape of a PIN, before any check of what its parts say."""
_SIX_ASCII_DIGITS = re.compile(r"[0-9]{6}")
_SHORT_ASCII_CODE = re.compile(r"[0-9]{1,3}")


class Sex(StrEnum):
    """Sex as recorded in the register and encoded in the PIN (even digit male, odd female)."""

    MALE = "M"
    FEMALE = "F"


def is_abroad_code(code: str) -> bool:
    """Whether ``code`` is a country code (101-295) used for a birth registered abroad."""
    return len(code) == 3 and code.isascii() and code.isdigit() and int(code) in ABROAD_CODES


def is_registration_code(code: str) -> bool:
    """Whether ``code`` may start a PIN: a legacy province code or a country code 101-295."""
    return code in LEGACY_PROVINCE_CODES or is_abroad_code(code)


def century_sex_digit(birth_year: int, sex: Sex) -> int:
    """The digit ``G``: ``2 * (centuries since 1900) + (0 for male, 1 for female)``.

    Born 1990, female -> 1; born 2005, male -> 2; born 2105, female -> 5.
    """
    if not FIRST_BIRTH_YEAR <= birth_year <= LAST_BIRTH_YEAR:
        raise ValueError(
            f"Birth year {birth_year} cannot be encoded in a PIN: the century-and-sex digit covers "
            f"only {FIRST_BIRTH_YEAR} to {LAST_BIRTH_YEAR}."
        )
    return 2 * ((birth_year - FIRST_BIRTH_YEAR) // 100) + (1 if sex is Sex.FEMALE else 0)


def decode_century_sex(digit: int) -> tuple[int, Sex]:
    """The first year of the century of birth and the sex encoded by the digit ``G``.

    ``decode_century_sex(3) == (2000, Sex.FEMALE)``; add ``YY`` to get the year of birth.
    """
    if isinstance(digit, bool) or not 0 <= digit <= 9:
        raise ValueError(f"The century-and-sex digit must be 0 to 9, not {digit!r}.")
    return FIRST_BIRTH_YEAR + 100 * (digit // 2), Sex.FEMALE if digit % 2 else Sex.MALE


def compose_pin(province_code: str, birth_year: int, sex: Sex, serial: int) -> str:
    """Assemble the 12 digits of a PIN from the place of birth registration, year, sex and serial.

    ``province_code`` is a legacy province code ("079") or a country code 101-295 for a birth
    registered abroad; ``serial`` is the value drawn from :class:`SerialPermutation`.
    """
    if not is_registration_code(province_code):
        raise ValueError(
            f"{province_code!r} is neither one of the 63 province codes (001-096) nor a country code "
            "for a birth registered abroad (101-295)."
        )
    if not isinstance(sex, Sex):
        raise ValueError(f"Sex must be Sex.MALE or Sex.FEMALE, not {sex!r}.")
    _require_serial_value(serial, "serial")
    digit = century_sex_digit(birth_year, sex)
    return f"{province_code}{digit}{birth_year % 100:02d}{serial:06d}"


class PinErrorCode(StrEnum):
    """Stable codes of the reasons a PIN is rejected; clients may rely on them."""

    INVALID_STRUCTURE = "PIN_INVALID_STRUCTURE"
    UNKNOWN_PROVINCE = "PIN_UNKNOWN_PROVINCE"
    BIRTH_YEAR_MISMATCH = "PIN_BIRTH_YEAR_MISMATCH"
    SEX_MISMATCH = "PIN_SEX_MISMATCH"
    PROVINCE_MISMATCH = "PIN_PROVINCE_MISMATCH"
    BIRTH_YEAR_IN_FUTURE = "PIN_BIRTH_YEAR_IN_FUTURE"


@dataclass(frozen=True)
class PinError:
    """One reason a PIN was rejected: a stable ``code`` and a ``message`` an officer can act on."""

    code: PinErrorCode
    message: str


class PinCheckJson(TypedDict):
    """The JSON form of a :class:`PinCheck`, as returned by the API."""

    valid: bool
    pin: str
    province_code: str | None
    province_name: str | None
    registered_abroad: bool
    birth_year: int | None
    sex: str | None
    serial: str | None
    errors: list[str]
    messages: list[str]


@dataclass(frozen=True)
class PinCheck:
    """The outcome of :func:`check_pin`: what the number says and what is wrong with it.

    The decoded parts are filled whenever the number has the right shape (12 ASCII digits), even
    if a consistency check failed, so that an officer can see which part disagrees.
    ``province_code`` holds the first three digits, also for a birth registered abroad (then a
    country code, ``registered_abroad`` is true and ``province_name`` is ``None``).
    """

    pin: str
    valid: bool
    province_code: str | None
    province_name: str | None
    registered_abroad: bool
    birth_year: int | None
    sex: Sex | None
    serial: str | None
    errors: tuple[PinError, ...]

    def to_json_dict(self) -> PinCheckJson:
        """The result as JSON-ready values, error codes and messages in the same order."""
        return {
            "valid": self.valid,
            "pin": self.pin,
            "province_code": self.province_code,
            "province_name": self.province_name,
            "registered_abroad": self.registered_abroad,
            "birth_year": self.birth_year,
            "sex": self.sex.value if self.sex is not None else None,
            "serial": self.serial,
            "errors": [error.code.value for error in self.errors],
            "messages": [error.message for error in self.errors],
        }


def check_pin(
    pin: str | None,
    *,
    birth_date: date | None = None,
    birth_year: int | None = None,
    sex: Sex | None = None,
    birth_province_code: str | None = None,
    today: date | None = None,
) -> PinCheck:
    """Validate a PIN's structure and its agreement with what is known about the person.

    Never raises: any string (or ``None``) gives a :class:`PinCheck`. Surrounding white space is
    ignored; anything else that is not one of exactly 12 ASCII digits 0-9 (including full-width or
    other Unicode digits) is ``PIN_INVALID_STRUCTURE``, and then nothing else is checked. Otherwise
    every check runs and all failures are reported together:

    * ``PIN_UNKNOWN_PROVINCE`` - ``PPP`` is neither a legacy province code nor a country code
      101-295;
    * ``PIN_BIRTH_YEAR_IN_FUTURE`` - the encoded year is after the current year in Vietnam
      (``today`` defaults to today's date in Asia/Ho_Chi_Minh);
    * ``PIN_BIRTH_YEAR_MISMATCH`` - the encoded year differs from ``birth_date`` or ``birth_year``;
    * ``PIN_SEX_MISMATCH`` - the encoded sex differs from ``sex``;
    * ``PIN_PROVINCE_MISMATCH`` - ``PPP`` differs from ``birth_province_code`` (a two-digit
      statistics office code such as "79" is read as "079").

    A consistency check runs only when the corresponding argument is given.
    """
    text = pin.strip() if isinstance(pin, str) else ""
    if not PIN_SHAPE.fullmatch(text):
        return PinCheck(
            pin=text,
            valid=False,
            province_code=None,
            province_name=None,
            registered_abroad=False,
            birth_year=None,
            sex=None,
            serial=None,
            errors=(_structure_error(text),),
        )

    code, digit, serial = text[:3], int(text[3]), text[6:]
    century_start, encoded_sex = decode_century_sex(digit)
    encoded_year = century_start + int(text[4:6])
    abroad = is_abroad_code(code)
    errors: list[PinError] = []

    if not is_registration_code(code):
        errors.append(
            PinError(
                PinErrorCode.UNKNOWN_PROVINCE,
                f"The first three digits, {code}, are neither a province code (001-096) nor a country "
                "code for a birth registered abroad (101-295). Compare the number with the identity "
                "card or the birth extract.",
            )
        )

    current_year = (today or datetime.now(VIETNAM_TIMEZONE).date()).year
    if encoded_year > current_year:
        errors.append(
            PinError(
                PinErrorCode.BIRTH_YEAR_IN_FUTURE,
                f"Digits 4 to 6 ({text[3:6]}) encode birth year {encoded_year}, which is after the "
                f"current year {current_year}, so no such number has been issued. Check those digits "
                "against the identity card.",
            )
        )

    stated_years = [birth_date.year] if birth_date is not None else []
    if birth_year is not None:
        stated_years.append(birth_year)
    mismatched_year = next((year for year in stated_years if year != encoded_year), None)
    if mismatched_year is not None:
        errors.append(
            PinError(
                PinErrorCode.BIRTH_YEAR_MISMATCH,
                f"The number encodes birth year {encoded_year} (digits 4 to 6: {text[3:6]}), but the "
                f"stated year of birth is {mismatched_year}. Check the date of birth and the number "
                "against the birth extract or identity card.",
            )
        )

    if sex is not None and sex != encoded_sex:
        errors.append(
            PinError(
                PinErrorCode.SEX_MISMATCH,
                f"The number encodes sex {_sex_word(encoded_sex)} (digit 4 is {digit}, "
                f"{'odd' if digit % 2 else 'even'}), but the stated sex is {_sex_word(sex)}. Check the "
                "sex and the number against the birth extract or identity card.",
            )
        )

    if birth_province_code is not None:
        stated_code = _normalise_registration_code(birth_province_code)
        if stated_code != code:
            errors.append(
                PinError(
                    PinErrorCode.PROVINCE_MISMATCH,
                    f"The number was issued for a birth registered in {_place_label(code)}, but the "
                    f"stated place of birth registration is {_place_label(stated_code)}. Check the "
                    "place of birth registration and the number against the birth extract.",
                )
            )

    return PinCheck(
        pin=text,
        valid=not errors,
        province_code=code,
        province_name=LEGACY_PROVINCE_CODES.get(code),
        registered_abroad=abroad,
        birth_year=encoded_year,
        sex=encoded_sex,
        serial=serial,
        errors=tuple(errors),
    )


class SerialPermutation:
    """A secret, keyed shuffle of the serials ``000000``-``999999`` of one PIN prefix.

    The register keeps one counter per prefix ``PPPGYY`` (place of birth registration, century and
    sex, year of birth) and issues counter 0, 1, 2, ... in turn; this class turns each counter value
    into the serial ``NNNNNN`` that is actually printed.

    * Collision-free by construction: for every prefix the mapping is a permutation of
      ``[0, 1_000_000)``, that is a bijection, so distinct counter values always give distinct
      serials. No "draw at random, then retry until unique" loop is needed, and the issuer never
      has to look up whether a serial is taken.
    * Unpredictable: the shuffle is a balanced Feistel network with :attr:`ROUNDS` rounds whose
      round function is HMAC-SHA256 keyed with a secret key, a pseudo-random function. Without the
      key, consecutive serials look random, so one citizen's number says nothing about the numbers
      of people registered just before or after.
    * Capacity: 1,000,000 serials for each combination of place of birth registration,
      century-and-sex digit and year of birth (for example 1,000,000 boys born in 2025 whose births
      are registered in Hà Nội).

    The two halves of a serial are its first and last three digits (base 1000), so the domain is
    exactly 10**6 and no cycle-walking is needed. :meth:`counter` inverts :meth:`serial`, for
    audits.

    The key must stay the same for the life of the register: serials already issued under one key
    would collide with serials produced under another.
    """

    ROUNDS = 12
    _HALF = 1000
    _MINIMUM_KEY_BYTES = 16
    _CACHED_PREFIXES = 256

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < self._MINIMUM_KEY_BYTES:
            raise ValueError(
                f"The serial permutation key must be at least {self._MINIMUM_KEY_BYTES} random bytes; "
                "a shorter key could be guessed and the serials predicted."
            )
        self._key = key
        # Each round of a prefix only ever evaluates HMAC on one of 1,000 half values, so the
        # round outputs are tabulated per prefix: an issuance costs table look-ups, not HMACs.
        self._round_table = lru_cache(maxsize=self._CACHED_PREFIXES)(self._build_round_table)

    def __repr__(self) -> str:
        return "SerialPermutation(key=<secret>)"

    def serial(self, prefix: str, counter: int) -> int:
        """The serial issued for the ``counter``-th PIN (from 0) of ``prefix`` (the digits PPPGYY)."""
        _require_prefix(prefix)
        _require_serial_value(counter, "counter")
        table = self._round_table(prefix)
        left, right = divmod(counter, self._HALF)
        for round_index in range(self.ROUNDS):
            offset = round_index * self._HALF
            left, right = right, (left + table[offset + right]) % self._HALF
        return left * self._HALF + right

    def counter(self, prefix: str, serial: int) -> int:
        """The counter value that produced ``serial`` for ``prefix``: the inverse of :meth:`serial`."""
        _require_prefix(prefix)
        _require_serial_value(serial, "serial")
        table = self._round_table(prefix)
        left, right = divmod(serial, self._HALF)
        for round_index in reversed(range(self.ROUNDS)):
            offset = round_index * self._HALF
            left, right = (right - table[offset + left]) % self._HALF, left
        return left * self._HALF + right

    def _build_round_table(self, prefix: str) -> array[int]:
        """Round function outputs HMAC-SHA256(key, prefix || round || half) mod 1000, all rounds."""
        prefix_bytes = prefix.encode("ascii")
        table = array("H")
        for round_index in range(self.ROUNDS):
            round_bytes = round_index.to_bytes(1, "big")
            for half in range(self._HALF):
                message = prefix_bytes + round_bytes + half.to_bytes(2, "big")
                digest = hmac.digest(self._key, message, hashlib.sha256)
                # 64 bits reduced mod 1000: the bias (below 2**-50) is irrelevant here.
                table.append(int.from_bytes(digest[:8], "big") % self._HALF)
        return table


def _require_prefix(prefix: str) -> None:
    if not isinstance(prefix, str) or not _SIX_ASCII_DIGITS.fullmatch(prefix):
        raise ValueError(f"A PIN prefix is the six digits PPPGYY, not {prefix!r}.")


def _require_serial_value(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SERIAL_SPACE:
        raise ValueError(
            f"The {name} must be a whole number from 0 to {SERIAL_SPACE - 1}, not {value!r}: each "
            f"prefix has exactly {SERIAL_SPACE:,} serials."
        )


def _structure_error(text: str) -> PinError:
    if not text:
        detail = "nothing was entered"
    elif len(text) != PIN_LENGTH:
        detail = f"{len(text)} characters were entered"
    else:
        detail = "it contains a character other than the digits 0-9"
    return PinError(
        PinErrorCode.INVALID_STRUCTURE,
        f"A personal identification number is exactly 12 digits 0-9, but {detail}. Re-enter it "
        "from the identity card or birth extract, without spaces, dots or letters.",
    )


def _normalise_registration_code(code: str) -> str:
    stripped = code.strip()
    return stripped.zfill(3) if _SHORT_ASCII_CODE.fullmatch(stripped) else stripped


def _place_label(code: str) -> str:
    if code in LEGACY_PROVINCE_CODES:
        return f"{LEGACY_PROVINCE_CODES[code]} ({code})"
    if is_abroad_code(code):
        return f"abroad (country code {code})"
    return f"an unknown place (code {code!r})"


def _sex_word(sex: Sex) -> str:
    return "male" if sex is Sex.MALE else "female"
