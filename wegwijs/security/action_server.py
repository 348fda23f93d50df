"""Launcher of the action server: ``python -m wegwijs.security.action_server --port N``.

rasa_sdk's own app (``rasa_sdk.endpoint.create_app``) with:

- the interface ``WEGWIJS_ACTION_INTERFACE`` (default ``127.0.0.1``; rasa_sdk's own
  ``run`` binds ``0.0.0.0``);
- a request middleware: ``POST /webhook`` needs ``?token=<WEGWIJS_ACTION_TOKEN>``
  (how Rasa's ``EndpointConfig`` sends ``token``: ``rasa/utils/endpoints.py``, a query
  parameter named ``token_name``, default ``token``), compared in constant time;
  without it 401. ``GET /health`` stays open (it says only ``ok``);
- no CORS (only Rasa calls it), ``REQUEST_MAX_SIZE`` 8 MiB (Rasa sends the whole tracker);
- the log redaction of :mod:`wegwijs.security.redact`.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from typing import Any, Optional

from sanic import response
from sanic.request import Request

from wegwijs.security import redact
from wegwijs.security.secrets import load_secrets

#: Sanic's body limit of the action server, bytes
ACTION_REQUEST_MAX_SIZE = 8 * 1024 * 1024


def token_middleware(token: str):
    """A Sanic request middleware refusing ``/webhook`` calls without ``?token=token``."""
    expected = token.encode()

    async def check(request: Request) -> Optional[Any]:
        if request.path == "/health" and request.method in ("GET", "HEAD"):
            return None
        given = request.args.get("token") or ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected):
            return response.json({"error": "a valid token is required"}, status=401)
        return None

    return check


def create_app(token: str, actions: str = "actions") -> Any:
    """rasa_sdk's action server app with the token check and the body limit."""
    from rasa_sdk.endpoint import create_app as sdk_create_app

    app = sdk_create_app(actions, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = ACTION_REQUEST_MAX_SIZE
    app.register_middleware(token_middleware(token), "request")

    async def _filter_logs(*_: Any) -> None:
        redact.install()

    app.register_listener(_filter_logs, "before_server_start")
    return app


def main(argv: Optional[list[str]] = None) -> None:
    """Parse ``--port`` and ``--actions``, then serve until stopped."""
    parser = argparse.ArgumentParser(prog="wegwijs.security.action_server")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    redact.install()
    from rasa_sdk.utils import number_of_sanic_workers

    app = create_app(load_secrets().action_token, args.actions)
    host = os.environ.get("WEGWIJS_ACTION_INTERFACE", "127.0.0.1")
    logging.getLogger(__name__).info("action server on http://%s:%d (token required)", host, args.port)
    app.run(host, args.port, workers=number_of_sanic_workers(), access_log=False)


if __name__ == "__main__":
    main()
