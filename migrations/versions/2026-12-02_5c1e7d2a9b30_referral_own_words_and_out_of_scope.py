"""Referral own words and out of scope: contact times in the parent's words, out-of-scope questions, pregnancy months.

Revision ID: 5c1e7d2a9b30
Revises: 1a45e4f586c4
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5c1e7d2a9b30"
down_revision: Union[str, None] = "1a45e4f586c4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Adds ``contact_times_text``, ``out_of_scope_questions`` and ``pregnancy_months``."""
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("contact_times_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("out_of_scope_questions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("pregnancy_months", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drops the three columns."""
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("pregnancy_months")
        batch.drop_column("out_of_scope_questions")
        batch.drop_column("contact_times_text")
