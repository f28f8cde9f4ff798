"""Event subscribers that belong to a partner and follow its policy, and who suspended each one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # The column and its reference in one ALTER TABLE: batch mode would rebuild the table, and SQLite
        # refuses to drop a table that deliveries refer to while foreign keys are enforced.
        op.add_column(
            "event_subscribers",
            sa.Column("partner_id", sa.String(length=40), sa.ForeignKey("partners.id"), nullable=True),
            inline_references=True,
        )
    else:
        op.add_column("event_subscribers", sa.Column("partner_id", sa.String(length=40), nullable=True))
        op.create_foreign_key(
            op.f("fk_event_subscribers_partner_id_partners"), "event_subscribers", "partners", ["partner_id"], ["id"]
        )
    op.create_index(op.f("ix_event_subscribers_partner_id"), "event_subscribers", ["partner_id"], unique=False)
    op.add_column("event_subscribers", sa.Column("suspended_by", sa.String(length=160), nullable=True))


def downgrade() -> None:
    op.drop_index(op.f("ix_event_subscribers_partner_id"), table_name="event_subscribers")
    # On SQLite this rebuilds the table: it works while no delivery or subscription refers to a subscriber.
    with op.batch_alter_table("event_subscribers", schema=None) as batch_op:
        if op.get_bind().dialect.name != "sqlite":
            batch_op.drop_constraint(op.f("fk_event_subscribers_partner_id_partners"), type_="foreignkey")
        batch_op.drop_column("partner_id")
        batch_op.drop_column("suspended_by")
