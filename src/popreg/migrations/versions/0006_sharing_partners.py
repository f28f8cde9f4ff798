"""Partners of the gateway: their policies, public keys, used client assertions and daily usage.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from popreg.kit.database import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Counter = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suspension_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
    )
    op.create_table(
        "partner_policies",
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("operations", JSONType, nullable=False),
        sa.Column("verify_fields", JSONType, nullable=False),
        sa.Column("read_fields", JSONType, nullable=False),
        sa.Column("purposes", JSONType, nullable=False),
        sa.Column("daily_quota", Counter, nullable=False),
        sa.Column("rate_per_second", sa.Float(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_partner_policies_partner_id_partners")),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partner_policies")),
    )
    op.create_table(
        "partner_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_partner_keys_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_keys")),
        sa.UniqueConstraint("partner_id", "kid", name=op.f("uq_partner_keys_partner_id_kid")),
    )
    with op.batch_alter_table("partner_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_keys_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "used_client_assertions",
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_used_client_assertions_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("partner_id", "jti", name=op.f("pk_used_client_assertions")),
    )
    with op.batch_alter_table("used_client_assertions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_client_assertions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "partner_usage",
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", Counter, nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name=op.f("fk_partner_usage_partner_id_partners")),
        sa.PrimaryKeyConstraint("partner_id", "day", name=op.f("pk_partner_usage")),
    )


def downgrade() -> None:
    op.drop_table("partner_usage")
    with op.batch_alter_table("used_client_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_client_assertions_expires_at"))
    op.drop_table("used_client_assertions")
    with op.batch_alter_table("partner_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_keys_partner_id"))
    op.drop_table("partner_keys")
    op.drop_table("partner_policies")
    op.drop_table("partners")
