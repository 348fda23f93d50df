"""Referral contact caution: the parent's words when someone may hear or see the contact.

"Don't call, my husband can hear" must reach the person who calls back (issue 6, the
trial of stop 20): ``referrals.contact_caution`` holds those words (nullable text); the
summary asks the person to be careful. It is deleted with its referral.

Revision ID: a1c3e5f7b9d2
Revises: 903338a27227
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a1c3e5f7b9d2"
down_revision: Union[str, None] = "903338a27227"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Adds ``referrals.contact_caution``."""
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("contact_caution", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drops it."""
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("contact_caution")
