"""The table of citizen identity cards: one row per card, from its application to its cancellation."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime


class Card(Base):
    """A citizen identity card ("thẻ căn cước") and its application.

    Its number is the holder's PIN, so ``pin`` repeats over a person's successive cards. The status
    moves ``applied`` -> ``produced`` -> ``issued`` -> ``cancelled`` (see ``cards.rules``); a person
    has at most one card that is produced or issued, which the database enforces too.
    """

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    pin: Mapped[str] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(12))
    application_kind: Mapped[str] = mapped_column(String(24))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    produced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The date printed as the card's date of issue is the day it was produced (Vietnam time); this is
    # the day it was handed over to the holder.
    issued_on: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    cancelled_on: Mapped[date | None] = mapped_column(Date)
    cancel_reason: Mapped[str | None] = mapped_column(String(16))
    issuing_unit_code: Mapped[str | None] = mapped_column(String(5))
    replaces_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        # Law on Identification 2023: one valid card per person at a time.
        Index(
            "uq_cards_one_valid_per_person",
            "person_id",
            unique=True,
            sqlite_where=text("status IN ('produced', 'issued')"),
            postgresql_where=text("status IN ('produced', 'issued')"),
        ),
    )
