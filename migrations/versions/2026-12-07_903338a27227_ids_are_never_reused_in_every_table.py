"""Ids are never reused in every table: SQLite ``AUTOINCREMENT`` on the other five tables.

Revision d4f6a8c0e2b3 gave ``referrals``, ``access_log`` and ``channel_messages``
``AUTOINCREMENT`` (``held_messages`` was created with it). The other tables whose integer
id can be deleted still got the largest id in use + 1: after the newest outbox
notification or note went (with its referral, "delete my data", purge) its id went to the
next one, and after the newest user was removed a new user got that user's id (issue 10).
Here ``outbox``, ``referral_notes``, ``users``, ``login_attempts`` and ``api_tokens`` get
it too. ``user_sessions`` has a text id (a token digest): nothing to number.

SQLite cannot ALTER a table's ``AUTOINCREMENT``: each table is copied into a new one with
foreign keys switched off (:func:`wegwijs.db.sqlite_rebuild.recreate_tables`; with them on,
dropping the old ``users`` table would cascade to the sessions and API tokens and clear
the author of every note). PostgreSQL's sequences never hand out an id twice already:
nothing changes there.

Revision ID: 903338a27227
Revises: f7b9d1e3a5c6
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from typing import Sequence, Union

from alembic import op

from wegwijs.db.sqlite_rebuild import recreate_tables

# revision identifiers, used by Alembic.
revision: str = "903338a27227"
down_revision: Union[str, None] = "f7b9d1e3a5c6"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("users", "login_attempts", "api_tokens", "outbox", "referral_notes")


def _recreate(autoincrement: bool) -> None:
    recreate_tables(op, TABLES, autoincrement=autoincrement)


def upgrade() -> None:
    """Recreates the five tables with ``AUTOINCREMENT`` (SQLite only)."""
    _recreate(True)


def downgrade() -> None:
    """Recreates them without (SQLite only)."""
    _recreate(False)
