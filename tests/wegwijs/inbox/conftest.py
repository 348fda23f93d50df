"""Fixtures of the inbox tests: a migrated database (SQLite and PostgreSQL) with staff
and referrals of two gemeenten, a tracker store with a conversation, and the inbox
served by a real process (``python -m wegwijs.inbox``) on a free port.

HTTP helper: :class:`Client` keeps the cookies itself, because Python's cookie jar
(like a browser elsewhere than on localhost) never sends ``Secure`` cookies over http.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import sqlalchemy as sa

from wegwijs import bootstrap
from wegwijs.db import migrate
from wegwijs.serve import free_port
from wegwijs.settings import REPO_ROOT, Settings

INBOX_TABLES = ("referral_notes", "api_tokens", "user_sessions", "login_attempts", "users",
                "referrals", "access_log", "channel_messages")

#: username → (role, gemeente, staff key)
USERS = {
    "km_utrecht": ("klantmanager", "Utrecht", "km-anna"),
    "sp_utrecht": ("sleutelpersoon", "Utrecht", "sp-samira"),
    "km_amersfoort": ("klantmanager", "Amersfoort", "km-bram"),
    "beheer": ("admin", None, None),
}
ARABIC_WORDS = "ابني لا يريد الذهاب إلى المدرسة"
DUTCH_WORDS = "Ik wil graag een vrouw als contactpersoon"


def password_of(username: str) -> str:
    return f"wachtwoord-{username}-123"


@dataclass
class Seeded:
    """What the seeded database holds: references by name, API tokens by username."""

    db_url: str
    tracker_url: str
    refs: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def _empty(url: str) -> None:
    engine = bootstrap.make_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text(f"TRUNCATE {', '.join(INBOX_TABLES)} RESTART IDENTITY CASCADE"))
            else:
                for table in INBOX_TABLES:
                    connection.execute(sa.text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()


def seed(db_url: str, tracker_url: str) -> Seeded:
    """Users of :data:`USERS`, three referrals and a tracker conversation for ``u1``.

    ``u1``: Utrecht, urgent, Arabic, routed to sp-samira, own words in Arabic;
    ``u2``: Utrecht, normal, Tigrinya, older, nobody assigned, topic school;
    ``a1``: Amersfoort, normal, Turkish.
    """
    from wegwijs.db.models import Referral
    from wegwijs.inbox import auth
    from wegwijs.referrals.service import ReferralIn, create_referral
    from wegwijs.referrals.summary import load_dutch_names

    factory = bootstrap.get_session_factory(Settings(database_url=db_url))
    names = load_dutch_names(REPO_ROOT / "languages")
    result = Seeded(db_url=db_url, tracker_url=tracker_url)
    for username, (role, municipality, staff_key) in USERS.items():
        auth.add_user(factory, username=username, password=password_of(username), role=role,
                      display_name=username.replace("_", " ").title(), municipality=municipality,
                      staff_key=staff_key)
        result.tokens[username] = auth.create_api_token(factory, username)
    now = datetime.now(timezone.utc)
    specs = {
        "u1": dict(conversation_id="conv-u1", language="ar", municipality="Utrecht", urgency="urgent",
                   urgency_reason="child_abuse", topics=["wellbeing"],
                   concern_text=[{"text": ARABIC_WORDS, "lang": "ar"}], person_type="sleutelpersoon"),
        "u2": dict(conversation_id="conv-u2", language="ti", municipality="Utrecht", topics=["school"],
                   person_type="klantmanager"),
        "a1": dict(conversation_id="conv-a1", language="tr", municipality="Amersfoort", topics=["school"],
                   person_type="klantmanager"),
    }
    ages = {"u1": timedelta(hours=3), "u2": timedelta(days=2), "a1": timedelta(minutes=5)}
    for key, spec in specs.items():
        out = create_referral(factory, ReferralIn(**spec), names=names, now=now - ages[key])
        result.refs[key] = out.reference
    with factory.begin() as session:
        row = session.execute(sa.select(Referral).where(Referral.reference == result.refs["u1"])).scalar_one()
        row.assignee_key, row.route_queue = "sp-samira", "Utrecht"

    from wegwijs.inbox.transcript import _events

    tracker = sa.create_engine(tracker_url, future=True)
    try:
        _events.metadata.create_all(tracker)  # stands in for Rasa's own events table
        t0 = (now - ages["u1"]).timestamp()
        events = [
            ("user", {"event": "user", "text": ARABIC_WORDS, "parse_data": {"language": {"code": "ar"}}}),
            ("bot", {"event": "bot", "text": "شكرا لك. سأرسل رسالتك إلى شخص من البلدية."}),
            ("user", {"event": "user", "text": DUTCH_WORDS, "parse_data": {"language": {"code": "nl"}}}),
            ("action", {"event": "action", "name": "action_listen"}),
        ]
        with tracker.begin() as connection:
            for i, (type_name, data) in enumerate(events):
                connection.execute(_events.insert().values(
                    sender_id="conv-u1", type_name=type_name, timestamp=t0 + i, data=json.dumps(data)))
    finally:
        tracker.dispose()
    return result


@dataclass
class InboxServer:
    url: str
    seeded: Seeded
    proc: subprocess.Popen

    @property
    def refs(self) -> dict[str, str]:
        return self.seeded.refs

    def api(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.seeded.tokens[username]}"}


def start_inbox(db_url: str, tracker_url: str, log: Path, timeout: float = 60.0) -> tuple[str, subprocess.Popen]:
    """Start ``python -m wegwijs.inbox`` on a free port; return its URL once /healthz answers."""
    port = free_port()
    env = dict(os.environ, WEGWIJS_DATABASE_URL=db_url, WEGWIJS_TRACKER_DB_URL=tracker_url)
    proc = subprocess.Popen([sys.executable, "-m", "wegwijs.inbox", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"inbox exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=2).text == "ok":
                return url, proc
        except requests.ConnectionError:
            pass
        time.sleep(0.2)  # polling for the port to open: there is no event to await
    proc.kill()
    raise RuntimeError(f"inbox not up after {timeout} s: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def inbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InboxServer]:
    """The inbox on a seeded database (once per module and backend)."""
    folder = tmp_path_factory.mktemp(f"inbox-{request.param}")
    if request.param == "sqlite":
        db_url = f"sqlite:///{folder / 'wegwijs.db'}"
    else:
        db_url = request.getfixturevalue("postgres_url")
    migrate.upgrade(db_url)
    _empty(db_url)
    tracker_url = f"sqlite:///{folder / 'tracker.db'}"
    seeded = seed(db_url, tracker_url)
    bootstrap.reset()
    url, proc = start_inbox(db_url, tracker_url, folder / "inbox.log")
    try:
        yield InboxServer(url=url, seeded=seeded, proc=proc)
    finally:
        stop(proc)
        if request.param == "postgresql":
            _empty(db_url)


class Client:
    """A tiny browser over ``requests``: cookies by hand, CSRF token from the last page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    def _remember(self, resp: requests.Response) -> None:
        for cookie in resp.cookies:
            if cookie.value:
                self.cookies[cookie.name] = cookie.value
            else:
                self.cookies.pop(cookie.name, None)
        match = re.search(r'name="csrf" value="([^"]+)"', resp.text or "")
        if match:
            self.csrf = match.group(1)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        resp = requests.request(method, self.base + path, headers=headers, allow_redirects=False,
                                timeout=30, **kwargs)
        self._remember(resp)
        return resp

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True) -> requests.Response:
        data = dict(data or {})
        if csrf and self.csrf:
            data.setdefault("csrf", self.csrf)
        return self.request("POST", path, data=data)

    def login(self, username: str, password: str | None = None) -> requests.Response:
        self.get("/login")
        return self.post("/login", {"username": username, "password": password or password_of(username)})


@pytest.fixture
def client(inbox: InboxServer) -> Client:
    return Client(inbox.url)
