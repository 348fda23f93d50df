"""Secrets, log redaction, API checks and never-reused ids, without servers."""

from __future__ import annotations

import json
import logging
import stat

import sqlalchemy as sa
from hypothesis import given, settings as hsettings, strategies as st

from wegwijs.db.migrate import upgrade
from wegwijs.security import redact
from wegwijs.security.api import check_api_request
from wegwijs.security.secrets import load_secrets


def test_secrets_generated_once_and_environment_wins(tmp_path) -> None:
    env = {"WEGWIJS_SECRETS_FILE": str(tmp_path / "s" / "secrets.json")}
    first, again = load_secrets(env), load_secrets(env)
    assert first.api_token == again.api_token and first.api_token != first.action_token
    assert stat.S_IMODE((tmp_path / "s" / "secrets.json").stat().st_mode) == 0o600
    assert first.api_token not in repr(first)
    assert load_secrets({**env, "WEGWIJS_API_TOKEN": "from-env"}).api_token == "from-env"


def test_default_secrets_file_is_outside_the_repo(tmp_path) -> None:
    from wegwijs.security.secrets import secrets_file
    from wegwijs.settings import REPO_ROOT

    path = secrets_file({"XDG_CONFIG_HOME": str(tmp_path)})
    assert path == tmp_path / "wegwijs" / "secrets.json" and REPO_ROOT not in path.parents


def test_redaction_of_known_shapes(monkeypatch) -> None:
    monkeypatch.setenv("WEGWIJS_LOG_KEY", "test-key")
    line = redact.redact(
        "An exception occured while handling user message 'Ik ben Fatima, 06-1234 5678'. "
        "GET /conversations/+31612345678/tracker?token=abc mail a.b@example.nl bsn 123456782 "
        "conversation ID 'wa-31612345678'"
    )
    for gone in ("Fatima", "1234", "+31612345678", "abc", "a.b@example.nl", "123456782"):
        assert gone not in line, gone
    assert redact.pseudonym("+31612345678") in line
    assert redact.pseudonym("x", b"k1") != redact.pseudonym("x", b"k2")


def test_filter_applies_to_handlers_made_later(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WEGWIJS_LOG_KEY", "test-key")
    redact.install()
    handler = logging.FileHandler(tmp_path / "x.log")
    log = logging.getLogger("test.later")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("call %s or %s", "0612345678", "x@example.org")
        try:
            raise ValueError("user message 'secret text' 0687654321")
        except ValueError:
            log.exception("failed")
    finally:
        handler.close()
        log.removeHandler(handler)
    text = (tmp_path / "x.log").read_text()
    assert "0612345678" not in text and "x@example.org" not in text and "0687654321" not in text
    assert "secret text" not in text and "[number]" in text and "ValueError" in text


@hsettings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]),
       path=st.sampled_from(["/", "/status", "/model/parse", "/model", "/conversations/a/tracker", "/conversations//story", "/x"]) | st.text(max_size=40).map(lambda t: "/" + t),
       query=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
       body=st.binary(max_size=200) | st.builds(lambda v: json.dumps(v).encode(), st.dictionaries(st.sampled_from(["text", "message_id", "y"]), st.none() | st.integers() | st.text(max_size=20), max_size=3)))
def test_api_check_never_raises_and_answers_4xx(method, path, query, body) -> None:
    problem = check_api_request(method, path, query, body)
    assert problem is None or 400 <= problem[0] < 500


def test_api_check_accepts_what_wegwijs_sends() -> None:
    assert check_api_request("POST", "/model/parse", {"token": "t"}, json.dumps({"text": "hallo"}).encode()) is None
    assert check_api_request("GET", "/conversations/eval-1/tracker", {"include_events": "ALL", "token": "t"}, b"") is None
    assert check_api_request("POST", "/model/parse", {}, b'{"text": ""}')[0] == 400
    assert check_api_request("POST", "/model/parse", {}, b'{"text": 5}')[0] == 400
    assert check_api_request("DELETE", "/model", {}, b"")[0] == 403


def test_sqlite_ids_are_never_reused(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as c:
            for table in ("referrals", "access_log", "channel_messages"):
                sql = c.execute(sa.text("select sql from sqlite_master where name = :t"), {"t": table}).scalar_one()
                assert "AUTOINCREMENT" in sql.upper(), table
            insert = sa.text("insert into access_log (at, actor, action, referral_id) values (CURRENT_TIMESTAMP, 'a', 'show', 1)")
            first = c.execute(insert).lastrowid
            c.execute(sa.text("delete from access_log where id = :i"), {"i": first})
            second = c.execute(insert).lastrowid
            assert second > first
    finally:
        engine.dispose()


def test_the_interpolator_noise_of_button_payloads_is_dropped_and_real_errors_kept() -> None:
    import json
    import logging

    from wegwijs.security.redact import INTERPOLATOR_LOGGER, ButtonPayloadNoise, install

    def record(response: str, key: str) -> logging.LogRecord:
        message = json.dumps({"response": response, "placeholder_key": key, "event_info": "no such slot"})
        return logging.LogRecord(INTERPOLATOR_LOGGER, logging.ERROR, "", 0, message, None, None)

    noise = ButtonPayloadNoise()
    assert not noise.filter(record('/inform{"contact_channel":"whatsapp"}', '"contact_channel":"whatsapp"'))
    assert noise.filter(record("Nummer: {reference}", "reference"))
    install()
    assert any(isinstance(f, ButtonPayloadNoise) for f in logging.getLogger(INTERPOLATOR_LOGGER).filters)
