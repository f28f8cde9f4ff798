"""Partners of the query-and-verify gateway: agencies and businesses, their policies, their public keys,
the client assertions they have used, and their daily usage counts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Partner(Base):
    """An agency or business allowed to use the gateway, named by a short slug (``vietbank``)."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PartnerPolicy(Base):
    """What one partner may do: operations, fields, purposes and limits. ``version`` grows on every change."""

    __tablename__ = "partner_policies"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    operations: Mapped[list[str]] = mapped_column(JSONType)
    verify_fields: Mapped[list[str]] = mapped_column(JSONType)
    read_fields: Mapped[list[str]] = mapped_column(JSONType)
    write_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)  # sync: fields the agency owns
    purposes: Mapped[list[str]] = mapped_column(JSONType)
    daily_quota: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    rate_per_second: Mapped[float] = mapped_column(Float)
    burst: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PartnerKey(Base):
    """A public key (JWK) that verifies the partner's client assertions; retired keys verify nothing."""

    __tablename__ = "partner_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    kid: Mapped[str] = mapped_column(String(100))
    public_jwk: Mapped[str] = mapped_column(Text)
    alg: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("partner_id", "kid"),)


class UsedClientAssertion(Base):
    """The ``jti`` of every client assertion accepted, kept until it expires: a replay is refused."""

    __tablename__ = "used_client_assertions"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PartnerUsage(Base):
    """Requests admitted for a partner on one day (Vietnam time), summed over every serving process."""

    __tablename__ = "partner_usage"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
