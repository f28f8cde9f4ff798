"""Data-quality measures per province and nationally, kept for their trend.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from popreg.kit.database import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "quality_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("taken_by", sa.String(length=120), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("duplicate_run_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_run_finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_snapshots")),
    )
    op.create_table(
        "quality_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("numerator", COUNT, nullable=True),
        sa.Column("denominator", COUNT, nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["quality_snapshots.id"],
            name=op.f("fk_quality_figures_snapshot_id_quality_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_figures")),
    )
    with op.batch_alter_table("quality_figures", schema=None) as batch_op:
        batch_op.create_index("ix_quality_figures_snapshot_scope", ["snapshot_id", "scope"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quality_figures", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_figures_snapshot_scope")
    op.drop_table("quality_figures")
    op.drop_table("quality_snapshots")
