"""Merged duplicate persons: the retired PIN redirects to the surviving person.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from popreg.kit.database import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("retired_person_id", sa.Integer(), nullable=False),
        sa.Column("surviving_person_id", sa.Integer(), nullable=False),
        sa.Column("retired_pin", sa.String(length=12), nullable=False),
        sa.Column("surviving_pin", sa.String(length=12), nullable=False),
        sa.Column("merged_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["retired_person_id"], ["persons.id"], name=op.f("fk_person_merges_retired_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["surviving_person_id"], ["persons.id"], name=op.f("fk_person_merges_surviving_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_merges")),
        sa.UniqueConstraint("retired_person_id", name=op.f("uq_person_merges_retired_person_id")),
        sa.UniqueConstraint("retired_pin", name=op.f("uq_person_merges_retired_pin")),
    )
    with op.batch_alter_table("person_merges", schema=None) as batch_op:
        batch_op.create_index("ix_person_merges_surviving_person_id", ["surviving_person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_person_merges_surviving_person_id")
    op.drop_table("person_merges")
