"""Rasa SQL tracker store that honours "delete my data", plus a retention purge.

Use it from ``endpoints.yml``::

    tracker_store:
      type: integrations.tracker_store.WegwijsSQLTrackerStore
      url: ${WEGWIJS_TRACKER_DB_URL}    # full SQLAlchemy URL, e.g. postgresql://user:pw@db/rasa
      # or the usual SQLTrackerStore keys: dialect, url (host), port, db, username,
      # password, login_db, query. With neither url nor db, the URL comes from
      # wegwijs settings (WEGWIJS_TRACKER_DB_URL, default sqlite:///<repo>/var/tracker.db).

Why a subclass: ``SQLTrackerStore.save`` appends only the events beyond the number
already stored for the session, so rows deleted by a custom action would simply be
written again (or the wrong events skipped) on the next save. Here, when the tracker
being saved contains an ``ActionExecuted`` for ``action_delete_my_data``, every stored
row of that ``sender_id`` (all sessions) is deleted and nothing of that tracker is
stored: zero rows remain for the sender (issue 10; the delete action, the bot's
confirmation and the kept language slot used to stay as 4-6 rows). Rasa fetches the
tracker from the store on every message, so the parent's next message starts a new
conversation (welcome, language detected again). Saving the same in-memory tracker
twice deletes nothing more and stores nothing.

Outside Rasa: :func:`purge_tracker_events` (retention, ``wegwijs purge``) and
:func:`delete_tracker_events` (one sender's events, ``wegwijs referrals erase``) work on
the same ``events`` table with plain SQLAlchemy.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

#: The custom action that deletes the parent's data (docs/design.md).
ACTION_DELETE_MY_DATA = "action_delete_my_data"


def _pseudonym(sender_id: str) -> str:
    """A keyed hash for logs (:func:`wegwijs.security.redact.pseudonym`): sender ids can
    be phone numbers (BRIEF 8), and an unkeyed hash of a phone number can be reversed by
    trying all numbers."""
    from wegwijs.security.redact import pseudonym

    return pseudonym(sender_id)


def _ensure_sqlite_folder(url: Any) -> None:
    try:
        parsed = make_url(str(url)) if not isinstance(url, sa.engine.URL) else url
    except sa.exc.ArgumentError:
        return
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


class WegwijsSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose ``save`` applies ``action_delete_my_data``."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        dialect: Text = "sqlite",
        host: Optional[Text] = None,
        port: Optional[int] = None,
        db: Optional[Text] = None,
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        login_db: Optional[Text] = None,
        query: Optional[Dict] = None,
        delete_action: Text = ACTION_DELETE_MY_DATA,
        **kwargs: Dict[Text, Any],
    ) -> None:
        """Create the store; the arguments are those of ``SQLTrackerStore``.

        Rasa calls this as ``cls(host=<url>, domain=..., event_broker=..., **kwargs)``
        with the keys of ``endpoints.yml``. ``host`` may be a full SQLAlchemy URL.
        When neither ``host`` nor ``db`` is given, ``WEGWIJS_TRACKER_DB_URL`` is taken
        through the composition root (``wegwijs.bootstrap.get_settings()``), since Rasa,
        not our code, builds this object.

        Args:
            delete_action: name of the action that deletes the parent's data.
        """
        if host is None and db is None:
            from wegwijs.bootstrap import get_settings

            host = get_settings().tracker_db_url
        db = db or "rasa.db"
        _ensure_sqlite_folder(
            self.get_db_url(dialect, host, port, db, username, password, login_db, query)
        )
        self.delete_action = delete_action
        super().__init__(
            domain=domain,
            dialect=dialect,
            host=host,
            port=port,
            db=db,
            username=username,
            password=password,
            event_broker=event_broker,
            login_db=login_db,
            query=query,
            **kwargs,
        )

    def _last_delete_index(self, events: List[Event]) -> Optional[int]:
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            if isinstance(event, ActionExecuted) and event.action_name == self.delete_action:
                return index
        return None

    def _events_to_store(self, session: Any, tracker: DialogueStateTracker) -> List[Event]:
        """Events to append; deletes the sender's rows first when a new delete action is seen."""
        events = list(tracker.events)
        delete_index = self._last_delete_index(events)
        if delete_index is None:
            return list(self._additional_events(session, tracker))

        deleted = session.query(self.SQLEvent).filter(
            self.SQLEvent.sender_id == tracker.sender_id
        ).delete(synchronize_session=False)
        logger.info(
            "tracker_store.delete_my_data conversation=%s deleted_rows=%d",
            _pseudonym(tracker.sender_id),
            deleted,
        )
        return []

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store new events; apply ``action_delete_my_data`` (see module docstring)."""
        await self.stream_events(tracker)

        with self.session_scope() as session:
            for event in self._events_to_store(session, tracker):
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()

        logger.debug(
            "tracker_store.saved conversation=%s", _pseudonym(tracker.sender_id)
        )


def purge_tracker_events(url: str, cutoff: datetime, *, dry_run: bool = False) -> int:
    """Delete Rasa tracker events older than ``cutoff`` from the store at ``url``.

    Events are compared by their own timestamp, so long conversations lose their
    oldest part first. A SQLite file or ``events`` table that does not exist holds
    nothing to purge (0, and no file is created).

    Args:
        url: SQLAlchemy URL of the tracker store.
        cutoff: aware datetime (a naive one is taken as UTC).
        dry_run: only count.

    Returns:
        The number of events deleted (or that would be deleted).
    """
    if cutoff.tzinfo is None:
        cutoff = cutoff.replace(tzinfo=timezone.utc)
    events = SQLTrackerStore.SQLEvent.__table__
    return _delete_events(url, events.c.timestamp < cutoff.timestamp(), dry_run=dry_run)


def delete_tracker_events(url: str, sender_id: str, *, dry_run: bool = False) -> int:
    """Delete every Rasa tracker event of one conversation (``sender_id``, all its
    sessions) from the store at ``url``: the admin erasure of ``wegwijs referrals erase``.

    Only that sender's rows of the ``events`` table are touched. A SQLite file or
    ``events`` table that does not exist holds nothing (0, and no file is created).
    Rasa reads the tracker from the store on every message, so the sender's next message
    starts a new conversation; a message being handled at this very moment may still
    save its tracker afterwards (as with any delete from outside Rasa).

    Args:
        url: SQLAlchemy URL of the tracker store.
        sender_id: the conversation's Rasa sender id (exact match).
        dry_run: only count.

    Returns:
        The number of events deleted (or that would be deleted).
    """
    events = SQLTrackerStore.SQLEvent.__table__
    return _delete_events(url, events.c.sender_id == sender_id, dry_run=dry_run)


def _delete_events(url: str, condition: Any, *, dry_run: bool) -> int:
    """Delete (or, ``dry_run``, count) the rows of Rasa's ``events`` table at ``url`` that
    match ``condition``; 0 when there is no such SQLite file or table."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or not Path(database).expanduser().is_file():
            return 0

    engine = sa.create_engine(url, future=True)
    events = SQLTrackerStore.SQLEvent.__table__
    try:
        with engine.begin() as connection:
            if not sa.inspect(connection).has_table(events.name):
                return 0
            if dry_run:
                count = connection.execute(
                    sa.select(sa.func.count()).select_from(events).where(condition)
                ).scalar_one()
                return int(count)
            result = connection.execute(sa.delete(events).where(condition))
            return int(result.rowcount or 0)
    finally:
        engine.dispose()
