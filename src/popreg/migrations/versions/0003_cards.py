"""Citizen identity cards: applications, production, issuance and cancellation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 01:20:43.061210
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from popreg.kit.database import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ONE_VALID_CARD = "status IN ('produced', 'issued')"


def upgrade() -> None:
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("pin", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("application_kind", sa.String(length=24), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=False),
        sa.Column("produced_at", UTCDateTime(), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=16), nullable=True),
        sa.Column("issuing_unit_code", sa.String(length=5), nullable=True),
        sa.Column("replaces_card_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_cards_person_id_persons")),
        sa.ForeignKeyConstraint(["replaces_card_id"], ["cards.id"], name=op.f("fk_cards_replaces_card_id_cards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cards_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cards_pin"), ["pin"], unique=False)
        batch_op.create_index(
            "uq_cards_one_valid_per_person",
            ["person_id"],
            unique=True,
            sqlite_where=sa.text(ONE_VALID_CARD),
            postgresql_where=sa.text(ONE_VALID_CARD),
        )


def downgrade() -> None:
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_cards_one_valid_per_person",
            sqlite_where=sa.text(ONE_VALID_CARD),
            postgresql_where=sa.text(ONE_VALID_CARD),
        )
        batch_op.drop_index(batch_op.f("ix_cards_pin"))
        batch_op.drop_index(batch_op.f("ix_cards_person_id"))

    op.drop_table("cards")
