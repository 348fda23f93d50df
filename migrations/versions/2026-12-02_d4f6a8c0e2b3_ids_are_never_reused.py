"""Ids are never reused: SQLite ``AUTOINCREMENT`` on referrals, access_log and channel_messages.

Without ``AUTOINCREMENT`` SQLite gives a new row the largest id in use + 1, so after a
"delete my data" of the newest referral its id went to the next parent, and the access-log
rows of the deleted referral (``access_log.referral_id``, deliberately no foreign key)
pointed at that other parent (issue 10). With it, SQLite keeps the highest id ever used
in ``sqlite_sequence`` (https://www.sqlite.org/autoinc.html). PostgreSQL's sequences
never hand out an id twice already: nothing changes there.

Revision ID: d4f6a8c0e2b3
Revises: c2e4a6b8d0f1
Create Date: 2026-12-02 22:45:00
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

from wegwijs.db.sqlite_rebuild import recreate_tables

# revision identifiers, used by Alembic.
revision: str = "d4f6a8c0e2b3"
down_revision: Union[str, None] = "c2e4a6b8d0f1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("referrals", "access_log", "channel_messages")


def _recreate(autoincrement: bool) -> None:
    # with foreign keys off while the tables are copied: with them on, dropping the old
    # referrals table cascaded to its outbox rows and notes (fixed 2026-12-07; the
    # resulting schema is the same)
    recreate_tables(op, TABLES, autoincrement=autoincrement)


def upgrade() -> None:
    """Recreates the three tables with ``AUTOINCREMENT`` (SQLite only)."""
    _recreate(True)


def downgrade() -> None:
    """Recreates them without (SQLite only)."""
    _recreate(False)
