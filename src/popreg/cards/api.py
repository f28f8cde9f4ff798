"""HTTP API of citizen identity cards, for officials (``/api/v1``).

A card is applied for, produced, issued and, at the end, cancelled; each step needs an official of
the person's commune or province and is written to the person's history. Reads and renderings are
written to the access log; so is every offline check of a scanned card.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from popreg.cards import checks, service
from popreg.cards.render import MEDIA_TYPES, CardSide, RenderFormat, render
from popreg.cards.schemas import (
    CardApplicationIn,
    CardCancelIn,
    CardCheckIn,
    CardCheckRead,
    CardIssueIn,
    CardList,
    CardMrzRead,
    CardRead,
    CardStepIn,
)
from popreg.kit.http import SessionDep
from popreg.officials.dependencies import CurrentOfficial

router = APIRouter(prefix="/api/v1", tags=["cards"])
Purpose = Annotated[str, Query(max_length=120, description="Why the data is read; written to the access log.")]
CardId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The card's number in the register (not the PIN).")]


@router.post("/persons/{pin}/cards", operation_id="apply_for_card", response_model=CardRead, status_code=201)
def apply_for_card(pin: str, data: CardApplicationIn, session: SessionDep, official: CurrentOfficial) -> CardRead:
    """Record an application for a citizen identity card.

    Kinds: `first` (never had a card; any age, mandatory from 14), `renewal` (at 14, 25, 40 and 60:
    from 60 days before the current card expires), `replacement_lost` (cancels the lost card now),
    `replacement_damaged`, `change_of_data`. Refusals: `CARD_APPLICATION_OPEN`, `CARD_ALREADY_VALID`,
    `CARD_FIRST_NOT_ALLOWED`, `CARD_RENEWAL_NOT_DUE`, `CARD_NOTHING_TO_REPLACE`, `CARD_NOT_A_CITIZEN`,
    `PERSON_DECEASED`, `JURISDICTION_DENIED`, `LEGAL_BASIS_REQUIRED`.
    """
    card = service.apply_for_card(session, principal=official, pin=pin, data=data)
    return service.card_view(card)


@router.get("/persons/{pin}/cards", operation_id="list_cards", response_model=CardList)
def list_cards(
    pin: str, session: SessionDep, official: CurrentOfficial, purpose: Purpose = service.DEFAULT_PURPOSE
) -> CardList:
    """Every card and application of the person, newest first, each with what it is worth today."""
    return service.list_cards(session, principal=official, pin=pin, purpose=purpose)


@router.get("/persons/{pin}/cards/valid", operation_id="get_valid_card", response_model=CardRead)
def get_valid_card(
    pin: str, session: SessionDep, official: CurrentOfficial, purpose: Purpose = service.DEFAULT_PURPOSE
) -> CardRead:
    """The person's valid card (issued and not expired), else `CARD_NO_VALID_CARD`."""
    return service.valid_card(session, principal=official, pin=pin, purpose=purpose)


@router.get("/persons/{pin}/cards/valid/mrz", operation_id="get_valid_card_mrz", response_model=CardMrzRead)
def get_valid_card_mrz(
    pin: str, session: SessionDep, official: CurrentOfficial, purpose: Purpose = service.DEFAULT_PURPOSE
) -> CardMrzRead:
    """The three 30-character lines of the machine-readable zone (ICAO 9303 TD1) of the valid card."""
    return service.valid_card_mrz(session, principal=official, pin=pin, purpose=purpose)


@router.get("/persons/{pin}/cards/{card_id}", operation_id="get_card", response_model=CardRead)
def get_card(
    pin: str,
    card_id: CardId,
    session: SessionDep,
    official: CurrentOfficial,
    purpose: Purpose = service.DEFAULT_PURPOSE,
) -> CardRead:
    """One card of the person."""
    return service.get_card(session, principal=official, pin=pin, card_id=card_id, purpose=purpose)


