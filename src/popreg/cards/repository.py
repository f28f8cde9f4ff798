"""Every query of the identity-card tables."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from popreg.cards.models import Card
from popreg.cards.rules import CURRENT_STATUSES, CardStatus


def cards_of(session: Session, person_id: int, *, for_update: bool = False) -> Sequence[Card]:
    """A person's cards, newest first."""
    query = select(Card).where(Card.person_id == person_id).order_by(Card.id.desc())
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalars().all()


def get_card(session: Session, card_id: int, *, for_update: bool = False) -> Card | None:
    query = select(Card).where(Card.id == card_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def current_card(session: Session, person_id: int) -> Card | None:
    """The person's produced or issued card (at most one, by a unique index)."""
    statuses = [status.value for status in CURRENT_STATUSES]
    return session.execute(
        select(Card).where(Card.person_id == person_id, Card.status.in_(statuses))
    ).scalar_one_or_none()


def open_cards(session: Session, person_id: int) -> Sequence[Card]:
    """The cards a death cancels: every card not yet cancelled."""
    return (
        session.execute(
            select(Card)
            .where(Card.person_id == person_id, Card.status != CardStatus.CANCELLED.value)
            .order_by(Card.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )


def add(session: Session, card: Card) -> Card:
    session.add(card)
    session.flush()
    return card
