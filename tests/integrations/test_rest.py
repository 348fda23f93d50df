"""The REST channel with input checks, and the web chat page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rasa.core import utils
from rasa.core.run import configure_app
from sanic import Sanic

from integrations.rest import MAX_MESSAGE_CHARS, RestInput, check_rest_body
from integrations.webchat import WebChatInput


@pytest.mark.parametrize(
    "body, status",
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (json.dumps({"message": "hi"}).encode(), 400),
        (json.dumps({"sender": "", "message": "hi"}).encode(), 400),
        (json.dumps({"sender": "a" * 200, "message": "hi"}).encode(), 400),
        (json.dumps({"sender": "u1"}).encode(), 400),
        (json.dumps({"sender": "u1", "message": "   "}).encode(), 400),
        (json.dumps({"sender": "u1", "message": 5}).encode(), 400),
        (json.dumps({"sender": "u1", "message": "x" * (MAX_MESSAGE_CHARS + 1)}).encode(), 413),
        (b"{" + b" " * 70000 + b"}", 413),
    ],
)
def test_bad_bodies_are_refused(body: bytes, status: int) -> None:
    problem = check_rest_body(body)
    assert problem is not None and problem[0] == status


def test_good_body_passes() -> None:
    assert check_rest_body(json.dumps({"sender": "u1", "message": "مرحبا"}).encode()) is None


class EchoAgent:
    """Stands in for Rasa's agent: records messages and answers with an echo."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    async def handle_message(self, message) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo:{message.text}")


@pytest.fixture
def app_and_messages():
    Sanic.test_mode = True  # several apps named "rasa_server" in one test process
    app = configure_app([RestInput(), WebChatInput()], cors="*")
    agent = EchoAgent()
    app.ctx.agent = agent
    return app, agent.received


def test_routes_are_registered(app_and_messages) -> None:
    app, _ = app_and_messages
    urls = " ".join(str(v) for v in utils.list_routes(app).values())
    for url in ("/webhooks/rest/webhook", "/webhooks/webchat/chat", "/webhooks/webchat/"):
        assert url in urls


def test_rest_webhook_rejects_and_accepts(app_and_messages) -> None:
    app, received = app_and_messages
    _, bad = app.test_client.post("/webhooks/rest/webhook", data="{oops")
    assert bad.status == 400 and "JSON" in bad.json["error"]
    _, empty = app.test_client.post("/webhooks/rest/webhook", json={"sender": "u1", "message": ""})
    assert empty.status == 400
    assert received == []  # nothing bad reached the agent
    _, ok = app.test_client.post("/webhooks/rest/webhook", json={"sender": "u1", "message": "hallo"})
    assert ok.status == 200
    assert ok.json == [{"recipient_id": "u1", "text": "echo:hallo"}]
    assert [m.text for m in received] == ["hallo"] and received[0].input_channel == "rest"


def test_webchat_page_is_served(app_and_messages) -> None:
    app, _ = app_and_messages
    _, health = app.test_client.get("/webhooks/webchat/")
    assert health.json == {"status": "ok"}
    _, page = app.test_client.get("/webhooks/webchat/chat")
    assert page.status == 200 and "text/html" in page.headers["content-type"]
    assert '"/webhooks/rest/webhook"' in page.text and 'dir = "auto"' in page.text
