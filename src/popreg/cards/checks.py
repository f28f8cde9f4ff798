"""The offline check of a citizen identity card against the register.

A reader (a border post, a bank, a commune office) scans the card's MRZ or QR code and asks whether
what it read agrees with the register, field by field, and whether that card is valid, expired or
cancelled. Any official may check a card anywhere, since a card is shown everywhere; the answer
confirms or denies only what the reader already holds (never the register's own values), and every
check is written to the access log.

The card's number is the PIN, so a person's successive cards are told apart by a date: the date of
expiry in the MRZ, the date of issue in the QR code. A lost card and its replacement issued within
the same renewal period have the same MRZ; the QR code's date of issue tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.cards import repository, service
from popreg.cards.models import Card
from popreg.cards.mrz import name_field, parse_mrz
from popreg.cards.qr import parse_payload
from popreg.cards.rules import CardState, CardStatus, state_of
from popreg.cards.schemas import CardCheckIn, CardCheckRead, CheckStatus, FieldCheck
from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.errors import InvalidInput, NotFound
from popreg.kit.text import fold
from popreg.officials.rules import OfficialPrincipal
from popreg.registry import service as registry
from popreg.registry.models import Person


def check_card(
    session: Session, *, principal: OfficialPrincipal, data: CardCheckIn, purpose: str = service.DEFAULT_PURPOSE
) -> CardCheckRead:
    """Compare what was read from a card (MRZ or QR) with the register, field by field, and say
    whether that card is valid, expired, cancelled, not yet issued or unknown; log the check."""
    today = today_in_vietnam()
    scanned = _read_mrz(data.mrz, today) if data.mrz is not None else _read_qr(data.qr or "", today)
    if scanned.pin is None:
        raise InvalidInput(
            "No personal identification number could be read from this "
            f"{'MRZ' if scanned.source == 'mrz' else 'QR code'}; scan it again.",
            code="CARD_CHECK_UNREADABLE",
            details={"problems": list(scanned.problems)},
        )
    person: Person | None
    try:
        person = registry.get_person_record(session, pin=scanned.pin)
    except (NotFound, InvalidInput):
        person = None
    problems = list(scanned.problems)
    fields: list[FieldCheck]
    status, card = CheckStatus.UNKNOWN, None
    if person is None:
        fields = [FieldCheck(field=field.name, card_value=field.value, matches=None) for field in scanned.fields]
    else:
        cards = [c for c in repository.cards_of(session, person.id) if c.produced_at is not None]
        candidates = [c for c in cards if _same_card(scanned, c)]
        if len(candidates) > 1:
            problems.append("CARD_MATCH_AMBIGUOUS")
        card = next((c for c in candidates if c.status != CardStatus.CANCELLED.value), None) or (
            candidates[0] if candidates else None
        )
        if card is not None:
            status = _check_status(state_of(CardStatus(card.status), card.expiry_date, today))
        fields = _compare(session, scanned, person, repository.current_card(session, person.id))
    matches = scanned.readable and person is not None and all(f.matches is True for f in fields)
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="card.check",
        person_pin=person.pin if person is not None else None,
        fields=(scanned.source, *(f.field for f in fields)),
        purpose=purpose,
        result=status.value,
    )
    return CardCheckRead(
        source=scanned.source,
        readable=scanned.readable,
        problems=problems,
        pin=scanned.pin,
        person_found=person is not None,
        status=status,
        card_id=card.id if card is not None else None,
        fields=fields,
        matches=matches,
        checked_at=utc_now(),
    )


@dataclass(frozen=True, slots=True)
class _ScannedField:
    """A field as read from a card; ``read`` is false when the card did not carry it readably (an
    MRZ's date of expiry of a card valid for life is read, as ``None``)."""

    name: str
    value: str | None
    read: bool


@dataclass(frozen=True, slots=True)
class _Scanned:
    source: Literal["mrz", "qr"]
    readable: bool
    problems: tuple[str, ...]
    pin: str | None
    fields: tuple[_ScannedField, ...]
    card_date: str  # the date that tells a person's cards apart: the expiry (MRZ) or the issue (QR)

    def field(self, name: str) -> _ScannedField | None:
        return next((field for field in self.fields if field.name == name), None)


def _read_mrz(text: str, today: date) -> _Scanned:
    result = parse_mrz(text, today=today)
    values = result.fields
    pin = values.get("pin")
    optional = values.get("optional_data") or ""
    if pin is None and optional[:12].isdigit() and len(optional) >= 12:
        pin = optional[:12]  # the check digits failed, but the PIN is still there to look up
    name = " << ".join(part for part in (values.get("surname"), values.get("given_names")) if part)
    fields = [
        ("pin", pin),
        ("full_name", name or None),
        ("birth_date", values.get("birth_date")),
        ("sex", values.get("sex")),
    ]
    return _Scanned(
        source="mrz",
        readable=result.valid,
        problems=tuple(error.code.value for error in result.errors),
        pin=pin,
        fields=(
            *(_ScannedField(name, value, value is not None) for name, value in fields),
            _ScannedField("expiry_date", values.get("expiry_date"), result.format == "TD1"),
        ),
        card_date="expiry_date",
    )


def _read_qr(text: str, today: date) -> _Scanned:
    result = parse_payload(text, today=today)
    fields = [
        ("pin", result.pin),
        ("full_name", result.full_name),
        ("birth_date", result.birth_date.isoformat() if result.birth_date else None),
        ("sex", result.sex.value if result.sex else None),
        ("address", result.address),
        ("date_of_issue", result.issue_date.isoformat() if result.issue_date else None),
    ]
    return _Scanned(
        source="qr",
        readable=result.valid and not result.warnings,
        problems=tuple(warning.code.value for warning in result.warnings),
        pin=result.pin,
        fields=tuple(_ScannedField(name, value, value is not None) for name, value in fields),
        card_date="date_of_issue",
    )


def _dates_of(card: Card) -> dict[str, str | None]:
    issued = service.date_of_issue(card)
    return {
        "expiry_date": card.expiry_date.isoformat() if card.expiry_date else None,
        "date_of_issue": issued.isoformat() if issued else None,
    }


def _same_card(scanned: _Scanned, card: Card) -> bool:
    """Whether a card of the person is the one scanned: same date of expiry (MRZ) or of issue (QR)."""
    field = scanned.field(scanned.card_date)
    return field is not None and field.read and _dates_of(card)[scanned.card_date] == field.value


def _check_status(state: CardState) -> CheckStatus:
    return {
        CardState.VALID: CheckStatus.VALID,
        CardState.EXPIRED: CheckStatus.EXPIRED,
        CardState.CANCELLED: CheckStatus.CANCELLED,
        CardState.NOT_ISSUED: CheckStatus.NOT_ISSUED,
    }.get(state, CheckStatus.UNKNOWN)


def _compare(session: Session, scanned: _Scanned, person: Person, current: Card | None) -> list[FieldCheck]:
    """Each field the card carries against the register; its dates against the person's current card
    (a scanned card that has since been replaced disagrees there)."""
    given = " ".join(part for part in (person.middle_name, person.given_name) if part)
    if scanned.source == "mrz":
        surname, _, rest = name_field(person.family_name, given, 30).partition("<<")
        name = " << ".join(part for part in (surname, rest.rstrip("<").replace("<", " ")) if part)
    else:
        name = person.full_name
    register: dict[str, str | None] = {
        "pin": person.pin,
        "full_name": name,
        "birth_date": person.birth_date.isoformat(),
        "sex": person.sex,
    }
    if scanned.field("address") is not None:
        register["address"] = service.residence_text(session, person)
    if current is not None:
        register.update(_dates_of(current))
    checks = []
    for field in scanned.fields:
        if not field.read:
            matches = None
        elif field.name not in register:
            matches = False  # no current card to hold that date
        elif field.name in ("full_name", "address"):
            matches = fold(field.value or "") == fold(register[field.name] or "")
        else:
            matches = field.value == register[field.name]
        checks.append(FieldCheck(field=field.name, card_value=field.value, matches=matches))
    return checks
