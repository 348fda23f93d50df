"""Runtime settings of Wegwijs, read from the environment in one place.

``Settings`` is a frozen dataclass: constructing it never reads the environment
(tests build it with explicit values); :meth:`Settings.from_env` is the only
function that reads ``os.environ``, and only the composition root
(``wegwijs.bootstrap``) and entry points call it.

Environment variables (all optional):

=============================  ==============================================
``WEGWIJS_DATABASE_URL``       SQLAlchemy URL of the Wegwijs database
                               (referrals, access log).
                               Default ``sqlite:///<repo>/var/wegwijs.db``.
``WEGWIJS_TRACKER_DB_URL``     SQLAlchemy URL of Rasa's tracker store.
                               Default ``sqlite:///<repo>/var/tracker.db``.
``WEGWIJS_RETENTION_DAYS``     Days referrals and conversation events are kept
                               (BRIEF 8). Default 365.
``WEGWIJS_REFERRAL_CONTACT_DAYS``  Working days within which a person contacts
                               the parent (``utter_referral_done``). Default 3.
``WEGWIJS_REFERRAL_SETTLE_MINUTES``  Minutes a referral stored while the contact
                               questions are still open waits before its person is
                               notified (a parent who leaves mid-way is still passed
                               on; one who finishes releases it at once). Default 20.
``WEGWIJS_RASA_URL``           Rasa server URL. Default ``http://localhost:5005``.
``WEGWIJS_ACTION_PORT``        Port of the action server. Default 5055.
``WEGWIJS_LANGUAGES_DIR``      Content folder. Default ``<repo>/languages``.
``WEGWIJS_REDIS_URL``          Redis for Rasa's lock store.
                               Default ``redis://127.0.0.1:6379/1``.
``WEGWIJS_ACTOR``              Who uses the CLI (access log); default: OS user.
``WEGWIJS_ROUTING_DIR``        Routing files (who gets a referral, how staff are
                               notified). Default ``<repo>/municipalities/routing``.
``WEGWIJS_SPOOL_DIR``          Referrals made while the database was down wait
                               here (mode 0700) until the outbox worker stores
                               them (``wegwijs.referrals.spool``).
                               Default ``<repo>/var/spool``.
=============================  ==============================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

#: Repository root (the folder holding ``wegwijs/``, ``languages/``, ``var/``).
REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_sqlite_url(name: str) -> str:
    return f"sqlite:///{REPO_ROOT / 'var' / name}"


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Immutable runtime settings (see the module docstring for the variables)."""

    database_url: str = field(default_factory=lambda: _default_sqlite_url("wegwijs.db"))
    tracker_db_url: str = field(default_factory=lambda: _default_sqlite_url("tracker.db"))
    retention_days: int = 365
    referral_contact_days: int = 3
    referral_settle_minutes: int = 20
    rasa_url: str = "http://localhost:5005"
    action_port: int = 5055
    languages_dir: Path = REPO_ROOT / "languages"
    redis_url: str = "redis://127.0.0.1:6379/1"
    actor: str | None = None
    routing_dir: Path = REPO_ROOT / "municipalities" / "routing"
    spool_dir: Path = REPO_ROOT / "var" / "spool"

    def __post_init__(self) -> None:
        if self.referral_settle_minutes < 0:
            raise SettingsError(f"referral_settle_minutes must be >= 0, got {self.referral_settle_minutes}")
        if self.retention_days < 1:
            raise SettingsError(f"retention_days must be >= 1, got {self.retention_days}")
        if self.referral_contact_days < 1:
            raise SettingsError(
                f"referral_contact_days must be >= 1, got {self.referral_contact_days}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``).

        Unset or empty variables keep the defaults.

        Raises:
            SettingsError: a number variable is not an integer.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}

        def text(var: str, name: str) -> None:
            value = env.get(var, "").strip()
            if value:
                values[name] = value

        def integer(var: str, name: str) -> None:
            value = env.get(var, "").strip()
            if value:
                try:
                    values[name] = int(value)
                except ValueError:
                    raise SettingsError(f"{var} must be an integer, got {value!r}") from None

        text("WEGWIJS_DATABASE_URL", "database_url")
        text("WEGWIJS_TRACKER_DB_URL", "tracker_db_url")
        integer("WEGWIJS_RETENTION_DAYS", "retention_days")
        integer("WEGWIJS_REFERRAL_CONTACT_DAYS", "referral_contact_days")
        integer("WEGWIJS_REFERRAL_SETTLE_MINUTES", "referral_settle_minutes")
        text("WEGWIJS_RASA_URL", "rasa_url")
        integer("WEGWIJS_ACTION_PORT", "action_port")
        text("WEGWIJS_REDIS_URL", "redis_url")
        text("WEGWIJS_ACTOR", "actor")
        languages_dir = env.get("WEGWIJS_LANGUAGES_DIR", "").strip()
        if languages_dir:
            values["languages_dir"] = Path(languages_dir)
        routing_dir = env.get("WEGWIJS_ROUTING_DIR", "").strip()
        if routing_dir:
            values["routing_dir"] = Path(routing_dir)
        spool_dir = env.get("WEGWIJS_SPOOL_DIR", "").strip()
        if spool_dir:
            values["spool_dir"] = Path(spool_dir)
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed (tests, CLI options)."""
        return replace(self, **changes)
