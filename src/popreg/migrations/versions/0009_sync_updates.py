"""Inbound sync updates from agencies, their idempotency keys and the review queue; the identifiers
other agencies hold; the fields an agency's policy lets it write.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from popreg.kit.database import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("partner_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("write_fields", JSONType, nullable=False, server_default=sa.text("'[]'")))
    op.create_table(
        "sync_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("person_ref", JSONType, nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("candidates", JSONType, nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("review_status", sa.String(length=10), nullable=True),
        sa.Column("resolved_by", sa.String(length=120), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_sync_updates_partner_id_partners")),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_sync_updates_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_updates")),
        sa.UniqueConstraint("partner_id", "idempotency_key", name=op.f("uq_sync_updates_partner_id_idempotency_key")),
    )
    with op.batch_alter_table("sync_updates", schema=None) as batch_op:
        batch_op.create_index("ix_sync_updates_review", ["review_status", "province_code", "received_at"], unique=False)
    op.create_table(
        "person_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_person_identifiers_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_identifiers")),
        sa.UniqueConstraint("person_id", "scheme", name=op.f("uq_person_identifiers_person_id_scheme")),
        sa.UniqueConstraint("scheme", "value", name=op.f("uq_person_identifiers_scheme_value")),
    )


def downgrade() -> None:
    op.drop_table("person_identifiers")
    with op.batch_alter_table("sync_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_updates_review")
    op.drop_table("sync_updates")
    with op.batch_alter_table("partner_policies", schema=None) as batch_op:
        batch_op.drop_column("write_fields")
