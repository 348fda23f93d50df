"""The WhatsApp Cloud API channel (integrations/whatsapp.py) over real HTTP on 127.0.0.1.

The Rasa app is built by ``rasa.core.run.configure_app`` (as in test_rest.py) and
served by Sanic on a free local port; the agent is a fake that records what the
channel hands to Rasa (``on_new_message`` → ``agent.handle_message``). Replies go to
a fake Graph API (aiohttp on 127.0.0.1) that records every request. Each test gets
its own migrated SQLite database. Webhook bodies: tests/data/channels/whatsapp_cloud/
(pywa's fixtures, MIT; see SOURCES.md there).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import shutil
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from rasa.core.run import configure_app
from sanic import Sanic
from sqlalchemy.orm import sessionmaker

from integrations.whatsapp import (
    LIST_BUTTON_LABEL,
    MAX_TEXT_CHARS,
    GraphClient,
    MessageLog,
    ReplyTexts,
    WhatsAppCloudInput,
    WhatsAppCloudOutput,
    WhatsAppConfig,
    build_messages,
    split_text,
    verify_signature,
)
from wegwijs import bootstrap
from wegwijs.db import migrate
from wegwijs.db.models import ChannelMessage
from wegwijs.security.ratelimit import RateLimiter
from wegwijs.settings import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "data" / "channels" / "whatsapp_cloud"
SECRET = "test-app-secret"
VERIFY = "test-verify-token"
PARENT = "972987654321"  # the fixtures' placeholder number
URL = "/webhooks/whatsapp/webhook"

#: Small texts instead of languages/ (content has its own tests); "ar" marks a language.
TEXTS = {
    "nl": {"utter_voice_note": "NL spraak", "utter_not_understood": "NL niet begrepen"},
    "en": {"utter_voice_note": "EN voice", "utter_not_understood": "EN not understood"},
    "ar": {"utter_voice_note": "AR صوت", "utter_not_understood": "AR لم أفهم"},
}
VOICE = "NL spraak\n\nEN voice"
NOT_UNDERSTOOD = "NL niet begrepen\n\nEN not understood"

# fixture file → (texts dispatched to Rasa, texts the channel sends itself, row kinds)
EXPECTED: Dict[str, tuple[List[str], List[str], List[str]]] = {
    "callback_button__button.json": (["callback_data"], [], ["button_reply"]),
    "callback_button__quick_reply.json": (["callback_data"], [], ["button"]),
    "callback_button__quick_reply_without_context.json": (["callback_data"], [], ["button"]),
    "callback_selection__callback.json": (["callback_data"], [], ["list_reply"]),
    "callback_selection__description.json": (["callback_data"], [], ["list_reply"]),
    "deleted_message__revoke.json": ([], [], ["revoke"]),
    "edited_message__image.json": ([], [], ["edit"]),
    "flow_completion__completion.json": ([], [NOT_UNDERSTOOD], ["interactive"]),
    "flow_completion__without_flow_token.json": ([], [NOT_UNDERSTOOD], ["interactive"]),
    "message__animated_sticker.json": ([], [NOT_UNDERSTOOD], ["sticker"]),
    "message__audio.json": ([], [VOICE], ["audio"]),
    "message__chosen_location.json": ([], [NOT_UNDERSTOOD], ["location"]),
    "message__contacts.json": ([], [NOT_UNDERSTOOD], ["contacts"]),
    "message__current_location.json": ([], [NOT_UNDERSTOOD], ["location"]),
    "message__document.json": (["caption"], [], ["document_caption"]),
    "message__forwarded.json": (["forwarded text"], [], ["text"]),
    "message__forwarded_many_times.json": (["text forwarded many times"], [], ["text"]),
    "message__image.json": ([], [NOT_UNDERSTOOD], ["image"]),
    "message__interactive_message_with_err.json": ([], [NOT_UNDERSTOOD], ["interactive"]),
    "message__media_with_url.json": ([], [NOT_UNDERSTOOD], ["image"]),
    "message__order.json": ([], [NOT_UNDERSTOOD], ["order"]),
    "message__reaction.json": ([], [], ["reaction"]),
    "message__referral.json": (["BODY"], [], ["text"]),
    "message__reply.json": (["replied text"], [], ["text"]),
    "message__static_sticker.json": ([], [NOT_UNDERSTOOD], ["sticker"]),
    "message__text.json": (["Body Text"], [], ["text"]),
    "message__unreaction_empty.json": ([], [], ["reaction"]),
    "message__unreaction_no_emoji.json": ([], [], ["reaction"]),
    "message__unsupported.json": ([], [NOT_UNDERSTOOD], ["unsupported"]),
    "message__unsupported_with_type.json": ([], [NOT_UNDERSTOOD], ["unsupported"]),
    "message__video.json": (["caption"], [], ["video_caption"]),
    "message__voice.json": ([], [VOICE], ["voice_note"]),
    "message_status__delivered.json": ([], [], ["status_delivered"]),
    "message_status__failed.json": ([], [], ["status_failed"]),
    "message_status__group.json": ([], [], ["status_read"]),
    "message_status__played.json": ([], [], ["status_played"]),
    "message_status__read.json": ([], [], ["status_read"]),
    "message_status__sent.json": ([], [], ["status_sent"]),
    "message_status__with_tracker.json": ([], [], ["status_sent"]),
    "system__identity_change.json": ([], [], ["system"]),
    "system__phone_number_change.json": ([], [], ["system"]),
}


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ fakes and servers


class FakeGraph:
    """A Graph API on 127.0.0.1 that records ``POST /<phone id>/messages`` bodies.

    ``fail_with``: statuses to answer first, one per request (then 200).
    """

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.fail_with: List[int] = []
        self.url = ""
        self._runner: Optional[web.AppRunner] = None

    async def _messages(self, request: web.Request) -> web.Response:
        self.requests.append(
            {"path": request.path, "auth": request.headers.get("Authorization"),
             "json": await request.json()}
        )
        if self.fail_with:
            status = self.fail_with.pop(0)
            return web.json_response({"error": {"code": 131000, "message": "x"}}, status=status)
        return web.json_response({"messages": [{"id": f"wamid.out{len(self.requests)}"}]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{version}/{phone}/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v19.0"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def texts(self) -> List[str]:
        return [r["json"]["text"]["body"] for r in self.requests if r["json"]["type"] == "text"]


class FakeTrackerStore:
    def __init__(self, languages: Dict[str, str]) -> None:
        self.languages = languages

    async def retrieve(self, sender_id: str) -> Any:
        if sender_id not in self.languages:
            return None
        language = self.languages[sender_id]

        class Tracker:
            def get_slot(self, name: str) -> Any:
                return language if name == "language" else None

        return Tracker()


class FakeAgent:
    """What Rasa's ``register`` handler calls: ``app.ctx.agent.handle_message``."""

    def __init__(self, languages: Optional[Dict[str, str]] = None) -> None:
        self.messages: List[Any] = []
        self.tracker_store = FakeTrackerStore(languages or {})

    async def handle_message(self, message: Any) -> None:
        self.messages.append(message)


class RasaServer:
    """The Rasa app (channels only) with one WhatsApp channel, served on 127.0.0.1."""

    def __init__(self, channel: WhatsAppCloudInput, agent: FakeAgent) -> None:
        self.channel = channel
        self.agent = agent
        self.base = ""
        self._server: Any = None
        self._http: Optional[aiohttp.ClientSession] = None

    async def start(self) -> None:
        Sanic.test_mode = True  # several apps named "rasa_server" in one process
        app = configure_app([self.channel], enable_api=False)
        app.ctx.agent = self.agent
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = await app.create_server(
            sock=sock, return_asyncio_server=True, access_log=False
        )
        await self._server.startup()
        await self._server.start_serving()
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        await self.channel.wait_idle()
        await self.channel.client.close()
        if self._http is not None:
            await self._http.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def post(self, body: bytes, signature: Optional[str] = "sign") -> tuple[int, str]:
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self._http.post(self.base + URL, data=body, headers=headers) as answer:
            text = await answer.text()
        await self.channel.wait_idle()
        return answer.status, text

    async def get(self, path: str, params: Dict[str, str]) -> tuple[int, str]:
        async with self._http.get(self.base + path, params=params) as answer:
            return answer.status, await answer.text()


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test copies it."""
    path = tmp_path_factory.mktemp("wa") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def session_factory(migrated_template: Path, tmp_path: Path) -> Any:
    path = tmp_path / "wegwijs.db"
    shutil.copy(migrated_template, path)
    engine = bootstrap.make_engine(f"sqlite:///{path}")
    yield sessionmaker(bind=engine, future=True, expire_on_commit=False)
    engine.dispose()


def rows(session_factory: Any) -> List[ChannelMessage]:
    with session_factory() as session:
        return list(session.execute(sa.select(ChannelMessage).order_by(ChannelMessage.id)).scalars())


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    await fake.start()
    yield fake
    await fake.stop()


def make_config(graph: FakeGraph, **changes: Any) -> WhatsAppConfig:
    values = dict(app_secret=SECRET, verify_token=VERIFY, access_token="tok",
                  phone_number_id="1122334455667", graph_url=graph.url,
                  send_backoff_seconds=0.01, send_timeout_seconds=5)
    values.update(changes)
    return WhatsAppConfig(**values)


async def start_server(graph: FakeGraph, session_factory: Any, agent: Optional[FakeAgent] = None,
                       channel_kwargs: Optional[Dict[str, Any]] = None, **config: Any) -> RasaServer:
    """A started server whose channel sends to ``graph``; the caller stops it.

    ``channel_kwargs`` go to ``WhatsAppCloudInput`` (e.g. ``templates``, ``clock``);
    ``config`` overrides ``make_config``.
    """
    kwargs = {"rate_limiter": RateLimiter(per_minute=0), **(channel_kwargs or {})}  # no limit unless a test sets one
    channel = WhatsAppCloudInput(
        config=make_config(graph, **config),
        message_log=MessageLog(session_factory),
        reply_texts=ReplyTexts(TEXTS),
        **kwargs,
    )
    server = RasaServer(channel, agent or FakeAgent())
    await server.start()
    return server


@pytest.fixture
def make_server(graph: FakeGraph, session_factory: Any):
    """Build and start a server; the test stops it (``await server.stop()``)."""

    async def make(agent: Optional[FakeAgent] = None, **config: Any) -> RasaServer:
        return await start_server(graph, session_factory, agent, **config)

    return make


@pytest.fixture
async def server(make_server: Any) -> AsyncIterator[RasaServer]:
    srv = await make_server()
    yield srv
    await srv.stop()


def fixture_body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# ------------------------------------------------------------------ every fixture


def test_every_fixture_has_an_expectation() -> None:
    names = {p.name for p in FIXTURES.glob("*.json")}
    assert names == set(EXPECTED), "a fixture was added or removed: update EXPECTED"
    assert (FIXTURES / "SOURCES.md").is_file() and (FIXTURES / "LICENSE").is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_fixture_gets_200_and_its_effect(
    name: str, server: RasaServer, graph: FakeGraph, session_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Status 200; what reaches Rasa, what the channel answers itself, what is stored."""
    caplog.set_level(logging.DEBUG, logger="integrations.whatsapp")
    dispatched, replies, kinds = EXPECTED[name]
    status, _ = await server.post(fixture_body(name))
    assert status == 200
    assert [m.text for m in server.agent.messages] == dispatched
    for message in server.agent.messages:
        assert message.sender_id == PARENT and message.input_channel == "whatsapp"
        assert message.message_id.startswith("wamid.")
        assert message.metadata["whatsapp"]["message_id"] == message.message_id
        assert isinstance(message.output_channel, WhatsAppCloudOutput)
    assert graph.texts() == replies
    assert all(r["json"]["to"] == PARENT for r in graph.requests)
    stored = rows(session_factory)
    assert [r.kind for r in stored] == kinds
    assert all(r.channel == "whatsapp" for r in stored)
    # no phone number and no message text in the logs
    assert PARENT not in caplog.text
    for text in dispatched:
        assert text not in caplog.text or text == "caption"
    assert "Body Text" not in caplog.text


