"""No turn loops and no turn is silent, whatever the parent sends in whichever state.

A new-user test once saw ten "sorry" messages in one turn, Rasa's circuit breaker, then
empty replies: asking for a person a second time during the contact questions matched no
rule after the form rejected itself, and RulePolicy's core fallback was predicted again
and again. Here every intent (sent as ``/intent``, so the test is about the dialogue, not
the classifier) is tried in the states where the forms are open, on the real model.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest

from wegwijs import bootstrap
from wegwijs.build import RASA_MODEL
from wegwijs.serve import free_port, running
from wegwijs.settings import Settings

pytestmark = pytest.mark.e2e

STATES = {
    "intake: gemeente asked": ["hallo ik heb een vraag over school", "/affirm", "8 en 12"],
    "contact: person asked": ["hallo ik heb een vraag over school", "/affirm", "8 en 12", "Utrecht",
                              "ik wil met iemand praten"],
    "contact: channel asked": ["hallo ik heb een vraag over school", "/affirm", "8 en 12", "Utrecht",
                               "ik wil met iemand praten", "klantmanager"],
    "contact after a refusal: consent asked": ["hallo, mijn zoon is 14", "/deny", "ik wil met iemand praten",
                                               "klantmanager"],
}
INTENTS = ["greet", "goodbye", "thanks", "affirm", "deny", "request_human", "change_language", "bot_challenge",
           "inform", "out_of_scope", "topic_school", "topic_child_removal_fear", "nlu_fallback", "delete_my_data",
           "ask_my_data"]
#: more actions than this in one turn means a loop (the longest real turn has about 6)
MAX_ACTIONS = 8


def _http(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    assert RASA_MODEL.is_file(), "no Rasa model: run scripts/install.sh"
    tmp = tmp_path_factory.mktemp("loops")
    settings = Settings(database_url=f"sqlite:///{tmp / 'w.db'}", tracker_db_url=f"sqlite:///{tmp / 't.db'}")
    # no upgrade() here: `wegwijs serve` must migrate a database it was only told about
    env = {"WEGWIJS_DATABASE_URL": settings.database_url, "WEGWIJS_TRACKER_DB_URL": settings.tracker_db_url}
    with running(settings=settings, rasa_port=free_port(), action_port=free_port(), extra_env=env) as s:
        bootstrap.bootstrap({"settings": settings})
        yield s
        bootstrap.reset()


@pytest.mark.parametrize("state", list(STATES))
def test_no_intent_loops_or_goes_silent(servers, state: str) -> None:
    problems = []
    for intent in INTENTS:
        sender = f"loop-{uuid.uuid4().hex[:10]}"
        for message in STATES[state]:
            _http("POST", f"{servers.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": message})
        tracker_url = servers.api_url(f"/conversations/{sender}/tracker", include_events="ALL")
        before = len(_http("GET", tracker_url)["events"])
        replies = _http("POST", f"{servers.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": f"/{intent}"})
        events = _http("GET", tracker_url)["events"][before:]
        actions = [e["name"] for e in events if e["event"] == "action"]
        if len(actions) > MAX_ACTIONS or actions.count("action_fallback") > 1 or not replies:
            problems.append((intent, len(replies), actions))
    assert problems == [], problems


def test_serve_migrates_a_new_database(servers) -> None:
    """A new-user test set WEGWIJS_DATABASE_URL to a new file and every referral failed
    ("no such table: referrals"): the servers now bring the schema up themselves."""
    import sqlalchemy as sa

    engine = bootstrap.make_engine(bootstrap.get_settings().database_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"referrals", "outbox", "users"} <= tables
