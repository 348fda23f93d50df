"""``wegwijs referrals list|show`` and ``wegwijs purge`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from datetime import datetime, timedelta, timezone

import pytest

from wegwijs import cli
from wegwijs.db.models import AccessLog
from wegwijs.referrals import service
from wegwijs.referrals.service import JSON_FIELDS
from wegwijs.settings import REPO_ROOT, Settings

UNREACHABLE_PG = "postgresql://nobody:secret@127.0.0.1:1/wegwijs"


def documented_fields_design() -> list[str]:
    """Field names from docs/design.md, "Stable JSON field names: ..."."""
    text = (REPO_ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    paragraph = text.split("Stable JSON field names:", 1)[1].split("\n\n", 1)[0]
    previous = None
    while previous != paragraph:  # drop (nested) parentheses: "concern_text (list[{text, lang}])"
        previous, paragraph = paragraph, re.sub(r"\([^()]*\)", "", paragraph)
    return [name.strip().rstrip(".").strip() for name in paragraph.split(",") if name.strip()]


def documented_fields_referrals_md() -> list[str]:
    """Field names from the table in docs/referrals.md."""
    text = (REPO_ROOT / "docs" / "referrals.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)


def test_json_fields_match_both_documents() -> None:
    assert documented_fields_design() == list(JSON_FIELDS)
    assert documented_fields_referrals_md() == list(JSON_FIELDS)


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WEGWIJS_DATABASE_URL", db_url)
    monkeypatch.setenv("WEGWIJS_TRACKER_DB_URL", db_url)
    monkeypatch.setenv("WEGWIJS_ACTOR", "km.utrecht")
    return db_url


@pytest.fixture
def two_referrals(env: str, names, make_referral_in) -> list[service.ReferralOut]:
    factory = cli_session_factory(env)
    first = service.create_referral(
        factory,
        make_referral_in(municipality="Tilburg", urgency="normal", urgency_reason=None),
        names=names,
        now=datetime.now(timezone.utc) - timedelta(hours=2),
    )
    second = service.create_referral(factory, make_referral_in(), names=names)
    return [first, second]


def cli_session_factory(url: str):
    from wegwijs import bootstrap

    return bootstrap.get_session_factory(Settings(database_url=url))


def access_log(url: str) -> list[tuple[str, str, int]]:
    with cli_session_factory(url)() as session:
        rows = session.query(AccessLog).order_by(AccessLog.id).all()
        return [(row.actor, row.action, row.referral_id) for row in rows]


def test_list_prints_a_table(two_referrals, capsys) -> None:
    assert cli.main(["referrals", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "referentie", "aangemaakt", "gemeente", "gevraagd", "taal",
                                "urgentie", "status", "onderwerpen"]
    assert two_referrals[1].reference in lines[2] and "URGENT" in lines[2]  # newest first
    assert two_referrals[0].reference in lines[3] and "Tilburg" in lines[3]


def test_list_json_has_exactly_the_documented_fields(two_referrals, capsys, env) -> None:
    assert cli.main(["referrals", "list", "--json", "--municipality", "tilburg"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and len(data) == 1
    assert list(data[0]) == documented_fields_design()
    assert data[0]["reference"] == two_referrals[0].reference
    assert isinstance(data[0]["id"], int) and isinstance(data[0]["children_ages"], list)
    assert datetime.fromisoformat(data[0]["created_at"]).utcoffset() == timedelta(0)
    assert access_log(env) == [("km.utrecht", "list", two_referrals[0].id)]


def test_list_limit_and_empty(env, two_referrals, capsys) -> None:
    assert cli.main(["referrals", "list", "--json", "--limit", "1"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert cli.main(["referrals", "list", "--municipality", "Maastricht"]) == 0
    assert "Geen verwijzingen gevonden." in capsys.readouterr().out


def test_show_prints_summary_and_logs_access(two_referrals, capsys, env) -> None:
    referral = two_referrals[1]
    assert cli.main(["referrals", "show", referral.reference]) == 0
    out = capsys.readouterr().out
    assert out == referral.summary_nl
    assert "leeftijden: 3 en 7 jaar" in out
    assert "School en huiswerk (school)" in out
    assert "Urgentie: URGENT — reden: kindermishandeling (child_abuse)" in out
    assert "(eigen woorden van de ouder, in het Arabisch)" in out
    assert access_log(env) == [("km.utrecht", "show", referral.id)]


def test_show_json_object(two_referrals, capsys) -> None:
    referral = two_referrals[0]
    assert cli.main(["referrals", "show", str(referral.id), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict) and list(data) == list(JSON_FIELDS)
    assert data == json.loads(json.dumps(referral.to_json_dict()))


def test_show_unknown_exits_1(env, capsys) -> None:
    assert cli.main(["referrals", "show", "WW-ZZZZZZ"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no referral with id or reference 'WW-ZZZZZZ'" in captured.err
    assert access_log(env) == []


def test_actor_defaults_to_os_user(two_referrals, env, monkeypatch, capsys) -> None:
    import getpass

    monkeypatch.delenv("WEGWIJS_ACTOR")
    assert cli.main(["referrals", "show", two_referrals[0].reference]) == 0
    assert access_log(env)[-1][0] == getpass.getuser()


def test_purge_referrals_and_tracker_events(env, make_referral_in, capsys) -> None:
    from rasa.shared.core.events import SessionStarted, UserUttered

    from integrations.tracker_store import WegwijsSQLTrackerStore

    now = datetime.now(timezone.utc)
    factory = cli_session_factory(env)
    for days in (400, 380, 2):
        service.create_referral(factory, make_referral_in(), now=now - timedelta(days=days))

    store = WegwijsSQLTrackerStore(host=env)
    old = (now - timedelta(days=370)).timestamp()
    sender = f"purge-{os.getpid()}"
    import asyncio

    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker.from_events(
        sender,
        [SessionStarted(timestamp=old), UserUttered("oud bericht", timestamp=old + 1),
         UserUttered("nieuw bericht", timestamp=now.timestamp())],
    )
    asyncio.run(store.save(tracker))
    store.engine.dispose()

    assert cli.main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "referrals: would delete 2" in out and "conversation events: would delete 2" in out

    assert cli.main(["purge", "--older-than-days", "390"]) == 0
    out = capsys.readouterr().out
    assert "Older than 390 days" in out
    assert "referrals: deleted 1" in out and "conversation events: deleted 0" in out

    assert cli.main(["purge"]) == 0
    out = capsys.readouterr().out
    assert "referrals: deleted 1" in out and "conversation events: deleted 2" in out
    with factory() as session:
        from wegwijs.db.models import Referral

        assert session.query(Referral).count() == 1


def test_database_unreachable_exits_2_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("WEGWIJS_DATABASE_URL", UNREACHABLE_PG)
    assert cli.main(["referrals", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wegwijs: cannot reach database postgresql://nobody:***@127.0.0.1:1/")
    assert len(err.strip().splitlines()) == 1 and "secret" not in err


def test_database_without_schema_exits_2(sqlite_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WEGWIJS_DATABASE_URL", sqlite_url)
    assert cli.main(["referrals", "show", "1"]) == 2
    err = capsys.readouterr().err
    assert "has no Wegwijs tables; run `python -m wegwijs.db.migrate`" in err


def test_referral_commands_are_wired() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["referrals", "list"]).func.__name__ == "cmd_list"
    assert parser.parse_args(["referrals", "show", "WW-AAAAAA"]).func.__name__ == "cmd_show"
    assert parser.parse_args(["purge", "--dry-run"]).func.__name__ == "cmd_purge"


def test_command_line_entry_point(tmp_path) -> None:
    """``python -m wegwijs.cli`` in a subprocess: exit codes and clean stderr."""
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "WEGWIJS_DATABASE_URL": UNREACHABLE_PG}
    run = subprocess.run(
        [sys.executable, "-m", "wegwijs.cli", "referrals", "list", "--json"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and run.stdout == ""
    usage = subprocess.run(
        [sys.executable, "-m", "wegwijs.cli", "referrals"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert usage.returncode == 2 and "list" in usage.stderr


def test_cli_wires_lid_commands_by_convention(monkeypatch, capsys) -> None:
    """wegwijs.cli calls add_parsers(subparsers) of wegwijs.lid.cli, like ours."""
    fake = types.ModuleType("wegwijs.lid.cli")

    def add_parsers(subparsers):
        parser = subparsers.add_parser("lid-fake")
        parser.set_defaults(func=lambda args: print("lid ok") or 0)

    fake.add_parsers = add_parsers
    monkeypatch.setitem(sys.modules, "wegwijs.lid.cli", fake)
    assert cli.main(["lid-fake"]) == 0
    assert capsys.readouterr().out == "lid ok\n"
