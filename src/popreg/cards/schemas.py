"""What the identity-card API accepts and returns. Inputs refuse unknown fields."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from popreg.cards.rules import ApplicationKind, CancelReason, CardState, CardStatus

LegalBasis = Annotated[
    str,
    Field(
        max_length=500,
        description="The document behind the step: the application form, the loss report, ... (number, date).",
    ),
]


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CardApplicationIn(InputModel):
    """Apply for a card: a first card, a renewal at 14/25/40/60, a replacement, or a change of data."""

    kind: ApplicationKind
    legal_basis: LegalBasis = Field(
        default="",
        description="The application: form number and date (e.g. 'Tờ khai CC01 số 125 ngày 02/01/2026').",
        examples=["Tờ khai CC01 số 125 ngày 02/01/2026"],
    )


class CardStepIn(InputModel):
    """Mark a card produced. ``legal_basis`` defaults to the card's application."""

    legal_basis: LegalBasis = ""
    expected_version: int | None = Field(
        default=None, description="Refuse the step if the card changed since this version was read."
    )


class CardIssueIn(CardStepIn):
    """Record that the card was handed over to its holder."""

    issued_on: date | None = Field(default=None, description="The day of the handover; defaults to today.")


class CardCancelIn(InputModel):
    """Cancel a card by hand: an issued card reported ``lost``, or an application ``withdrawn``.

    Other cancellations follow from other steps: a death cancels the person's cards, and the
    production of a renewal or replacement cancels the card it replaces.
    """

    reason: Literal[CancelReason.LOST, CancelReason.WITHDRAWN]
    cancelled_on: date | None = Field(default=None, description="Defaults to today (Vietnam time).")
    legal_basis: LegalBasis = Field(default="", examples=["Đơn báo mất thẻ ngày 03/01/2026"])
    expected_version: int | None = None


class CardRead(BaseModel):
    """One card of a person. ``state`` is what the card is worth today (valid, expired, ...)."""

    id: int
    pin: str = Field(description="The card's number, which is the holder's PIN.")
    status: CardStatus
    state: CardState
    application_kind: ApplicationKind
    applied_at: datetime
    produced_at: datetime | None
    date_of_issue: date | None = Field(description="The date printed on the card: the day it was produced.")
    issued_on: date | None = Field(description="The day the card was handed over to its holder.")
    expiry_date: date | None = Field(description="None for a card valid for life (issued at 58 or later).")
    cancelled_on: date | None
    cancel_reason: CancelReason | None
    issuing_unit_code: str | None
    replaces_card_id: int | None
    version: int


class CardList(BaseModel):
    pin: str
    cards: list[CardRead] = Field(description="Newest first.")


class CardMrzRead(BaseModel):
    """The machine-readable zone of a card (ICAO 9303 TD1: three lines of 30 characters)."""

    card_id: int
    lines: list[str]


class CardCheckIn(InputModel):
    """What a reader scanned from a card: the MRZ (three lines) or the QR code's text. One of the two."""

    mrz: str | None = Field(default=None, max_length=400, examples=["IDVNM..."])
    qr: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _one_of_the_two(self) -> CardCheckIn:
        if (self.mrz is None) == (self.qr is None):
            raise ValueError("give either 'mrz' or 'qr', not both and not neither")
        return self


class CheckStatus(StrEnum):
    """The card's standing in the register. ``unknown``: the register holds no card like it."""

    VALID = "valid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NOT_ISSUED = "not_issued"
    UNKNOWN = "unknown"


class FieldCheck(BaseModel):
    """One field the card carries: its value as read, and whether the register agrees.

    The register's own value is never returned: a check confirms what the reader holds and
    discloses nothing more.
    """

    field: str
    card_value: str | None
    matches: bool | None = Field(description="None when the card did not carry the field readably.")


class CardCheckRead(BaseModel):
    source: Literal["mrz", "qr"]
    readable: bool = Field(description="Whether every check digit (MRZ) or every field (QR) could be read.")
    problems: list[str] = Field(description="Stable codes of what could not be read (MRZ_*, QR_*).")
    pin: str | None
    person_found: bool
    status: CheckStatus
    card_id: int | None
    fields: list[FieldCheck]
    matches: bool = Field(description="True when the card is readable and every field agrees with the register.")
    checked_at: datetime
