"""The table of citizens' consents to share their data with a business partner."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Consent(Base):
    """A citizen's agreement that one partner may read some of their attributes for one purpose
    (Decree 13/2023 on personal data protection, Art. 11: consent is specific, informed and
    revocable, and the controller keeps proof of it).

    A consent is never deleted nor changed: revoking it stamps ``revoked_at``; it lapses after
    ``expires_on`` (a Vietnamese calendar day, inclusive). ``recorded_by`` names who recorded it on
    the citizen's behalf (``official:<username>`` at a counter; later the citizen portal) and
    ``evidence`` the signed form or electronic transaction it rests on; a revocation keeps its own.
    """

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_pin: Mapped[str] = mapped_column(String(12))
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(120))
    fields: Mapped[list[str]] = mapped_column(JSONType)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_on: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(String(300))
    recorded_by: Mapped[str] = mapped_column(String(120))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    revocation_evidence: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        # A read checks the consents of one person for one partner: a single index range.
        Index("ix_consents_person_pin_partner_id", "person_pin", "partner_id"),
    )
