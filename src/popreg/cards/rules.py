"""The rules of the citizen identity card ("thẻ căn cước"): who may apply, for what, when a card
expires, and how a card moves from application to cancellation. Pure: no database, no web.

The law is the Law on Identification 2023 (Luật Căn cước số 26/2023/QH15, in force 1 July 2024):

* Art. 19: a card is issued to Vietnamese citizens. From 14 a citizen must have one; under 14 a
  card is issued on request, from birth on. popreg therefore accepts an application at any age.
* Art. 21: a card must be renewed ("cấp đổi") on reaching the ages 14, 25, 40 and 60; a card issued
  (or renewed, or replaced) within the two years before one of those ages stays valid until the
  next one. A card issued at 58 or later is therefore valid for life.
* Art. 24: a card is exchanged ("cấp đổi") at those ages, when the name or date of birth changes,
  or when its printed data is wrong; it is re-issued ("cấp lại") when it is lost or damaged beyond
  use.

The card's number is the person's PIN, so every card a person ever holds has the same number: a
card is told apart from its predecessors by its dates (date of issue, date of expiry).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from popreg.kit.errors import Conflict, InvalidInput

RENEWAL_AGES = (14, 25, 40, 60)
"""Law on Identification 2023, Art. 21(1): the ages at which a card must be renewed."""
GRACE_YEARS = 2
"""Law on Identification 2023, Art. 21(2): a card issued within this many years before a renewal
age stays valid until the next renewal age."""
MANDATORY_AGE = 14
"""Law on Identification 2023, Art. 19(2): from this age a citizen must hold a card."""
RENEWAL_WINDOW_DAYS = 60
"""How long before its expiry a card may be renewed. The law sets no such figure: this is popreg's
choice (a renewal within the two-year grace gives a card valid until the next age anyway)."""
CARD_NATIONALITY = "VNM"


class CardStatus(StrEnum):
    """Where a card stands. ``applied`` -> ``produced`` -> ``issued``; any of them -> ``cancelled``."""

    APPLIED = "applied"
    PRODUCED = "produced"
    ISSUED = "issued"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset({CardStatus.APPLIED, CardStatus.PRODUCED})
"""An application in progress: applied for, or produced but not yet handed over."""
CURRENT_STATUSES = frozenset({CardStatus.PRODUCED, CardStatus.ISSUED})
"""The statuses of "the" card of a person: at most one card per person is in them (a database
constraint as well as a rule). A produced card takes the place of the card it replaces."""


class ApplicationKind(StrEnum):
    """Why a card is applied for (Law on Identification 2023, Art. 19, 21 and 24)."""

    FIRST = "first"
    RENEWAL = "renewal"
    REPLACEMENT_LOST = "replacement_lost"
    REPLACEMENT_DAMAGED = "replacement_damaged"
    CHANGE_OF_DATA = "change_of_data"


class CancelReason(StrEnum):
    """Why a card was cancelled."""

    DEATH = "death"
    LOST = "lost"
    REPLACED = "replaced"
    DAMAGED = "damaged"
    DATA_CHANGED = "data_changed"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"  # the holder's record was a duplicate, retired into the record kept


MANUAL_CANCEL_REASONS = frozenset({CancelReason.LOST, CancelReason.WITHDRAWN})
"""The reasons an official gives by hand. The others follow from another step: ``death`` from the
recording of the death, ``merged`` from the merge of a duplicate record, ``replaced``, ``damaged``
and ``data_changed`` from the production of the card that succeeds it."""


class CardState(StrEnum):
    """What a card is worth today, as an offline check or the console says it."""

    APPLIED = "applied"
    NOT_ISSUED = "not_issued"
    VALID = "valid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


SUCCESSOR_CANCELS = {
    ApplicationKind.RENEWAL: CancelReason.REPLACED,
    ApplicationKind.REPLACEMENT_LOST: CancelReason.LOST,
    ApplicationKind.REPLACEMENT_DAMAGED: CancelReason.DAMAGED,
    ApplicationKind.CHANGE_OF_DATA: CancelReason.DATA_CHANGED,
}
"""The reason the card being replaced is cancelled with, by the kind of the new application."""

_TRANSITIONS = {
    CardStatus.APPLIED: frozenset({CardStatus.PRODUCED, CardStatus.CANCELLED}),
    CardStatus.PRODUCED: frozenset({CardStatus.ISSUED, CardStatus.CANCELLED}),
    CardStatus.ISSUED: frozenset({CardStatus.CANCELLED}),
    CardStatus.CANCELLED: frozenset[CardStatus](),
}
_REASONS_BY_STATUS = {
    CancelReason.LOST: frozenset({CardStatus.ISSUED}),
    CancelReason.WITHDRAWN: frozenset({CardStatus.APPLIED, CardStatus.PRODUCED}),
    CancelReason.DEATH: frozenset({CardStatus.APPLIED, CardStatus.PRODUCED, CardStatus.ISSUED}),
    CancelReason.MERGED: frozenset({CardStatus.APPLIED, CardStatus.PRODUCED, CardStatus.ISSUED}),
    CancelReason.REPLACED: frozenset({CardStatus.ISSUED}),
    CancelReason.DAMAGED: frozenset({CardStatus.ISSUED}),
    CancelReason.DATA_CHANGED: frozenset({CardStatus.ISSUED}),
}


# ---------------------------------------------------------------------------------------------
# Ages and expiry


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (or earlier); 29 February becomes 28 February in a common year.

    The last day of the month, as the Civil Code 2015 (Art. 148) ends a period whose final month
    has no such day; the law on identification says nothing of people born on 29 February.
    """
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def reaching_age(birth_date: date, age: int) -> date:
    """The day a person born on ``birth_date`` reaches ``age`` (their birthday that year)."""
    return add_years(birth_date, age)


