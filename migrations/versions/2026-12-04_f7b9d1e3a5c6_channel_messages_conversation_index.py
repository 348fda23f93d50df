"""channel messages conversation index: a referral finds its conversation's voice notes.

Issue 8: a referral lists the voice notes of its conversation (``channel_messages`` rows
with its ``conversation_id`` and kind ``voice_note`` / ``audio``), in its summary, on the
inbox page and in the API; a voice note that arrives later notifies the referral's
person. Both look rows up by ``conversation_id``, which had no index. No data changes.

Revision ID: f7b9d1e3a5c6
Revises: e6a8c0e2b4d5
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "f7b9d1e3a5c6"
down_revision: Union[str, None] = "e6a8c0e2b4d5"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_channel_messages_conversation_id", "channel_messages", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_channel_messages_conversation_id", table_name="channel_messages")
