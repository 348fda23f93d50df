"""``wegwijs users ...`` (password from stdin), the auth rules, and notes going with
their referral ("delete my data", purge), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
import sqlalchemy as sa

from tests.wegwijs.inbox.conftest import _empty
from wegwijs import bootstrap
from wegwijs.cli import main
from wegwijs.db import migrate
from wegwijs.db.models import ReferralNote, User
from wegwijs.inbox import auth, service
from wegwijs.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    migrate.upgrade(url)
    _empty(url)
    bootstrap.reset()
    yield url
    bootstrap.reset()
    _empty(url)


@pytest.fixture
def factory(db_url: str):
    return bootstrap.get_session_factory(Settings(database_url=db_url))


def _run(monkeypatch: pytest.MonkeyPatch, db_url: str, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setenv("WEGWIJS_DATABASE_URL", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    bootstrap.reset()
    try:
        return main(argv)
    finally:
        bootstrap.reset()


def test_users_commands_read_the_password_from_stdin(monkeypatch, db_url, factory, capsys) -> None:
    assert _run(monkeypatch, db_url, ["users", "add", "Anna", "--role", "klantmanager",
                                      "--municipality", "Utrecht", "--staff-key", "km-anna"],
                "lang-genoeg-wachtwoord\n") == 0
    assert _run(monkeypatch, db_url, ["users", "add", "kort", "--role", "admin"], "kort\n") == 1
    assert "too short" in capsys.readouterr().err
    assert _run(monkeypatch, db_url, ["users", "add", "x", "--role", "sleutelpersoon",
                                      "--municipality", "Utrecht"], "lang-genoeg-wachtwoord\n") == 1
    with factory.begin() as session:
        stored = session.execute(sa.select(User)).scalar_one()
        assert stored.username == "anna" and stored.password_hash.startswith("$argon2id$")
        assert "lang-genoeg" not in stored.password_hash
    assert auth.login(factory, "ANNA", "lang-genoeg-wachtwoord", address="a").principal.username == "anna"
    capsys.readouterr()
    assert _run(monkeypatch, db_url, ["users", "list"]) == 0
    assert "anna" in capsys.readouterr().out
    assert _run(monkeypatch, db_url, ["users", "reset-password", "anna"], "een-ander-wachtwoord\n") == 0
    with pytest.raises(auth.LoginFailed):
        auth.login(factory, "anna", "lang-genoeg-wachtwoord", address="a")
    new = auth.login(factory, "anna", "een-ander-wachtwoord", address="a")
    capsys.readouterr()
    assert _run(monkeypatch, db_url, ["users", "token", "anna"]) == 0
    token = capsys.readouterr().out.strip()
    assert auth.principal_for_api_token(factory, token).username == "anna"
    assert _run(monkeypatch, db_url, ["users", "disable", "anna"]) == 0
    assert auth.session_for_token(factory, new.token) is None, "sessions end"
    assert auth.principal_for_api_token(factory, token) is None, "tokens go"
    with pytest.raises(auth.LoginFailed):
        auth.login(factory, "anna", "een-ander-wachtwoord", address="b")


def test_throttling_by_address_covers_every_username(factory) -> None:
    auth.add_user(factory, username="anna", password="lang-genoeg-wachtwoord", role="admin")
    now = datetime.now(timezone.utc)
    for i in range(auth.MAX_FAILURES):
        with pytest.raises(auth.LoginFailed):
            auth.login(factory, f"gok{i}", "x", address="10.0.0.9", now=now)
    with pytest.raises(auth.LoginThrottled):
        auth.login(factory, "anna", "lang-genoeg-wachtwoord", address="10.0.0.9", now=now)
    assert auth.login(factory, "anna", "lang-genoeg-wachtwoord", address="10.0.0.8", now=now)
    later = now + auth.THROTTLE_WINDOW + timedelta(seconds=1)
    assert auth.login(factory, "anna", "lang-genoeg-wachtwoord", address="10.0.0.9", now=later)


def test_sessions_expire_when_idle(factory) -> None:
    auth.add_user(factory, username="anna", password="lang-genoeg-wachtwoord", role="admin")
    now = datetime.now(timezone.utc)
    new = auth.login(factory, "anna", "lang-genoeg-wachtwoord", address="a", now=now)
    assert auth.session_for_token(factory, new.token, now=now + timedelta(hours=1))
    assert auth.session_for_token(factory, new.token, now=now + timedelta(hours=10)) is None


@pytest.mark.parametrize("how", ["delete_my_data", "purge"])
def test_notes_are_deleted_with_their_referral(factory, how) -> None:
    from wegwijs.referrals.service import (ReferralIn, create_referral, delete_for_conversation,
                                           purge_referrals)

    principal = auth.add_user(factory, username="anna", password="lang-genoeg-wachtwoord",
                              role="klantmanager", municipality="Utrecht")
    old = datetime.now(timezone.utc) - timedelta(days=400)
    kept = create_referral(factory, ReferralIn(conversation_id="c2", person_type="either", language="nl",
                                               municipality="Utrecht"))
    gone = create_referral(factory, ReferralIn(conversation_id="c1", person_type="either", language="nl",
                                               municipality="Utrecht"), now=old)
    for ref in (kept.reference, gone.reference):
        service.add_note(factory, principal, ref, service.NoteIn(text="Moeder heet Fatima, 06-12345678"))
    if how == "delete_my_data":
        assert delete_for_conversation(factory, "c1") == 1
    else:
        assert purge_referrals(factory, cutoff=datetime.now(timezone.utc) - timedelta(days=365)) == 1
    with factory.begin() as session:
        notes = session.execute(sa.select(ReferralNote.referral_id)).scalars().all()
    assert notes == [kept.id]
