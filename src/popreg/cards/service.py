"""Use cases of citizen identity cards: apply, produce, issue, cancel, read, render and check.

Each change checks the official's role and jurisdiction (where the person belongs, as for the
register), applies :mod:`popreg.cards.rules`, and writes the card and an event in the person's
history in the caller's transaction (flush, never commit). Every read of a card is written to the
access log. Persons are read only through :mod:`popreg.registry.service`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.cards import repository
from popreg.cards.models import Card
from popreg.cards.mrz import generate_td1
from popreg.cards.qr import SEX_WORDS, generate_payload
from popreg.cards.render import CardContent
from popreg.cards.rules import (
    SUCCESSOR_CANCELS,
    ApplicationKind,
    CancelReason,
    CardFacts,
    CardState,
    CardStatus,
    check_applicant,
    check_application,
    check_cancellation,
    check_issue_date,
    check_transition,
    expiry_date,
    state_of,
)
from popreg.cards.schemas import (
    CardApplicationIn,
    CardCancelIn,
    CardIssueIn,
    CardList,
    CardMrzRead,
    CardRead,
    CardStepIn,
)
from popreg.kit.clock import in_vietnam, today_in_vietnam, utc_now
from popreg.kit.errors import Conflict, InvalidInput, NotFound
from popreg.kit.events import PersonDied, PersonsMerged
from popreg.officials import service as officials
from popreg.officials.rules import OfficialPrincipal, require_jurisdiction, require_write
from popreg.registry import service as registry
from popreg.registry.models import Person
from popreg.registry.pin import Sex
from popreg.registry.rules import DatePrecision, LifeStatus
from popreg.units.catalogue import UnitGeneration, get_unit

DEFAULT_PURPOSE = "official_duty"
NATIONALITY_LABELS = {"VNM": "Việt Nam"}
CLI_OPERATOR = "cli"


# ---------------------------------------------------------------------------------------------
# Loading


def _person_for_change(session: Session, principal: OfficialPrincipal, pin: str) -> Person:
    """The person, locked for the change, after checking the official may change their record."""
    require_write(principal)
    person = registry.get_person_record(session, pin=pin, for_update=True)
    require_jurisdiction(principal, registry.person_places(session, person))
    return person


def _person_for_read(session: Session, principal: OfficialPrincipal, pin: str) -> Person:
    person = registry.get_person_record(session, pin=pin)
    require_jurisdiction(principal, registry.person_places(session, person))
    return person


def _check_holder(person: Person) -> None:
    check_applicant(
        nationality=person.nationality,
        alive=LifeStatus(person.life_status) is LifeStatus.ALIVE,
        birth_date_known_to_the_day=DatePrecision(person.birth_date_precision) is DatePrecision.DAY,
    )


def _card_of(session: Session, person: Person, card_id: int, *, for_update: bool = False) -> Card:
    card = repository.get_card(session, card_id, for_update=for_update)
    if card is None or card.person_id != person.id:
        raise NotFound(f"Person {person.pin} has no card {card_id}.", code="CARD_NOT_FOUND")
    return card


def _check_version(card: Card, expected: int | None) -> None:
    if expected is not None and expected != card.version:
        raise Conflict(
            f"The card changed since version {expected} (now {card.version}); reload it and try again.",
            code="VERSION_CONFLICT",
        )


def _log_read(session: Session, principal: OfficialPrincipal, action: str, pin: str, purpose: str) -> None:
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action=action,
        person_pin=pin,
        fields=("cards",),
        purpose=purpose,
    )


# ---------------------------------------------------------------------------------------------
# History


def date_of_issue(card: Card) -> date | None:
    """The date printed on the card as its date of issue: the day it was produced, in Vietnam."""
    return in_vietnam(card.produced_at).date() if card.produced_at is not None else None


def _record(card: Card) -> dict[str, Any]:
    """The card as it appears in the person's history (``cards.<id>`` in an event's changes)."""

    def iso(value: date | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "status": card.status,
        "application_kind": card.application_kind,
        "date_of_issue": iso(date_of_issue(card)),
        "issued_on": iso(card.issued_on),
        "expiry_date": iso(card.expiry_date),
        "cancelled_on": iso(card.cancelled_on),
        "cancel_reason": card.cancel_reason,
        "replaces_card_id": card.replaces_card_id,
    }


def _write_history(
    session: Session,
    *,
    principal: OfficialPrincipal,
    card: Card,
    before: dict[str, Any] | None,
    event_type: str,
    legal_basis: str,
    effective_date: date,
) -> None:
    registry.record_history(
        session,
        principal=principal,
        pin=card.pin,
        event_type=event_type,
        changes={f"cards.{card.id}": [before, _record(card)]},
        legal_basis=legal_basis,
        effective_date=effective_date,
    )


def _default_basis(card: Card, given: str) -> str:
    """A production or issuance follows from the application unless another document is cited."""
    return given.strip() or f"Hồ sơ đề nghị cấp thẻ căn cước số {card.id}"


# ---------------------------------------------------------------------------------------------
# Lifecycle


def apply_for_card(session: Session, *, principal: OfficialPrincipal, pin: str, data: CardApplicationIn) -> Card:
    """Record an application for a card (Law on Identification 2023, Art. 19, 21, 24).

    A replacement of a lost card cancels the lost card at once; the other kinds leave the current
    card valid until the new one is produced.
    """
    person = _person_for_change(session, principal, pin)
    _check_holder(person)
    today = today_in_vietnam()
    cards = repository.cards_of(session, person.id, for_update=True)
    replaced = check_application(data.kind, cards=[_facts(card) for card in cards], today=today)
    legal_basis = data.legal_basis
    if data.kind is ApplicationKind.REPLACEMENT_LOST and replaced is not None:
        old = next(card for card in cards if card.id == replaced.id)
        if old.status == CardStatus.ISSUED.value:
            _cancel(session, principal, old, CancelReason.LOST, on=today, legal_basis=legal_basis)
    card = repository.add(
        session,
        Card(
            person_id=person.id,
            pin=person.pin,
            status=CardStatus.APPLIED.value,
            application_kind=data.kind.value,
            applied_at=utc_now(),
            issuing_unit_code=principal.jurisdiction_code,
            replaces_card_id=replaced.id if replaced is not None else None,
            version=1,
        ),
    )
    _write_history(
        session,
        principal=principal,
        card=card,
        before=None,
        event_type="card.applied",
        legal_basis=legal_basis,
        effective_date=today,
    )
    return card


def mark_produced(session: Session, *, principal: OfficialPrincipal, pin: str, card_id: int, data: CardStepIn) -> Card:
    """The card was printed: its date of issue is today and its expiry follows from the renewal
    rule (Art. 21). It becomes the person's card, so the card it replaces is cancelled now."""
    person = _person_for_change(session, principal, pin)
    card = _card_of(session, person, card_id, for_update=True)
    _check_version(card, data.expected_version)
    check_transition(CardStatus(card.status), CardStatus.PRODUCED)
    _check_holder(person)
    legal_basis = _default_basis(card, data.legal_basis)
    today = today_in_vietnam()
    reason = SUCCESSOR_CANCELS.get(ApplicationKind(card.application_kind))
    if card.replaces_card_id is not None and reason is not None:
        old = _card_of(session, person, card.replaces_card_id, for_update=True)
        if old.status == CardStatus.ISSUED.value:
            _cancel(session, principal, old, reason, on=today, legal_basis=legal_basis)
    before = _record(card)
    card.status = CardStatus.PRODUCED.value
    card.produced_at = utc_now()
    card.expiry_date = expiry_date(person.birth_date, today)
    card.version += 1
    session.flush()
    _write_history(
        session,
        principal=principal,
        card=card,
        before=before,
        event_type="card.produced",
        legal_basis=legal_basis,
        effective_date=today,
    )
    return card


