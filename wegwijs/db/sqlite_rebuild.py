"""Rebuilding SQLite tables in Alembic migrations without losing rows.

SQLite cannot ALTER a table's ``AUTOINCREMENT``: the table is copied into a new one
(``batch_alter_table(recreate="always")``: rows, ids, indexes and constraints kept).
With ``foreign_keys=ON`` (every connection of ``wegwijs.bootstrap.make_engine``) dropping
the old table would first delete its rows and so cascade to the rows that point at it
(rebuilding ``referrals`` emptied ``outbox`` and ``referral_notes``; rebuilding ``users``
dropped sessions and tokens). So foreign keys are switched off while the tables are
copied, as SQLite's own procedure says (https://www.sqlite.org/lang_altertable.html,
"Making Other Kinds Of Table Schema Changes"). ``PRAGMA foreign_keys`` is a no-op inside
a transaction, so it is set in an autocommit block; ``PRAGMA foreign_key_check`` then
proves nothing dangles.
"""

from __future__ import annotations

from typing import Any, Sequence


def _set_foreign_keys(op: Any, on: bool) -> None:
    with op.get_context().autocommit_block():  # outside any transaction, else SQLite ignores it
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def recreate_tables(op: Any, tables: Sequence[str], *, autoincrement: bool) -> None:
    """Copies each of ``tables`` into a new one with or without ``AUTOINCREMENT``.

    Does nothing on another database than SQLite (PostgreSQL sequences never reuse ids).

    Args:
        op: the migration's ``alembic.op``.
        tables: table names, copied in this order.
        autoincrement: the new tables' ``sqlite_autoincrement``.

    Raises:
        RuntimeError: a foreign key dangles after the copy (nothing is committed then
            by a transactional migration run).
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    was_on = bool(bind.exec_driver_sql("PRAGMA foreign_keys").scalar())
    _set_foreign_keys(op, False)
    try:
        for table in tables:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
                pass
        dangling = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if dangling:
            raise RuntimeError(f"foreign keys dangle after recreating {tuple(tables)}: {dangling[:5]}")
    finally:
        if was_on:
            _set_foreign_keys(op, True)