@router.post("/persons/{pin}/cards/{card_id}/produce", operation_id="mark_card_produced", response_model=CardRead)
def mark_card_produced(
    pin: str, card_id: CardId, data: CardStepIn, session: SessionDep, official: CurrentOfficial
) -> CardRead:
    """Record that the card was produced: its date of issue is today and its expiry is computed from
    the renewal rule (Law on Identification 2023, Art. 21). The card it replaces is cancelled now."""
    card = service.mark_produced(session, principal=official, pin=pin, card_id=card_id, data=data)
    return service.card_view(card)


@router.post("/persons/{pin}/cards/{card_id}/issue", operation_id="issue_card", response_model=CardRead)
def issue_card(
    pin: str, card_id: CardId, data: CardIssueIn, session: SessionDep, official: CurrentOfficial
) -> CardRead:
    """Record that the produced card was handed over to its holder."""
    card = service.issue_card(session, principal=official, pin=pin, card_id=card_id, data=data)
    return service.card_view(card)


@router.post("/persons/{pin}/cards/{card_id}/cancel", operation_id="cancel_card", response_model=CardRead)
def cancel_card(
    pin: str, card_id: CardId, data: CardCancelIn, session: SessionDep, official: CurrentOfficial
) -> CardRead:
    """Cancel an issued card reported `lost`, or withdraw an application (`withdrawn`).

    A death recorded through `POST /api/v1/persons/{pin}/life-status` cancels the cards itself.
    """
    card = service.cancel_card(session, principal=official, pin=pin, card_id=card_id, data=data)
    return service.card_view(card)


@router.get(
    "/persons/{pin}/cards/{card_id}/render.{output}",
    operation_id="render_card",
    response_class=Response,
    responses={
        200: {
            "content": {media_type: {} for media_type in MEDIA_TYPES.values()},
            "description": "The card's side(s) as SVG, PNG (300 dpi) or PDF (vector, a page a side).",
        }
    },
)
def render_card(
    pin: str,
    card_id: CardId,
    output: RenderFormat,
    session: SessionDep,
    official: CurrentOfficial,
    side: CardSide = CardSide.FRONT,
    download: Annotated[bool, Query(description="Send as an attachment rather than inline.")] = False,
    purpose: Purpose = service.DEFAULT_PURPOSE,
) -> Response:
    """A picture of the card (`side`: `front`, `back` or `both`) from the register's data, with its
    QR code and MRZ, and a photo placeholder. `CARD_NOT_PRODUCED` for an application not yet printed."""
    content = service.card_content(session, principal=official, pin=pin, card_id=card_id, purpose=purpose)
    return card_file(render(content, side, output), pin=pin, side=side, output=output, download=download)


def card_file(body: bytes, *, pin: str, side: CardSide, output: RenderFormat, download: bool) -> Response:
    """A rendering as a response: its media type, a file name, and never cached (personal data)."""
    disposition = "attachment" if download else "inline"
    digits = "".join(character for character in pin if character.isascii() and character.isdigit())
    return Response(
        body,
        media_type=MEDIA_TYPES[output],
        headers={
            "Content-Disposition": f'{disposition}; filename="can-cuoc-{digits}-{side.value}.{output.value}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/cards/check", operation_id="check_card", response_model=CardCheckRead)
def check_card(
    data: CardCheckIn, session: SessionDep, official: CurrentOfficial, purpose: Purpose = service.DEFAULT_PURPOSE
) -> CardCheckRead:
    """Check a scanned card against the register: send `{"mrz": "..."}` (the three lines) or
    `{"qr": "..."}` (the QR code's text). The answer says, for each field the card carries, whether
    the register agrees (never the register's own value), and whether that card is `valid`,
    `expired`, `cancelled`, `not_issued` or `unknown`. Every check is written to the access log.
    `CARD_CHECK_UNREADABLE` when no PIN can be read at all."""
    return checks.check_card(session, principal=official, data=data, purpose=purpose)
