"""Fixtures for the outbox tests: migrated databases (the referral tests' fixtures), a local
SMTP server (aiosmtpd on 127.0.0.1) whose answers a test decides, routing pointed at it."""

from __future__ import annotations

import email
import email.policy
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from tests.wegwijs.referrals.conftest import (  # noqa: F401  (fixtures)
    _fresh_composition_root, db_url, make_referral_in, postgres_migrated_url, referral_in, session_factory,
)
from wegwijs.routing import ROUTING_DIR, RoutingTable, load_routing
from wegwijs.serve import free_port


@dataclass
class Received:
    """What the SMTP server saw: every DATA (accepted or not) and the accepted ones."""

    attempts: list[Any] = field(default_factory=list)  # email.message.EmailMessage
    accepted: list[Any] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    got_data: threading.Event = field(default_factory=threading.Event)


class ScriptedHandler:
    """aiosmtpd handler: answers DATA with the next entry of ``answers`` (then "250").

    An answer may be an ``asyncio.Event``-returning callable: the handler then waits on it
    (a server that hangs mid-send) and answers 250 when it is set.
    """

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.received = Received()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        # SMTP lines end in CRLF on the wire; compare texts with plain newlines
        message = email.message_from_bytes(envelope.content.replace(b"\r\n", b"\n"), policy=email.policy.default)
        self.received.attempts.append(message)
        self.received.got_data.set()
        answer = self.answers.pop(0) if self.answers else "250 OK"
        if callable(answer):
            await answer().wait()
            answer = "250 OK"
        if answer.startswith("250"):
            self.received.accepted.append(message)
            self.received.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return answer


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Any]]:
    """``start(answers, port=None) -> (port, handler)``: a local SMTP server; stopped after the test."""
    from aiosmtpd.controller import Controller

    controllers: list[Any] = []

    def start(answers: list[Any] | None = None, port: int | None = None) -> tuple[int, ScriptedHandler]:
        handler = ScriptedHandler(answers or [])
        port = port or free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return port, handler

    yield start
    for controller in controllers:
        controller.stop()


def routing_for(smtp_port: int, webhook_url: str | None = None, secret_env: str = "WEGWIJS_TEST_WEBHOOK_SECRET") -> RoutingTable:
    """The example routing files with every queue's e-mail sent to 127.0.0.1:``smtp_port``
    (and, with ``webhook_url``, a webhook on every queue)."""
    from wegwijs.routing.schema import WebhookSettings

    table = load_routing()

    def local(routing: Any) -> Any:
        notifications = routing.notifications
        changes: dict[str, Any] = {}
        if notifications.email is not None:
            changes["email"] = notifications.email.copy(update={
                "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "starttls": False,
                "username_env": None, "password_env": None,
            })
        changes["webhook"] = WebhookSettings(url=webhook_url, secret_env=secret_env) if webhook_url else None
        return routing.copy(update={"notifications": notifications.copy(update=changes)})

    return RoutingTable(default=local(table.default), gemeenten={k: local(v) for k, v in table.gemeenten.items()})


def routing_dir_for(tmp_path: Path, smtp_port: int) -> Path:
    """A copy of ``municipalities/routing/`` on disk whose queues mail 127.0.0.1:``smtp_port``."""
    target = tmp_path / "routing"
    shutil.copytree(ROUTING_DIR, target)
    for path in target.glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["notifications"].pop("webhook", None)
        data["notifications"]["email"].update(
            smtp_host="127.0.0.1", smtp_port=smtp_port, starttls=False, username_env=None, password_env=None
        )
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def names() -> Any:
    """The project's Dutch topic and language names (languages/)."""
    from wegwijs.referrals.summary import load_dutch_names
    from wegwijs.settings import REPO_ROOT

    return load_dutch_names(REPO_ROOT / "languages")


async def webhook_receiver(secret: str, answers: list[int]) -> tuple[Any, str, list[dict]]:
    """A local webhook endpoint (aiohttp on 127.0.0.1): ``(runner, url, seen)``.

    Each POST is recorded in ``seen`` as ``{"raw", "signature_ok", "key", "content_type"}``
    (``signature_ok``: the ``X-Wegwijs-Signature`` HMAC checks out against ``secret``) and
    answered with the next status of ``answers`` (200 when none are left). Call
    ``await runner.cleanup()`` when done.
    """
    from aiohttp import web

    from wegwijs.outbox.send import verify

    seen: list[dict] = []

    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        seen.append({
            "raw": raw,
            "signature_ok": verify(raw, secret, request.headers.get("X-Wegwijs-Signature")),
            "key": request.headers.get("Idempotency-Key"),
            "content_type": request.headers.get("Content-Type"),
        })
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/hook", seen