def issue_card(session: Session, *, principal: OfficialPrincipal, pin: str, card_id: int, data: CardIssueIn) -> Card:
    """The produced card was handed over to its holder."""
    person = _person_for_change(session, principal, pin)
    card = _card_of(session, person, card_id, for_update=True)
    _check_version(card, data.expected_version)
    check_transition(CardStatus(card.status), CardStatus.ISSUED)
    today = today_in_vietnam()
    issued_on = data.issued_on or today
    produced_on = date_of_issue(card)
    check_issue_date(issued_on, produced_on=produced_on or today, today=today)
    before = _record(card)
    card.status = CardStatus.ISSUED.value
    card.issued_on = issued_on
    card.version += 1
    session.flush()
    _write_history(
        session,
        principal=principal,
        card=card,
        before=before,
        event_type="card.issued",
        legal_basis=_default_basis(card, data.legal_basis),
        effective_date=issued_on,
    )
    return card


def cancel_card(session: Session, *, principal: OfficialPrincipal, pin: str, card_id: int, data: CardCancelIn) -> Card:
    """Cancel by hand: an issued card reported lost, or an application withdrawn before issuance."""
    person = _person_for_change(session, principal, pin)
    card = _card_of(session, person, card_id, for_update=True)
    _check_version(card, data.expected_version)
    today = today_in_vietnam()
    cancelled_on = data.cancelled_on or today
    if cancelled_on > today:
        raise InvalidInput(
            "The date of cancellation cannot be in the future.",
            code="DATE_IN_FUTURE",
            details={"field": "cancelled_on"},
        )
    _cancel(session, principal, card, CancelReason(data.reason), on=cancelled_on, legal_basis=data.legal_basis)
    return card


