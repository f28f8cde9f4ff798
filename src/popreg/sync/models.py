"""The tables of inbound synchronisation: every update an agency sent (its idempotency key, outcome and,
when queued, its review), and the identifiers other agencies hold that the register links to a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime

JSONType = JSON().with_variant(JSONB(), "postgresql")


class SyncUpdate(Base):
    """One update received from an agency, kept for ever: its key makes a resend harmless.

    ``outcome`` is what the agency was told first (``applied``, ``queued``, ``rejected``) and never
    changes. A queued update waits with ``review_status`` ``pending`` until an official resolves it
    (``accepted``, ``rejected``); ``province_code`` and ``commune_code`` place it in a jurisdiction.
    """

    __tablename__ = "sync_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    body_hash: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(Text)
    person_ref: Mapped[dict[str, Any]] = mapped_column(JSONType)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    outcome: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(500))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    province_code: Mapped[str | None] = mapped_column(String(2))
    commune_code: Mapped[str | None] = mapped_column(String(5))
    review_status: Mapped[str | None] = mapped_column(String(10))
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("partner_id", "idempotency_key"),
        Index("ix_sync_updates_review", "review_status", "province_code", "received_at"),
    )


class PersonIdentifier(Base):
    """A number another agency gave the person (social insurance, health-insurance card, tax code,
    driving licence), linked by that agency's sync. One value per scheme and person; a value belongs to
    one person only."""

    __tablename__ = "person_identifiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    scheme: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(40))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("scheme", "value"), UniqueConstraint("person_id", "scheme"))
