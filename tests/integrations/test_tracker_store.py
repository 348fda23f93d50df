"""WegwijsSQLTrackerStore ("delete my data"), purge_tracker_events and delete_tracker_events,
on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    AllSlotsReset,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from integrations.tracker_store import (
    ACTION_DELETE_MY_DATA,
    WegwijsSQLTrackerStore,
    delete_tracker_events,
    purge_tracker_events,
)

DOMAIN_YAML = """
version: "3.1"
intents: [greet, delete_my_data, inform]
slots:
  municipality: {type: text, mappings: [{type: custom}]}
  language: {type: text, mappings: [{type: custom}]}
responses:
  utter_data_deleted: [{text: "deleted"}]
"""


@functools.lru_cache(maxsize=1)
def domain() -> Domain:
    """A tiny domain, parsed on first use (not at import)."""
    return Domain.from_yaml(DOMAIN_YAML)


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'tracker.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(tracker_url: str) -> Iterator[WegwijsSQLTrackerStore]:
    store = WegwijsSQLTrackerStore(domain=domain(), host=tracker_url)
    yield store
    store.engine.dispose()


def sender() -> str:
    return f"test-{uuid.uuid4().hex}"


def _clock() -> Iterator[float]:
    start = time.time()
    step = 0
    while True:
        step += 1
        yield start + step * 0.001


def user(text: str, at: float) -> UserUttered:
    return UserUttered(text, {"name": "inform", "confidence": 1.0}, timestamp=at)


def conversation(sender_id: str, clock: Iterator[float]) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender_id, domain().slots)
    # As in Rasa: the action's SessionStarted is created before the ActionExecuted
    # that logs the action, so it has the earlier timestamp.
    session_started, session_action = next(clock), next(clock)
    for event in [
        ActionExecuted("action_session_start", timestamp=session_action),
        SessionStarted(timestamp=session_started),
        ActionExecuted("action_listen", timestamp=next(clock)),
        user("hallo, mijn zoon is 12", next(clock)),
        SlotSet("municipality", "Utrecht", timestamp=next(clock)),
        SlotSet("language", "nl", timestamp=next(clock)),
        ActionExecuted("action_listen", timestamp=next(clock)),
        user("ik woon in Utrecht", next(clock)),
    ]:
        tracker.update(event)
    return tracker


def delete_my_data(tracker: DialogueStateTracker, clock: Iterator[float]) -> None:
    for event in [
        ActionExecuted("action_listen", timestamp=next(clock)),
        user("verwijder", next(clock)),
        ActionExecuted(ACTION_DELETE_MY_DATA, timestamp=next(clock)),
        BotUttered("deleted", timestamp=next(clock)),
        AllSlotsReset(timestamp=next(clock)),
        SlotSet("language", "nl", timestamp=next(clock)),
    ]:
        tracker.update(event)


def texts(tracker: DialogueStateTracker | None) -> list[str]:
    assert tracker is not None
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


def stored_rows(store: WegwijsSQLTrackerStore, sender_id: str) -> int:
    with store.session_scope() as session:
        return session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender_id).count()


@pytest.mark.asyncio
async def test_plain_saves_behave_like_sql_tracker_store(store) -> None:
    clock, sender_id = _clock(), sender()
    tracker = conversation(sender_id, clock)
    await store.save(tracker)
    await store.save(tracker)  # saving twice adds nothing
    assert stored_rows(store, sender_id) == len(tracker.events)
    retrieved = await store.retrieve(sender_id)
    assert texts(retrieved) == ["hallo, mijn zoon is 12", "ik woon in Utrecht"]
    assert retrieved.get_slot("municipality") == "Utrecht"


@pytest.mark.asyncio
async def test_delete_my_data_removes_earlier_events(store) -> None:
    clock, sender_id, bystander = _clock(), sender(), sender()
    tracker = conversation(sender_id, clock)
    await store.save(tracker)
    await store.save(conversation(bystander, _clock()))

    retrieved = await store.retrieve(sender_id)
    delete_my_data(retrieved, clock)
    await store.save(retrieved)

    assert await store.retrieve(sender_id) is None  # nothing of the conversation is left
    assert stored_rows(store, sender_id) == 0  # not even the delete action stays
    # other conversations are untouched
    assert texts(await store.retrieve(bystander)) == ["hallo, mijn zoon is 12", "ik woon in Utrecht"]


@pytest.mark.asyncio
async def test_saving_the_same_tracker_again_does_not_resurrect_events(store) -> None:
    clock, sender_id = _clock(), sender()
    tracker = conversation(sender_id, clock)
    await store.save(tracker)
    delete_my_data(tracker, clock)
    await store.save(tracker)
    await store.save(tracker)  # Rasa may save the same in-memory tracker twice
    assert stored_rows(store, sender_id) == 0

    tracker.update(ActionExecuted("action_listen", timestamp=next(clock)))
    await store.save(tracker)
    assert stored_rows(store, sender_id) == 0
    assert await store.retrieve(sender_id) is None


@pytest.mark.asyncio
async def test_conversation_continues_after_deletion(store) -> None:
    clock, sender_id = _clock(), sender()
    tracker = conversation(sender_id, clock)
    await store.save(tracker)
    delete_my_data(tracker, clock)
    await store.save(tracker)

    assert await store.retrieve(sender_id) is None
    later = DialogueStateTracker(sender_id, domain().slots)  # what Rasa creates for the next message
    later.update(ActionExecuted("action_listen", timestamp=next(clock)))
    later.update(user("nieuwe vraag", next(clock)))
    await store.save(later)
    assert texts(await store.retrieve(sender_id)) == ["nieuwe vraag"]

    # a second "delete" later in the same conversation deletes again
    again = await store.retrieve(sender_id)
    delete_my_data(again, clock)
    await store.save(again)
    assert await store.retrieve(sender_id) is None
    assert stored_rows(store, sender_id) == 0


def test_rasa_builds_it_from_endpoint_config(tracker_url: str) -> None:
    endpoint = EndpointConfig(
        type="integrations.tracker_store.WegwijsSQLTrackerStore", url=tracker_url
    )
    store = TrackerStore.create(endpoint, domain=domain())
    try:
        assert isinstance(store, WegwijsSQLTrackerStore)  # async methods: not wrapped
        assert store.domain is domain()
        assert str(store.engine.url.database) in tracker_url
    finally:
        store.engine.dispose()


def test_endpoint_keys_dialect_and_db(tmp_path: Path) -> None:
    """endpoints.yml with SQLTrackerStore-style keys instead of a URL."""
    path = tmp_path / "sub" / "rasa.db"
    endpoint = EndpointConfig(
        type="integrations.tracker_store.WegwijsSQLTrackerStore",
        dialect="sqlite",
        db=str(path),
        delete_action="action_forget_me",
    )
    store = TrackerStore.create(endpoint, domain=domain())
    try:
        assert store.delete_action == "action_forget_me"
        assert path.is_file()
    finally:
        store.engine.dispose()


def test_default_url_comes_from_settings(tmp_path: Path) -> None:
    from wegwijs import bootstrap
    from wegwijs.settings import Settings

    url = f"sqlite:///{tmp_path / 'from-settings' / 'tracker.db'}"
    bootstrap.bootstrap(overrides={"settings": Settings(tracker_db_url=url)})
    try:
        store = WegwijsSQLTrackerStore(domain=domain())
        store.engine.dispose()
    finally:
        bootstrap.reset()
    assert (tmp_path / "from-settings" / "tracker.db").is_file()


@pytest.mark.asyncio
async def test_purge_tracker_events(store, tracker_url: str) -> None:
    now = datetime.now(timezone.utc)
    sender_id = sender()
    old = (now - timedelta(days=400)).timestamp()
    tracker = DialogueStateTracker(sender_id, domain().slots)
    for event in [
        SessionStarted(timestamp=old),
        user("heel oud", old + 1),
        user("recent", now.timestamp()),
    ]:
        tracker.update(event)
    await store.save(tracker)

    cutoff = now - timedelta(days=365)
    mine = sa.text("SELECT count(*) FROM events WHERE sender_id = :s")

    def count() -> int:
        with store.engine.connect() as connection:
            return connection.execute(mine, {"s": sender_id}).scalar()

    assert purge_tracker_events(tracker_url, cutoff, dry_run=True) >= 2
    assert count() == 3
    assert purge_tracker_events(tracker_url, cutoff) >= 2
    assert count() == 1
    assert texts(await store.retrieve(sender_id)) == ["recent"]
    assert purge_tracker_events(tracker_url, cutoff.replace(tzinfo=None)) == 0


def test_purge_without_store_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none" / "tracker.db"
    assert purge_tracker_events(f"sqlite:///{path}", datetime.now(timezone.utc)) == 0
    assert not path.exists()
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    assert purge_tracker_events(f"sqlite:///{empty}", datetime.now(timezone.utc)) == 0


@pytest.mark.asyncio
async def test_delete_tracker_events_of_one_sender(store, tracker_url: str) -> None:
    """``wegwijs referrals erase``: every event of the sender (all sessions), no other's."""
    clock, sender_id, bystander = _clock(), sender(), sender()
    tracker = conversation(sender_id, clock)
    await store.save(tracker)
    await store.save(conversation(bystander, _clock()))
    assert delete_tracker_events(tracker_url, sender_id, dry_run=True) == len(tracker.events)
    assert stored_rows(store, sender_id) == len(tracker.events)
    assert delete_tracker_events(tracker_url, sender_id) == len(tracker.events)
    assert stored_rows(store, sender_id) == 0
    assert await store.retrieve(sender_id) is None
    assert texts(await store.retrieve(bystander)) == ["hallo, mijn zoon is 12", "ik woon in Utrecht"]
    assert delete_tracker_events(tracker_url, sender_id) == 0


def test_delete_tracker_events_without_store_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none" / "tracker.db"
    assert delete_tracker_events(f"sqlite:///{path}", "someone") == 0
    assert not path.exists()
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    assert delete_tracker_events(f"sqlite:///{empty}", "someone", dry_run=True) == 0
