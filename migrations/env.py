"""Alembic environment of the Wegwijs database.

URL, in this order: ``alembic -x url=...``; ``sqlalchemy.url`` set on the Config
(``wegwijs.db.migrate``); ``WEGWIJS_DATABASE_URL`` through ``Settings.from_env()``.
A connection passed in ``config.attributes["connection"]`` is used as is.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from wegwijs.db.models import UTCDateTime, metadata

config = context.config

# Logging from alembic.ini only for the `alembic` command line; when called from
# Python (wegwijs.db.migrate, tests) the caller's logging is left alone.
if config.config_file_name is not None and config.cmd_opts is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = metadata


def _database_url() -> str:
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    if x_url:
        return x_url
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    from wegwijs.settings import Settings

    return Settings.from_env().database_url


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Compare only our own tables: ignore e.g. Rasa's ``events`` in a shared database."""
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render our UTCDateTime as plain ``sa.DateTime(timezone=True)`` in revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_object=_include_object,
        render_item=_render_item,
        compare_type=True,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_with_connection(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with_connection(connection)
        return

    from wegwijs.bootstrap import make_engine

    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _run_with_connection(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
