"""The national population register, officials and the access log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 00:47:49.573028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from popreg.kit.database import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("principal_kind", sa.String(length=16), nullable=False),
        sa.Column("principal_id", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("person_pin", sa.String(length=12), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("result", sa.String(length=40), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_log_person_pin"), ["person_pin"], unique=False)

    op.create_table(
        "access_log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log_head")),
    )
    op.bulk_insert(
        sa.table(
            "access_log_head",
            sa.column("id", sa.Integer()),
            sa.column("last_seq", sa.BigInteger()),
            sa.column("last_hash", sa.String()),
        ),
        [{"id": 1, "last_seq": 0, "last_hash": "0" * 64}],
    )
    op.create_table(
        "officials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=5), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officials")),
        sa.UniqueConstraint("username", name=op.f("uq_officials_username")),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pin", sa.String(length=12), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column(
            "name_folded",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("family_name", sa.String(length=80), nullable=False),
        sa.Column("middle_name", sa.String(length=120), nullable=False),
        sa.Column("given_name", sa.String(length=80), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("birth_date_precision", sa.String(length=5), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("ethnicity_code", sa.String(length=2), nullable=True),
        sa.Column("religion_code", sa.String(length=40), nullable=False),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("birth_registration_code", sa.String(length=3), nullable=False),
        sa.Column("birth_registration_unit_code", sa.String(length=5), nullable=True),
        sa.Column("origin_unit_code", sa.String(length=5), nullable=True),
        sa.Column("origin_unit_generation", sa.String(length=8), nullable=True),
        sa.Column("life_status", sa.String(length=16), nullable=False),
        sa.Column("life_status_date", sa.Date(), nullable=True),
        sa.Column("home_commune_code", sa.String(length=5), nullable=True),
        sa.Column("home_province_code", sa.String(length=2), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("pin", name=op.f("uq_persons_pin")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index("ix_persons_birth_date_name_folded", ["birth_date", "name_folded"], unique=False)
        batch_op.create_index("ix_persons_home_commune_name", ["home_commune_code", "name_folded"], unique=False)
        batch_op.create_index("ix_persons_home_province_name", ["home_province_code", "name_folded"], unique=False)
        batch_op.create_index(batch_op.f("ix_persons_name_folded"), ["name_folded"], unique=False)

    op.create_table(
        "pin_counters",
        sa.Column("prefix", sa.String(length=6), nullable=False),
        sa.Column("next_counter", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_pin_counters")),
    )
    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("head_person_id", sa.Integer(), nullable=False),
        sa.Column("address_line", sa.String(length=300), nullable=False),
        sa.Column("unit_code", sa.String(length=5), nullable=False),
        sa.Column("unit_generation", sa.String(length=8), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("dissolved_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["head_person_id"], ["persons.id"], name=op.f("fk_households_head_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("number", name=op.f("uq_households_number")),
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_households_commune_code"), ["commune_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_households_head_person_id"), ["head_person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_households_province_code"), ["province_code"], unique=False)

    op.create_table(
        "official_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["official_id"], ["officials.id"], name=op.f("fk_official_sessions_official_id_officials")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_official_sessions")),
    )
    with op.batch_alter_table("official_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_official_sessions_official_id"), ["official_id"], unique=False)

    op.create_table(
        "person_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column(
            "changes", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("source_agency", sa.String(length=80), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_person_events_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_events")),
    )
    with op.batch_alter_table("person_events", schema=None) as batch_op:
        batch_op.create_index("ix_person_events_person_id_id", ["person_id", "id"], unique=False)

    op.create_table(
        "person_relations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("relative_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_person_relations_person_id_persons")),
        sa.ForeignKeyConstraint(["relative_id"], ["persons.id"], name=op.f("fk_person_relations_relative_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_relations")),
    )
    with op.batch_alter_table("person_relations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_relations_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_relations_relative_id"), ["relative_id"], unique=False)

    op.create_table(
        "household_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("relationship_to_head", sa.String(length=20), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_household_members_household_id_households")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_household_members_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_members")),
    )
    with op.batch_alter_table("household_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_household_members_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_household_members_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "uq_household_members_one_current_household",
            ["person_id"],
            unique=True,
            sqlite_where=sa.text("left_on IS NULL"),
            postgresql_where=sa.text("left_on IS NULL"),
        )

    op.create_table(
        "residences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("address_line", sa.String(length=300), nullable=False),
        sa.Column("unit_code", sa.String(length=5), nullable=False),
        sa.Column("unit_generation", sa.String(length=8), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_residences_household_id_households")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_residences_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residences")),
    )
    with op.batch_alter_table("residences", schema=None) as batch_op:
        batch_op.create_index("ix_residences_commune_current", ["commune_code", "kind", "valid_to"], unique=False)
        batch_op.create_index(batch_op.f("ix_residences_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_residences_province_current", ["province_code", "kind", "valid_to"], unique=False)
        batch_op.create_index(
            "uq_residences_one_current_permanent",
            ["person_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'permanent' AND valid_to IS NULL"),
            postgresql_where=sa.text("kind = 'permanent' AND valid_to IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("residences", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_residences_one_current_permanent",
            sqlite_where=sa.text("kind = 'permanent' AND valid_to IS NULL"),
            postgresql_where=sa.text("kind = 'permanent' AND valid_to IS NULL"),
        )
        batch_op.drop_index("ix_residences_province_current")
        batch_op.drop_index(batch_op.f("ix_residences_person_id"))
        batch_op.drop_index("ix_residences_commune_current")

    op.drop_table("residences")
    with op.batch_alter_table("household_members", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_household_members_one_current_household",
            sqlite_where=sa.text("left_on IS NULL"),
            postgresql_where=sa.text("left_on IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_household_members_person_id"))
        batch_op.drop_index(batch_op.f("ix_household_members_household_id"))

    op.drop_table("household_members")
    with op.batch_alter_table("person_relations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_relations_relative_id"))
        batch_op.drop_index(batch_op.f("ix_person_relations_person_id"))

    op.drop_table("person_relations")
    with op.batch_alter_table("person_events", schema=None) as batch_op:
        batch_op.drop_index("ix_person_events_person_id_id")

    op.drop_table("person_events")
    with op.batch_alter_table("official_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_official_sessions_official_id"))

    op.drop_table("official_sessions")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_households_province_code"))
        batch_op.drop_index(batch_op.f("ix_households_head_person_id"))
        batch_op.drop_index(batch_op.f("ix_households_commune_code"))

    op.drop_table("households")
    op.drop_table("pin_counters")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_name_folded"))
        batch_op.drop_index("ix_persons_home_province_name")
        batch_op.drop_index("ix_persons_home_commune_name")
        batch_op.drop_index("ix_persons_birth_date_name_folded")

    op.drop_table("persons")
    op.drop_table("officials")
    op.drop_table("access_log_head")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_person_pin"))

    op.drop_table("access_log")
