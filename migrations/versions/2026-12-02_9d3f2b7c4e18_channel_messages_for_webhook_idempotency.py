"""channel messages for webhook idempotency: table channel_messages.

One row per WhatsApp webhook item seen (message id unique, channel, received_at,
kind; media_id and conversation_id only for voice notes and audio). No message
text. Used by integrations/whatsapp.py so a redelivery after a restart is not
processed twice.

Revision ID: 9d3f2b7c4e18
Revises: 5c1e7d2a9b30
Create Date: 2026-12-02 18:50:00
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "9d3f2b7c4e18"
down_revision: Union[str, None] = "5c1e7d2a9b30"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Creates ``channel_messages`` with a unique ``message_id`` and an index on ``received_at``."""
    op.create_table(
        "channel_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("media_id", sa.String(length=255), nullable=True),
        sa.Column("conversation_id", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_channel_messages_message_id")),
    )
    op.create_index(
        op.f("ix_channel_messages_received_at"), "channel_messages", ["received_at"]
    )


def downgrade() -> None:
    """Drops ``channel_messages``."""
    op.drop_index(op.f("ix_channel_messages_received_at"), table_name="channel_messages")
    op.drop_table("channel_messages")
