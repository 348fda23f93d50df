"""Security of the running servers (issue 10), over real HTTP on 127.0.0.1.

One pair of servers (SQLite for referrals and tracker store, secrets in a temporary
file) serves every test here: authentication of Rasa's API and of the action server,
CORS, no 5xx on malformed input (hypothesis fuzzing every route), no personal data in
the log files, "delete my data" leaves zero rows for the sender.
"""

from __future__ import annotations

import json
import re
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from wegwijs.build import RASA_MODEL
from wegwijs.db.migrate import upgrade
from wegwijs.serve import VAR, free_port, running
from wegwijs.settings import Settings

pytestmark = pytest.mark.e2e

PHONE, EMAIL, NAME, BSN = "0612345678", "fatima.yilmaz@example.nl", "Fatima Yilmaz", "123456782"
SENDER = "+31687654321"  # WhatsApp-like sender ids are phone numbers
RATE_LIMIT = 10  # messages per sender per minute in these servers


def request(method: str, url: str, body: Any = None, headers: Optional[dict] = None) -> tuple[int, dict, bytes]:
    """``(status, headers, body)``; ``body`` bytes are sent as they are, anything else as JSON."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    assert RASA_MODEL.is_file(), "no Rasa model: run scripts/install.sh"
    tmp = tmp_path_factory.mktemp("security")
    settings = Settings(database_url=f"sqlite:///{tmp / 'w.db'}", tracker_db_url=f"sqlite:///{tmp / 't.db'}")
    upgrade(settings.database_url)
    extra = {
        "WEGWIJS_DATABASE_URL": settings.database_url,
        "WEGWIJS_TRACKER_DB_URL": settings.tracker_db_url,
        "WEGWIJS_SECRETS_FILE": str(tmp / "secrets.json"),
        "WEGWIJS_API_TOKEN": "", "WEGWIJS_ACTION_TOKEN": "", "WEGWIJS_LOG_KEY": "",
        "WEGWIJS_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
    }
    with running(settings=settings, rasa_port=free_port(), action_port=free_port(), extra_env=extra) as s:
        yield s, settings, tmp


def test_token_is_generated_into_a_private_file_outside_the_repo(env) -> None:
    s, _, tmp = env
    stored = json.loads((tmp / "secrets.json").read_text())
    assert stored["api_token"] == s.api_token and len(s.api_token) >= 40
    assert stat.S_IMODE((tmp / "secrets.json").stat().st_mode) == 0o600
    assert s.api_token not in (VAR / f"endpoints-{s.rasa_port}.yml").read_text()


@pytest.mark.parametrize("method, path", [
    ("GET", "/status"), ("GET", "/domain"), ("GET", "/conversations/someone/tracker"),
    ("GET", "/conversations/someone/story"), ("POST", "/model/parse"),
])
def test_the_api_needs_the_token(env, method, path) -> None:
    s, _, _ = env
    body = {"text": "hallo"} if method == "POST" else None
    assert request(method, f"{s.rasa_url}{path}", body)[0] == 401
    assert request(method, f"{s.rasa_url}{path}?token=wrong", body)[0] == 401
    # with the token: Rasa answers (a story of a conversation without events is 404)
    assert request(method, s.api_url(path), body)[0] == (404 if path.endswith("/story") else 200)


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/model"), ("PUT", "/model"), ("POST", "/model/train"),
    ("POST", "/conversations/someone/tracker/events"), ("PUT", "/conversations/someone/tracker/events"),
    ("POST", "/conversations/someone/execute"), ("POST", "/conversations/someone/messages"),
])
def test_routes_wegwijs_does_not_use_are_switched_off(env, method, path) -> None:
    s, _, _ = env
    for url in (f"{s.rasa_url}{path}", s.api_url(path)):
        status, _, _ = request(method, url, {"event": "slot", "name": "consent", "value": "yes"})
        assert status in (403, 405), (method, path, status)
    assert request("GET", s.api_url("/status"))[0] == 200  # the model is still loaded


def test_cors_only_for_configured_origins(env) -> None:
    s, _, _ = env
    _, headers, _ = request("GET", f"{s.rasa_url}/version", headers={"Origin": "https://evil.example"})
    assert headers.get("Access-Control-Allow-Origin") not in ("https://evil.example", "*")
    own = f"http://127.0.0.1:{s.rasa_port}"
    _, headers, _ = request("GET", f"{s.rasa_url}/version", headers={"Origin": own})
    assert headers.get("Access-Control-Allow-Origin") == own


def _listening_addresses(port: int) -> set[str]:
    out = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hexport = local.split(":")
        if int(hexport, 16) == port and state == "0A":
            out.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return out


def test_action_server_listens_on_loopback_and_needs_the_token(env) -> None:
    s, _, _ = env
    assert _listening_addresses(s.action_port) == {"127.0.0.1"}
    url = f"http://127.0.0.1:{s.action_port}/webhook"
    forged = {"next_action": "action_delete_my_data", "sender_id": "victim",
              "tracker": {"sender_id": "victim", "slots": {}, "events": [], "latest_message": {}}, "domain": {}}
    assert request("POST", url, forged)[0] == 401
    assert request("POST", url + "?token=guess", forged)[0] == 401
    assert request("GET", f"http://127.0.0.1:{s.action_port}/health")[0] == 200
    # Rasa itself gets through: a conversation runs custom actions (the language menu)
    status, _, body = request("POST", f"{s.rasa_url}/webhooks/rest/webhook", {"sender": "sec-actions", "message": "hello, I have a question"})
    assert status == 200 and json.loads(body), body


# --- fuzzing: no malformed input gets a 5xx -------------------------------------------

ROUTES = [
    ("GET", "/"), ("GET", "/version"), ("GET", "/status"), ("GET", "/domain"),
    ("GET", "/conversations/{id}/tracker"), ("GET", "/conversations/{id}/story"),
    ("POST", "/model/parse"), ("DELETE", "/model"), ("PUT", "/model"), ("POST", "/model/train"),
    ("POST", "/model/test/intents"), ("POST", "/model/predict"),
    ("POST", "/conversations/{id}/tracker/events"), ("POST", "/conversations/{id}/messages"),
    ("POST", "/conversations/{id}/trigger_intent"), ("POST", "/conversations/{id}/predict"),
    ("POST", "/webhooks/rest/webhook"), ("GET", "/webhooks/rest/"), ("GET", "/webhooks/webchat/chat"),
    ("POST", "/webhooks/whatsapp/webhook"), ("GET", "/webhooks/whatsapp/webhook"),
    ("POST", "/webhooks/twilio_whatsapp/webhook"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["text", "message", "sender", "metadata", "message_id", "input_channel", "event", "x"]) | st.text(max_size=10),
        children, max_size=5),
    max_leaves=20,
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.fixed_dictionaries({"text": json_values}).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"sender": json_values, "message": json_values}, optional={"metadata": json_values, "input_channel": json_values}).map(lambda v: json.dumps(v).encode()),
    st.integers(1, 20000).map(lambda n: b"[" * n + b"]" * n),
)
queries = st.dictionaries(
    st.sampled_from(["include_events", "until", "emulation_mode", "all_sessions", "stream", "token", "x"]),
    st.text(max_size=20) | st.sampled_from(["ALL", "NONE", "true", "1e400", "-1", "wit"]),
    max_size=3,
)
conversation_ids = st.text(min_size=1, max_size=200).filter(lambda t: t.strip("/") == t)


@hsettings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(ROUTES), body=bodies, query=queries, cid=conversation_ids, with_token=st.booleans())
def test_no_malformed_input_gets_a_5xx(env, route, body, query, cid, with_token) -> None:
    s, _, _ = env
    method, path = route
    from urllib.parse import urlencode

    q = dict(query)
    if with_token:
        q["token"] = s.api_token
    url = s.rasa_url + path.replace("{id}", quote(cid, safe="")) + ("?" + urlencode(q) if q else "")
    status, _, answer = request(method, url, body if method != "GET" else None)
    assert status < 500, (method, url.replace(s.api_token, "<token>"), body[:200], answer[:300])


def test_big_bodies_get_413(env) -> None:
    s, _, _ = env
    assert request("POST", s.api_url("/model/parse"), {"text": "a" * 2_000_000})[0] == 413
    assert request("POST", s.api_url("/model/parse"), {"text": "a" * 5000})[0] == 400
    assert request("POST", f"{s.rasa_url}/webhooks/rest/webhook", b"[" * 20000 + b"]" * 20000)[0] in (400, 413)


# --- logs and "delete my data" -----------------------------------------------------------

def _rows_for(url: str, needle: str) -> dict[str, int]:
    """Rows of every table whose text columns contain ``needle``, per table."""
    engine = sa.create_engine(url)
    out: dict[str, int] = {}
    try:
        with engine.connect() as c:
            meta = sa.MetaData()
            meta.reflect(bind=c)
            for table in meta.sorted_tables:
                cols = [col for col in table.columns if isinstance(col.type, (sa.String, sa.Text))]
                if cols:
                    cond = sa.or_(*[col.contains(needle) for col in cols])
                    out[table.name] = c.execute(sa.select(sa.func.count()).select_from(table).where(cond)).scalar_one()
    finally:
        engine.dispose()
    return out


def _voice_note_for(settings: Settings, sender: str) -> tuple[list[int], int]:
    """Store a voice note of ``sender`` as the WhatsApp channels do (row and notification in one
    transaction, ``integrations.whatsapp.MessageLog.claim(..., voice_note=True)``) with the
    notifications already sent, so one of its own is queued; return the referral ids and how
    many notifications it queued."""
    from wegwijs import bootstrap
    from wegwijs.db.models import ChannelMessage, OutboxMessage, Referral
    from wegwijs.referrals.voice_notes import on_voice_note_stored
    from wegwijs.routing import load_routing

    factory = bootstrap.get_session_factory(settings)
    with factory.begin() as session:
        ids = list(session.execute(sa.select(Referral.id).where(Referral.conversation_id == sender)).scalars())
        session.execute(sa.update(OutboxMessage).where(OutboxMessage.referral_id.in_(ids))
                        .values(status="sent", attempts=1))
        row = ChannelMessage(message_id="wamid.sec-voice", channel="whatsapp", kind="voice_note",
                             media_id="voice-media-sec", conversation_id=sender)
        session.add(row)
        session.flush()
        return ids, on_voice_note_stored(session=session, row=row, routing=load_routing())


def test_personal_data_never_reaches_the_logs_and_delete_leaves_no_rows(env) -> None:
    s, settings, _ = env
    rest = f"{s.rasa_url}/webhooks/rest/webhook"
    said = f"My name is {NAME}, call me on {PHONE} or mail {EMAIL}, my BSN is {BSN}"
    for message in ["hello, I need help with my son", said, "my husband hits me and the children, help", said]:
        status, _, body = request("POST", rest, {"sender": SENDER, "message": message})
        assert status == 200, body
    # error paths: metadata of the wrong type, a parse request Rasa could not handle, a broken body
    assert request("POST", rest, {"sender": SENDER, "message": said, "metadata": said})[0] == 400
    assert request("POST", s.api_url("/model/parse"), {"text": 5, "x": said})[0] == 400
    assert request("POST", rest, b'{"sender": "' + SENDER.encode() + b'", "message": "' + said.encode() + b'"')[0] == 400
    assert request("GET", s.api_url(f"/conversations/{quote(SENDER)}/tracker"))[0] == 200

    # a voice note in the same conversation (what the WhatsApp channels store; issue 8): listed on the
    # referral and notified through the outbox
    referral_ids, notified = _voice_note_for(settings, SENDER)
    assert notified >= 1 and referral_ids

    before = {**_rows_for(settings.database_url, SENDER), **{f"tracker.{k}": v for k, v in _rows_for(settings.tracker_db_url, SENDER).items()}}
    assert before["referrals"] >= 1 and before["tracker.events"] >= 6, before   # the urgent referral and the conversation
    assert before["channel_messages"] == 1, before
    request("POST", rest, {"sender": SENDER, "message": "delete my data"})
    status, _, body = request("POST", rest, {"sender": SENDER, "message": "/affirm"})
    assert status == 200, body
    after = {**_rows_for(settings.database_url, SENDER), **{f"tracker.{k}": v for k, v in _rows_for(settings.tracker_db_url, SENDER).items()}}
    assert set(after) == set(before) and not any(after.values()), after
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as c:  # the notifications (no sender in them) went with the referrals
            assert c.execute(sa.text("SELECT count(*) FROM outbox WHERE referral_id IN (%s)"
                                     % ",".join(map(str, referral_ids)))).scalar_one() == 0
            assert c.execute(sa.text("SELECT count(*) FROM channel_messages WHERE media_id = 'voice-media-sec'")
                             ).scalar_one() == 0
    finally:
        engine.dispose()

    logs = [VAR / f"rasa-{s.rasa_port}.log", VAR / f"actions-{s.action_port}.log"]
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        assert text.strip(), log
        for secret in (PHONE, EMAIL, NAME, "Fatima", BSN, SENDER, SENDER.lstrip("+"), s.api_token):
            assert secret not in text, (log.name, secret)


def test_a_flood_gets_a_polite_429_and_other_parents_go_on(env) -> None:
    s, _, _ = env
    import uuid

    rest = f"{s.rasa_url}/webhooks/rest/webhook"
    flood = f"sec-flood-{uuid.uuid4().hex[:8]}"
    assert request("POST", rest, {"sender": flood, "message": "مرحبا، كيف حالكم اليوم"})[0] == 200  # Arabic conversation
    statuses = [request("POST", rest, {"sender": flood, "message": "مرحبا"}) for _ in range(RATE_LIMIT)]
    assert [st_ for st_, _, _ in statuses[:RATE_LIMIT - 1]] == [200] * (RATE_LIMIT - 1)
    status, headers, body = statuses[-1]
    assert status == 429 and int(headers["Retry-After"]) >= 1
    [reply] = json.loads(body)
    assert reply["recipient_id"] == flood and re.search(r"[\u0600-\u06FF]", reply["text"]), reply
    assert request("POST", rest, {"sender": "sec-someone-else", "message": "hallo"})[0] == 200
    status, _, body = request("POST", rest, {"sender": "sec-long", "message": "a" * 5000})
    assert status == 413 and "te lang" in json.loads(body)["text"]
