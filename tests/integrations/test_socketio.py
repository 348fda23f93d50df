"""The fixed socket.io channel (integrations/socketio.py) over real sockets on 127.0.0.1.

Each test starts a Rasa-like Sanic app (``rasa.core.run.configure_app`` with our channel,
``cors="*"`` as ``wegwijs serve`` runs it) on a free port, with a fake agent whose
``handle_message`` records the message and answers ``echo: <text>`` through the message's
output channel (Rasa's ``SocketIOOutput``, which emits to the room named by the session
id). Clients are python-socketio ``AsyncClient``s (aiohttp). Every wait is bounded
(``WAIT`` seconds).
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.run import configure_app, create_http_input_channels
from sanic import Sanic

from integrations.rest import MAX_MESSAGE_CHARS, MAX_SENDER_CHARS
from integrations.socketio import ORIGINS_ENV, SocketIOInput, configured_origins

REPO = Path(__file__).resolve().parents[2]
WAIT = 5.0  # seconds, for any single event
CREDENTIALS = {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
               "session_persistence": True}


@pytest.fixture(autouse=True)
def aiohttp_ws_timeout_shim(monkeypatch) -> None:
    """Let the python-socketio *client* use websockets with the locked aiohttp.

    python-engineio 4.15's client passes ``aiohttp.ClientWSTimeout(ws_close=...)`` (aiohttp
    >= 3.10) to ``ws_connect``; aiohttp 3.9.5 (locked) has no such class and takes the close
    timeout as a float. Test-only, client-only: the server does not use aiohttp.
    """
    if not hasattr(aiohttp, "ClientWSTimeout"):
        monkeypatch.setattr(aiohttp, "ClientWSTimeout",
                            lambda ws_close=None, ws_receive=None: ws_close, raising=False)


class FakeAgent:
    """Stands in for Rasa's Agent: records each message, answers through its output channel."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


class Server:
    def __init__(self, url: str, agent: FakeAgent) -> None:
        self.url, self.agent, self.port = url, agent, int(url.rsplit(":", 1)[1])


@asynccontextmanager
async def running(channel: Optional[SocketIOInput] = None) -> AsyncIterator[Server]:
    """Serve a Rasa-like app with ``channel`` on 127.0.0.1:<free port>; stop it afterwards."""
    Sanic.test_mode = True  # several apps named "rasa_server" in one process
    channel = channel or SocketIOInput.from_credentials(CREDENTIALS)
    app = configure_app([channel], cors="*", enable_api=False)
    agent = FakeAgent()
    app.ctx.agent = agent
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    # create_server has already awaited the AsyncioServer: it is listening (Sanic 21.12)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield Server(f"http://127.0.0.1:{port}", agent)
    finally:
        await asyncio.wait_for(channel.sio.shutdown(), WAIT)  # ends pending long polls too
        await server.before_stop()
        server.close()
        await asyncio.wait_for(server.wait_closed(), WAIT)
        await server.after_stop()
        sock.close()


class Client:
    """An AsyncClient that queues every ``session_confirm``, ``bot_uttered``, ``error``, ``disconnect``."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: Dict[str, asyncio.Queue] = {
            name: asyncio.Queue() for name in ("session_confirm", "bot_uttered", "error", "disconnect")}
        for name, queue in self.events.items():
            self.sio.on(name, self._put(queue))

    @staticmethod
    def _put(queue: asyncio.Queue):
        async def handler(*args: Any) -> None:
            queue.put_nowait(args[0] if args else None)
        return handler

    async def connect(self, server: Server, transport: str = "websocket",
                      headers: Optional[Dict[str, str]] = None) -> "Client":
        await asyncio.wait_for(self.sio.connect(
            server.url, headers=headers or {}, transports=[transport], socketio_path="/socket.io",
            wait_timeout=WAIT), WAIT)
        return self

    async def next(self, event: str) -> Any:
        return await asyncio.wait_for(self.events[event].get(), WAIT)

    async def session(self, session_id: Any = None) -> str:
        await self.sio.emit("session_request", {"session_id": session_id})
        return await self.next("session_confirm")

    async def close(self) -> None:
        """Disconnect. Polling: without waiting for the pending long poll, which engine.io
        only answers at the next ping (25 s), not on the client's close packet."""
        eio = self.sio.eio
        if eio.state == "connected" and eio.current_transport == "polling":
            await asyncio.wait_for(eio.disconnect(abort=True), WAIT)
            if eio.read_loop_task:
                eio.read_loop_task.cancel()
        elif self.sio.connected:
            await asyncio.wait_for(self.sio.disconnect(), WAIT)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_message_gets_its_reply_in_the_same_session(transport: str) -> None:
    """Regression test for Rasa's un-awaited enter_room: the reply reaches the session's room."""
    async with running() as server:
        client = await Client().connect(server, transport)
        try:
            session_id = await client.session()
            assert len(session_id) == 32 and int(session_id, 16) >= 0  # uuid4().hex
            await client.sio.emit("user_uttered", {"message": "hallo", "session_id": session_id})
            assert await client.next("bot_uttered") == {"text": "echo: hallo"}
        finally:
            await client.close()
    [message] = server.agent.messages
    assert (message.sender_id, message.text, message.input_channel) == (session_id, "hallo", "socketio")


