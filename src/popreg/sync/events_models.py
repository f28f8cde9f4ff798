"""Outbound change events: the transactional outbox, the subscribers and each subscriber's deliveries.

An outbox row is written in the same transaction as the change it reports, so a change is never
stored without its event. The dispatcher fans each row out to one delivery per interested subscriber
and delivers those at least once, in order per person per subscriber.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime

JSONType = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    """One change of a person, waiting to be fanned out to the subscribers.

    ``event_id`` (a UUID) is what subscribers deduplicate on; ``sequence`` counts the person's events
    from 1 with no gap, so a subscriber can order them and notice one it has not seen yet.
    ``changes`` keeps the history's ``{field: [before, after]}``; subscribers receive the new values.
    """

    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    person_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    pin: Mapped[str] = mapped_column(String(12))
    sequence: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(40))
    history_type: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType)
    effective_date: Mapped[date] = mapped_column(Date)
    source_agency: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("person_id", "sequence"),
        Index("ix_event_outbox_fanned_out_id", "fanned_out", "id"),
        Index("ix_event_outbox_person_id_id", "person_id", "id"),
    )


class EventSubscriber(Base):
    """A system that receives the register's change events: a webhook an administrator or a partner
    registered, or the NATS JetStream stream (``kind = nats``) when ``POPREG_NATS_URL`` is set.

    A partner's subscriber (``partner_id`` set) receives, of its ``fields``, only those the partner's
    policy allows at the time of each delivery, and nothing while the partner is suspended or its policy
    lacks the ``events`` operation (its deliveries wait). ``status`` is ``active``, ``suspended`` or
    ``deleted`` (a partner removed it: it receives nothing more, and its past deliveries are kept).

    ``secret_sealed`` is the webhook's HMAC secret encrypted with a key derived from
    ``POPREG_SECRET_KEY`` (AES-GCM): the dispatcher needs it to sign, a copy of the database alone does
    not reveal it. A subscriber receives the events recorded after it was registered
    (``outbox_id > start_after``).
    """

    __tablename__ = "event_subscribers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(JSONType)
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    # Who suspended it ("official:<username>", "partner:<id>", "system:dispatcher"): a partner may lift
    # its own suspension or the dispatcher's, not an administrator's.
    suspended_by: Mapped[str | None] = mapped_column(String(160))
    start_after: Mapped[int] = mapped_column(Id)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EventSubscription(Base):
    """One event type a subscriber receives (``*`` for every type): a table so that fan-out is a join."""

    __tablename__ = "event_subscriptions"

    subscriber_id: Mapped[str] = mapped_column(ForeignKey("event_subscribers.id"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40), primary_key=True)


class EventDelivery(Base):
    """One event for one subscriber: ``pending`` until delivered, ``dead`` after the last attempt.

    A pending delivery is leased (``leased_by`` until ``lease_until``) by the dispatcher that sends it;
    a dispatcher that dies leaves the lease to expire and another sends it again (at least once).
    """

    __tablename__ = "event_deliveries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("event_subscribers.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("event_outbox.id"))
    person_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    leased_by: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("subscriber_id", "outbox_id"),
        Index("ix_event_deliveries_subscriber_id_person_id_outbox_id", "subscriber_id", "person_id", "outbox_id"),
        Index("ix_event_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )
