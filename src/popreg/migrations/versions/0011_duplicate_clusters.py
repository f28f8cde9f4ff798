"""Likely-duplicate clusters found by `popreg match dedupe`, kept for review.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from popreg.kit.database import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("persons_scanned", sa.Integer(), nullable=False),
        sa.Column("pairs_scored", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("clusters", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_runs")),
    )
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["duplicate_runs.id"], name=op.f("fk_duplicate_candidates_run_id_duplicate_runs")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_duplicate_candidates_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_candidates")),
    )
    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.create_index("ix_duplicate_candidates_run_id_cluster_id", ["run_id", "cluster_id"], unique=False)
        batch_op.create_index("ix_duplicate_candidates_status_province_code", ["status", "province_code"], unique=False)
        batch_op.create_index("ix_duplicate_candidates_person_id", ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_duplicate_candidates_person_id")
        batch_op.drop_index("ix_duplicate_candidates_status_province_code")
        batch_op.drop_index("ix_duplicate_candidates_run_id_cluster_id")
    op.drop_table("duplicate_candidates")
    op.drop_table("duplicate_runs")
