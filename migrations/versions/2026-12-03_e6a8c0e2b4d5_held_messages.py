"""held_messages: WhatsApp messages held outside the 24-hour window survive a restart.

Before, a message to a parent whose window had closed waited in the process's memory
until the parent wrote again; a restart lost it (issue 8: "no message ever dropped").

Revision ID: e6a8c0e2b4d5
Revises: d4f6a8c0e2b3
Create Date: 2026-12-03 13:40:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "e6a8c0e2b4d5"
down_revision: Union[str, None] = "d4f6a8c0e2b3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "held_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_held_messages_conversation_id", "held_messages", ["conversation_id"])
    op.create_index("ix_held_messages_created_at", "held_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_held_messages_created_at", table_name="held_messages")
    op.drop_index("ix_held_messages_conversation_id", table_name="held_messages")
    op.drop_table("held_messages")
