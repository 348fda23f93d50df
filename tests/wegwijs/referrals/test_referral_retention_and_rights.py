"""``wegwijs purge`` per gemeente (``retention_days`` of the routing files) and the admin
commands for a parent's rights, ``wegwijs referrals export`` (GDPR art. 15) and
``wegwijs referrals erase`` (art. 17), on SQLite and PostgreSQL (issue 10). Export and
erase also cover the conversation's spool files and erase its Rasa tracker events."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from integrations.tracker_store import WegwijsSQLTrackerStore
from wegwijs import bootstrap, cli, handoff
from wegwijs.db.models import AccessLog, ChannelMessage, HeldMessage, OutboxMessage, Referral, ReferralNote
from wegwijs.referrals import service, spool
from wegwijs.referrals.service import JSON_FIELDS
from wegwijs.routing import load_routing
from wegwijs.settings import Settings

ROUTING_FILE = """\
gemeente: {gemeente}
queue:
  name: Team {name}
  email: team-{slug}@example.org
response_days: 3
retention_days: {days}
notifications:
  email:
    to: []
    from: wegwijs@example.org
    smtp_host: 127.0.0.1
    smtp_port: 1025
    starttls: false
staff: []
"""


def write_routing(directory: Path, retention: dict[str | None, int]) -> Path:
    """Routing files with the given ``retention_days`` (None: ``_default.yml``)."""
    directory.mkdir(parents=True, exist_ok=True)
    for gemeente, days in retention.items():
        slug = gemeente.lower() if gemeente else "_default"
        (directory / f"{slug}.yml").write_text(
            ROUTING_FILE.format(gemeente=gemeente or "null", name=gemeente or "landelijk", slug=slug.strip("_"),
                                days=days),
            encoding="utf-8",
        )
    return directory


@pytest.fixture
def routing_dir(tmp_path: Path) -> Path:
    """Utrecht keeps referrals 30 days, Zwolle 180, the national queue 365."""
    return write_routing(tmp_path / "routing", {None: 365, "Utrecht": 30, "Zwolle": 180})


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    """The spool of these tests (never the repository's var/spool)."""
    return tmp_path / "spool"


@pytest.fixture
def env(db_url: str, routing_dir: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WEGWIJS_DATABASE_URL", db_url)
    monkeypatch.setenv("WEGWIJS_TRACKER_DB_URL", db_url)
    monkeypatch.setenv("WEGWIJS_ROUTING_DIR", str(routing_dir))
    monkeypatch.setenv("WEGWIJS_SPOOL_DIR", str(spool_dir))
    monkeypatch.setenv("WEGWIJS_ACTOR", "admin.avg")
    monkeypatch.delenv("WEGWIJS_RETENTION_DAYS", raising=False)
    return db_url


def factory_for(url: str):
    return bootstrap.get_session_factory(Settings(database_url=url))


def access_log(url: str) -> list[tuple[str, str, int | None]]:
    with factory_for(url)() as session:
        return [(r.actor, r.action, r.referral_id) for r in session.query(AccessLog).order_by(AccessLog.id)]


#: (gemeente, age in days) of the referrals of :func:`aged_referrals`.
AGES = [("Utrecht", 40), ("Utrecht", 10), ("Zwolle", 200), ("Zwolle", 100), ("Tilburg", 400), ("Tilburg", 300)]


@pytest.fixture
def aged_referrals(env: str, routing_dir: Path, make_referral_in) -> dict[tuple[str, int], str]:
    """One referral per entry of AGES, routed with ``routing_dir`` (Tilburg has no file: the
    national queue); returns (gemeente, age) → reference."""
    routing = load_routing(routing_dir)
    factory = factory_for(env)
    now = datetime.now(timezone.utc)
    made = {}
    for gemeente, age in AGES:
        out = service.create_referral(
            factory, make_referral_in(conversation_id=f"conv-{gemeente}-{age}", municipality=gemeente),
            now=now - timedelta(days=age), routing=routing,
        )
        made[(gemeente, age)] = out.reference
    return made


def stored_references(url: str) -> set[str]:
    with factory_for(url)() as session:
        return {r.reference for r in session.query(Referral)}


# --- purge per gemeente ---------------------------------------------------------------


def test_purge_keeps_each_gemeente_its_own_retention(aged_referrals, env, capsys) -> None:
    with factory_for(env)() as session:
        assert {r.route_queue for r in session.query(Referral)} == {"Utrecht", "Zwolle", "default"}

    assert cli.main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "at most 365 days (WEGWIJS_RETENTION_DAYS)" in out
    assert "  Utrecht: 30 days (before " in out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert lines["Utrecht"].endswith("would delete 1")
    assert lines["Zwolle"].endswith("would delete 1") and "180 days" in lines["Zwolle"]
    assert lines["national queue (_default.yml)"].endswith("would delete 1")
    assert "365 days" in lines["national queue (_default.yml)"]
    assert "  referrals: would delete 3" in out
    assert "conversation events: would delete" in out
    assert stored_references(env) == set(aged_referrals.values())  # a dry run deletes nothing

    assert cli.main(["purge"]) == 0
    out = capsys.readouterr().out
    assert "  referrals: deleted 3" in out
    kept = {("Utrecht", 10), ("Zwolle", 100), ("Tilburg", 300)}
    assert stored_references(env) == {aged_referrals[key] for key in kept}

    assert cli.main(["purge"]) == 0  # daily from cron: the next run finds nothing more
    assert "  referrals: deleted 0" in capsys.readouterr().out
    assert len(stored_references(env)) == 3


def test_global_retention_is_the_ceiling(aged_referrals, env, monkeypatch, capsys) -> None:
    """WEGWIJS_RETENTION_DAYS=90 shortens Zwolle (180) and the national queue (365), not
    Utrecht (30): a routing file never keeps a referral longer than the global setting."""
    monkeypatch.setenv("WEGWIJS_RETENTION_DAYS", "90")
    assert cli.main(["purge"]) == 0
    out = capsys.readouterr().out
    assert "Zwolle: 90 days" in out and "Utrecht: 30 days" in out and "national queue (_default.yml): 90 days" in out
    assert "  referrals: deleted 5" in out
    assert stored_references(env) == {aged_referrals[("Utrecht", 10)]}


def test_older_than_days_is_one_retention_for_every_gemeente(aged_referrals, env, capsys) -> None:
    assert cli.main(["purge", "--older-than-days", "150", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Older than 150 days (before ")
    assert "Utrecht: 150 days" in out and "Zwolle: 150 days" in out
    assert "  referrals: would delete 3" in out  # Zwolle 200, Tilburg 400 and 300
    assert cli.main(["purge", "--older-than-days", "150"]) == 0
    assert "  referrals: deleted 3" in capsys.readouterr().out
    assert stored_references(env) == {aged_referrals[k] for k in [("Utrecht", 40), ("Utrecht", 10), ("Zwolle", 100)]}


def test_purge_takes_notes_and_outbox_rows_with_the_referral(aged_referrals, env, capsys) -> None:
    factory = factory_for(env)
    with factory.begin() as session:
        old = session.query(Referral).filter_by(reference=aged_referrals[("Zwolle", 200)]).one()
        young = session.query(Referral).filter_by(reference=aged_referrals[("Zwolle", 100)]).one()
        old_id, young_id = old.id, young.id
        session.add_all([ReferralNote(referral_id=old_id, text="Moeder gebeld, voicemail."),
                         ReferralNote(referral_id=young_id, text="Afspraak dinsdag.")])
    with factory() as session:
        assert session.query(OutboxMessage).filter_by(referral_id=old_id).count() >= 1
    assert cli.main(["purge"]) == 0
    capsys.readouterr()
    with factory() as session:
        assert session.query(ReferralNote).filter_by(referral_id=old_id).count() == 0
        assert session.query(OutboxMessage).filter_by(referral_id=old_id).count() == 0
        assert [n.text for n in session.query(ReferralNote).filter_by(referral_id=young_id)] == ["Afspraak dinsdag."]
        assert session.query(OutboxMessage).filter_by(referral_id=young_id).count() >= 1


def test_queue_without_routing_file_follows_the_national_queue(env, tmp_path, make_referral_in) -> None:
    """A referral routed to Zwolle before zwolle.yml was removed is kept as long as the
    national queue keeps its referrals (and listed under its own queue)."""
    before = load_routing(write_routing(tmp_path / "before", {None: 100, "Zwolle": 20}))
    after = load_routing(write_routing(tmp_path / "after", {None: 100}))
    factory = factory_for(env)
    now = datetime.now(timezone.utc)
    for age in (50, 150):
        service.create_referral(factory, make_referral_in(municipality="Zwolle"), now=now - timedelta(days=age),
                                routing=before)
    assert service.queue_retention_days(before, max_days=365) == {"default": 100, "Zwolle": 20}
    assert service.queue_retention_days(before, max_days=60) == {"default": 60, "Zwolle": 20}

    result = service.purge_referrals_per_queue(factory, routing=after, max_days=365, now=now, dry_run=True)
    assert [(r.queue, r.has_routing_file, r.days, r.count) for r in result] == [
        ("default", True, 100, 0), ("Zwolle", False, 100, 1)]
    result = service.purge_referrals_per_queue(factory, routing=after, max_days=365, now=now)
    assert sum(r.count for r in result) == 1
    with factory() as session:
        assert [r.created_at.date() for r in session.query(Referral)] == [(now - timedelta(days=50)).date()]


def test_invalid_routing_files_purge_with_the_global_setting_and_exit_3(
        aged_referrals, env, tmp_path, monkeypatch, capsys) -> None:
    empty = tmp_path / "no-routing"
    empty.mkdir()
    monkeypatch.setenv("WEGWIJS_ROUTING_DIR", str(empty))
    assert cli.main(["purge"]) == 3
    captured = capsys.readouterr()
    assert "routing files invalid, 365 days for every gemeente" in captured.err
    assert "  referrals: deleted 1" in captured.out  # only Tilburg 400: never more than the routing would
    assert len(stored_references(env)) == len(AGES) - 1


# --- export (GDPR art. 15) ------------------------------------------------------------


@pytest.fixture
def parent(env: str, make_referral_in) -> Iterator[dict]:
    """Two referrals of one conversation (a note, outbox rows, a held message, a channel
    row) and one referral of another conversation. The channel rows and held messages are
    removed afterwards (the PostgreSQL fixture empties only the referral tables)."""
    factory = factory_for(env)
    conversation = f"parent-{uuid.uuid4().hex[:8]}"
    other = f"other-{uuid.uuid4().hex[:8]}"
    mine = [service.create_referral(factory, make_referral_in(conversation_id=conversation)),
            service.create_referral(factory, make_referral_in(conversation_id=conversation, urgency="normal",
                                                              urgency_reason=None))]
    theirs = service.create_referral(factory, make_referral_in(conversation_id=other))
    message_ids = [f"wamid.{uuid.uuid4().hex}" for _ in range(2)]
    with factory.begin() as session:
        session.add(ReferralNote(referral_id=mine[0].id, text="Gebeld met tolk Arabisch."))
        session.add(ReferralNote(referral_id=theirs.id, text="Notitie van een ander gesprek."))
        for who, message_id in zip((conversation, other), message_ids):
            session.add(HeldMessage(channel="whatsapp", conversation_id=who,
                                    payload={"to": "+31612345678", "text": {"body": "Hallo"}}))
            session.add(ChannelMessage(message_id=message_id, channel="whatsapp",
                                       kind="voice_note", media_id="media-1", conversation_id=who))
    yield {"conversation": conversation, "other": other, "mine": mine, "theirs": theirs}
    with factory.begin() as session:
        session.query(ChannelMessage).filter(ChannelMessage.message_id.in_(message_ids)).delete(
            synchronize_session=False)
        session.query(HeldMessage).filter(HeldMessage.conversation_id.in_([conversation, other])).delete(
            synchronize_session=False)


def test_export_prints_the_conversation_as_json(parent, env, capsys) -> None:
    assert cli.main(["referrals", "export", "--conversation", parent["conversation"]]) == 0
    text = capsys.readouterr().out
    data = json.loads(text)
    assert list(data) == ["conversation_id", "exported_at", "referrals", "spooled_referrals", "held_messages",
                          "channel_messages", "not_included"]
    assert data["spooled_referrals"] == []  # nothing spooled for this parent
    assert data["conversation_id"] == parent["conversation"]
    assert [r["reference"] for r in data["referrals"]] == [r.reference for r in parent["mine"]]
    first = data["referrals"][0]
    assert list(first) == [*JSON_FIELDS, "route_queue", "route_reason", "status_reason", "notes", "outbox"]
    created = json.loads(json.dumps(parent["mine"][0].to_json_dict()))
    assert {k: first[k] for k in JSON_FIELDS if k != "summary_nl"} == {k: v for k, v in created.items()
                                                                       if k != "summary_nl"}
    # the voice note stored after the referral is in its summary (issue 8), with its media id
    assert "Spraakberichten van de ouder" in first["summary_nl"] and "media-id media-1" in first["summary_nl"]
    assert first["route_queue"] == "Utrecht"
    assert [n["text"] for n in first["notes"]] == ["Gebeld met tolk Arabisch."]
    assert datetime.fromisoformat(first["notes"][0]["at"]).utcoffset() == timedelta(0)
    assert first["outbox"] and all(list(m) == ["kind", "status", "attempts", "created_at", "sent_at"]
                                   for m in first["outbox"])
    assert {m["status"] for m in first["outbox"]} == {"pending"}
    assert data["referrals"][1]["notes"] == []
    assert [list(m) for m in data["held_messages"]] == [["channel", "created_at"]]
    assert data["channel_messages"] == [{"channel": "whatsapp", "kind": "voice_note",
                                         "received_at": data["channel_messages"][0]["received_at"]}]
    # never payloads, recipients, keys or another parent's data; media ids only in the summaries
    assert "media-1" not in json.dumps(data["channel_messages"])
    assert "media-1" not in json.dumps([{k: v for k, v in r.items() if k != "summary_nl"} for r in data["referrals"]])
    for absent in ("payload", "idempotency", "@example.org", "+31612345678",
                   parent["other"], parent["theirs"].reference, "Notitie van een ander gesprek"):
        assert absent not in text
    assert access_log(env) == [("admin.avg", "export", r.id) for r in parent["mine"]]


def test_export_of_an_unknown_conversation_is_empty_and_logged(env, capsys) -> None:
    assert cli.main(["referrals", "export", "--conversation", "nobody"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert (data["referrals"], data["spooled_referrals"], data["held_messages"], data["channel_messages"]) == (
        [], [], [], [])
    assert "nothing is stored for this conversation" in captured.err
    assert access_log(env) == [("admin.avg", "export", None)]


# --- erase (GDPR art. 17) -------------------------------------------------------------


def test_erase_leaves_nothing_of_the_conversation_and_keeps_others(parent, env, capsys) -> None:
    factory = factory_for(env)
    other_before = service.conversation_counts(factory, parent["other"])
    before = service.conversation_counts(factory, parent["conversation"])
    assert before["outbox"] >= 2
    assert before == {"referrals": 2, "notes": 1, "outbox": before["outbox"], "held_messages": 1,
                      "channel_messages": 1}
    ids = [r.id for r in parent["mine"]]

    assert cli.main(["referrals", "erase", "--conversation", parent["conversation"], "--yes"]) == 0
    out = capsys.readouterr().out
    assert "  referrals: 2" in out and "  staff notes: 1" in out and "  held WhatsApp messages: 1" in out
    assert "  spooled referrals (spool files): 0" in out
    assert "  conversation events (Rasa tracker store): 0" in out  # no events table in this database

    assert service.conversation_counts(factory, parent["conversation"]) == dict.fromkeys(other_before, 0)
    with factory() as session:
        assert session.query(Referral).filter(Referral.id.in_(ids)).count() == 0
        assert session.query(ReferralNote).filter(ReferralNote.referral_id.in_(ids)).count() == 0
        assert session.query(OutboxMessage).filter(OutboxMessage.referral_id.in_(ids)).count() == 0
    assert service.conversation_counts(factory, parent["other"]) == other_before
    assert access_log(env) == [("admin.avg", "erase", i) for i in ids]

    # a second erase finds nothing, and is logged too
    assert cli.main(["referrals", "erase", "--conversation", parent["conversation"], "--yes"]) == 0
    assert "  referrals: 0" in capsys.readouterr().out
    assert access_log(env)[-1] == ("admin.avg", "erase", None)


def test_erase_without_yes_off_a_terminal_erases_nothing(parent, env, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal: the answer is not read
    assert cli.main(["referrals", "erase", "--conversation", parent["conversation"]]) == 1
    captured = capsys.readouterr()
    assert "  referrals: 2" in captured.out and "nothing erased" in captured.err
    assert service.conversation_counts(factory_for(env), parent["conversation"])["referrals"] == 2
    assert access_log(env) == []


@pytest.mark.parametrize("answer, erased", [("ja", True), ("n", False)])
def test_erase_asks_on_a_terminal(parent, env, monkeypatch, capsys, answer, erased) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: answer)
    code = cli.main(["referrals", "erase", "--conversation", parent["conversation"]])
    assert code == (0 if erased else 1)
    capsys.readouterr()
    left = service.conversation_counts(factory_for(env), parent["conversation"])["referrals"]
    assert left == (0 if erased else 2)
    assert [a for _, a, _ in access_log(env)] == (["erase", "erase"] if erased else [])


def test_export_and_erase_are_wired() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["referrals", "export", "--conversation", "c"]).func.__name__ == "cmd_export"
    args = parser.parse_args(["referrals", "erase", "--conversation", "c", "--yes"])
    assert args.func.__name__ == "cmd_erase" and args.yes is True
    with pytest.raises(SystemExit):
        parser.parse_args(["referrals", "erase"])  # --conversation is required


# --- the spool and the tracker store (export lists, erase deletes) -------------------


def spool_files(spool_dir: Path, conversation: str, other: str, make_referral_in) -> dict[str, list[Path]]:
    """For ``conversation``: a normal referral waiting, an urgent one waiting and one in
    ``bad/`` (valid JSON naming the parent, as a drain that gave up would leave it); one
    waiting for ``other``."""
    earlier = datetime.now(timezone.utc) - timedelta(minutes=10)
    mine = [
        spool.write(spool_dir, make_referral_in(conversation_id=conversation, urgency="normal", urgency_reason=None,
                                                concern_text=[{"text": "Mijn dochter slaapt slecht", "lang": "nl"}]),
                    now=earlier),
        spool.write(spool_dir, make_referral_in(conversation_id=conversation), join=["WW-7KQ3MX"],
                    now=earlier + timedelta(minutes=1)),
    ]
    broken = spool.write(spool_dir, make_referral_in(conversation_id=conversation, urgency="normal",
                                                     urgency_reason=None), now=earlier + timedelta(minutes=2))
    record = json.loads(broken.read_text(encoding="utf-8"))
    record["referral"]["person_type"] = "nobody"  # no longer a valid referral
    (spool_dir / spool.BAD_DIR).mkdir(mode=0o700)
    bad = spool_dir / spool.BAD_DIR / broken.name
    bad.write_text(json.dumps(record), encoding="utf-8")
    broken.unlink()
    theirs = [spool.write(spool_dir, make_referral_in(conversation_id=other), now=earlier)]
    return {"mine": [*mine, bad], "theirs": theirs}


def test_export_lists_the_spooled_referrals_of_the_conversation(parent, env, spool_dir, make_referral_in,
                                                                capsys) -> None:
    files = spool_files(spool_dir, parent["conversation"], parent["other"], make_referral_in)
    assert cli.main(["referrals", "export", "--conversation", parent["conversation"]]) == 0
    text = capsys.readouterr().out
    spooled = json.loads(text)["spooled_referrals"]
    assert [(s["kind"], s["state"]) for s in spooled] == [("normal", "waiting"), ("urgent", "waiting"),
                                                          ("normal", "bad")]
    assert all(list(s) == ["kind", "spooled_at", "state", "referral"] for s in spooled)
    assert all(datetime.fromisoformat(s["spooled_at"]).utcoffset() == timedelta(0) for s in spooled[:2])
    first = spooled[0]["referral"]
    # what the parent said, in the fields of ReferralIn: the parent's own data
    assert first["conversation_id"] == parent["conversation"]
    assert first["concern_text"] == [{"text": "Mijn dochter slaapt slecht", "lang": "nl"}]
    assert set(first) == set(service.ReferralIn.__fields__)
    assert spooled[1]["referral"]["urgency_reason"] == "child_abuse"
    assert spooled[2]["referral"]["person_type"] == "nobody"  # a bad file: as the file holds it
    # not the other parent's spooled referral, not the files' names, ids or joined references
    assert parent["other"] not in text and "WW-7KQ3MX" not in text
    assert all(spool.file_id(p) not in text for p in files["mine"] + files["theirs"])
    assert len(spool.pending_files(spool_dir)) == 3  # export deletes nothing


def test_export_of_only_spooled_referrals_is_not_empty(env, spool_dir, make_referral_in, capsys) -> None:
    spool.write(spool_dir, make_referral_in(conversation_id="only-spooled"))
    assert cli.main(["referrals", "export", "--conversation", "only-spooled"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["spooled_referrals"]) == 1
    assert "nothing is stored" not in captured.err


def tracker_store_with(url: str, *senders: str) -> WegwijsSQLTrackerStore:
    """Rasa's ``events`` table at ``url``, written by the project's tracker store: three
    events per sender."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = WegwijsSQLTrackerStore(domain=Domain.empty(), host=url)
    for sender_id in senders:
        tracker = DialogueStateTracker(sender_id, [])
        for event in (SessionStarted(), ActionExecuted("action_listen"),
                      UserUttered("mijn zoon wil niet naar school", {"name": "inform", "confidence": 1.0})):
            tracker.update(event)
        asyncio.run(store.save(tracker))
    return store


def events_of(store: WegwijsSQLTrackerStore, sender_id: str) -> int:
    with store.session_scope() as session:
        return session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender_id).count()


def test_erase_removes_spool_files_and_tracker_events_of_that_sender_only(
        parent, env, spool_dir, tmp_path, make_referral_in, monkeypatch, capsys) -> None:
    conversation, other = parent["conversation"], parent["other"]
    files = spool_files(spool_dir, conversation, other, make_referral_in)
    tracker_url = f"sqlite:///{tmp_path / 'var' / 'tracker.db'}"
    monkeypatch.setenv("WEGWIJS_TRACKER_DB_URL", tracker_url)
    store = tracker_store_with(tracker_url, conversation, other)
    try:
        assert events_of(store, conversation) == 3 and events_of(store, other) == 3

        assert cli.main(["referrals", "erase", "--conversation", conversation, "--yes"]) == 0
        out = capsys.readouterr().out
        assert "  referrals: 2" in out
        assert "  spooled referrals (spool files): 3" in out  # the one in bad/ too
        assert "  conversation events (Rasa tracker store): 3" in out

        assert not any(p.exists() for p in files["mine"])
        assert all(p.exists() for p in files["theirs"])  # the other parent's referral is still stored later
        assert events_of(store, conversation) == 0
        assert events_of(store, other) == 3
        assert service.conversation_counts(factory_for(env), conversation)["referrals"] == 0
        assert service.conversation_counts(factory_for(env), other)["referrals"] == 1

        assert cli.main(["referrals", "export", "--conversation", conversation]) == 0
        captured = capsys.readouterr()
        assert json.loads(captured.out)["spooled_referrals"] == []
        assert "nothing is stored" in captured.err

        # a second erase finds nothing anywhere
        assert cli.main(["referrals", "erase", "--conversation", conversation, "--yes"]) == 0
        out = capsys.readouterr().out
        assert "  spooled referrals (spool files): 0" in out
        assert "  conversation events (Rasa tracker store): 0" in out
    finally:
        store.engine.dispose()


def test_erase_prompt_counts_spool_files_and_events(parent, env, spool_dir, tmp_path, make_referral_in,
                                                    monkeypatch, capsys) -> None:
    spool_files(spool_dir, parent["conversation"], parent["other"], make_referral_in)
    tracker_url = f"sqlite:///{tmp_path / 'var' / 'tracker.db'}"
    monkeypatch.setenv("WEGWIJS_TRACKER_DB_URL", tracker_url)
    store = tracker_store_with(tracker_url, parent["conversation"])
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nothing erased
        assert cli.main(["referrals", "erase", "--conversation", parent["conversation"]]) == 1
        out = capsys.readouterr().out
        assert "  spooled referrals (spool files): 3" in out
        assert "  conversation events (Rasa tracker store): 3" in out
        assert events_of(store, parent["conversation"]) == 3
        assert len(spool.pending_files(spool_dir)) == 3
    finally:
        store.engine.dispose()


def test_erase_with_the_tracker_store_down_erases_the_rest_and_exits_2(
        parent, env, spool_dir, make_referral_in, monkeypatch, capsys) -> None:
    files = spool_files(spool_dir, parent["conversation"], parent["other"], make_referral_in)
    monkeypatch.setenv("WEGWIJS_TRACKER_DB_URL", "postgresql://nobody:secret@127.0.0.1:1/rasa")
    assert cli.main(["referrals", "erase", "--conversation", parent["conversation"], "--yes"]) == 2
    captured = capsys.readouterr()
    assert "  referrals: 2" in captured.out and "  spooled referrals (spool files): 3" in captured.out
    assert "  conversation events (Rasa tracker store): NOT erased" in captured.out
    assert "cannot reach database" in captured.err and "run the erase again" in captured.err
    assert "secret" not in captured.err
    assert not any(p.exists() for p in files["mine"])
    assert service.conversation_counts(factory_for(env), parent["conversation"])["referrals"] == 0


def test_delete_my_data_and_erase_share_one_deletion(env, spool_dir, make_referral_in) -> None:
    """``handoff.delete_conversation_data`` (the action) deletes spool files and referrals
    through ``service.delete_conversation_data``, as erase does."""
    factory = factory_for(env)
    service.create_referral(factory, make_referral_in(conversation_id="forget-me"))
    path = spool.write(spool_dir, make_referral_in(conversation_id="forget-me"))
    kept = spool.write(spool_dir, make_referral_in(conversation_id="someone-else"))
    assert handoff.delete_conversation_data("forget-me") == 2
    assert not path.exists() and kept.exists()
    assert service.delete_conversation_data(factory, "forget-me", spool_dir=spool_dir) == {"spooled": 0,
                                                                                           "referrals": 0}
