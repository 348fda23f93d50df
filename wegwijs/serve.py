"""``wegwijs serve``: start the action server and the Rasa server, wait until both answer.

Used by ``scripts/up.sh`` (foreground, Ctrl-C stops both), by the end-to-end tests
and by the benchmark (as a context manager on free ports with their own databases).
Rasa's endpoints file is written from :class:`wegwijs.settings.Settings` into
``var/endpoints-<port>.yml``, so one place configures storage.

Both servers start through the launchers of :mod:`wegwijs.security` (docs/security.md):
Rasa's HTTP API needs ``?token=<WEGWIJS_API_TOKEN>`` (:attr:`Servers.api_token`,
:meth:`Servers.api_url`), the action server listens on 127.0.0.1 and needs the action
token, which Rasa sends. The tokens come from the environment or are generated once
into ``~/.config/wegwijs/secrets.json`` (:mod:`wegwijs.security.secrets`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from contextlib import contextmanager

import yaml

from urllib.parse import urlencode

from wegwijs.build import RASA_MODEL, rasa_bin, rasa_env
from wegwijs.security.secrets import load_secrets
from wegwijs.settings import REPO_ROOT, Settings

VAR = REPO_ROOT / "var"


class ServeError(RuntimeError):
    """A server did not start (the message says which, with its log file)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for tests and benchmarks)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def endpoints_config(settings: Settings, action_port: int) -> dict:
    """Rasa endpoints (action server, tracker store, lock store) from ``settings``.

    The tracker store is :class:`integrations.tracker_store.WegwijsSQLTrackerStore`
    on ``settings.tracker_db_url``; the lock store is Redis when ``lock_store`` is
    "redis", else Rasa's in-memory store (one Rasa process).
    """
    cfg: dict = {
        # Rasa expands ${VAR} in endpoints files: the token stays out of the file
        "action_endpoint": {
            "url": f"http://127.0.0.1:{action_port}/webhook",
            "token": "${WEGWIJS_ACTION_TOKEN}",
        },
        "tracker_store": {
            "type": "integrations.tracker_store.WegwijsSQLTrackerStore",
            "url": settings.tracker_db_url,
        },
    }
    if os.environ.get("WEGWIJS_LOCK_STORE", "in_memory") == "redis":
        from urllib.parse import urlparse

        u = urlparse(settings.redis_url)
        cfg["lock_store"] = {
            "type": "redis",
            "url": u.hostname or "127.0.0.1",
            "port": u.port or 6379,
            "db": int((u.path or "/0").strip("/") or 0),
            "key_prefix": "wegwijs",
        }
    return cfg