def _cancel(
    session: Session, principal: OfficialPrincipal, card: Card, reason: CancelReason, *, on: date, legal_basis: str
) -> None:
    check_cancellation(CardStatus(card.status), reason)
    before = _record(card)
    card.status = CardStatus.CANCELLED.value
    card.cancelled_on = on
    card.cancel_reason = reason.value
    card.version += 1
    session.flush()
    _write_history(
        session,
        principal=principal,
        card=card,
        before=before,
        event_type="card.cancelled",
        legal_basis=legal_basis,
        effective_date=on,
    )


def cancel_cards_at_death(session: Session, event: PersonDied) -> None:
    """A recorded death cancels the person's card and any application in progress, in the same
    transaction, citing the death's legal basis (the handler of :class:`PersonDied`)."""
    person = registry.get_person_record(session, pin=event.pin)
    principal = officials.principal_of_actor(session, actor=event.actor)
    for card in repository.open_cards(session, person.id):
        _cancel(session, principal, card, CancelReason.DEATH, on=event.date, legal_basis=event.legal_basis)


def cancel_cards_of_retired_record(session: Session, event: PersonsMerged) -> None:
    """A card carries its holder's PIN: when a duplicate record is retired by a merge, its cards and
    applications are cancelled in the same transaction (the person applies for a card on the record
    kept). The handler of :class:`PersonsMerged`."""
    person = registry.get_person_record(session, pin=event.retired_pin)
    principal = officials.principal_of_actor(session, actor=event.actor)
    for card in repository.open_cards(session, person.id):
        _cancel(session, principal, card, CancelReason.MERGED, on=event.date, legal_basis=event.legal_basis)


def _facts(card: Card) -> CardFacts:
    return CardFacts(
        id=card.id,
        status=CardStatus(card.status),
        issued_on=card.issued_on,
        expiry_date=card.expiry_date,
    )


# ---------------------------------------------------------------------------------------------
# Reading


def card_view(card: Card, *, today: date | None = None) -> CardRead:
    return CardRead(
        id=card.id,
        pin=card.pin,
        status=CardStatus(card.status),
        state=state_of(CardStatus(card.status), card.expiry_date, today or today_in_vietnam()),
        application_kind=ApplicationKind(card.application_kind),
        applied_at=card.applied_at,
        produced_at=card.produced_at,
        date_of_issue=date_of_issue(card),
        issued_on=card.issued_on,
        expiry_date=card.expiry_date,
        cancelled_on=card.cancelled_on,
        cancel_reason=CancelReason(card.cancel_reason) if card.cancel_reason else None,
        issuing_unit_code=card.issuing_unit_code,
        replaces_card_id=card.replaces_card_id,
        version=card.version,
    )


def list_cards(session: Session, *, principal: OfficialPrincipal, pin: str, purpose: str = DEFAULT_PURPOSE) -> CardList:
    """Every card and application of a person, newest first."""
    person = _person_for_read(session, principal, pin)
    _log_read(session, principal, "card.read", person.pin, purpose)
    today = today_in_vietnam()
    return CardList(
        pin=person.pin, cards=[card_view(card, today=today) for card in repository.cards_of(session, person.id)]
    )


def get_card(
    session: Session, *, principal: OfficialPrincipal, pin: str, card_id: int, purpose: str = DEFAULT_PURPOSE
) -> CardRead:
    person = _person_for_read(session, principal, pin)
    card = _card_of(session, person, card_id)
    _log_read(session, principal, "card.read", person.pin, purpose)
    return card_view(card)


def _valid_card(session: Session, person: Person) -> Card:
    card = repository.current_card(session, person.id)
    if card is None or state_of(CardStatus(card.status), card.expiry_date, today_in_vietnam()) is not CardState.VALID:
        raise NotFound(f"Person {person.pin} holds no valid identity card.", code="CARD_NO_VALID_CARD")
    return card


