"""The table of merged duplicate records: which PIN was retired into which surviving person.

Both persons keep their rows and their histories; the retired person's life status becomes
``merged`` and every read of its PIN is redirected to the surviving person (following later merges
of the survivor, so a chain A -> B -> C leads from A to C).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime


class PersonMerge(Base):
    """One merge: ``retired`` was found to be a duplicate record of ``surviving`` (at most once)."""

    __tablename__ = "person_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    retired_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    surviving_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    retired_pin: Mapped[str] = mapped_column(String(12), unique=True)
    surviving_pin: Mapped[str] = mapped_column(String(12))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    legal_basis: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_person_merges_surviving_person_id", "surviving_person_id"),)
