"""Settings from the environment and the composition root (engine, session factory)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from wegwijs import bootstrap
from wegwijs.settings import REPO_ROOT, Settings, SettingsError


def test_defaults_point_into_repo_var_folder() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == f"sqlite:///{REPO_ROOT / 'var' / 'wegwijs.db'}"
    assert settings.tracker_db_url == f"sqlite:///{REPO_ROOT / 'var' / 'tracker.db'}"
    assert settings.retention_days == 365
    assert settings.referral_contact_days == 3
    assert settings.languages_dir == REPO_ROOT / "languages"


def test_from_env_reads_every_variable(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "WEGWIJS_DATABASE_URL": "postgresql://u@db/wegwijs",
            "WEGWIJS_TRACKER_DB_URL": "postgresql://u@db/rasa",
            "WEGWIJS_RETENTION_DAYS": "30",
            "WEGWIJS_REFERRAL_CONTACT_DAYS": "5",
            "WEGWIJS_RASA_URL": "http://rasa:5005",
            "WEGWIJS_ACTION_PORT": "6055",
            "WEGWIJS_LANGUAGES_DIR": str(tmp_path),
            "WEGWIJS_REDIS_URL": "redis://cache:6379/2",
            "WEGWIJS_ACTOR": "km.utrecht",
        }
    )
    assert settings == Settings(
        database_url="postgresql://u@db/wegwijs",
        tracker_db_url="postgresql://u@db/rasa",
        retention_days=30,
        referral_contact_days=5,
        rasa_url="http://rasa:5005",
        action_port=6055,
        languages_dir=tmp_path,
        redis_url="redis://cache:6379/2",
        actor="km.utrecht",
    )


def test_constructor_never_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEGWIJS_RETENTION_DAYS", "7")
    assert Settings().retention_days == 365
    assert Settings.from_env().retention_days == 7


@pytest.mark.parametrize(
    "env",
    [{"WEGWIJS_RETENTION_DAYS": "a year"}, {"WEGWIJS_RETENTION_DAYS": "0"}],
)
def test_bad_numbers_are_rejected(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="WEGWIJS_RETENTION_DAYS|retention_days"):
        Settings.from_env(env)


def test_settings_are_frozen() -> None:
    with pytest.raises(Exception):
        Settings().retention_days = 1  # type: ignore[misc]


def test_sqlite_engine_creates_folder_and_sets_pragmas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'wegwijs.db'}"
    engine = bootstrap.get_engine(Settings(database_url=url))
    with engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "deep" / "er").is_dir()


def test_engine_and_session_factory_are_cached_per_url(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}")
    assert bootstrap.get_engine(settings) is bootstrap.get_engine(settings)
    assert bootstrap.get_session_factory(settings) is bootstrap.get_session_factory(settings)
    other = Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}")
    assert bootstrap.get_engine(other) is not bootstrap.get_engine(settings)


def test_bootstrap_overrides_settings_and_reset_forgets(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", retention_days=9)
    bootstrap.bootstrap(overrides={"settings": settings})
    assert bootstrap.get_settings() is settings
    assert str(bootstrap.get_engine().url) == settings.database_url
    bootstrap.reset()
    assert bootstrap.get_settings() is not settings


def test_bootstrap_injects_fakes_and_rejects_unknown_keys() -> None:
    fake = object()
    bootstrap.bootstrap(overrides={"session_factory": fake})
    assert bootstrap.get_session_factory() is fake
    with pytest.raises(ValueError, match="unknown bootstrap overrides"):
        bootstrap.bootstrap(overrides={"engin": fake})


def test_importing_bootstrap_builds_nothing() -> None:
    import importlib

    module = importlib.reload(bootstrap)
    assert module._engines == {} and module._settings is None
