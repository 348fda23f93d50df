"""A minimal web chat page served by the Rasa server itself.

``WebChatInput`` is a Rasa input channel (registered in credentials.yml as
``integrations.webchat.WebChatInput``) whose blueprint serves:

- ``GET /webhooks/webchat/``: health, ``{"status": "ok"}`` (Rasa's channel convention);
- ``GET /webhooks/webchat/chat``: the chat page (Jinja2 template), which talks to
  the REST channel (``POST /webhooks/rest/webhook``) from the browser.

The page adds nothing the REST channel does not do; it exists so a parent or a
tester can chat without any other software. The full widget is a later issue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"


class WebChatInput(InputChannel):
    """Serves the web chat page; messages go through the REST channel."""

    @classmethod
    def name(cls) -> Text:
        """Channel slug: the page lives under ``/webhooks/webchat/``."""
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """No credentials needed (see parent class for full docstring)."""
        return cls()

    def __init__(self) -> None:
        self._env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"])
        )

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Routes of the page (see parent class for full docstring)."""
        bp = Blueprint("webchat_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/chat", methods=["GET"])
        async def page(_: Request) -> HTTPResponse:
            html = self._env.get_template("webchat.html.j2").render(
                rest_url="/webhooks/rest/webhook", parse_url="/model/parse"
            )
            return response.html(html)

        return bp