def age_on(birth_date: date, day: date) -> int:
    """A person's age in whole years on ``day``."""
    years = day.year - birth_date.year
    return years if reaching_age(birth_date, years) <= day else years - 1


def expiry_date(birth_date: date, issue_date: date) -> date | None:
    """The date of expiry of a card issued on ``issue_date``, or ``None`` for a card valid for life.

    Law on Identification 2023, Art. 21: a card must be renewed on reaching 14, 25, 40 and 60, and a
    card issued within two years before one of those ages stays valid until the next one. So the
    card expires on the day the person reaches the first renewal age that falls more than two years
    after the date of issue; a card issued at 58 or later (no such age is left) never expires.
    Examples for a person born 12 May 1990: issued 2021-03-01 (aged 30) -> 2030-05-12 (40);
    issued 2028-06-01 (aged 38, within two years of 40) -> 2050-05-12 (60); issued 2048-05-12
    (aged 58) -> ``None``. Raises :class:`ValueError` for a card issued before the birth.
    """
    if issue_date < birth_date:
        raise ValueError(f"A card cannot be issued ({issue_date}) before its holder's birth ({birth_date}).")
    end_of_grace = add_years(issue_date, GRACE_YEARS)
    for age in RENEWAL_AGES:
        due = reaching_age(birth_date, age)
        if due > end_of_grace:
            return due
    return None


def card_required(birth_date: date, today: date) -> bool:
    """Law on Identification 2023, Art. 19(2): a citizen of 14 or more must hold a card."""
    return age_on(birth_date, today) >= MANDATORY_AGE


# ---------------------------------------------------------------------------------------------
# Statuses


def state_of(status: CardStatus, expiry: date | None, today: date) -> CardState:
    """What a card is worth on ``today``: an issued card is valid through its date of expiry."""
    if status is CardStatus.CANCELLED:
        return CardState.CANCELLED
    if status is CardStatus.APPLIED:
        return CardState.APPLIED
    if status is CardStatus.PRODUCED:
        return CardState.NOT_ISSUED
    if expiry is not None and today > expiry:
        return CardState.EXPIRED
    return CardState.VALID


def check_transition(current: CardStatus, new: CardStatus) -> None:
    """A card is produced from an application, issued once produced, and cancelled at any step
    before (an application withdrawn) or after (a lost card) its issuance; a cancelled card stays so."""
    if new not in _TRANSITIONS[current]:
        raise Conflict(
            f"A card that is {current.value} cannot become {new.value}. "
            "A card is applied for, then produced, then issued; it can be cancelled at any step.",
            code="CARD_TRANSITION_INVALID",
            details={"status": current.value, "requested": new.value},
        )


def check_cancellation(current: CardStatus, reason: CancelReason) -> None:
    """Each reason fits some statuses only: a card is lost once issued, an application is withdrawn
    before issuance, and a death cancels whatever is in progress or valid."""
    check_transition(current, CardStatus.CANCELLED)
    if current not in _REASONS_BY_STATUS[reason]:
        raise Conflict(
            f"A card that is {current.value} cannot be cancelled as {reason.value}: "
            + (
                "only an application not yet issued is withdrawn."
                if reason is CancelReason.WITHDRAWN
                else "only an issued card can be."
            ),
            code="CARD_TRANSITION_INVALID",
            details={"status": current.value, "reason": reason.value},
        )