async def test_a_client_given_session_id_is_kept_across_a_reconnect() -> None:
    async with running() as server:
        first = await Client().connect(server)
        try:
            session_id = await first.session()
            await first.sio.emit("user_uttered", {"message": "één", "session_id": session_id})
            assert (await first.next("bot_uttered"))["text"] == "echo: één"
        finally:
            await first.close()
        second = await Client().connect(server)
        try:
            assert await second.session(session_id) == session_id
            await second.sio.emit("user_uttered", {"message": "twee"})  # no id: the confirmed one
            assert (await second.next("bot_uttered"))["text"] == "echo: twee"
        finally:
            await second.close()
    assert [(m.sender_id, m.text) for m in server.agent.messages] == [(session_id, "één"), (session_id, "twee")]


@pytest.mark.parametrize("wanted", ["a" * (MAX_SENDER_CHARS + 1), "x" * 10_000, "<script>", "a b", 42])
async def test_an_invalid_session_id_in_session_request_is_replaced(wanted: Any) -> None:
    async with running() as server:
        client = await Client().connect(server)
        try:
            got = await client.session(wanted)
        finally:
            await client.close()
    assert got != wanted and len(got) == 32


BAD_MESSAGES = [
    ("message_too_long", {"message": "x" * (MAX_MESSAGE_CHARS + 1)}),
    ("bad_message", {"message": ""}),
    ("bad_message", {"message": "   "}),
    ("bad_message", {"message": 5}),
    ("bad_message", {}),
    ("bad_message", {"message": "\ud800 hallo"}),  # a lone surrogate
    ("bad_session_id", {"message": "hi", "session_id": "x" * 10_240}),
    ("bad_session_id", {"message": "hi", "session_id": "../etc"}),
    ("bad_session_id", {"message": "hi", "session_id": ""}),
    ("session_mismatch", {"message": "hi", "session_id": "someone-else"}),
    ("bad_metadata", {"message": "hi", "metadata": "{not json"}),
    ("bad_metadata", {"message": "hi", "metadata": [1, 2]}),
    ("bad_payload", "just a string"),
]


@pytest.mark.parametrize("code, data", BAD_MESSAGES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(BAD_MESSAGES)])
async def test_bad_input_gets_an_error_event_and_is_not_processed(code: str, data: Any) -> None:
    async with running() as server:
        client = await Client().connect(server)
        try:
            session_id = await client.session()
            await client.sio.emit("user_uttered", data)
            error = await client.next("error")
            assert error["code"] == code and error["message"]
            assert client.events["bot_uttered"].empty()
            # the connection still works, and only the good message reached the agent
            await client.sio.emit("user_uttered", {"message": "ok", "session_id": session_id})
            assert (await client.next("bot_uttered"))["text"] == "echo: ok"
        finally:
            await client.close()
    assert [m.text for m in server.agent.messages] == ["ok"]


async def test_a_message_before_session_request_is_refused() -> None:
    async with running() as server:
        client = await Client().connect(server)
        try:
            await client.sio.emit("user_uttered", {"message": "hi", "session_id": "abc123"})
            assert (await client.next("error"))["code"] == "no_session"
        finally:
            await client.close()
    assert server.agent.messages == []


