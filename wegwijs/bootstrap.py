"""Composition root: builds engines, session factories and shared objects.

Everything is built lazily on first use and cached; nothing happens at import.
Entry points (actions, CLI, tracker store) call the ``get_*`` functions; tests call
:func:`bootstrap` with ``overrides`` to inject settings or fakes, and
:func:`reset` to drop every cached object.

Example::

    from wegwijs import bootstrap
    session_factory = bootstrap.get_session_factory()
    with session_factory.begin() as session:
        ...
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from wegwijs.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import sessionmaker

    from wegwijs.referrals.summary import DutchNames

#: Keys accepted by ``bootstrap(overrides=...)``.
OVERRIDABLE = frozenset({"settings", "engine", "session_factory", "dutch_names"})

_lock = threading.RLock()
_overrides: dict[str, Any] = {}
_settings: Settings | None = None
_engines: dict[str, Engine] = {}
_session_factories: dict[str, sessionmaker] = {}
_dutch_names: dict[Path, DutchNames] = {}


def bootstrap(overrides: Mapping[str, Any] | None = None) -> None:
    """Reset the cache and install ``overrides`` (tests and special entry points).

    Args:
        overrides: objects to return instead of building them; keys are
            ``settings`` (a :class:`Settings`), ``engine``, ``session_factory``
            and ``dutch_names``.

    Raises:
        ValueError: an unknown override key.
    """
    overrides = dict(overrides or {})
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise ValueError(f"unknown bootstrap overrides: {sorted(unknown)}")
    with _lock:
        reset()
        _overrides.update(overrides)


def reset() -> None:
    """Dispose cached engines and forget every cached object and override."""
    global _settings
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _session_factories.clear()
        _dutch_names.clear()
        _overrides.clear()
        _settings = None


def get_settings() -> Settings:
    """Return the settings (override, else read once from the environment)."""
    global _settings
    with _lock:
        if "settings" in _overrides:
            return _overrides["settings"]
        if _settings is None:
            _settings = Settings.from_env()
        return _settings


def make_engine(url: str) -> Engine:
    """Create a SQLAlchemy 1.4 (``future=True``) engine for ``url``.

    SQLite: the parent folder of the database file is created, and every
    connection gets ``journal_mode=WAL`` (file databases), ``foreign_keys=ON``
    and a busy timeout, so the action server and the CLI can share the file.
    PostgreSQL and others: ``pool_pre_ping`` so a restarted server is noticed.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, future=True, pool_pre_ping=True)

    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, future=True, connect_args={"check_same_thread": False, "timeout": 30}
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
        finally:
            cursor.close()

    return engine


def get_engine(settings: Settings | None = None) -> Engine:
    """Return the cached engine for ``settings.database_url``."""
    with _lock:
        if "engine" in _overrides and settings is None:
            return _overrides["engine"]
        url = (settings or get_settings()).database_url
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def get_session_factory(settings: Settings | None = None) -> sessionmaker:
    """Return the cached session factory for ``settings`` (default: current settings).

    Sessions are 2.0-style (``future=True``) and keep loaded attributes after
    commit (``expire_on_commit=False``); services own the transaction with
    ``with session_factory.begin() as session:``.
    """
    from sqlalchemy.orm import sessionmaker

    with _lock:
        if "session_factory" in _overrides and settings is None:
            return _overrides["session_factory"]
        engine = get_engine(settings)
        key = str(engine.url)
        if key not in _session_factories:
            _session_factories[key] = sessionmaker(
                bind=engine, future=True, expire_on_commit=False
            )
        return _session_factories[key]


def get_dutch_names(settings: Settings | None = None) -> DutchNames:
    """Return the Dutch topic and language names from ``settings.languages_dir`` (cached)."""
    from wegwijs.referrals.summary import load_dutch_names

    with _lock:
        if "dutch_names" in _overrides and settings is None:
            return _overrides["dutch_names"]
        languages_dir = Path((settings or get_settings()).languages_dir)
        if languages_dir not in _dutch_names:
            _dutch_names[languages_dir] = load_dutch_names(languages_dir)
        return _dutch_names[languages_dir]
