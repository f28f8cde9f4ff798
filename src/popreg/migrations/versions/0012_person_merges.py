"""Merged duplicate persons: the retired PIN redirects to the surviving person.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401 - used once the tables are written
from alembic import op  # noqa: F401

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