def _wait_http(url: str, proc: subprocess.Popen, timeout: float, log: Path, ok=lambda body: True) -> None:
    shown = url.split("?", 1)[0]  # never the token in an error message
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServeError(f"{shown}: process exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and ok(r.read()):
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise ServeError(f"{shown}: not ready after {timeout:.0f} s; see {log}")


def _migrate(url: str) -> None:
    """Bring the referral database at ``url`` to the newest schema (Alembic, idempotent).

    A database named only by ``WEGWIJS_DATABASE_URL`` at start (not the one ``wegwijs
    build`` made) had no tables, so every referral failed (found by a new-user test). A
    database that cannot be reached is not fatal: the servers still start, emergency
    replies still go out, and storing a referral fails with the honest reply.
    """
    from wegwijs.db.migrate import upgrade

    try:
        upgrade(url)
    except Exception as e:  # noqa: BLE001 - unreachable database: go on without it
        print(f"WARNING: could not migrate the referral database ({type(e).__name__}); "
              "referrals will fail until it is reachable", file=sys.stderr)


@dataclass
class Servers:
    """The running servers and where to reach them."""

    rasa_port: int
    action_port: int
    procs: list[subprocess.Popen] = field(default_factory=list)
    inbox_port: int | None = None  # the inbox (wegwijs.inbox), when started

    @property
    def inbox_url(self) -> str | None:
        """Base URL of the inbox, or None when it was not started."""
        return f"http://127.0.0.1:{self.inbox_port}/" if self.inbox_port else None
    #: token of Rasa's HTTP API (``?token=``); channel webhooks need none
    api_token: str = field(default="", repr=False)

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.rasa_port}"

    def api_url(self, path: str, **query: str) -> str:
        """URL of Rasa's HTTP API ``path`` (e.g. ``/model/parse``) with the token in the query."""
        return f"{self.rasa_url}{path}?" + urlencode({**query, "token": self.api_token})

    def stop(self) -> None:
        """Stop both servers (SIGTERM, then SIGKILL after 20 s)."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start(
    settings: Settings | None = None,
    rasa_port: int = 5005,
    action_port: int = 5055,
    model: Path = RASA_MODEL,
    timeout: float = 300.0,
    extra_env: dict[str, str] | None = None,
    inbox_port: int | None = None,
) -> Servers:
    """Start the action server, then the Rasa server; return when both answer.

    The outbox worker (``wegwijs worker``, log ``var/worker-<rasa_port>.log``) is started
    beside them, with the same environment, and stopped with them.

    Args:
        settings: storage settings (default: from the environment).
        rasa_port: port of the Rasa server (HTTP API and channels).
        action_port: port of the action server.
        model: the trained Rasa model archive.
        timeout: seconds to wait for each server.
        extra_env: environment for both servers (e.g. ``WEGWIJS_DATABASE_URL``).
        inbox_port: also start the inbox (``python -m wegwijs.inbox``) on 127.0.0.1 at
            this port; None (the default, for tests and benchmarks on free ports) starts
            none. ``wegwijs serve`` passes ``$WEGWIJS_INBOX_PORT`` or 5010.

    Raises:
        ServeError: the model is missing or a server did not come up.
    """
    settings = settings or Settings.from_env()
    if not Path(model).is_file():
        raise ServeError(f"no Rasa model at {model}: run `wegwijs build` (or scripts/install.sh)")
    VAR.mkdir(exist_ok=True)
    env = rasa_env()
    env.update(extra_env or {})
    env.update(load_secrets(env).as_env())
    env.setdefault("WEGWIJS_DATABASE_URL", settings.database_url)
    env.setdefault("WEGWIJS_TRACKER_DB_URL", settings.tracker_db_url)
    _migrate(env["WEGWIJS_DATABASE_URL"])
    endpoints = VAR / f"endpoints-{rasa_port}.yml"
    endpoints.write_text(yaml.safe_dump(endpoints_config(settings, action_port)))
    servers = Servers(rasa_port=rasa_port, action_port=action_port, api_token=env["WEGWIJS_API_TOKEN"])
    python = str(Path(rasa_bin()).with_name("python"))
    action_log = VAR / f"actions-{action_port}.log"
    rasa_log = VAR / f"rasa-{rasa_port}.log"
    try:
        servers.procs.append(subprocess.Popen(
            [python, "-m", "wegwijs.security.action_server", "--actions", "actions", "--port", str(action_port)],
            cwd=REPO_ROOT, env=env, stdout=action_log.open("wb"), stderr=subprocess.STDOUT,
        ))
        servers.procs.append(subprocess.Popen(
            [python, "-m", "wegwijs.security.rasa_server", "--enable-api", "--port", str(rasa_port),
             "--interface", os.environ.get("WEGWIJS_INTERFACE", "127.0.0.1"),
             "--model", str(model), "--credentials", str(REPO_ROOT / "credentials.yml"),
             "--endpoints", str(endpoints)],
            cwd=REPO_ROOT, env=env, stdout=rasa_log.open("wb"), stderr=subprocess.STDOUT,
        ))
        # the outbox worker sends the notifications of new referrals (wegwijs.outbox.worker)
        worker_log = VAR / f"worker-{rasa_port}.log"
        worker_proc = subprocess.Popen(
            [sys.executable, "-m", "wegwijs.cli", "worker"],
            cwd=REPO_ROOT, env=env, stdout=worker_log.open("wb"), stderr=subprocess.STDOUT,
        )
        servers.procs.append(worker_proc)
        _wait_http(f"http://127.0.0.1:{action_port}/health", servers.procs[0], timeout, action_log)
        _wait_http(
            servers.api_url("/status"), servers.procs[1], timeout, rasa_log,
            ok=lambda body: bool(json.loads(body or b"{}").get("model_file")),
        )
        if inbox_port:
            inbox_log = VAR / f"inbox-{inbox_port}.log"
            servers.procs.append(subprocess.Popen(
                [sys.executable, "-m", "wegwijs.inbox", "--port", str(inbox_port)],
                cwd=REPO_ROOT, env=env, stdout=inbox_log.open("wb"), stderr=subprocess.STDOUT,
            ))
            _wait_http(f"http://127.0.0.1:{inbox_port}/healthz", servers.procs[-1], timeout, inbox_log)
            servers.inbox_port = inbox_port
        # a port taken by another process answers too: make sure ours are the ones alive
        logs = [action_log, rasa_log, worker_log] + ([VAR / f"inbox-{inbox_port}.log"] if inbox_port else [])
        for proc, log in zip(servers.procs, logs):
            if proc.poll() is not None:
                raise ServeError(f"a server exited with {proc.returncode} (port taken?); see {log}")
        if worker_proc.poll() is not None:
            raise ServeError(f"the outbox worker exited with {worker_proc.returncode}; see {worker_log}")
    except BaseException:
        servers.stop()
        raise
    return servers


@contextmanager
def running(**kwargs) -> Iterator[Servers]:
    """``with running(rasa_port=..., ...) as servers:`` — start, yield, always stop."""
    servers = start(**kwargs)
    try:
        yield servers
    finally:
        servers.stop()


def serve_forever(rasa_port: int = 5005, action_port: int = 5055, inbox_port: int | None = None) -> int:
    """Start both servers, print where to chat, wait for Ctrl-C or a server to exit.

    Returns:
        Process exit code (0 after Ctrl-C).
    """
    print("starting the action server and the Rasa server (loading the model takes about a minute)…", flush=True)
    try:
        from wegwijs.inbox.app import inbox_port as default_inbox_port

        servers = start(rasa_port=rasa_port, action_port=action_port,
                        inbox_port=inbox_port or default_inbox_port())
    except ServeError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    url = servers.rasa_url
    print(
        "\nWegwijs is running.\n"
        f"  web chat page:  {url}/webhooks/webchat/chat\n"
        f"  REST channel:   POST {url}/webhooks/rest/webhook  {{\"sender\": \"me\", \"message\": \"hallo\"}}\n"
        f"  NLU parse:      POST {url}/model/parse?token=$WEGWIJS_API_TOKEN  {{\"text\": \"...\"}}\n"
        f"                  (the token: WEGWIJS_API_TOKEN, else {load_secrets().path})\n"
        f"  socket.io:      {url}/socket.io\n"
        f"  action server:  http://127.0.0.1:{action_port}/health\n"
        f"  outbox worker:  var/worker-{rasa_port}.log (referral notifications)\n"
        f"  inbox (staff):  {servers.inbox_url}  (users: `wegwijs users add`)\n"
        "Stop with Ctrl-C.",
        flush=True,
    )
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop["now"]:
            if any(p.poll() is not None for p in servers.procs):
                print("ERROR: a server stopped; see var/*.log", file=sys.stderr)
                return 1
            time.sleep(1)
    finally:
        servers.stop()
    return 0
