"""End to end: ``wegwijs.serve.start`` with the inbox; a Tigrinya parent's urgent message
makes a referral, and a national admin reads it, with the transcript from Rasa's real
tracker store, in the inbox."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
import requests

from tests.wegwijs.inbox.conftest import Client
from wegwijs import bootstrap
from wegwijs.build import RASA_MODEL
from wegwijs.db.migrate import upgrade
from wegwijs.inbox import auth
from wegwijs.serve import free_port, running
from wegwijs.settings import Settings

pytestmark = pytest.mark.e2e

URGENT_TI = "ሰብኣየይ ብሓይሊ ይወቕዓኒ ኣሎ ሓገዝ"


def _chat(url: str, sender: str, message: str) -> list:
    req = urllib.request.Request(f"{url}/webhooks/rest/webhook", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"sender": sender, "message": message}).encode())
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def test_serve_starts_the_inbox_and_it_shows_the_real_conversation(tmp_path) -> None:
    assert RASA_MODEL.is_file(), "no Rasa model: run scripts/install.sh"
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", tracker_db_url=f"sqlite:///{tmp_path / 't.db'}")
    upgrade(settings.database_url)
    factory = bootstrap.get_session_factory(settings)
    auth.add_user(factory, username="beheer", password="wachtwoord-beheer-123", role="admin")
    env = {"WEGWIJS_DATABASE_URL": settings.database_url, "WEGWIJS_TRACKER_DB_URL": settings.tracker_db_url}
    inbox_port = free_port()
    with running(settings=settings, rasa_port=free_port(), action_port=free_port(), extra_env=env,
                 inbox_port=inbox_port) as s:
        assert s.inbox_url == f"http://127.0.0.1:{inbox_port}/"
        assert requests.get(s.inbox_url, allow_redirects=False, timeout=10).status_code == 303
        sender = f"e2e-inbox-{s.rasa_port}"
        _chat(s.rasa_url, sender, "ሰላም ከመይ ኣለኹም ሕቶ ኣለኒ")
        replies = _chat(s.rasa_url, sender, URGENT_TI)
        assert "112" in "\n".join(r.get("text", "") for r in replies)
        client = Client(s.inbox_url.rstrip("/"))
        assert client.login("beheer", "wachtwoord-beheer-123").status_code == 303
        page = client.get("/").text
        references = re.findall(r'data-reference="(WW-[A-Z0-9]+)"', page)
        assert len(references) == 1 and "urgent" in page
        detail = client.get(f"/referrals/{references[0]}").text
        assert re.search(r'<p lang="ti" dir="ltr">' + URGENT_TI + "</p>", detail), "the parent's words, from Rasa"
        assert "Ouder — eigen woorden, Tigrinya" in detail
        assert detail.count('class="msg bot"') >= 1
    bootstrap.reset()