# ------------------------------------------------------------------ security and errors


async def test_verification_get(server: RasaServer) -> None:
    ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    assert await server.get(URL, ok) == (200, "1158201444")
    assert (await server.get(URL, {**ok, "hub.verify_token": "wrong"}))[0] == 403
    assert (await server.get(URL, {**ok, "hub.mode": "unsubscribe"}))[0] == 403
    assert (await server.get(URL, {"hub.mode": "subscribe", "hub.challenge": "1"}))[0] == 403
    assert await server.get("/webhooks/whatsapp/", {}) == (200, '{"status":"ok"}')


async def test_verification_refused_without_verify_token(make_server: Any) -> None:
    srv = await make_server(verify_token="")
    try:
        params = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
        assert (await srv.get(URL, params))[0] == 403
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "sha256=" + "0" * 64, sign(b"other body"), sign(b"x", "wrong-secret"),
     "sha1=abc", "sha256=ä"],
)
async def test_bad_or_missing_signature_is_403_and_nothing_happens(
    signature: Optional[str], server: RasaServer, graph: FakeGraph, session_factory: Any
) -> None:
    body = fixture_body("message__text.json")
    if signature == sign(b"x", "wrong-secret"):
        signature = sign(body, "wrong-secret")
    status, _ = await server.post(body, signature=signature)
    assert status == 403
    assert server.agent.messages == [] and graph.requests == [] and rows(session_factory) == []


