"""Bulk imports: jobs with their checkpoint, and rejected rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:58:26.492935
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from popreg.kit.database import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("first_person_id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_import_jobs_fingerprint")),
    )
    op.create_table(
        "import_rejects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=60), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["import_jobs.id"], name=op.f("fk_import_rejects_job_id_import_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rejects")),
    )
    with op.batch_alter_table("import_rejects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_rejects_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_rejects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_rejects_job_id"))

    op.drop_table("import_rejects")
    op.drop_table("import_jobs")
