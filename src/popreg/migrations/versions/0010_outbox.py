"""Transactional outbox of change events, subscribers and their deliveries.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from popreg.kit.database import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", Id, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", Id, nullable=False),
        sa.Column("pin", sa.String(length=12), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("history_type", sa.String(length=40), nullable=False),
        sa.Column("changes", JSONType, nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("source_agency", sa.String(length=80), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_outbox_event_id")),
        sa.UniqueConstraint("person_id", "sequence", name=op.f("uq_event_outbox_person_id_sequence")),
    )
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_event_outbox_fanned_out_id", ["fanned_out", "id"], unique=False)
        batch_op.create_index("ix_event_outbox_person_id_id", ["person_id", "id"], unique=False)

    op.create_table(
        "event_subscribers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suspension_reason", sa.Text(), nullable=True),
        sa.Column("start_after", Id, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_subscribers")),
    )
    op.create_table(
        "event_subscriptions",
        sa.Column("subscriber_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["event_subscribers.id"],
            name=op.f("fk_event_subscriptions_subscriber_id_event_subscribers"),
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "event_type", name=op.f("pk_event_subscriptions")),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("id", Id, nullable=False),
        sa.Column("subscriber_id", sa.String(length=40), nullable=False),
        sa.Column("outbox_id", Id, nullable=False),
        sa.Column("person_id", Id, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("leased_by", sa.String(length=40), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("dead_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["event_subscribers.id"],
            name=op.f("fk_event_deliveries_subscriber_id_event_subscribers"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["event_outbox.id"], name=op.f("fk_event_deliveries_outbox_id_event_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_deliveries")),
        sa.UniqueConstraint("subscriber_id", "outbox_id", name=op.f("uq_event_deliveries_subscriber_id_outbox_id")),
    )
    with op.batch_alter_table("event_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_event_deliveries_subscriber_id_person_id_outbox_id",
            ["subscriber_id", "person_id", "outbox_id"],
            unique=False,
        )
        batch_op.create_index("ix_event_deliveries_status_next_attempt_at", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_event_deliveries_status_next_attempt_at")
        batch_op.drop_index("ix_event_deliveries_subscriber_id_person_id_outbox_id")
    op.drop_table("event_deliveries")
    op.drop_table("event_subscriptions")
    op.drop_table("event_subscribers")
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_event_outbox_person_id_id")
        batch_op.drop_index("ix_event_outbox_fanned_out_id")
    op.drop_table("event_outbox")