async def test_missing_secret_is_403_for_every_post(
    make_server: Any, session_factory: Any
) -> None:
    srv = await make_server(app_secret="")
    try:
        body = fixture_body("message__text.json")
        assert (await srv.post(body))[0] == 403  # signed with the test secret
        assert (await srv.post(body, signature=sign(body, "")))[0] == 403
        assert (await srv.post(b"not json"))[0] == 403
        assert srv.agent.messages == [] and rows(session_factory) == []
    finally:
        await srv.stop()


@pytest.mark.parametrize("body", [b"not json", b"{", b"[1, 2]", b'"text"', b"\xff\xfe"])
async def test_malformed_json_is_400(body: bytes, server: RasaServer, session_factory: Any) -> None:
    status, _ = await server.post(body)
    assert status == 400
    assert server.agent.messages == [] and rows(session_factory) == []


async def test_oversized_body_is_413(make_server: Any, session_factory: Any) -> None:
    srv = await make_server(max_body_bytes=4096)
    try:
        body = json.dumps({"object": "whatsapp_business_account", "pad": "x" * 5000}).encode()
        status, text = await srv.post(body)
        assert status == 413 and "limit is 4096" in text
        assert rows(session_factory) == []
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    "data",
    [{}, {"object": "page", "entry": []}, {"object": "whatsapp_business_account", "entry": "x"},
     {"object": "whatsapp_business_account",
      "entry": [{"changes": [{"field": "account_update", "value": {"x": 1}}]}]},
     {"object": "whatsapp_business_account", "entry": [None, {"changes": [None, {}]}]},
     {"object": "whatsapp_business_account",
      "entry": [{"changes": [{"field": "messages", "value": {"messages": [{"type": "text"}]}}]}]}],
)
async def test_unknown_bodies_get_200_and_are_only_logged(
    data: Dict[str, Any], server: RasaServer, graph: FakeGraph, session_factory: Any
) -> None:
    status, _ = await server.post(json.dumps(data).encode())
    assert status == 200
    assert server.agent.messages == [] and graph.requests == [] and rows(session_factory) == []


async def test_database_failure_is_500_so_meta_redelivers(
    server: RasaServer, session_factory: Any
) -> None:
    with session_factory.begin() as session:
        session.execute(sa.text("DROP TABLE channel_messages"))
    status, _ = await server.post(fixture_body("message__text.json"))
    assert status == 500
    assert server.agent.messages == []


# ------------------------------------------------------------------ idempotency