async def test_a_100_kb_message_closes_the_connection_and_is_not_processed() -> None:
    """Over engine.io's 64 KiB packet limit: engine.io drops the connection (no event to answer)."""
    async with running() as server:
        client = await Client().connect(server)
        try:
            session_id = await client.session()
            await client.sio.emit("user_uttered", {"message": "x" * 100_000, "session_id": session_id})
            await client.next("disconnect")
        finally:
            await client.close()
    assert server.agent.messages == []


async def test_a_foreign_origin_is_refused_and_the_servers_own_is_accepted() -> None:
    async with running() as server:
        for transport in ("websocket", "polling"):
            with pytest.raises(socketio.exceptions.ConnectionError):
                await Client().connect(server, transport, headers={"Origin": "https://evil.example"})
        for origin in (f"http://127.0.0.1:{server.port}", f"http://localhost:{server.port}"):
            client = await Client().connect(server, headers={"Origin": origin})
            try:
                assert len(await client.session()) == 32
            finally:
                await client.close()
    assert server.agent.messages == []


async def test_configured_origins_replace_the_default(monkeypatch) -> None:
    monkeypatch.setenv(ORIGINS_ENV, "https://wegwijs.example.nl, https://chat.example.nl/")
    channel = SocketIOInput.from_credentials(CREDENTIALS)
    assert channel.cors_allowed_origins == ["https://wegwijs.example.nl", "https://chat.example.nl"]
    async with running(channel) as server:
        client = await Client().connect(server, headers={"Origin": "https://chat.example.nl"})
        await client.close()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Client().connect(server, headers={"Origin": f"http://127.0.0.1:{server.port}"})


def test_origin_settings(monkeypatch) -> None:
    monkeypatch.delenv(ORIGINS_ENV, raising=False)
    assert configured_origins(None) is None and configured_origins("") is None
    monkeypatch.setenv(ORIGINS_ENV, "https://a.example")
    assert configured_origins(None) == ["https://a.example"]
    assert configured_origins(["https://b.example:8443"]) == ["https://b.example:8443"]  # credentials win
    with pytest.raises(ValueError):
        configured_origins("wegwijs.example.nl")  # no scheme


def test_credentials_yml_registers_the_fixed_channel_only(monkeypatch) -> None:
    monkeypatch.delenv(ORIGINS_ENV, raising=False)
    for name in ("WHATSAPP_APP_SECRET", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    channels = create_http_input_channels(None, str(REPO / "credentials.yml"))
    socketio_channels = [c for c in channels if c.name() == "socketio"]
    assert len(socketio_channels) == 1 and type(socketio_channels[0]) is SocketIOInput
    channel = socketio_channels[0]
    assert (channel.user_message_evt, channel.bot_message_evt, channel.session_persistence,
            channel.socketio_path, channel.cors_allowed_origins) == (
        "user_uttered", "bot_uttered", True, "/socket.io", None)


@pytest.mark.redis
async def test_a_flood_gets_the_polite_text_and_is_not_processed(monkeypatch) -> None:
    """Real Redis on 127.0.0.1:6379 counts; other sessions are not affected."""
    monkeypatch.setenv("WEGWIJS_RATE_LIMIT_PER_MINUTE", "2")
    async with running() as server:
        client, other = await Client().connect(server), await Client().connect(server)
        try:
            session_id, other_id = await client.session(), await other.session()
            for text in ("een", "twee"):
                await client.sio.emit("user_uttered", {"message": text, "session_id": session_id})
                assert (await client.next("bot_uttered"))["text"] == f"echo: {text}"
            await client.sio.emit("user_uttered", {"message": "drie", "session_id": session_id})
            polite = (await client.next("bot_uttered"))["text"]
            assert "berichten" in polite and "messages" in polite
            assert (await client.next("error"))["code"] == "rate_limited"
            await other.sio.emit("user_uttered", {"message": "hallo", "session_id": other_id})
            assert (await other.next("bot_uttered"))["text"] == "echo: hallo"
        finally:
            await client.close()
            await other.close()
    assert [m.text for m in server.agent.messages] == ["een", "twee", "hallo"]
