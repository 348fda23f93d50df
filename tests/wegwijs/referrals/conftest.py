"""Fixtures for the referral tests: migrated databases on SQLite and PostgreSQL.

``db_url`` is parametrized over both backends, so every test using it (directly
or through ``session_factory`` / ``session``) runs twice. Schemas always come
from the Alembic migrations, never ``create_all``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from wegwijs import bootstrap
from wegwijs.db import migrate


@pytest.fixture(autouse=True)
def _fresh_composition_root() -> Iterator[None]:
    """No cached engines or settings leak from one test into the next."""
    bootstrap.reset()
    yield
    bootstrap.reset()


@pytest.fixture(scope="session")
def postgres_migrated_url(postgres_url: str) -> str:
    """The session's PostgreSQL database, migrated to head once."""
    migrate.upgrade(postgres_url)
    return postgres_url


def _empty_tables(url: str) -> None:
    import sqlalchemy as sa

    engine = bootstrap.make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("TRUNCATE referrals, access_log, referral_notes RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    """A migrated, empty Wegwijs database: a new SQLite file, or the session's PostgreSQL."""
    if request.param == "sqlite":
        migrate.upgrade(sqlite_url)
        yield sqlite_url
        return
    url = request.getfixturevalue("postgres_migrated_url")
    _empty_tables(url)
    yield url
    _empty_tables(url)


@pytest.fixture
def session_factory(db_url: str) -> Any:
    """A session factory on ``db_url``, built by the composition root."""
    from wegwijs.settings import Settings

    return bootstrap.get_session_factory(Settings(database_url=db_url))


@pytest.fixture
def session(db_url: str) -> Iterator[Any]:
    """A session inside an outer transaction that is rolled back after the test."""
    from sqlalchemy.orm import Session

    engine = bootstrap.make_engine(db_url)
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, future=True)
    try:
        yield session
    finally:
        session.close()
        if transaction.is_active:  # a failed flush may have rolled it back already
            transaction.rollback()
        connection.close()
        engine.dispose()


@pytest.fixture
def languages_dir(tmp_path: Path) -> Path:
    """A small languages/ folder like the real one (nl topics, meta of nl, ar, ti)."""
    root = tmp_path / "languages"
    for code, dutch in [("nl", "Nederlands"), ("ar", "Arabisch"), ("ti", "Tigrinya")]:
        (root / code).mkdir(parents=True)
        (root / code / "meta.yml").write_text(
            f"code: {code}\nname: x\nenglish_name: x\ndutch_name: {dutch}\n"
            "direction: ltr\nspacy_lang: xx\nreview: unreviewed\n",
            encoding="utf-8",
        )
    (root / "nl" / "topics.yml").write_text(
        "topics:\n"
        '  school: "School en huiswerk"\n'
        '  wellbeing: "Welzijn en gevoelens"\n'
        '  child_removal_fear: "Angst voor uithuisplaatsing"\n',
        encoding="utf-8",
    )
    return root


@pytest.fixture
def names(languages_dir: Path) -> Any:
    """Dutch names loaded from ``languages_dir``."""
    from wegwijs.referrals.summary import load_dutch_names

    return load_dutch_names(languages_dir)


def referral_in(**changes: Any) -> Any:
    """A complete, valid ReferralIn; keyword arguments change fields."""
    from wegwijs.referrals.service import ReferralIn

    data: dict[str, Any] = {
        "conversation_id": "conv-42",
        "person_type": "sleutelpersoon",
        "language": "ar",
        "municipality": "Utrecht",
        "interpreter_needed": True,
        "children_ages": [3, 7],
        "pregnant": True,
        "topics": ["school", "wellbeing"],
        "concern_text": [{"text": "ابني لا يريد الذهاب إلى المدرسة", "lang": "ar"}],
        "urgency": "urgent",
        "urgency_reason": "child_abuse",
        "contact_channel": "whatsapp",
        "contact_times": "na 15 uur",
        "contact_gender": "woman",
        "contact_setting": "group",
        "consent_at": datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc),
    }
    data.update(changes)
    return ReferralIn(**data)


@pytest.fixture
def make_referral_in() -> Any:
    """Factory fixture for :func:`referral_in`."""
    return referral_in
