"""Durable referrals (issue 10): a referral made while the database is down is kept in the
spool (one 0600 file) and stored later by a drain (the outbox worker), urgent first, once."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionCreateReferral, ActionUrgentReferral
from actions.privacy import ActionDeleteMyData
from tests.actions.conftest import make_tracker
from wegwijs import bootstrap, handoff
from wegwijs.db.migrate import upgrade
from wegwijs.db.models import OutboxMessage, Referral, utcnow
from wegwijs.referrals import spool
from wegwijs.settings import Settings

DOWN = "postgresql://nobody@127.0.0.1:1/none"
SLOTS = {
    "language": "ar", "consent": "yes", "consent_at": "2026-11-02T09:30:00+00:00", "municipality": "Utrecht",
    "person_type": "sleutelpersoon", "contact_channel": "whatsapp", "children_ages": [4, 11],
}


def _keys(d: CollectingDispatcher) -> list:
    return [m.get("response") for m in d.messages]


def _slots(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / "spool"


@pytest.fixture
def database_down(spool_dir: Path):
    bootstrap.bootstrap({"settings": Settings(database_url=DOWN, spool_dir=spool_dir)})
    yield
    bootstrap.reset()


@pytest.fixture
def database_up(tmp_path: Path, spool_dir: Path):
    """The database is back: a migrated SQLite file (same spool)."""
    def start():
        url = f"sqlite:///{tmp_path / 'wegwijs.db'}"
        upgrade(url)
        bootstrap.bootstrap({"settings": Settings(database_url=url, spool_dir=spool_dir)})
        return bootstrap.get_session_factory()

    yield start
    bootstrap.reset()


def _referrals(session_factory) -> list[Referral]:
    with session_factory.begin() as session:
        return list(session.execute(sa.select(Referral).order_by(Referral.id)).scalars())


async def _spool_both() -> tuple[list, list]:
    """The two actions with the database down: what the parent is told, per action."""
    normal, urgent = CollectingDispatcher(), CollectingDispatcher()
    events = await ActionCreateReferral().run(normal, make_tracker("نعم", "affirm", slots=SLOTS, sender_id="p-n"), {})
    assert _slots(events) == {"offered_person": False}  # as before
    await ActionUrgentReferral().run(
        urgent, make_tracker("he hits me", "urgent_help", sender_id="p-u", safety={"category": "violence_at_home"}), {})
    return _keys(normal), _keys(urgent)


async def test_database_down_spools_one_private_file_per_referral_and_replies_as_before(database_down, spool_dir) -> None:
    normal, urgent = await _spool_both()
    assert normal == ["utter_referral_failed"] and urgent == ["utter_referral_failed"]
    files = spool.pending_files(spool_dir)
    assert [p.name.split("-")[0] for p in files] == ["normal", "urgent"]
    assert stat.S_IMODE(spool_dir.stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in spool_dir.iterdir() if p.name.endswith(spool.TMP_SUFFIX)]  # no temporary file left
    by_kind = {spool.read(p).kind: spool.read(p) for p in files}
    assert by_kind["urgent"].urgent_reason == "violence_at_home"
    assert by_kind["urgent"].referral.conversation_id == "p-u" and by_kind["urgent"].join == ()
    assert by_kind["normal"].referral.municipality == "Utrecht" and by_kind["normal"].urgent_reason is None
    assert by_kind["normal"].referral.contact_channel == "whatsapp"


async def test_drain_stores_urgent_first_deletes_the_files_and_never_twice(database_down, database_up, spool_dir) -> None:
    await _spool_both()
    session_factory = database_up()
    result = spool.drain(spool_dir, session_factory)
    assert len(result.stored) == 2 and result.waiting == 0 and result.bad == 0
    rows = _referrals(session_factory)
    assert [r.urgency for r in rows] == ["urgent", "normal"]  # urgent stored first
    assert [r.reference for r in rows] == result.stored
    assert rows[0].urgency_reason == "violence_at_home" and rows[1].contact_channel == "whatsapp"
    assert spool.pending_files(spool_dir) == []
    with session_factory.begin() as session:  # their notifications were queued with them
        assert session.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one() >= 2
    again = spool.drain(spool_dir, session_factory)
    assert again.stored == [] and len(_referrals(session_factory)) == 2


async def test_a_file_stored_but_not_deleted_is_not_stored_again(database_down, database_up, spool_dir, tmp_path) -> None:
    await ActionCreateReferral().run(CollectingDispatcher(), make_tracker("yes", "affirm", slots=SLOTS), {})
    [path] = spool.pending_files(spool_dir)
    copy = tmp_path / "copy.json"
    shutil.copy2(path, copy)
    session_factory = database_up()
    [reference] = spool.drain(spool_dir, session_factory).stored
    shutil.copy2(copy, path)  # as if the worker stopped between the commit and the delete
    assert spool.drain(spool_dir, session_factory).stored == [reference]
    assert [r.reference for r in _referrals(session_factory)] == [reference]
    assert spool.pending_files(spool_dir) == []


async def test_a_held_referral_is_released_not_stored_twice(database_up, spool_dir) -> None:
    session_factory = database_up()
    held = handoff.store_referral(handoff.referral_from_slots("p-h", SLOTS, urgent_reason=None), hold=True)
    bootstrap.bootstrap({"settings": Settings(database_url=DOWN, spool_dir=spool_dir)})
    d = CollectingDispatcher()
    slots = {**SLOTS, "draft_reference": held.reference, "contact_times": {"nl": "ochtend", "text": "الصبح"}}
    await ActionCreateReferral().run(d, make_tracker("شكرا", "thanks", slots=slots, sender_id="p-h"), {})
    assert _keys(d) == ["utter_referral_failed"]
    [path] = spool.pending_files(spool_dir)
    assert spool.read(path).join == (held.reference,)
    session_factory = database_up()
    assert spool.drain(spool_dir, session_factory).stored == [held.reference]
    [row] = _referrals(session_factory)
    assert row.contact_times == "ochtend"
    with session_factory.begin() as session:  # released: due now, not after the settle minutes
        due = [m.next_attempt_at for m in session.execute(sa.select(OutboxMessage)).scalars()]
    assert due and all(when <= utcnow() for when in due)


async def test_an_invalid_file_goes_to_bad_and_the_others_are_stored(database_down, database_up, spool_dir, caplog) -> None:
    await ActionCreateReferral().run(CollectingDispatcher(), make_tracker("yes", "affirm", slots=SLOTS), {})
    (spool_dir / "normal-20260101T000000000000Z-broken.json").write_text("{not json", encoding="utf-8")
    [good] = [p for p in spool.pending_files(spool_dir) if "broken" not in p.name]
    record = json.loads(good.read_text(encoding="utf-8"))
    record["id"] = "K7QXMAT3PC9D"
    record["referral"]["children_ages"] = ["+31 6 12345678"]  # not an age: the referral is invalid
    (spool_dir / "normal-20260101T000000000001Z-K7QXMAT3PC9D.json").write_text(json.dumps(record), encoding="utf-8")
    session_factory = database_up()
    with caplog.at_level("INFO", logger="wegwijs.referrals.spool"):
        result = spool.drain(spool_dir, session_factory)
    assert result.bad == 2 and len(result.stored) == 1 and result.in_bad == 2
    assert sorted(p.name for p in (spool_dir / "bad").iterdir()) == [
        "normal-20260101T000000000000Z-broken.json", "normal-20260101T000000000001Z-K7QXMAT3PC9D.json"]
    assert spool.pending_files(spool_dir) == [] and len(_referrals(session_factory)) == 1
    logged = caplog.text
    assert "referrals.spool.bad" in logged and "children_ages" in logged
    assert "12345678" not in logged and "Utrecht" not in logged and "p-" not in logged  # no personal data


async def test_drain_with_the_database_still_down_keeps_every_file(database_down, spool_dir) -> None:
    await _spool_both()
    result = spool.drain(spool_dir, bootstrap.get_session_factory())
    assert result.database_down and result.stored == [] and (result.waiting, result.urgent_waiting) == (2, 1)
    assert len(spool.pending_files(spool_dir)) == 2


async def test_delete_my_data_removes_the_spooled_referral(database_down, database_up, spool_dir) -> None:
    await _spool_both()
    session_factory = database_up()
    d = CollectingDispatcher()
    await ActionDeleteMyData().run(d, make_tracker("yes", "affirm", sender_id="p-n"), {})
    assert _keys(d) == ["utter_data_deleted"]
    [left] = spool.pending_files(spool_dir)
    assert spool.read(left).referral.conversation_id == "p-u"  # the other parent's stays
    spool.drain(spool_dir, session_factory)
    assert [r.conversation_id for r in _referrals(session_factory)] == ["p-u"]


async def test_a_later_danger_joins_the_urgent_referral_when_drained(database_up, spool_dir) -> None:
    session_factory = database_up()
    first = handoff.store_referral(handoff.referral_from_slots("p-j", SLOTS, urgent_reason="medical_emergency"))
    bootstrap.bootstrap({"settings": Settings(database_url=DOWN, spool_dir=spool_dir)})
    d = CollectingDispatcher()
    tracker = make_tracker("he hits me", "urgent_help", sender_id="p-j", slots={"urgent_reference": first.reference},
                           safety={"category": "violence_at_home"})
    await ActionUrgentReferral().run(d, tracker, {})
    assert _keys(d) == ["utter_referral_failed"]
    session_factory = database_up()
    assert spool.drain(spool_dir, session_factory).stored == [first.reference]
    [row] = _referrals(session_factory)
    assert row.urgency == "urgent" and row.urgency_reason == "medical_emergency"  # first category stays, no 2nd case


async def test_only_a_database_error_is_spooled(database_down, spool_dir, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not the database")

    monkeypatch.setattr(handoff, "store_referral", broken)
    d = CollectingDispatcher()
    await ActionCreateReferral().run(d, make_tracker("yes", "affirm", slots=SLOTS), {})
    assert _keys(d) == ["utter_referral_failed"] and spool.pending_files(spool_dir) == []