# ---------------------------------------------------------------------------------------------
# Applications


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What the application rules need to know of one card of the person."""

    id: int
    status: CardStatus
    issued_on: date | None
    expiry_date: date | None


def check_applicant(*, nationality: str, alive: bool, birth_date_known_to_the_day: bool) -> None:
    """Who can hold a card: a living Vietnamese citizen (Law on Identification 2023, Art. 19), of
    any age, whose date of birth is known to the day (it is printed and written in the MRZ)."""
    if not alive:
        raise Conflict("This person is recorded as deceased; a card is issued to the living.", code="PERSON_DECEASED")
    if nationality != CARD_NATIONALITY:
        raise Conflict(
            f"A citizen identity card is issued to Vietnamese citizens only; this person's nationality is "
            f"{nationality}.",
            code="CARD_NOT_A_CITIZEN",
        )
    if not birth_date_known_to_the_day:
        raise Conflict(
            "The date of birth is recorded without its day (or month); correct it in the register first, "
            "since the card prints the full date.",
            code="CARD_BIRTH_DATE_INCOMPLETE",
        )


def check_application(kind: ApplicationKind, *, cards: Sequence[CardFacts], today: date) -> CardFacts | None:
    """Whether an application of ``kind`` can be made; returns the card it will replace, if any.

    * One application at a time: none may be open (applied or produced).
    * ``first``: only for a person who was never issued a card.
    * ``renewal`` (Art. 21, Art. 24(1)(a)): the current card expires within
      :data:`RENEWAL_WINDOW_DAYS` days or has expired; a card valid for life is never renewed.
    * ``replacement_damaged`` and ``change_of_data`` (Art. 24): a current card exists; it stays
      valid until the new card is produced.
    * ``replacement_lost`` (Art. 24(2)(a)): the current card (cancelled as lost at once, since a
      lost card must not stay valid), or, when there is none, a card issued before.
    """
    open_application = next((card for card in cards if card.status in OPEN_STATUSES), None)
    if open_application is not None:
        raise Conflict(
            "An application for this person is already in progress; finish or withdraw it first.",
            code="CARD_APPLICATION_OPEN",
            details={"card_id": open_application.id, "status": open_application.status.value},
        )
    current = next((card for card in cards if card.status is CardStatus.ISSUED), None)
    issued_before = [card for card in cards if card.issued_on is not None]
    if kind is ApplicationKind.FIRST:
        if current is not None:
            raise Conflict(
                "This person already holds a card; apply for a renewal or a replacement instead.",
                code="CARD_ALREADY_VALID",
                details={"card_id": current.id},
            )
        if issued_before:
            raise Conflict(
                "This person held a card before; a first card is only for someone who never had one. "
                "Apply for a replacement of the lost card instead.",
                code="CARD_FIRST_NOT_ALLOWED",
            )
        return None
    if kind is ApplicationKind.REPLACEMENT_LOST:
        if current is not None:
            return current
        if not issued_before:
            raise _nothing_to_replace(kind)
        return max(issued_before, key=lambda card: (card.issued_on or date.min, card.id))
    if current is None:
        raise _nothing_to_replace(kind)
    if kind is ApplicationKind.RENEWAL:
        if current.expiry_date is None:
            raise Conflict(
                "The current card is valid for life (issued at 58 or later); it is never renewed for age.",
                code="CARD_RENEWAL_NOT_DUE",
                details={"card_id": current.id, "expiry_date": None},
            )
        opens = current.expiry_date - timedelta(days=RENEWAL_WINDOW_DAYS)
        if today < opens:
            raise Conflict(
                f"The current card is valid until {current.expiry_date:%d/%m/%Y}; it can be renewed from "
                f"{opens:%d/%m/%Y} ({RENEWAL_WINDOW_DAYS} days before).",
                code="CARD_RENEWAL_NOT_DUE",
                details={"card_id": current.id, "expiry_date": current.expiry_date.isoformat()},
            )
    return current


def _nothing_to_replace(kind: ApplicationKind) -> Conflict:
    return Conflict(
        f"An application for {kind.value.replace('_', ' ')} needs a card to replace, and this person holds "
        "none. Apply for a first card (or a replacement of a lost one) instead.",
        code="CARD_NOTHING_TO_REPLACE",
        details={"kind": kind.value},
    )


def check_issue_date(issued_on: date, *, produced_on: date, today: date) -> None:
    """A card is handed over on or after the day it was produced, and not in the future."""
    if issued_on > today or issued_on < produced_on:
        raise InvalidInput(
            f"The date of issuance must be between the day the card was produced ({produced_on:%d/%m/%Y}) and today.",
            code="CARD_ISSUE_DATE_INVALID",
            details={"field": "issued_on"},
        )
