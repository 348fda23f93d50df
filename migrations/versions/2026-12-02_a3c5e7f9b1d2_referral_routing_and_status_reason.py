"""Referral routing and status reason: who the referral was routed to, why, and why it was closed.

Revision ID: a3c5e7f9b1d2
Revises: 9d3f2b7c4e18
Create Date: 2026-12-02 22:10:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a3c5e7f9b1d2"
down_revision: Union[str, None] = "9d3f2b7c4e18"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Adds ``assignee_key``, ``route_queue``, ``route_reason`` and ``status_reason``."""
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("assignee_key", sa.String(100), nullable=True))
        batch.add_column(sa.Column("route_queue", sa.String(100), nullable=True))
        batch.add_column(sa.Column("route_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.create_index("ix_referrals_assignee_key", ["assignee_key"])


def downgrade() -> None:
    """Drops the four columns."""
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index("ix_referrals_assignee_key")
        batch.drop_column("status_reason")
        batch.drop_column("route_reason")
        batch.drop_column("route_queue")
        batch.drop_column("assignee_key")