async def test_redelivery_is_processed_once_also_after_a_restart(
    make_server: Any, session_factory: Any
) -> None:
    body = fixture_body("message__text.json")
    first = await make_server()
    try:
        assert (await first.post(body))[0] == 200
        assert (await first.post(body))[0] == 200  # Meta redelivers
        assert [m.text for m in first.agent.messages] == ["Body Text"]
    finally:
        await first.stop()
    restarted = await make_server()  # a new process: new channel, same database
    try:
        assert (await restarted.post(body))[0] == 200
        assert restarted.agent.messages == []
    finally:
        await restarted.stop()
    assert [r.message_id for r in rows(session_factory)] == ["wamid.xyzxyz"]


async def test_concurrent_redeliveries_are_processed_once(server: RasaServer) -> None:
    body = fixture_body("message__reply.json")
    results = await asyncio.gather(*(server.post(body) for _ in range(5)))
    assert [status for status, _ in results] == [200] * 5
    assert [m.text for m in server.agent.messages] == ["replied text"]


async def test_status_update_is_recorded_not_dispatched(
    server: RasaServer, graph: FakeGraph, session_factory: Any
) -> None:
    for name in ("message_status__sent.json", "message_status__delivered.json",
                 "message_status__read.json", "message_status__read.json"):
        assert (await server.post(fixture_body(name)))[0] == 200
    assert server.agent.messages == [] and graph.requests == []
    assert [r.message_id for r in rows(session_factory)] == [
        "wamid.xyzxyz#sent", "wamid.xyzxyz#delivered", "wamid.xyzxyz#read"]
    assert all(r.conversation_id is None and r.media_id is None for r in rows(session_factory))


# ------------------------------------------------------------------ voice notes


