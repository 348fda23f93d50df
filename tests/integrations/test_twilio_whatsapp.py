"""The Twilio WhatsApp channel (integrations/twilio_whatsapp.py) over real HTTP on 127.0.0.1.

As in test_whatsapp.py: the Rasa app is built by ``rasa.core.run.configure_app`` and
served by Sanic on a free local port; the agent is a fake that records what the channel
hands to Rasa and may answer through the output channel like Rasa does. Replies go
through the real ``twilio.rest.Client`` (``AsyncTwilioHttpClient``) to a fake Twilio
REST API (aiohttp on 127.0.0.1) that records every ``Messages.json`` request. Requests
are signed with twilio's own ``RequestValidator.compute_signature``. Each test gets its
own migrated SQLite database.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import socket
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional
from urllib.parse import urlencode

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from rasa.core.channels.twilio import TwilioInput
from rasa.core.run import configure_app
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic
from sqlalchemy.orm import sessionmaker
from twilio.request_validator import RequestValidator

from integrations.twilio_whatsapp import (
    MAX_BODY_CHARS,
    OfferedButtons,
    TwilioSender,
    TwilioWhatsAppConfig,
    TwilioWhatsAppInput,
    TwilioWhatsAppOutput,
    buttons_from_tracker,
    choose_button,
    render_options,
)
from integrations.whatsapp import MessageLog, ReplyTexts
from wegwijs import bootstrap
from wegwijs.db import migrate
from wegwijs.db.models import ChannelMessage
from wegwijs.security.ratelimit import RateLimiter
from wegwijs.settings import REPO_ROOT

TOKEN = "test-auth-token"
ACCOUNT = "AC" + "0" * 32
NUMBER = "+14155238886"  # Twilio's WhatsApp sandbox number
PARENT = "whatsapp:+31612345678"
PATH = "/webhooks/twilio_whatsapp/webhook"
#: The URL typed in the Twilio console; the server sits behind a proxy.
PUBLIC_URL = "https://wegwijs.example.org" + PATH

TEXTS = {
    "nl": {"utter_voice_note": "NL spraak", "utter_not_understood": "NL niet begrepen"},
    "en": {"utter_voice_note": "EN voice", "utter_not_understood": "EN not understood"},
    "ar": {"utter_voice_note": "AR صوت", "utter_not_understood": "AR لم أفهم"},
}
VOICE = "NL spraak\n\nEN voice"
NOT_UNDERSTOOD = "NL niet begrepen\n\nEN not understood"

TOPICS = [
    {"title": "School", "payload": "/topic_school"},
    {"title": "Slapen", "payload": "/topic_sleep"},
    {"title": "Eten en drinken", "payload": "/topic_food"},
]


def form(sid: str = "SM" + "a" * 32, body: str = "hallo", **extra: str) -> Dict[str, str]:
    """A Twilio WhatsApp message webhook's fields (shape of Twilio's documented webhook)."""
    fields = {
        "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Ouder", "MessageType": "text",
        "SmsSid": sid, "WaId": PARENT.split("+")[1], "SmsStatus": "received", "Body": body,
        "To": f"whatsapp:{NUMBER}", "NumSegments": "1", "ReferralNumMedia": "0",
        "MessageSid": sid, "AccountSid": ACCOUNT, "From": PARENT, "ApiVersion": "2010-04-01",
    }
    fields.update(extra)
    return fields


def sign(fields: Dict[str, str], url: str = PUBLIC_URL, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, fields)


# ------------------------------------------------------------------ fakes and servers


class FakeTwilio:
    """Twilio's REST API on 127.0.0.1: records ``POST .../Accounts/<sid>/Messages.json``.

    ``fail_with``: statuses to answer first, one per request (then 201).
    """

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.fail_with: List[int] = []
        self.url = ""
        self._runner: Optional[web.AppRunner] = None

    async def _create(self, request: web.Request) -> web.Response:
        data = await request.post()
        self.requests.append({"path": request.path, "auth": request.headers.get("Authorization"),
                              "form": {k: data.getall(k) if k == "MediaUrl" else data[k]
                                       for k in data}})
        if self.fail_with:
            status = self.fail_with.pop(0)
            return web.json_response(
                {"code": 30008, "message": f"Unknown error to {data.get('To')}", "status": status},
                status=status,
            )
        return web.json_response(
            {"sid": f"SMout{len(self.requests)}", "status": "queued", "body": data.get("Body")},
            status=201,
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def bodies(self) -> List[str]:
        return [r["form"].get("Body") for r in self.requests]


def tracker(sender: str, events: List[Any], language: Optional[str] = None) -> DialogueStateTracker:
    slots = [TextSlot("language", mappings=[{"type": "custom"}])]
    if language:
        events = [SlotSet("language", language), *events]
    return DialogueStateTracker.from_events(sender, events, slots=slots)


class FakeTrackerStore:
    def __init__(self) -> None:
        self.trackers: Dict[str, DialogueStateTracker] = {}
        self.reads = 0

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        self.reads += 1
        return self.trackers.get(sender_id)


class FakeAgent:
    """What Rasa's ``register`` handler calls: ``app.ctx.agent.handle_message``.

    ``replies``: bot messages (Rasa's response dicts) sent for each user message, in
    order, through the message's output channel (as Rasa's processor does).
    """

    def __init__(self) -> None:
        self.messages: List[Any] = []
        self.replies: List[List[Dict[str, Any]]] = []
        self.tracker_store = FakeTrackerStore()

    async def handle_message(self, message: Any) -> None:
        self.messages.append(message)
        for reply in self.replies.pop(0) if self.replies else []:
            await message.output_channel.send_response(message.sender_id, dict(reply))


class RasaServer:
    """The Rasa app (channels only) with one Twilio WhatsApp channel, on 127.0.0.1."""

    def __init__(self, channel: TwilioWhatsAppInput, agent: FakeAgent) -> None:
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
        self._server = await app.create_server(sock=sock, return_asyncio_server=True,
                                               access_log=False)
        await self._server.startup()
        await self._server.start_serving()
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        await self.channel.wait_idle()
        await self.channel.sender.close()
        if self._http is not None:
            await self._http.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def post(
        self, fields: Dict[str, str], signature: Optional[str] = "sign", url: str = PUBLIC_URL
    ) -> tuple[int, str]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "sign":
            headers["X-Twilio-Signature"] = sign(fields, url)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        async with self._http.post(self.base + PATH, data=urlencode(fields).encode(),
                                   headers=headers) as answer:
            text = await answer.text()
        await self.channel.wait_idle()
        return answer.status, text


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("twilio") / "template.db"
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
async def twilio_api() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    await fake.start()
    yield fake
    await fake.stop()


def make_config(twilio_api: FakeTwilio, **changes: Any) -> TwilioWhatsAppConfig:
    values = dict(account_sid=ACCOUNT, auth_token=TOKEN, twilio_number=NUMBER,
                  webhook_url=PUBLIC_URL, api_url=twilio_api.url,
                  send_backoff_seconds=0.01, send_timeout_seconds=5)
    values.update(changes)
    return TwilioWhatsAppConfig(**values)


@pytest.fixture
def make_server(twilio_api: FakeTwilio, session_factory: Any):
    """Build and start a server; the test stops it (``await server.stop()``)."""

    async def make(agent: Optional[FakeAgent] = None, rate_limiter: Any = None, **config: Any) -> RasaServer:
        channel = TwilioWhatsAppInput(
            config=make_config(twilio_api, **config),
            message_log=MessageLog(session_factory, channel="twilio_whatsapp"),
            reply_texts=ReplyTexts(TEXTS),
            rate_limiter=rate_limiter or RateLimiter(per_minute=0),  # no limit unless a test sets one
        )
        server = RasaServer(channel, agent or FakeAgent())
        await server.start()
        return server

    return make


@pytest.fixture
async def server(make_server: Any) -> AsyncIterator[RasaServer]:
    srv = await make_server()
    yield srv
    await srv.stop()


# ------------------------------------------------------------------ signature


async def test_valid_signature_is_200_and_dispatched_once(
    server: RasaServer, twilio_api: FakeTwilio, session_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="integrations.twilio_whatsapp")
    status, text = await server.post(form(body="Mijn zoon wil niet naar school"))
    assert status == 200 and "<Response>" in text
    [message] = server.agent.messages
    assert message.text == "Mijn zoon wil niet naar school"
    assert message.sender_id == PARENT and message.input_channel == "twilio_whatsapp"
    assert message.message_id == "SM" + "a" * 32
    assert message.metadata["twilio"]["message_sid"] == message.message_id
    assert isinstance(message.output_channel, TwilioWhatsAppOutput)
    assert twilio_api.requests == []
    [row] = rows(session_factory)
    assert (row.channel, row.kind, row.media_id, row.conversation_id) == (
        "twilio_whatsapp", "text", None, None)
    assert PARENT.split(":")[1] not in caplog.text and "zoon" not in caplog.text


def test_channel_is_a_twilio_input_mounted_under_its_name() -> None:
    from rasa.core import utils

    assert issubclass(TwilioWhatsAppInput, TwilioInput)
    Sanic.test_mode = True
    app = configure_app([TwilioWhatsAppInput(config=TwilioWhatsAppConfig())], enable_api=False)
    urls = " ".join(str(v) for v in utils.list_routes(app).values())
    assert "/webhooks/twilio_whatsapp/webhook" in urls


@pytest.mark.parametrize(
    "case", ["missing", "empty", "garbage", "wrong_token", "other_url", "tampered"],
)
async def test_bad_or_missing_signature_is_403_and_nothing_happens(
    case: str, server: RasaServer, twilio_api: FakeTwilio, session_factory: Any
) -> None:
    fields = form()
    signature = {
        "missing": None,
        "empty": "",
        "garbage": "bm90IGEgc2lnbmF0dXJl",
        "wrong_token": sign(fields, token="wrong-token"),
        "other_url": sign(fields, url="https://evil.example.org" + PATH),
        "tampered": sign({**fields, "Body": "something else"}),
    }[case]
    status, _ = await server.post(fields, signature=signature)
    assert status == 403
    assert server.agent.messages == [] and twilio_api.requests == [] and rows(session_factory) == []


async def test_without_auth_token_every_post_is_403(
    make_server: Any, session_factory: Any
) -> None:
    srv = await make_server(auth_token="")
    try:
        fields = form()
        assert (await srv.post(fields))[0] == 403  # signed with the test token
        assert (await srv.post(fields, signature=sign(fields, token="")))[0] == 403
        assert (await srv.post({}, signature=None))[0] == 403
        assert srv.agent.messages == [] and rows(session_factory) == []
    finally:
        await srv.stop()


async def test_without_webhook_url_the_request_url_is_signed(make_server: Any) -> None:
    srv = await make_server(webhook_url="")
    try:
        fields = form()
        assert (await srv.post(fields))[0] == 403  # signed for the public URL
        assert (await srv.post(fields, url=srv.base + PATH))[0] == 200
        assert [m.text for m in srv.agent.messages] == ["hallo"]
    finally:
        await srv.stop()


async def test_blank_fields_are_signed_too(
    server: RasaServer, twilio_api: FakeTwilio, session_factory: Any
) -> None:
    """A media-only message has ``Body=``; Twilio signs it, Sanic's form would drop it."""
    fields = form(body="", NumMedia="1", MessageType="image",
                  MediaContentType0="image/jpeg",
                  MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1")
    assert (await server.post(fields))[0] == 200
    assert server.agent.messages == []
    assert twilio_api.bodies() == [NOT_UNDERSTOOD]
    assert [(r.kind, r.media_id) for r in rows(session_factory)] == [("image", None)]


async def test_media_with_a_body_sends_the_body(server: RasaServer, session_factory: Any) -> None:
    fields = form(body="kijk, de brief van school", NumMedia="1",
                  MediaContentType0="image/jpeg", MediaUrl0="https://api.twilio.com/x/ME1")
    assert (await server.post(fields))[0] == 200
    assert [m.text for m in server.agent.messages] == ["kijk, de brief van school"]
    assert [r.kind for r in rows(session_factory)] == ["image_caption"]


async def test_location_gets_not_understood_and_is_not_kept(
    server: RasaServer, twilio_api: FakeTwilio, session_factory: Any
) -> None:
    fields = form(body="", Latitude="52.37", Longitude="4.89", MessageType="location")
    assert (await server.post(fields))[0] == 200
    assert server.agent.messages == [] and twilio_api.bodies() == [NOT_UNDERSTOOD]
    assert "52.37" not in repr([(r.kind, r.media_id) for r in rows(session_factory)])


# ------------------------------------------------------------------ idempotency


async def test_redelivered_message_sid_is_processed_once_also_after_a_restart(
    make_server: Any, session_factory: Any
) -> None:
    fields = form()
    first = await make_server()
    try:
        assert (await first.post(fields))[0] == 200
        assert (await first.post(fields))[0] == 200  # redelivered
        results = await asyncio.gather(*(first.post(fields) for _ in range(4)))
        assert [status for status, _ in results] == [200] * 4
        assert [m.text for m in first.agent.messages] == ["hallo"]
    finally:
        await first.stop()
    restarted = await make_server()  # a new process: new channel, same database
    try:
        assert (await restarted.post(fields))[0] == 200
        assert restarted.agent.messages == []
    finally:
        await restarted.stop()
    assert [r.message_id for r in rows(session_factory)] == ["SM" + "a" * 32]


async def test_status_callback_is_recorded_not_dispatched(
    server: RasaServer, twilio_api: FakeTwilio, session_factory: Any
) -> None:
    base = {"MessageSid": "SMout1", "AccountSid": ACCOUNT, "From": f"whatsapp:{NUMBER}",
            "To": PARENT, "ApiVersion": "2010-04-01"}
    for status in ("sent", "delivered", "read", "read"):
        fields = {**base, "MessageStatus": status, "SmsStatus": status}
        assert (await server.post(fields))[0] == 200
    assert server.agent.messages == [] and twilio_api.requests == []
    assert [(r.message_id, r.kind) for r in rows(session_factory)] == [
        ("SMout1#sent", "status_sent"), ("SMout1#delivered", "status_delivered"),
        ("SMout1#read", "status_read")]


async def test_database_failure_is_500(server: RasaServer, session_factory: Any) -> None:
    with session_factory.begin() as session:
        session.execute(sa.text("DROP TABLE channel_messages"))
    assert (await server.post(form()))[0] == 500
    assert server.agent.messages == []


# ------------------------------------------------------------------ buttons


def test_buttons_are_rendered_as_numbered_options() -> None:
    assert render_options("Kies een onderwerp.", TOPICS) == [
        "Kies een onderwerp.\n\n1. School\n2. Slapen\n3. Eten en drinken"]
    # one option is not numbered: a bare "1" stays an answer ("my child is 1")
    assert render_options("Hoe oud zijn uw kinderen?", [{"title": "Overslaan", "payload": "/deny"}]) == [
        "Hoe oud zijn uw kinderen?\n\n• Overslaan"]
    long = render_options("woord " * 300, TOPICS)
    assert len(long) == 2 and all(len(part) <= MAX_BODY_CHARS for part in long)
    assert long[-1].endswith("1. School\n2. Slapen\n3. Eten en drinken")
    assert render_options("geen knoppen", []) == ["geen knoppen"]


async def test_output_sends_one_message_with_numbered_options(
    make_server: Any, twilio_api: FakeTwilio
) -> None:
    agent = FakeAgent()
    agent.replies = [[{"text": "Waarover wilt u tips?", "buttons": TOPICS}]]
    srv = await make_server(agent=agent)
    try:
        assert (await srv.post(form()))[0] == 200
    finally:
        await srv.stop()
    [request] = twilio_api.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request["form"] == {
        "To": PARENT, "From": f"whatsapp:{NUMBER}",
        "Body": "Waarover wilt u tips?\n\n1. School\n2. Slapen\n3. Eten en drinken"}
    assert request["auth"] == "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()


@pytest.mark.parametrize("reply", ["2", "٢", "۲", "፪", "Slapen", "slapen", " SLAPEN ", "slapn", "2."])
async def test_number_in_any_digits_or_title_selects_the_payload(
    reply: str, make_server: Any
) -> None:
    agent = FakeAgent()
    agent.replies = [[{"text": "Waarover wilt u tips?", "buttons": TOPICS}]]
    srv = await make_server(agent=agent)
    try:
        await srv.post(form(sid="SM1", body="hallo"))
        await srv.post(form(sid="SM2", body=reply))
    finally:
        await srv.stop()
    assert [m.text for m in agent.messages] == ["hallo", "/topic_sleep"]
    assert agent.messages[1].metadata["twilio"]["button_index"] == 2
    assert agent.tracker_store.reads == 1  # for "hallo" (unknown sender); "2" from memory


@pytest.mark.parametrize("reply", ["4", "0", "12", "mijn kind slaapt slecht", "ja"])
async def test_other_answers_go_to_rasa_as_typed(reply: str, make_server: Any) -> None:
    agent = FakeAgent()
    agent.replies = [[{"text": "Waarover wilt u tips?", "buttons": TOPICS}]]
    srv = await make_server(agent=agent)
    try:
        await srv.post(form(sid="SM1"))
        await srv.post(form(sid="SM2", body=reply))
    finally:
        await srv.stop()
    assert agent.messages[1].text == reply
    assert "button_index" not in agent.messages[1].metadata["twilio"]


async def test_options_apply_to_the_next_message_only(make_server: Any) -> None:
    agent = FakeAgent()
    agent.replies = [[{"text": "Waarover?", "buttons": TOPICS}], [{"text": "Tips over slapen: ..."}]]
    srv = await make_server(agent=agent)
    try:
        for sid, body in (("SM1", "hallo"), ("SM2", "2"), ("SM3", "2")):
            await srv.post(form(sid=sid, body=body))
    finally:
        await srv.stop()
    assert [m.text for m in agent.messages] == ["hallo", "/topic_sleep", "2"]


async def test_single_option_is_chosen_by_its_title_not_by_1(make_server: Any) -> None:
    skip = [{"title": "Overslaan", "payload": "/deny"}]
    agent = FakeAgent()
    agent.replies = [[{"text": "Hoe oud?", "buttons": skip}], [{"text": "Hoe oud?", "buttons": skip}]]
    srv = await make_server(agent=agent)
    try:
        for sid, body in (("SM1", "hallo"), ("SM2", "1"), ("SM3", "overslaan")):
            await srv.post(form(sid=sid, body=body))
    finally:
        await srv.stop()
    assert [m.text for m in agent.messages] == ["hallo", "1", "/deny"]


async def test_options_are_recovered_from_the_tracker_after_a_restart(make_server: Any) -> None:
    agent = FakeAgent()
    agent.tracker_store.trackers[PARENT] = tracker(PARENT, [
        ActionExecuted("action_listen"), UserUttered("hallo"),
        BotUttered("Waarover wilt u tips?", data={"buttons": TOPICS}),
        BotUttered("U kunt ook een vraag typen."),
        ActionExecuted("action_listen"),
    ])
    srv = await make_server(agent=agent)  # nothing in memory
    try:
        await srv.post(form(sid="SM1", body="፫"))
    finally:
        await srv.stop()
    assert [m.text for m in agent.messages] == ["/topic_food"]
    assert agent.tracker_store.reads == 1


def test_buttons_from_tracker_only_from_the_last_bot_turn() -> None:
    old = tracker(PARENT, [BotUttered("Kies", data={"buttons": TOPICS}), UserUttered("2"),
                           BotUttered("Tips over slapen")])
    assert buttons_from_tracker(old) == []
    quick = tracker(PARENT, [UserUttered("x"), BotUttered("Kies", data={"quick_replies": TOPICS})])
    assert [b["payload"] for b in buttons_from_tracker(quick)] == [b["payload"] for b in TOPICS]


def test_offered_buttons_are_bounded_least_recently_used_first() -> None:
    offers = OfferedButtons(max_senders=2)
    offers.remember("a", TOPICS)
    offers.remember("b", TOPICS)
    assert offers.get("a") is not None  # "a" used: "b" is now the oldest
    offers.remember("c", [])
    assert len(offers) == 2 and offers.get("b") is None
    assert offers.get("c") == [] and offers.get("a")[1]["payload"] == "/topic_sleep"


def test_choose_button_rules() -> None:
    assert choose_button("٣", TOPICS) == 2 and choose_button("(1)", TOPICS) == 0
    assert choose_button("eten en drinken", TOPICS) == 2
    assert choose_button("1", TOPICS[:1]) is None and choose_button("School", TOPICS[:1]) == 0
    assert choose_button("", TOPICS) is None and choose_button("2", []) is None
    twins = [{"title": "Klant A", "payload": "/a"}, {"title": "Klant B", "payload": "/b"}]
    assert choose_button("klant c", twins) is None  # a tie is no choice
    flags = [{"title": "🇳🇱 Nederlands", "payload": "/nl"}, {"title": "العربية", "payload": "/ar"}]
    assert choose_button("nederlands", flags) == 0 and choose_button("العربيه", flags) == 1


# ------------------------------------------------------------------ voice notes


def voice_note(sid: str = "MM" + "b" * 32) -> Dict[str, str]:
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media/ME{'c' * 32}"
    return form(sid=sid, body="", NumMedia="1", MessageType="audio",
                MediaContentType0="audio/ogg", MediaUrl0=url)


async def test_voice_note_gets_the_reply_in_the_conversation_language_and_is_kept(
    make_server: Any, twilio_api: FakeTwilio, session_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = FakeAgent()
    agent.tracker_store.trackers[PARENT] = tracker(PARENT, [UserUttered("مرحبا")], language="ar")
    srv = await make_server(agent=agent)
    try:
        with caplog.at_level(logging.INFO):
            assert (await srv.post(voice_note()))[0] == 200
            assert (await srv.post(voice_note()))[0] == 200  # redelivered: answered once
    finally:
        await srv.stop()
    assert agent.messages == []  # nothing dispatched: the dialogue is untouched
    assert twilio_api.bodies() == ["AR صوت"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [row] = rows(session_factory)
    assert (row.kind, row.conversation_id) == ("voice_note", PARENT)
    assert row.media_id == voice_note()["MediaUrl0"]


async def test_voice_note_without_known_language_gets_dutch_and_english(
    server: RasaServer, twilio_api: FakeTwilio
) -> None:
    assert (await server.post(voice_note()))[0] == 200
    assert server.agent.messages == [] and twilio_api.bodies() == [VOICE]


async def test_voice_note_after_a_referral_is_listed_with_its_url_and_notified(
    server: RasaServer, session_factory: Any
) -> None:
    """Issue 8: the referral lists the Twilio voice note (media SID and URL, how to listen)
    and its person gets one notification, also when Twilio sends the webhook twice."""
    from datetime import datetime, timezone

    from wegwijs.db.models import OutboxMessage
    from wegwijs.referrals.service import ReferralIn, create_referral, get_referral
    from wegwijs.routing import load_routing

    out = create_referral(session_factory, ReferralIn(
        conversation_id=PARENT, person_type="sleutelpersoon", language="ti", municipality="Utrecht",
        contact_gender="woman", consent_at=datetime.now(timezone.utc)), routing=load_routing())
    with session_factory.begin() as session:
        session.execute(sa.update(OutboxMessage).values(status="sent", attempts=1))
    assert (await server.post(voice_note()))[0] == 200
    assert (await server.post(voice_note()))[0] == 200  # a replay: nothing more
    url = voice_note()["MediaUrl0"]
    with session_factory() as session:
        [notification] = session.query(OutboxMessage).filter_by(status="pending").all()
        payload = notification.payload
    assert payload["to"] == ["senait.sp@example.org"] and payload["event"] == "referral.voice_note"
    assert f"Media-adres: {url}" in payload["body"] and "HTTP basic auth" in payload["body"]
    assert PARENT not in payload["body"]
    shown = get_referral(session_factory, out.reference, actor="test")
    assert f"media-adres: {url}" in shown.summary_nl and "via Twilio (WhatsApp)" in shown.summary_nl
    assert shown.voice_notes[0]["media_id"] == "ME" + "c" * 32


# ------------------------------------------------------------------ sending


async def test_sending_retries_on_5xx_then_succeeds(twilio_api: FakeTwilio) -> None:
    twilio_api.fail_with = [503, 500]
    sender = TwilioSender(make_config(twilio_api))
    try:
        assert await sender.send(PARENT, "hoi") is True
    finally:
        await sender.close()
    assert twilio_api.bodies() == ["hoi"] * 3


async def test_sending_fails_after_three_attempts_and_is_logged(
    twilio_api: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    twilio_api.fail_with = [500] * 5
    failures: List[tuple] = []

    async def record(*args: Any) -> None:
        failures.append(args)

    sender = TwilioSender(make_config(twilio_api), on_failure=record)
    try:
        assert await sender.send(PARENT, "hoi") is False
    finally:
        await sender.close()
    assert len(twilio_api.requests) == 3 and len(failures) == 1
    assert caplog.text.count("twilio_whatsapp.send_attempt_failed") == 3
    assert "twilio_whatsapp.send_failed" in caplog.text and "http_500 code=30008" in caplog.text
    assert PARENT.split(":")[1] not in caplog.text  # Twilio's message holds the number


async def test_failed_channel_reply_is_recorded(
    server: RasaServer, twilio_api: FakeTwilio, session_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    twilio_api.fail_with = [502] * 3
    assert (await server.post(voice_note()))[0] == 200
    assert len(twilio_api.requests) == 3 and "twilio_whatsapp.send_failed" in caplog.text
    assert [r.kind for r in rows(session_factory)] == ["voice_note", "send_failed_text"]


async def test_client_errors_are_not_retried_and_unreachable_api_is(
    twilio_api: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    twilio_api.fail_with = [400]
    sender = TwilioSender(make_config(twilio_api))
    try:
        assert await sender.send(PARENT, "x") is False
        assert len(twilio_api.requests) == 1
    finally:
        await sender.close()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sender = TwilioSender(make_config(twilio_api, api_url=dead))
    try:
        assert await sender.send(PARENT, "x") is False
    finally:
        await sender.close()
    assert caplog.text.count("twilio_whatsapp.send_attempt_failed") == 1 + 3


async def test_sync_client_in_a_thread_also_works(twilio_api: FakeTwilio) -> None:
    """The path for a twilio without ``AsyncTwilioHttpClient``."""
    twilio_api.fail_with = [503]
    sender = TwilioSender(make_config(twilio_api))
    sender.use_async = False
    try:
        assert await sender.send(PARENT, "hoi") is True
    finally:
        await sender.close()
    assert twilio_api.bodies() == ["hoi", "hoi"]


async def test_unconfigured_sender_logs_an_error(twilio_api: FakeTwilio, caplog) -> None:
    sender = TwilioSender(make_config(twilio_api, twilio_number=""))
    assert await sender.send(PARENT, "x") is False
    assert twilio_api.requests == [] and "reason=not_configured" in caplog.text


async def test_output_channel_text_image_and_long_text(twilio_api: FakeTwilio) -> None:
    sender = TwilioSender(make_config(twilio_api))
    output = TwilioWhatsAppOutput(sender, OfferedButtons())
    try:
        await output.send_response(PARENT, {"text": "Eerste alinea.\n\nTweede alinea."})
        await output.send_response(PARENT, {"text": "x" * 2000})
        await output.send_response(PARENT, {"image": "https://example.org/a.png"})
    finally:
        await sender.close()
    sent = [r["form"] for r in twilio_api.requests]
    assert sent[0]["Body"] == "Eerste alinea.\n\nTweede alinea."  # one message, not two
    assert [len(f["Body"]) for f in sent[1:3]] == [1600, 400]
    assert sent[3]["MediaUrl"] == ["https://example.org/a.png"] and "Body" not in sent[3]


# ------------------------------------------------------------------ configuration


def test_config_from_environment_and_credentials() -> None:
    env = {"TWILIO_ACCOUNT_SID": "ACenv", "TWILIO_AUTH_TOKEN": "env-token",
           "TWILIO_WHATSAPP_NUMBER": "+3120", "TWILIO_WEBHOOK_URL": PUBLIC_URL, "OTHER": "o"}
    config = TwilioWhatsAppConfig.from_sources(None, env)
    assert (config.account_sid, config.auth_token, config.from_address, config.webhook_url,
            config.api_url) == ("ACenv", "env-token", "whatsapp:+3120", PUBLIC_URL,
                                "https://api.twilio.com")
    creds = {"auth_token": "${OTHER}", "account_sid": "${UNSET_VAR}",
             "twilio_number": "whatsapp:+3199", "api_url": "http://127.0.0.1:9/", "send_attempts": "5"}
    config = TwilioWhatsAppConfig.from_sources(creds, env)
    assert config.auth_token == "o" and config.account_sid == "ACenv"  # unset placeholder → env
    assert config.from_address == "whatsapp:+3199" and config.api_url == "http://127.0.0.1:9"
    assert config.send_attempts == 5
    assert TwilioWhatsAppConfig.from_sources({"auth_token": "${UNSET_VAR}"}, {}).auth_token == ""


def test_rasa_builds_every_channel_of_credentials_yml_without_twilio_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `rasa run --credentials credentials.yml` does first; must not raise."""
    from rasa.core.run import create_http_input_channels

    for variable in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER",
                     "TWILIO_WEBHOOK_URL", "TWILIO_API_URL"):
        monkeypatch.delenv(variable, raising=False)
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    [channel] = [c for c in channels if c.name() == "twilio_whatsapp"]
    assert isinstance(channel, TwilioWhatsAppInput)
    assert channel.config.auth_token == "" and channel.config.api_url == "https://api.twilio.com"
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-env")
    monkeypatch.setenv("TWILIO_WEBHOOK_URL", PUBLIC_URL)
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))
    [channel] = [c for c in channels if c.name() == "twilio_whatsapp"]
    assert channel.config.auth_token == "from-env" and channel.config.webhook_url == PUBLIC_URL


@pytest.mark.redis
async def test_a_flood_gets_one_polite_text_and_is_not_dispatched(
    make_server: Any, twilio_api: FakeTwilio, session_factory: Any
) -> None:
    """Real Redis counts per sender (2 a minute here): the third and fourth message reach
    neither Rasa nor a second polite text."""
    import time

    import redis

    from wegwijs.security.redact import pseudonym

    limiter = RateLimiter(redis_url="redis://127.0.0.1:6379/1", per_minute=2)
    client = redis.Redis.from_url(limiter.redis_url)
    keys = [f"wegwijs:rl:{pseudonym(PARENT)}:{int(time.time() // 60) + k}" for k in (-1, 0, 1)]
    client.delete(*keys)
    srv = await make_server(rate_limiter=limiter)
    try:
        for n in range(4):
            assert (await srv.post(form(sid=f"SMflood{time.time_ns()}{n}", body=f"bericht {n}")))[0] == 200
    finally:
        await srv.stop()
        client.delete(*keys)
    assert [m.text for m in srv.agent.messages] == ["bericht 0", "bericht 1"]
    [polite] = [r["form"]["Body"] for r in twilio_api.requests]
    assert "berichten" in polite and "messages" in polite
