"""Launcher of the Rasa server: ``python -m wegwijs.security.rasa_server [rasa run options]``.

Runs Rasa's own ``rasa run`` (``rasa.__main__.main``) with, added here:

- ``--auth-token`` = ``WEGWIJS_API_TOKEN`` (and ``--jwt-secret`` = ``WEGWIJS_JWT_SECRET``
  when set), from :func:`wegwijs.security.secrets.load_secrets`; passed inside this
  process, so the token never shows in ``ps``;
- ``--cors`` = the origins of ``WEGWIJS_CORS_ORIGINS`` (comma-separated), default this
  server's own ``http://127.0.0.1:<port>`` and ``http://localhost:<port>`` (never ``*``);
- Sanic's ``REQUEST_MAX_SIZE`` = :data:`wegwijs.security.api.RASA_REQUEST_MAX_SIZE`
  (413 above it), and a request middleware with the checks of
  :func:`wegwijs.security.api.check_api_request`;
- the log redaction of :mod:`wegwijs.security.redact` on every handler.

The hook is ``rasa.core.run.configure_app`` (which ``serve_application`` calls to build
the Sanic app): it is wrapped, the app it returns gets the middleware.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

from sanic import response
from sanic.request import Request

from wegwijs.security import redact
from wegwijs.security.api import RASA_REQUEST_MAX_SIZE, check_api_request
from wegwijs.security.secrets import load_secrets


def cors_origins(port: int, environ: Optional[dict] = None) -> list[str]:
    """The allowed browser origins (see the module docstring)."""
    env = os.environ if environ is None else environ
    configured = [o.strip() for o in env.get("WEGWIJS_CORS_ORIGINS", "").split(",") if o.strip()]
    return configured or [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


async def _check_request(request: Request) -> Any:
    # Sanic 21.12 does not read a body over REQUEST_MAX_SIZE before the middleware runs
    # (request.body is then empty): answer 413 here from the announced length
    try:
        length = int(request.headers.get("content-length") or 0)
    except ValueError:
        return response.json({"error": "bad Content-Length"}, status=400)
    if length > request.app.config.REQUEST_MAX_SIZE:
        return response.json(
            {"error": f"body is {length} bytes, the limit is {request.app.config.REQUEST_MAX_SIZE}"}, status=413
        )
    try:
        query = {k: v[0] if len(v) == 1 else v for k, v in request.args.items()}
        if any(isinstance(v, list) for v in query.values()):
            return response.json({"error": "each query parameter at most once"}, status=400)
        problem = check_api_request(request.method, request.path, query, request.body or b"")
    except Exception:  # never a 500 from the check itself
        problem = (400, "malformed request")
    if problem:
        status, message = problem
        return response.json({"error": message}, status=status)
    return None


def harden(app: Any) -> Any:
    """Add the body limit, the request checks and the log filter to Rasa's Sanic ``app``."""
    app.config.REQUEST_MAX_SIZE = RASA_REQUEST_MAX_SIZE
    app.register_middleware(_check_request, "request")

    async def _filter_logs(*_: Any) -> None:
        redact.install()

    app.register_listener(_filter_logs, "before_server_start")
    app.register_listener(_filter_logs, "after_server_start")
    return app


def _option(argv: list[str], name: str, default: str) -> str:
    if name in argv and argv.index(name) + 1 < len(argv):
        return argv[argv.index(name) + 1]
    return default


def main(argv: Optional[list[str]] = None) -> None:
    """Start ``rasa run`` with ``argv`` (default ``sys.argv[1:]``) and the additions above."""
    redact.install()
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--auth-token" in argv or "--cors" in argv:
        raise SystemExit("--auth-token and --cors come from the environment (docs/security.md)")
    secrets = load_secrets()
    port = int(_option(argv, "--port", "5005"))
    extra = ["--auth-token", secrets.api_token, "--cors", *cors_origins(port)]
    if secrets.jwt_secret:
        extra += ["--jwt-secret", secrets.jwt_secret]

    import rasa.core.run

    original = rasa.core.run.configure_app

    def configure_app(*args: Any, **kwargs: Any) -> Any:
        return harden(original(*args, **kwargs))

    rasa.core.run.configure_app = configure_app  # serve_application looks it up here

    import rasa.__main__

    sys.argv = ["rasa", "run", *argv, *extra]
    rasa.__main__.main()


if __name__ == "__main__":
    main()