def valid_card(session: Session, *, principal: OfficialPrincipal, pin: str, purpose: str = DEFAULT_PURPOSE) -> CardRead:
    """The person's valid card: issued and not expired."""
    person = _person_for_read(session, principal, pin)
    card = _valid_card(session, person)
    _log_read(session, principal, "card.read", person.pin, purpose)
    return card_view(card)


def valid_card_mrz(
    session: Session, *, principal: OfficialPrincipal | None, pin: str, purpose: str = DEFAULT_PURPOSE
) -> CardMrzRead:
    """The three MRZ lines of the person's valid card.

    ``principal`` is ``None`` for the operator of the server at the command line, who has no
    jurisdiction limit; the read is logged all the same (as ``operator:cli``).
    """
    if principal is None:
        person = registry.get_person_record(session, pin=pin)
    else:
        person = _person_for_read(session, principal, pin)
    card = _valid_card(session, person)
    audit.record_access(
        session,
        principal_kind="official" if principal is not None else "operator",
        principal_id=principal.username if principal is not None else CLI_OPERATOR,
        action="card.mrz",
        person_pin=person.pin,
        fields=("mrz",),
        purpose=purpose,
    )
    return CardMrzRead(card_id=card.id, lines=list(_mrz(person, card)))


def _mrz(person: Person, card: Card) -> tuple[str, str, str]:
    given = " ".join(part for part in (person.middle_name, person.given_name) if part)
    return generate_td1(
        pin=person.pin,
        surname=person.family_name,
        given_names=given,
        birth_date=person.birth_date,
        sex=Sex(person.sex),
        expiry_date=card.expiry_date,
    )


# ---------------------------------------------------------------------------------------------
# Rendering


def card_content(
    session: Session, *, principal: OfficialPrincipal, pin: str, card_id: int, purpose: str = DEFAULT_PURPOSE
) -> CardContent:
    """What a produced card shows, from the register's current data, for a rendering; the read is
    logged. ``CARD_NOT_PRODUCED`` for an application not yet printed."""
    person = _person_for_read(session, principal, pin)
    card = _card_of(session, person, card_id)
    issued = date_of_issue(card)
    if issued is None:
        raise Conflict(
            "This card has not been produced yet: there is nothing printed to show.",
            code="CARD_NOT_PRODUCED",
            details={"status": card.status},
        )
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="card.render",
        person_pin=person.pin,
        fields=("card", str(card.id)),
        purpose=purpose,
    )
    residence = residence_text(session, person)
    return CardContent(
        pin=person.pin,
        full_name=person.full_name,
        birth_date=person.birth_date,
        sex_label=SEX_WORDS[Sex(person.sex)],
        nationality_label=NATIONALITY_LABELS.get(person.nationality, person.nationality),
        residence=residence,
        birth_registration=_birth_registration_text(person),
        date_of_issue=issued,
        expiry_date=card.expiry_date,
        mrz=_mrz(person, card),
        qr_payload=generate_payload(
            pin=person.pin,
            old_id=None,
            full_name=person.full_name,
            birth_date=person.birth_date,
            sex=Sex(person.sex),
            address=residence.replace("|", "/"),
            issue_date=issued,
        ),
        cancelled=card.status == CardStatus.CANCELLED.value,
    )


def residence_text(session: Session, person: Person) -> str:
    """The place of residence printed on the card: the permanent residence, else the temporary one."""
    view = registry.person_view(session, person)
    current = [residence for residence in view.residences if residence.valid_to is None]
    chosen = next((r for r in current if r.kind.value == "permanent"), current[0] if current else None)
    if chosen is None:
        return ""
    return ", ".join(
        part for part in (chosen.address_line, _unit_text(chosen.unit_code, chosen.unit_generation)) if part
    )


def _birth_registration_text(person: Person) -> str:
    if person.birth_registration_unit_code:
        return _unit_text(person.birth_registration_unit_code, UnitGeneration.Y2025.value)
    return f"Nước ngoài / Abroad ({person.birth_registration_code})"


def _unit_text(code: str, generation: str) -> str:
    """A unit with the units above it, as printed ("Phường Ba Đình, Thành phố Hà Nội")."""
    try:
        units = UnitGeneration(generation)
    except ValueError:
        return code
    names: list[str] = []
    unit = get_unit(code, units)
    while unit is not None:
        names.append(unit.name)
        unit = get_unit(unit.parent_code, units) if unit.parent_code else None
    return ", ".join(names) or code
