"""The text carried by the QR code on the Vietnamese citizen identity card.

The QR code holds one UTF-8 string of fields separated by ``|``::

    079205123456|123456789|Nguyễn Văn An|04032005|Nam|12 Lê Lợi, Bến Nghé, Quận 1, Hồ Chí Minh|15062021
    PIN         |old ID   |full name    |birth    |sex|permanent address                       |issue date

The old number is the 9-digit identity number ("chứng minh nhân dân") the person held before the
chip card, or nothing. Dates are ``ddmmyyyy``; sex is ``Nam`` (male) or ``Nữ`` (female). Newer cards
append empty fields, and other layouts leave the old number out altogether (6 fields): a reader must
accept all of them and say what it could not read rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TypedDict

from popreg.kit.text import canonical, fold
from popreg.registry.pin import VIETNAM_TIMEZONE, Sex, check_pin

SEPARATOR = "|"
SEX_WORDS = {Sex.MALE: "Nam", Sex.FEMALE: "N\u1eef"}
"""How the card writes the sex: "Nam" (male) and "Nữ" (female)."""

_WITH_OLD_ID = ("pin", "old_id", "full_name", "birth_date", "sex", "address", "issue_date")
_WITHOUT_OLD_ID = ("pin", "full_name", "birth_date", "sex", "address", "issue_date")
_LABELS = {
    "pin": "PIN",
    "old_id": "old ID number",
    "full_name": "full name",
    "birth_date": "date of birth",
    "sex": "sex",
    "address": "permanent address",
    "issue_date": "date of issue",
}
_SEX_BY_FOLDED_WORD = {
    "nam": Sex.MALE,
    "male": Sex.MALE,
    "m": Sex.MALE,
    "nu": Sex.FEMALE,
    "female": Sex.FEMALE,
    "f": Sex.FEMALE,
}
_DIGITS = re.compile(r"[0-9]+")
_COMPACT_DATE = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{4})")
_SEPARATED_DATE = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_EMV_PAYLOAD_START = "000201"
_OLD_ID_LENGTHS = (9, 12)


def generate_payload(
    *,
    pin: str,
    old_id: str | None,
    full_name: str,
    birth_date: date,
    sex: Sex,
    address: str,
    issue_date: date,
) -> str:
    """The QR text of a card: the 7 fields joined by ``|``, dates ``ddmmyyyy``, sex ``Nam``/``Nữ``.

    The name and address are written as registered (diacritics kept, spaces cleaned). Raises
    :class:`ValueError` for a PIN that is not 12 ASCII digits, an old number that is not 9 or 12
    digits, or a name or address containing ``|`` or a line break (they would break the fields).
    """
    if not isinstance(pin, str) or not (_DIGITS.fullmatch(pin) and len(pin) == 12):
        raise ValueError(f"A PIN is 12 ASCII digits, not {pin!r}.")
    if old_id and not (_DIGITS.fullmatch(old_id) and len(old_id) in _OLD_ID_LENGTHS):
        raise ValueError(f"The old ID number is 9 (or 12) digits, not {old_id!r}.")
    if not isinstance(sex, Sex):
        raise ValueError(f"Sex must be Sex.MALE or Sex.FEMALE, not {sex!r}.")
    for label, value in (("full name", full_name), ("address", address)):
        if SEPARATOR in value or "\n" in value or "\r" in value:
            raise ValueError(f"The {label} cannot contain '|' or a line break: {value!r}.")
    return SEPARATOR.join(
        [
            pin,
            old_id or "",
            canonical(full_name),
            _ddmmyyyy(birth_date),
            SEX_WORDS[sex],
            canonical(address),
            _ddmmyyyy(issue_date),
        ]
    )


def _ddmmyyyy(value: date) -> str:
    return f"{value.day:02d}{value.month:02d}{value.year:04d}"


class QrWarningCode(StrEnum):
    """Stable codes of what could not be read from a QR payload; clients may rely on them."""

    NOT_A_CARD = "QR_NOT_A_CARD"
    FIELD_COUNT = "QR_FIELD_COUNT"
    FIELD_MISSING = "QR_FIELD_MISSING"
    PIN_INVALID = "QR_PIN_INVALID"
    OLD_ID_INVALID = "QR_OLD_ID_INVALID"
    DATE_INVALID = "QR_DATE_INVALID"
    SEX_UNKNOWN = "QR_SEX_UNKNOWN"


@dataclass(frozen=True)
class QrWarning:
    """One thing that could not be read: a stable ``code`` and a ``message`` a person can act on."""

    code: QrWarningCode
    message: str


class QrWarningJson(TypedDict):
    code: str
    message: str


class QrResultJson(TypedDict):
    """The JSON form of a :class:`QrResult` (the body printed by ``popreg card parse-qr``)."""

    pin: str | None
    old_id: str | None
    full_name: str | None
    birth_date: str | None
    sex: str | None
    address: str | None
    issue_date: str | None
    warnings: list[QrWarningJson]
    valid: bool


@dataclass(frozen=True)
class QrResult:
    """What :func:`parse_payload` read. A field that could not be read is ``None``, with a warning.

    ``valid`` is true when the PIN, full name, date of birth and sex were all read and the PIN
    agrees with the date of birth and sex (:func:`popreg.registry.pin.check_pin`). A warning about
    the address, old number or issue date does not make the card invalid.
    """

    pin: str | None
    old_id: str | None
    full_name: str | None
    birth_date: date | None
    sex: Sex | None
    address: str | None
    issue_date: date | None
    warnings: tuple[QrWarning, ...]
    valid: bool

    def to_json_dict(self) -> QrResultJson:
        """The result as JSON-ready values: dates ``YYYY-MM-DD``, sex ``M``/``F``."""
        return {
            "pin": self.pin,
            "old_id": self.old_id,
            "full_name": self.full_name,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "sex": self.sex.value if self.sex else None,
            "address": self.address,
            "issue_date": self.issue_date.isoformat() if self.issue_date else None,
            "warnings": [{"code": warning.code.value, "message": warning.message} for warning in self.warnings],
            "valid": self.valid,
        }


def parse_payload(text: str, *, today: date | None = None) -> QrResult:
    """Read a card's QR text into its fields. Never raises.

    Accepted: the 7-field layout, the same followed by empty fields (newer cards), and the 6-field
    layout without the old number, recognised because its second field is a name (it holds a
    letter) where the 7-field layout has digits or nothing. White space around fields is ignored,
    and ``Nu`` without its diacritic is read as female. Everything that could not be read is left
    ``None`` and reported: ``QR_NOT_A_CARD`` (a link, a bank-transfer VietQR code ``000201...``,
    text without ``|`` fields, or a first field that is not a number), ``QR_FIELD_COUNT``,
    ``QR_FIELD_MISSING``, ``QR_PIN_INVALID`` (with the codes of
    :func:`popreg.registry.pin.check_pin`), ``QR_OLD_ID_INVALID``, ``QR_DATE_INVALID`` (not a date,
    a date of birth or issue after ``today``, an issue date before the birth) and
    ``QR_SEX_UNKNOWN``. ``today`` defaults to today in Asia/Ho_Chi_Minh.
    """
    return _PayloadReader(today or datetime.now(VIETNAM_TIMEZONE).date()).read(text)


class _PayloadReader:
    def __init__(self, today: date) -> None:
        self.today = today
        self.warnings: list[QrWarning] = []

    def warn(self, code: QrWarningCode, message: str) -> None:
        self.warnings.append(QrWarning(code, message))

    def read(self, text: str) -> QrResult:
        payload = text.strip().lstrip("\ufeff").strip() if isinstance(text, str) else ""
        reason = _not_a_card(payload)
        if reason is not None:
            self.warn(QrWarningCode.NOT_A_CARD, reason)
            return QrResult(None, None, None, None, None, None, None, tuple(self.warnings), valid=False)
        values = self.split(payload)
        birth_date = self.read_date(values, "birth_date")
        sex = self.read_sex(values)
        issue_date = self.read_date(values, "issue_date")
        if birth_date and issue_date and issue_date < birth_date:
            self.warn(
                QrWarningCode.DATE_INVALID,
                f"The date of issue {issue_date:%d/%m/%Y} is before the date of birth {birth_date:%d/%m/%Y}; "
                "one of them was misread.",
            )
            issue_date = None
        pin, pin_consistent = self.read_pin(values, birth_date, sex)
        full_name = self.read_text(values, "full_name")
        result_valid = pin_consistent and None not in (full_name, birth_date, sex)
        return QrResult(
            pin=pin,
            old_id=self.read_old_id(values),
            full_name=full_name,
            birth_date=birth_date,
            sex=sex,
            address=self.read_text(values, "address"),
            issue_date=issue_date,
            warnings=tuple(self.warnings),
            valid=result_valid,
        )

    def split(self, payload: str) -> dict[str, str]:
        """The fields by name, after choosing the layout; missing fields are left out."""
        parts = [part.strip() for part in payload.split(SEPARATOR)]
        second = parts[1] if len(parts) > 1 else ""
        names = _WITHOUT_OLD_ID if any(character.isalpha() for character in second) else _WITH_OLD_ID
        while len(parts) > len(names) and not parts[-1]:
            parts.pop()
        if len(parts) > len(names):
            self.warn(
                QrWarningCode.FIELD_COUNT,
                f"The QR text has {len(parts)} fields; a card has {len(names)} in this layout, followed at "
                f"most by empty fields. The fields after the {len(names)}th were ignored: "
                f"{SEPARATOR.join(parts[len(names) :])!r}.",
            )
        elif len(parts) < len(names):
            missing = ", ".join(_LABELS[name] for name in names[len(parts) :])
            self.warn(
                QrWarningCode.FIELD_COUNT,
                f"The QR text has {len(parts)} fields but a card has {len(names)} in this layout, so these "
                f"could not be read: {missing}. Scan the code again.",
            )
        return dict(zip(names, parts, strict=False))

    def read_text(self, values: dict[str, str], name: str) -> str | None:
        value = canonical(values.get(name, ""))
        if not value and name in values:
            self.warn(QrWarningCode.FIELD_MISSING, f"The {_LABELS[name]} field is empty.")
        return value or None

    def read_old_id(self, values: dict[str, str]) -> str | None:
        value = values.get("old_id", "")
        if not value:
            return None
        if _DIGITS.fullmatch(value) and len(value) in _OLD_ID_LENGTHS:
            return value
        self.warn(
            QrWarningCode.OLD_ID_INVALID,
            f"The old ID number {value!r} is not 9 digits (nor a 12-digit earlier card number); it was not read.",
        )
        return None

    def read_date(self, values: dict[str, str], name: str) -> date | None:
        raw = values.get(name, "")
        if not raw:
            if name in values:
                self.warn(QrWarningCode.FIELD_MISSING, f"The {_LABELS[name]} field is empty.")
            return None
        match = _COMPACT_DATE.fullmatch(raw) or _SEPARATED_DATE.fullmatch(raw)
        parsed = _date_or_none(int(match[3]), int(match[2]), int(match[1])) if match else None
        if parsed is None or parsed > self.today:
            reason = "is after today" if parsed is not None else "is not a date ddmmyyyy"
            self.warn(QrWarningCode.DATE_INVALID, f"The {_LABELS[name]} {raw!r} {reason}; it was not read.")
            return None
        return parsed

    def read_sex(self, values: dict[str, str]) -> Sex | None:
        raw = values.get("sex", "")
        if not raw:
            if "sex" in values:
                self.warn(QrWarningCode.FIELD_MISSING, "The sex field is empty.")
            return None
        sex = _SEX_BY_FOLDED_WORD.get(fold(raw))
        if sex is None:
            self.warn(QrWarningCode.SEX_UNKNOWN, f"The sex {raw!r} is neither 'Nam' (male) nor 'Nữ' (female).")
        return sex

    def read_pin(self, values: dict[str, str], birth_date: date | None, sex: Sex | None) -> tuple[str | None, bool]:
        """The PIN if it has the right shape, and whether it agrees with the date of birth and sex."""
        raw = values.get("pin", "")
        if not raw:
            self.warn(QrWarningCode.FIELD_MISSING, "The PIN field is empty.")
            return None, False
        outcome = check_pin(raw, birth_date=birth_date, sex=sex, today=self.today)
        if not outcome.valid:
            codes = ", ".join(error.code.value for error in outcome.errors)
            details = " ".join(error.message for error in outcome.errors)
            self.warn(QrWarningCode.PIN_INVALID, f"The PIN {raw!r} is not valid ({codes}): {details}")
        structure_ok = outcome.birth_year is not None
        return (outcome.pin if structure_ok else None), outcome.valid


def _not_a_card(payload: str) -> str | None:
    """Why the text is not a citizen identity card's QR text, or ``None`` if it may be one."""
    if not payload:
        return "The QR text is empty."
    if payload.startswith(_EMV_PAYLOAD_START):
        return (
            "This is a payment QR code (VietQR / EMVCo, starting 000201), not the QR code of a citizen identity card."
        )
    if _URI_SCHEME.match(payload):
        return f"This QR code holds a link or another kind of record ({payload[:40]!r}), not a citizen identity card."
    if SEPARATOR not in payload:
        return "This text has no '|' separated fields, so it is not the QR code of a citizen identity card."
    first = payload.split(SEPARATOR, 1)[0].strip()
    if any(character.isalpha() for character in first):
        return (
            f"The first field, {first[:40]!r}, should be the 12-digit PIN: this is probably the QR code of "
            "another document (a health-insurance card, for instance), not of a citizen identity card."
        )
    return None


def _date_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
