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
        (b'{"sender": "u1", "message": "\\ud800 hallo"}', 400),
    ],
)
def test_bad_bodies_are_refused(body: bytes, status: int) -> None:
    problem = check_rest_body(body)
    assert problem is not None and problem[0] == status


def test_good_body_passes() -> None:
    assert check_rest_body(json.dumps({"sender": "u1", "message": "مرحبا"}).encode()) is None


@pytest.fixture
def app():
    Sanic.test_mode = True  # several apps named "rasa_server" in one test process
    return configure_app([RestInput(), WebChatInput()], cors="*")


def test_routes_are_registered(app) -> None:
    urls = " ".join(str(v) for v in utils.list_routes(app).values())
    for url in ("/webhooks/rest/webhook", "/webhooks/webchat/chat", "/webhooks/webchat/"):
        assert url in urls


def test_rest_blueprint_checks_bodies_before_rasa(app) -> None:
    """The request middleware of our REST blueprint is registered (real HTTP: tests/e2e)."""
    bp = next(b for name, b in app.blueprints.items() if "RestInput" in name)
    assert bp._future_middleware, "the input check middleware is missing"


def test_webchat_page_renders() -> None:
    html = WebChatInput()._env.get_template("webchat.html.j2").render(
        rest_url="/webhooks/rest/webhook", parse_url="/model/parse")
    assert '"/webhooks/rest/webhook"' in html and 'dir = "auto"' in html
    assert "textContent" in html and "innerHTML" not in html  # bot text is never parsed as HTML
