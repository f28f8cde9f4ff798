"""Agencies' sync files uploaded through the API, run as jobs.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from popreg.kit.database import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_file_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("source_name", sa.String(length=300), nullable=False),
        sa.Column("source_format", sa.String(length=8), nullable=False),
        sa.Column("column_mapping", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("observed_at", sa.String(length=40), nullable=False),
        sa.Column("fields", sa.String(length=400), nullable=False),
        sa.Column("result_format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("replayed", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_sync_file_jobs_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_file_jobs")),
    )
    with op.batch_alter_table("sync_file_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_file_jobs_partner_id_created_at", ["partner_id", "created_at"], unique=False)
        batch_op.create_index("ix_sync_file_jobs_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_file_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_file_jobs_status")
        batch_op.drop_index("ix_sync_file_jobs_partner_id_created_at")
    op.drop_table("sync_file_jobs")
