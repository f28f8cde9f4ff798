"""The access log records the transaction id and the items of batch and bulk requests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transaction_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("item_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("items_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_access_log_transaction_id"), ["transaction_id"], unique=False)

    op.create_table(
        "access_log_item",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("person_pin", sa.String(length=12), nullable=True),
        sa.Column("result", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("seq", "position", name=op.f("pk_access_log_item")),
    )
    with op.batch_alter_table("access_log_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_log_item_person_pin"), ["person_pin"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_log_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_item_person_pin"))

    op.drop_table("access_log_item")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_transaction_id"))
        batch_op.drop_column("items_digest")
        batch_op.drop_column("item_count")
        batch_op.drop_column("transaction_id")
