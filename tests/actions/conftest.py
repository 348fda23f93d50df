"""Fixtures for action tests: tracker builder and a migrated SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker

from wegwijs import bootstrap
from wegwijs.db.migrate import upgrade
from wegwijs.settings import Settings


def make_tracker(
    text: str = "",
    intent: str = "greet",
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    language: dict[str, Any] | None = None,
    safety: dict[str, Any] | None = None,
    sender_id: str = "parent-1",
    confidence: float = 0.9,
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Tracker:
    """A rasa-sdk tracker whose latest message is ``text`` classified as ``intent``
    (``extra``: more output properties of the message, e.g. ``home_check``)."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "language": language or {"code": "en", "confidence": 0.9},
        "safety": safety,
        **(extra or {}),
    }
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": {"language": "en", **(slots or {})},
            "latest_message": latest,
            "events": events or [],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action_name": "action_listen",
        }
    )


@pytest.fixture
def db(tmp_path: Path):
    """A fresh SQLite database at Alembic head, injected into the composition root."""
    url = f"sqlite:///{tmp_path / 'wegwijs.db'}"
    upgrade(url)
    bootstrap.bootstrap({"settings": Settings(database_url=url, tracker_db_url=f"sqlite:///{tmp_path / 't.db'}")})
    yield url
    bootstrap.reset()