async def test_voice_note_gets_a_reply_in_the_conversation_language(
    make_server: Any, graph: FakeGraph, session_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await make_server(agent=FakeAgent(languages={PARENT: "ar"}))
    try:
        with caplog.at_level(logging.ERROR):
            assert (await srv.post(fixture_body("message__voice.json")))[0] == 200
        assert graph.texts() == ["AR صوت"]
        assert srv.agent.messages == []  # the dialogue is untouched
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        [row] = rows(session_factory)
        assert (row.kind, row.media_id, row.conversation_id) == (
            "voice_note", "1234567890987654321", PARENT)
    finally:
        await srv.stop()


async def test_voice_note_without_known_language_gets_dutch_and_english(
    server: RasaServer, graph: FakeGraph
) -> None:
    assert (await server.post(fixture_body("message__voice.json")))[0] == 200
    assert graph.texts() == [VOICE]
    assert graph.requests[0]["auth"] == "Bearer tok"
    assert graph.requests[0]["path"] == "/v19.0/1122334455667/messages"


async def test_voice_note_reply_that_cannot_be_sent_is_logged_not_raised(
    server: RasaServer, graph: FakeGraph, session_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    graph.fail_with = [500, 500, 500]
    assert (await server.post(fixture_body("message__voice.json")))[0] == 200
    assert len(graph.requests) == 3
    assert "whatsapp.send_failed" in caplog.text
    assert [r.kind for r in rows(session_factory)] == ["voice_note", "send_failed_text"]


def _referral_for(session_factory: Any, conversation_id: str) -> Any:
    """A stored referral of ``conversation_id`` (Tigrinya, Utrecht: routed to Senait in the
    example routing files), its notification already sent."""
    from wegwijs.db.models import OutboxMessage
    from wegwijs.referrals.service import ReferralIn, create_referral
    from wegwijs.routing import load_routing

    out = create_referral(session_factory, ReferralIn(
        conversation_id=conversation_id, person_type="sleutelpersoon", language="ti", municipality="Utrecht",
        contact_gender="woman", consent_at=datetime.now(timezone.utc)), routing=load_routing())
    with session_factory.begin() as session:
        session.execute(sa.update(OutboxMessage).values(status="sent", attempts=1))
    return out


def _outbox(session_factory: Any) -> List[Any]:
    from wegwijs.db.models import OutboxMessage

    with session_factory() as session:
        return list(session.execute(sa.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


async def test_voice_note_after_a_referral_is_listed_and_its_person_notified_once(
    server: RasaServer, graph: FakeGraph, session_factory: Any
) -> None:
    """Issue 8: the referral shows the voice note, and the person hears of it (outbox, in the
    transaction that stores the row: a redelivery queues nothing)."""
    from wegwijs.referrals.service import get_referral

    out = _referral_for(session_factory, PARENT)
    assert (await server.post(fixture_body("message__voice.json")))[0] == 200
    assert (await server.post(fixture_body("message__voice.json")))[0] == 200  # Meta redelivers
    assert graph.texts() == [VOICE]  # the parent's reply, once
    [notification] = [m for m in _outbox(session_factory) if m.status == "pending"]
    [row] = [r for r in rows(session_factory) if r.kind == "voice_note"]
    assert notification.idempotency_key == f"{out.reference}.email.referral.voice_note.{row.id}"
    assert notification.payload["to"] == ["senait.sp@example.org"]
    body = notification.payload["body"]
    assert "spraakbericht van de ouder binnengekomen" in body and "Media-id: 1234567890987654321" in body
    assert PARENT not in body
    shown = get_referral(session_factory, out.reference, actor="test")
    assert "spraakbericht via WhatsApp (Cloud API), media-id 1234567890987654321" in shown.summary_nl
    assert [n["media_id"] for n in shown.voice_notes] == ["1234567890987654321"]


async def test_voice_note_before_a_referral_notifies_nobody_and_is_in_its_summary(
    server: RasaServer, session_factory: Any
) -> None:
    assert (await server.post(fixture_body("message__voice.json")))[0] == 200
    assert _outbox(session_factory) == []  # no referral, no consent recorded: nobody told
    from wegwijs.referrals.service import ReferralIn, create_referral
    from wegwijs.routing import load_routing

    out = create_referral(session_factory, ReferralIn(conversation_id=PARENT, person_type="not_said",
                                                      language="nl"), routing=load_routing())
    assert "media-id 1234567890987654321" in out.summary_nl
    [created] = _outbox(session_factory)
    assert "media-id 1234567890987654321" in created.payload["body"]


def test_graph_url_in_the_listen_line_is_the_channel_default() -> None:
    from integrations.whatsapp import DEFAULT_GRAPH_URL
    from wegwijs.referrals import voice_notes

    assert voice_notes.DEFAULT_GRAPH_URL == DEFAULT_GRAPH_URL


def test_real_voice_note_texts_exist_in_every_language() -> None:
    texts = ReplyTexts()
    from wegwijs.content.loader import load_registry

    for code in load_registry().supported:
        assert texts.text("utter_voice_note", code) != texts.text("utter_voice_note", None)
    assert "voice messages" in texts.text("utter_voice_note", None)


# ------------------------------------------------------------------ outbound


def test_text_is_split_within_4096() -> None:
    text = ("Een zin van een paar woorden. " * 400).strip()
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p) <= MAX_TEXT_CHARS for p in parts)
    assert " ".join(parts) == text
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]
    assert split_text("   ") == []


def test_up_to_three_buttons_are_reply_buttons() -> None:
    buttons = [{"title": "Ja, graag een persoon erbij", "payload": "/request_human"},
               {"title": "Nee", "payload": "/deny"}]
    [message] = build_messages("Wilt u een persoon?", buttons)
    interactive = message["interactive"]
    assert interactive["type"] == "button" and interactive["body"]["text"] == "Wilt u een persoon?"
    replies = [b["reply"] for b in interactive["action"]["buttons"]]
    assert replies[0] == {"id": "/request_human", "title": "Ja, graag een perso…"}
    assert len(replies[0]["title"]) == 20 and replies[1] == {"id": "/deny", "title": "Nee"}


def test_four_to_ten_buttons_are_a_list() -> None:
    buttons = [{"title": f"Onderwerp {i} met een lange titel", "payload": f"/topic_{i}"}
               for i in range(10)]
    [message] = build_messages("Kies een onderwerp", buttons)
    interactive = message["interactive"]
    assert interactive["type"] == "list"
    assert interactive["action"]["button"] == LIST_BUTTON_LABEL and len(LIST_BUTTON_LABEL) <= 20
    [section] = interactive["action"]["sections"]
    assert len(section["rows"]) == 10
    row = section["rows"][0]
    assert row["id"] == "/topic_0" and len(row["title"]) <= 24 and row["title"].endswith("…")
    assert row["description"] == "Onderwerp 0 met een lange titel"
    short = build_messages("x", [{"title": "A", "payload": f"/{i}"} for i in range(4)])
    assert short[0]["interactive"]["type"] == "list"
    assert "description" not in short[0]["interactive"]["action"]["sections"][0]["rows"][0]


def test_more_than_ten_buttons_are_several_lists_and_long_text_goes_first() -> None:
    buttons = [{"title": f"T{i}", "payload": f"/p{i}"} for i in range(12)]
    text = "woord " * 300  # 1800 characters: more than an interactive body allows
    messages = build_messages(text, buttons)
    assert [m["type"] for m in messages] == ["text", "interactive", "interactive"]
    assert len(messages[1]["interactive"]["body"]["text"]) <= 1024
    assert [len(m["interactive"]["action"]["sections"][0]["rows"]) for m in messages[1:]] == [10, 2]
    joined = messages[0]["text"]["body"] + " " + messages[1]["interactive"]["body"]["text"]
    assert joined == text.strip()


async def test_output_channel_sends_text_buttons_and_images(graph: FakeGraph) -> None:
    client = GraphClient(make_config(graph))
    output = WhatsAppCloudOutput(client)
    try:
        await output.send_response(PARENT, {"text": "x" * 5000})
        await output.send_response(
            PARENT, {"text": "Kies", "buttons": [{"title": "Ja", "payload": "/affirm"}]})
        await output.send_response(PARENT, {"image": "https://example.org/a.png"})
    finally:
        await client.close()
    sent = [r["json"] for r in graph.requests]
    assert [m["type"] for m in sent] == ["text", "text", "interactive", "image"]
    assert all(m["messaging_product"] == "whatsapp" and m["to"] == PARENT for m in sent)
    assert sent[3]["image"] == {"link": "https://example.org/a.png"}


async def test_sending_retries_then_succeeds(graph: FakeGraph) -> None:
    graph.fail_with = [503, 429]
    client = GraphClient(make_config(graph))
    try:
        assert await client.send(PARENT, {"type": "text", "text": {"body": "hoi"}}) is True
    finally:
        await client.close()
    assert len(graph.requests) == 3


async def test_sending_fails_after_three_attempts_and_is_logged(
    graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    graph.fail_with = [500] * 5
    failures: List[tuple] = []

    async def record(*args: Any) -> None:
        failures.append(args)

    client = GraphClient(make_config(graph), on_failure=record)
    try:
        assert await client.send(PARENT, {"type": "text", "text": {"body": "hoi"}}) is False
    finally:
        await client.close()
    assert len(graph.requests) == 3 and len(failures) == 1
    assert "whatsapp.send_failed" in caplog.text and PARENT not in caplog.text


async def test_client_errors_are_not_retried_and_unreachable_graph_is_retried(
    graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    graph.fail_with = [400]
    client = GraphClient(make_config(graph))
    try:
        assert await client.send(PARENT, {"type": "text", "text": {"body": "x"}}) is False
        assert len(graph.requests) == 1 and "code=131000" in caplog.text
    finally:
        await client.close()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = GraphClient(make_config(graph, graph_url=dead))
    try:
        assert await client.send(PARENT, {"type": "text", "text": {"body": "x"}}) is False
    finally:
        await client.close()
    assert caplog.text.count("whatsapp.send_attempt_failed") == 1 + 3


async def test_unconfigured_sender_logs_an_error(graph: FakeGraph, caplog) -> None:
    client = GraphClient(make_config(graph, access_token=""))
    assert await client.send(PARENT, {"type": "text", "text": {"body": "x"}}) is False
    assert graph.requests == [] and "not_configured" in caplog.text


# ------------------------------------------------------------------ configuration


def test_signature_check() -> None:
    assert verify_signature("s", b"{}", sign(b"{}", "s"))
    assert verify_signature("s", b"{}", sign(b"{}", "s").upper().replace("SHA256", "sha256"))
    assert not verify_signature("", b"{}", sign(b"{}", ""))
    assert not verify_signature("s", b"{}", None)


def test_config_from_environment_and_credentials() -> None:
    env = {"WHATSAPP_APP_SECRET": "env-secret", "WHATSAPP_VERIFY_TOKEN": "v",
           "WHATSAPP_ACCESS_TOKEN": "a", "WHATSAPP_PHONE_NUMBER_ID": "1", "OTHER": "o"}
    config = WhatsAppConfig.from_sources(None, env)
    assert (config.app_secret, config.verify_token, config.access_token,
            config.phone_number_id, config.graph_url) == (
        "env-secret", "v", "a", "1", "https://graph.facebook.com/v19.0")
    creds = {"app_secret": "${OTHER}", "graph_url": "http://127.0.0.1:9/v20.0/",
             "verify_token": "${UNSET_VAR}", "max_body_bytes": "2048"}
    config = WhatsAppConfig.from_sources(creds, env)
    assert config.app_secret == "o" and config.verify_token == "v"  # unset placeholder → env
    assert config.graph_url == "http://127.0.0.1:9/v20.0" and config.max_body_bytes == 2048
    assert WhatsAppConfig.from_sources({"app_secret": "${UNSET_VAR}"}, {}).app_secret == ""


def test_rasa_builds_every_channel_of_credentials_yml_without_whatsapp_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `rasa run --credentials credentials.yml` does first; must not raise."""
    from rasa.core.run import create_http_input_channels

    for variable in ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN",
                     "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_GRAPH_URL"):
        monkeypatch.delenv(variable, raising=False)
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    [whatsapp] = [c for c in channels if c.name() == "whatsapp"]
    assert isinstance(whatsapp, WhatsAppCloudInput)
    assert whatsapp.config.app_secret == "" and whatsapp.config.graph_url.startswith("https://")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "from-env")
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    [whatsapp] = [c for c in channels if c.name() == "whatsapp"]
    assert whatsapp.config.app_secret == "from-env"


def test_routes_are_mounted_under_the_channel_name() -> None:
    from rasa.core import utils

    Sanic.test_mode = True
    app = configure_app([WhatsAppCloudInput(config=WhatsAppConfig())], enable_api=False)
    urls = " ".join(str(v) for v in utils.list_routes(app).values())
    assert "/webhooks/whatsapp/webhook" in urls


@pytest.mark.redis
async def test_a_flood_gets_one_polite_text_and_is_not_dispatched(graph: FakeGraph, session_factory: Any) -> None:
    """Real Redis counts per sender (2 a minute here): the third and fourth message reach
    neither Rasa nor a second polite text; both stay in the message log."""
    import redis

    from wegwijs.security.redact import pseudonym

    limiter = RateLimiter(redis_url="redis://127.0.0.1:6379/1", per_minute=2)
    client = redis.Redis.from_url(limiter.redis_url)
    client.delete(*[f"wegwijs:rl:{pseudonym(PARENT)}:{int(time.time() // 60) + k}" for k in (0, 1)])
    srv = await start_server(graph, session_factory, channel_kwargs={"rate_limiter": limiter})
    try:
        template = json.loads(fixture_body("message__text.json"))
        for n in range(4):
            body = json.loads(json.dumps(template))
            body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.flood-{time.time_ns()}-{n}"
            assert (await srv.post(json.dumps(body).encode()))[0] == 200
        for _ in range(50):
            if len(srv.agent.messages) >= 2 and graph.texts():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert len(srv.agent.messages) == 2
        [polite] = graph.texts()
        assert "berichten" in polite and "messages" in polite  # Dutch and English: language unknown
        assert len(rows(session_factory)) == 4
    finally:
        await srv.stop()
        client.delete(*[f"wegwijs:rl:{pseudonym(PARENT)}:{int(time.time() // 60) + k}" for k in (-1, 0)])
