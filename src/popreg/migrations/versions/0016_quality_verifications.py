"""The day each person was last confirmed by a partner, folded from the access log, and how far it is folded.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from popreg.kit.database import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SEQUENCE_NUMBER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "person_verifications",
        sa.Column("person_pin", sa.String(length=12), nullable=False),
        sa.Column("last_verified_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("person_pin", name=op.f("pk_person_verifications")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "person_verification_watermark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folded_seq", SEQUENCE_NUMBER, nullable=False),
        sa.Column("folded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_verification_watermark")),
    )


def downgrade() -> None:
    op.drop_table("person_verification_watermark")
    op.drop_table("person_verifications")
