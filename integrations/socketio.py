"""Rasa's socket.io channel, fixed: replies reach the client, input is checked, origins are limited.

Registered in credentials.yml as ``integrations.socketio.SocketIOInput`` instead of Rasa's
``socketio`` entry; same name (``socketio``), same events, same socket path (``/socket.io``),
same health route (``GET /webhooks/socketio/``). What it changes, and why:

- **Replies arrive.** Rasa 3.6.21 calls ``sio.enter_room(sid, session_id)`` without
  ``await``; in python-socketio 5.x (5.18.1 in the lock) ``AsyncServer.enter_room`` is a
  coroutine, so the client never joins its session's room and every ``bot_uttered``
  (emitted to ``room=session_id``) is lost ("coroutine 'AsyncServer.enter_room' was never
  awaited"; measured: 24 of 24 messages without a reply). Here it is awaited.
- **Sessions.** ``session_request`` (payload ``{"session_id": "..."}``, or nothing) is
  answered with ``session_confirm`` carrying the session id: the client's own id when it
  is valid (:data:`SESSION_ID_RE`, at most ``MAX_SENDER_CHARS`` characters), else a new
  ``uuid4().hex``. The session id is the Rasa sender id (the conversation).
- **Input checks** (the REST channel's, from :func:`integrations.rest.check_fields`): a
  ``user_uttered`` event ``{"message": str, "session_id": str, "metadata": dict}`` with bad
  input is not processed; only that client gets an ``error`` event
  ``{"code": ..., "message": ...}`` (codes: :data:`ERROR_CODES`). An engine.io packet over
  ``MAX_BODY_BYTES`` (64 KiB) is refused by engine.io itself, which closes the connection.
- **Rate limit** (:mod:`wegwijs.security.ratelimit`, per session id, in Redis): above it the
  message is not processed; the client gets a ``bot_uttered`` with the polite
  ``rate_limited`` text of ``languages/nl`` and ``languages/en`` (the channel does not know
  the conversation language) and an ``error`` ``rate_limited``.
- **Origins.** Rasa builds ``AsyncServer(async_mode="sanic", cors_allowed_origins=[])``,
  which switches engine.io's Origin check off: any web page could open a socket. Here
  only configured origins may connect (:func:`configured_origins`): ``cors_allowed_origins``
  in credentials.yml (a list or a comma-separated string), else the environment variable
  ``WEGWIJS_WEBCHAT_ORIGINS`` (comma-separated), else the server's own
  ``http://127.0.0.1:<port>`` and ``http://localhost:<port>`` (``<port>`` = the port the
  request arrived on). A request without an ``Origin`` header (not a browser) is allowed,
  as engine.io does; a foreign ``Origin`` gets HTTP 400 and no connection.

Not supported: a ``namespace`` other than the default one (Rasa's ``SocketIOOutput``
always emits to ``/``). Sources of facts: ``rasa/core/channels/socketio.py`` (3.6.21),
``socketio/async_server.py`` and ``engineio/base_server.py`` (``_cors_allowed_origins``)
in ``.venv``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Union

import rasa.core.channels.channel
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOOutput
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from integrations.rest import MAX_BODY_BYTES, MAX_SENDER_CHARS, check_fields

logger = logging.getLogger(__name__)

ORIGINS_ENV = "WEGWIJS_WEBCHAT_ORIGINS"
ERROR_EVENT = "error"
#: Characters a session id may have: what uuid4().hex, Rasa's widgets and our REST
#: senders ("web-<uuid>") use. Nothing that could be markup, a path or whitespace.
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_.:-]+")
_ORIGIN_RE = re.compile(r"https?://[^/\s?#]+")

#: ``error`` event codes and when they are sent.
ERROR_CODES = {
    "bad_payload": "the event's data is not a JSON object",
    "no_session": "a message before session_request (session persistence on)",
    "bad_session_id": "session_id not a string, too long, or with characters outside SESSION_ID_RE",
    "session_mismatch": "session_id differs from the one confirmed to this connection",
    "bad_message": "message missing, empty, not a string, or not valid Unicode (REST: 400)",
    "message_too_long": "message over MAX_MESSAGE_CHARS characters (REST: 413)",
    "bad_metadata": "metadata not a JSON object (or a string holding one)",
    "rate_limited": "over WEGWIJS_RATE_LIMIT_PER_MINUTE messages this minute (REST: 429); "
    "a bot_uttered with the polite text (Dutch and English) comes first",
}


def parse_origins(value: Union[None, str, List[Any]]) -> Optional[List[str]]:
    """Origins from a credentials value or an environment variable.

    Args:
        value: ``None``/empty (not configured), a comma- or space-separated string, or a
            list of strings such as ``["https://wegwijs.example.nl"]``; ``"*"`` allows all.

    Returns:
        The origins without trailing ``/``, or None when nothing is configured.

    Raises:
        ValueError: an entry that is not ``*`` and not ``http(s)://host[:port]``.
    """
    if value is None:
        return None
    items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value))
    origins = []
    for item in items:
        origin = str(item).strip().rstrip("/")
        if not origin:
            continue
        if origin != "*" and not _ORIGIN_RE.fullmatch(origin):
            raise ValueError(
                f"socket.io origin {item!r} is not '*' or scheme://host[:port] "
                "(e.g. https://wegwijs.example.nl)"
            )
        origins.append(origin)
    return origins or None


def configured_origins(credentials_value: Union[None, str, List[Any]] = None) -> Optional[List[str]]:
    """The allowed origins: credentials first, then ``$WEGWIJS_WEBCHAT_ORIGINS``.

    Returns:
        A list (see :func:`parse_origins`), or None for the default (the server's own
        ``http://127.0.0.1:<port>`` and ``http://localhost:<port>``).

    Raises:
        ValueError: a malformed origin (the server refuses to start).
    """
    return parse_origins(credentials_value) or parse_origins(os.environ.get(ORIGINS_ENV))


def _server_port(environ: Dict[str, Any]) -> Optional[int]:
    """The local port of the connection (Sanic's ``conn_info``), or None."""
    request = environ.get("sanic.request")
    conn_info = getattr(request, "conn_info", None)
    port = getattr(conn_info, "server_port", None)
    return int(port) if port else None


class OriginPolicy:
    """engine.io's ``cors_allowed_origins`` callable: ``policy(origin, environ) -> bool``.

    With ``origins`` None only ``http://127.0.0.1:<port>`` and ``http://localhost:<port>``
    pass, ``<port>`` being the server socket's port (the page served by this server).
    """

    def __init__(self, origins: Optional[List[str]]) -> None:
        self.origins = None if origins is None else frozenset(origins)

    def __call__(self, origin: Optional[str], environ: Optional[Dict[str, Any]] = None) -> bool:
        if not origin:
            return False
        if self.origins is not None:
            return "*" in self.origins or origin.rstrip("/") in self.origins
        port = _server_port(environ or {})
        return port is not None and origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}")


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io channel with awaited rooms, input checks and an Origin allow-list."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Rasa's settings plus ``cors_allowed_origins`` (see the module docstring).

        Raises:
            ValueError: a malformed origin.
        """
        credentials = credentials or {}
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            credentials.get("session_persistence", False),
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key"),
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "metadata"),
            cors_allowed_origins=configured_origins(credentials.get("cors_allowed_origins")),
        )

    def __init__(
        self,
        user_message_evt: Text = "user_uttered",
        bot_message_evt: Text = "bot_uttered",
        namespace: Optional[Text] = None,
        session_persistence: bool = False,
        socketio_path: Optional[Text] = "/socket.io",
        jwt_key: Optional[Text] = None,
        jwt_method: Optional[Text] = "HS256",
        metadata_key: Optional[Text] = "metadata",
        cors_allowed_origins: Optional[List[str]] = None,
    ) -> None:
        """Rasa's arguments, plus ``cors_allowed_origins`` (None: the server's own origins)."""
        super().__init__(
            user_message_evt, bot_message_evt, namespace, session_persistence,
            socketio_path, jwt_key, jwt_method, metadata_key,
        )
        self.cors_allowed_origins = parse_origins(cors_allowed_origins)
        self._sessions: Dict[str, str] = {}  # socket id -> confirmed session id

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """The socket.io server and its health route (see parent class for full docstring)."""
        from wegwijs.security import channel_texts
        from wegwijs.security.ratelimit import RateLimiter

        limiter = RateLimiter()  # per session_id, in Redis (docs/security.md)
        policy: Any = OriginPolicy(self.cors_allowed_origins)
        if self.cors_allowed_origins and "*" in self.cors_allowed_origins:
            logger.warning("socket.io accepts every Origin (cors_allowed_origins contains '*')")
        sio = AsyncServer(
            async_mode="sanic", cors_allowed_origins=policy, max_http_buffer_size=MAX_BODY_BYTES
        )
        bp = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio  # get_output_channel() uses it
        namespace = self.namespace

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def error(sid: str, code: str, message: str) -> None:
            logger.info("socket.io %s: refused (%s): %s", sid, code, message)
            await sio.emit(ERROR_EVENT, {"code": code, "message": message}, room=sid, namespace=namespace)

        @sio.on("connect", namespace=namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            if self.jwt_key:
                token = auth.get("token") if isinstance(auth, dict) else None
                if not token or not rasa.core.channels.channel.decode_bearer_token(
                    token, self.jwt_key, self.jwt_algorithm
                ):
                    return False
            logger.debug("socket.io %s connected", sid)
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text, *_: Any) -> None:
            self._sessions.pop(sid, None)
            logger.debug("socket.io %s disconnected", sid)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            if data is not None and not isinstance(data, dict):
                await error(sid, "bad_payload", 'session_request takes {"session_id": "..."} or nothing')
                return
            wanted = (data or {}).get("session_id")
            session_id = wanted if valid_session_id(wanted) else uuid.uuid4().hex
            if wanted is not None and session_id != wanted:
                logger.info("socket.io %s: invalid session id replaced by a new one", sid)
            if self.session_persistence:
                old = self._sessions.get(sid)
                if old and old != session_id:
                    await sio.leave_room(sid, old, namespace=namespace)
                await sio.enter_room(sid, session_id, namespace=namespace)  # Rasa forgets the await
            self._sessions[sid] = session_id
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict):
                await error(sid, "bad_payload", 'send {"message": "...", "session_id": "..."}')
                return
            if self.session_persistence:
                confirmed = self._sessions.get(sid)
                sender_id = data.get("session_id")
                if sender_id is None:
                    sender_id = confirmed
                if sender_id is not None and not valid_session_id(sender_id):
                    await error(sid, "bad_session_id", session_id_problem(sender_id))
                    return
                if confirmed is None:
                    await error(sid, "no_session", "send session_request first and wait for session_confirm")
                    return
                if sender_id != confirmed:
                    await error(sid, "session_mismatch", "session_id is not the one confirmed to this connection")
                    return
            else:
                sender_id = sid
            text = data.get("message")
            problem = check_fields(sender_id, text, sender_field="session_id")
            if problem:
                status, msg = problem
                await error(sid, "message_too_long" if status == 413 else "bad_message", msg)
                return
            metadata = parse_metadata(data.get(self.metadata_key))
            if metadata is None:
                await error(sid, "bad_metadata", f"'{self.metadata_key}' must be a JSON object")
                return
            verdict = await limiter.hit(sender_id)
            if not verdict.allowed:
                # the parent reads the polite text; a client can tell by the error event
                polite = channel_texts.text("rate_limited", None, seconds=verdict.retry_after)
                await sio.emit(self.bot_message_evt, {"text": polite}, room=sid, namespace=namespace)
                await error(sid, "rate_limited", f"too many messages; try again in {verdict.retry_after} s")
                return
            await on_new_message(UserMessage(
                text, SocketIOOutput(sio, self.bot_message_evt), sender_id,
                input_channel=self.name(), metadata=metadata,
            ))

        return bp


def valid_session_id(value: Any) -> bool:
    """True for a string of 1..MAX_SENDER_CHARS characters matching :data:`SESSION_ID_RE`."""
    return isinstance(value, str) and len(value) <= MAX_SENDER_CHARS and bool(SESSION_ID_RE.fullmatch(value))


def parse_metadata(value: Any) -> Optional[Dict[str, Any]]:
    """A message's metadata as a dict (Rasa also accepts a JSON string), or None when invalid.

    Args:
        value: the ``metadata`` field: missing/None (→ ``{}``), a dict, or a JSON object string
            (a string that is not JSON, or nested too deeply to parse, is invalid).
    """
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
            return None
    return value if isinstance(value, dict) else None


def session_id_problem(value: Any) -> str:
    """The ``error`` text for an invalid session id (see :func:`valid_session_id`)."""
    if not isinstance(value, str) or not value:
        return "'session_id' must be a non-empty string"
    if len(value) > MAX_SENDER_CHARS:
        return f"'session_id' is {len(value)} characters, the limit is {MAX_SENDER_CHARS}"
    return "'session_id' may contain only letters A-Z a-z, digits and _ . : -"
