"""The outbox worker drains the referral spool (issue 10): urgent referrals first, their
notifications sent in the same pass, nothing stored twice; the spool's size is logged.
``wegwijs worker --once`` drains it too, and ``wegwijs outbox list`` shows its numbers."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from tests.wegwijs.outbox.conftest import routing_dir_for, routing_for
from wegwijs import bootstrap, cli
from wegwijs.db.models import Referral
from wegwijs.outbox import worker
from wegwijs.referrals import spool
from wegwijs.settings import Settings

EARLIER = datetime.now(timezone.utc) - timedelta(minutes=5)


def _spool_two(spool_dir, make_referral_in) -> None:
    """A normal referral spooled first, an urgent one a minute later."""
    spool.write(spool_dir, make_referral_in(conversation_id="conv-normal", urgency="normal", urgency_reason=None),
                now=EARLIER)
    spool.write(spool_dir, make_referral_in(conversation_id="conv-urgent"), now=EARLIER + timedelta(minutes=1))


async def test_a_pass_stores_the_spool_urgent_first_and_sends_their_mail(
    session_factory, make_referral_in, smtp_server, tmp_path
) -> None:
    spool_dir = tmp_path / "spool"
    _spool_two(spool_dir, make_referral_in)
    port, handler = smtp_server([])
    routing = routing_for(port)
    counts = await worker.run_once(session_factory, routing, environ={}, spool_dir=spool_dir)
    assert counts == {"claimed": 2, "sent": 2, "retry": 0, "failed": 0,
                      "spool_stored": 2, "spool_waiting": 0, "spool_urgent": 0, "spool_bad": 0}
    with session_factory.begin() as session:
        rows = list(session.execute(sa.select(Referral).order_by(Referral.id)).scalars())
        stored = [(r.conversation_id, r.urgency, r.created_at) for r in rows]
        references = [r.reference for r in rows]
    assert [s[:2] for s in stored] == [("conv-urgent", "urgent"), ("conv-normal", "normal")]
    assert stored[1][2] == EARLIER  # created when the parent asked, not when the database came back
    first, second = handler.received.accepted
    assert references[0] in first["Message-ID"] and references[1] in second["Message-ID"]  # urgent mail first
    assert spool.pending_files(spool_dir) == []
    again = await worker.run_once(session_factory, routing, environ={}, spool_dir=spool_dir)
    assert again["spool_stored"] == 0 and again["claimed"] == 0


async def test_the_loop_logs_what_waits_while_the_database_is_down(make_referral_in, tmp_path, caplog) -> None:
    spool_dir = tmp_path / "spool"
    _spool_two(spool_dir, make_referral_in)
    (spool_dir / "bad").mkdir()
    (spool_dir / "bad" / "old.json").write_text("{}", encoding="utf-8")
    down = bootstrap.get_session_factory(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO):
        task = asyncio.create_task(worker.run(down, routing_for(1), stop, poll_seconds=0.05, spool_dir=spool_dir))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("referrals.spool.waiting")]
    assert lines == ["referrals.spool.waiting count=2 urgent=1 bad=1"]  # once, not on every pass
    assert len(spool.pending_files(spool_dir)) == 2


async def test_the_loop_drains_the_spool_of_the_settings(session_factory, db_url, make_referral_in, smtp_server,
                                                          tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    _spool_two(spool_dir, make_referral_in)
    bootstrap.bootstrap({"settings": Settings(database_url=db_url, spool_dir=spool_dir)})
    port, handler = smtp_server([])
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(session_factory, routing_for(port), stop, poll_seconds=0.05))
    for _ in range(200):
        if len(handler.received.accepted) == 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert len(handler.received.accepted) == 2 and spool.pending_files(spool_dir) == []


def test_worker_once_drains_the_spool(db_url, session_factory, make_referral_in, smtp_server, tmp_path,
                                      monkeypatch, capsys) -> None:
    """``wegwijs worker --once``: the spool of WEGWIJS_SPOOL_DIR is stored (urgent first)
    and the notifications of its referrals go out in that same pass."""
    spool_dir = tmp_path / "spool"
    _spool_two(spool_dir, make_referral_in)
    port, handler = smtp_server([])
    monkeypatch.setenv("WEGWIJS_DATABASE_URL", db_url)
    monkeypatch.setenv("WEGWIJS_ROUTING_DIR", str(routing_dir_for(tmp_path, port)))
    monkeypatch.setenv("WEGWIJS_SPOOL_DIR", str(spool_dir))
    bootstrap.reset()
    assert cli.main(["worker", "--once"]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts == {"claimed": 2, "sent": 2, "retry": 0, "failed": 0,
                      "spool_stored": 2, "spool_waiting": 0, "spool_urgent": 0, "spool_bad": 0}
    assert spool.pending_files(spool_dir) == []
    assert len(handler.received.accepted) == 2
    with session_factory.begin() as session:
        stored = [r.conversation_id for r in session.execute(sa.select(Referral).order_by(Referral.id)).scalars()]
    assert stored == ["conv-urgent", "conv-normal"]


def test_outbox_list_shows_the_spool(db_url, make_referral_in, tmp_path, monkeypatch, capsys) -> None:
    spool_dir = tmp_path / "spool"
    monkeypatch.setenv("WEGWIJS_DATABASE_URL", db_url)
    monkeypatch.setenv("WEGWIJS_SPOOL_DIR", str(spool_dir))
    bootstrap.reset()
    assert cli.main(["outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"spool {spool_dir}: 0 waiting (0 urgent), 0 in bad/"  # no folder yet
    assert not spool_dir.exists()  # listing creates nothing

    _spool_two(spool_dir, make_referral_in)
    (spool_dir / "bad").mkdir()
    (spool_dir / "bad" / "old.json").write_text("{}", encoding="utf-8")
    assert cli.main(["outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert "(geen berichten met deze status)" in out
    assert out.splitlines()[-1] == f"spool {spool_dir}: 2 waiting (1 urgent), 1 in bad/"
    assert "conv-" not in out  # no names of files, no data of the parents

    assert cli.main(["outbox", "list", "--json"]) == 0  # stdout stays a JSON array, the line goes to stderr
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert captured.err.strip() == f"spool {spool_dir}: 2 waiting (1 urgent), 1 in bad/"
