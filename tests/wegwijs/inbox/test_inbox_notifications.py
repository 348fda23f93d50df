"""The page "Meldingen die niet aankwamen" (outbox rows that failed or are being retried)
over real HTTP (a served process), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
import sqlalchemy as sa
from markupsafe import escape
from sqlalchemy.orm import sessionmaker

from tests.wegwijs.inbox.conftest import Client, InboxServer
from wegwijs import bootstrap
from wegwijs.db.models import OutboxMessage, Referral

LONG_ERROR = ("SMTPRecipientsRefused: SMTP 550 mailbox unavailable for <adres> after the relay said "
              "so three times; the remote side gave this long explanation about quota and policy")
SECRET_BODY = "Samenvatting die niet op deze pagina hoort"


def _engine(inbox: InboxServer) -> sa.engine.Engine:
    return bootstrap.make_engine(inbox.seeded.db_url)


@pytest.fixture
def outbox(inbox: InboxServer) -> Iterator[dict[str, int]]:
    """Outbox rows of this test (removed afterwards), ids by name:

    ``u2_failed`` (Utrecht, e-mail, failed), ``u2_retrying`` (Utrecht, webhook, pending after
    two failed attempts, due in an hour), ``u1_sent`` (Utrecht, sent), ``a1_failed``
    (Amersfoort, failed).
    """
    now = datetime.now(timezone.utc)
    specs = {
        "u2_failed": ("u2", "email", "failed", 8, LONG_ERROR, now - timedelta(minutes=5)),
        "u2_retrying": ("u2", "webhook", "pending", 2, "SendError: HTTP 503", now + timedelta(hours=1)),
        "u1_sent": ("u1", "email", "sent", 1, None, now - timedelta(minutes=1)),
        "a1_failed": ("a1", "email", "failed", 8, "OSError: errno 111 Connection refused", now),
    }
    engine = _engine(inbox)
    factory = sessionmaker(bind=engine, future=True)
    ids: dict[str, int] = {}
    try:
        with factory.begin() as session:
            for name, (ref, kind, status, attempts, error, due) in specs.items():
                referral_id = session.execute(
                    sa.select(Referral.id).where(Referral.reference == inbox.refs[ref])).scalar_one()
                payload = ({"route_queue": "test", "to": [f"{name}@gemeente.example"], "cc": ["queue@gemeente.example"],
                            "subject": "Wegwijs: test", "body": SECRET_BODY}
                           if kind == "email" else {"route_queue": "test", "body": {"summary_nl": SECRET_BODY}})
                row = OutboxMessage(referral_id=referral_id, kind=kind, idempotency_key=f"test.{name}.{kind}",
                                    payload=payload, status=status, attempts=attempts, last_error=error,
                                    next_attempt_at=due, created_at=now - timedelta(hours=1),
                                    sent_at=now if status == "sent" else None)
                session.add(row)
                session.flush()
                ids[name] = row.id
        yield ids
    finally:
        with engine.begin() as c:
            c.execute(sa.text("DELETE FROM outbox WHERE idempotency_key LIKE 'test.%'"))
        engine.dispose()


def _row(inbox: InboxServer, message_id: int) -> dict:
    engine = _engine(inbox)
    try:
        with sessionmaker(bind=engine, future=True)() as session:
            row = session.get(OutboxMessage, message_id)
            return {"status": row.status, "attempts": row.attempts, "next_attempt_at": row.next_attempt_at}
    finally:
        engine.dispose()


def _actions(inbox: InboxServer, actor: str, action: str) -> list:
    """Referral references (``None`` for none) of the audit rows of ``actor`` doing ``action``."""
    engine = _engine(inbox)
    try:
        with engine.connect() as c:
            return [ref for (ref,) in c.execute(sa.text(
                "SELECT r.reference FROM access_log a LEFT JOIN referrals r ON r.id = a.referral_id "
                "WHERE a.actor = :actor AND a.action = :action ORDER BY a.id"), {"actor": actor, "action": action})]
    finally:
        engine.dispose()


def _listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-notification="(\d+)"', html)]


def _badge(html: str) -> int | None:
    match = re.search(r'id="nav-notifications">[^<]*<span class="badge count"[^>]*>(\d+)</span>', html)
    return int(match.group(1)) if match else None


def test_own_failed_and_retrying_rows_are_listed_not_sent_nor_other_gemeente(
    inbox: InboxServer, client: Client, outbox: dict[str, int]
) -> None:
    client.login("km_utrecht")
    page = client.get("/notifications")
    assert page.status_code == 200 and "Meldingen die niet aankwamen" in page.text
    listed = _listed(page.text)
    assert listed == [outbox["u2_failed"], outbox["u2_retrying"]], "failed before retrying"
    assert outbox["a1_failed"] not in listed and inbox.refs["a1"] not in page.text
    assert outbox["u1_sent"] not in listed and "u1_sent@" not in page.text
    html = page.text
    assert f'<a href="/referrals/{inbox.refs["u2"]}">{inbox.refs["u2"]}</a>' in html
    assert "u2_failed@gemeente.example (+1 in kopie)" in html and "koppeling van wachtrij test" in html
    assert ">e-mail<" in html and ">webhook<" in html
    shown = LONG_ERROR[:119] + "…"
    assert str(escape(shown)) in html and f'title="{escape(LONG_ERROR)}"' in html, "truncated, whole as title"
    assert "SendError: HTTP 503" in html
    assert "mislukt — geen nieuwe poging meer" in html and "mislukt — wacht op een nieuwe poging" in html
    assert re.search(r'class="attempts">8<', html) and re.search(r'class="attempts">2<', html)
    assert SECRET_BODY not in html, "no payload beyond the recipients"


def test_badge_counts_what_the_user_may_see(inbox: InboxServer, outbox: dict[str, int]) -> None:
    expected = {"km_utrecht": 2, "km_amersfoort": 1, "beheer": 3, "sp_utrecht": None}
    for username, count in expected.items():
        client = Client(inbox.url)
        client.login(username)
        assert _badge(client.get("/").text) == count, username
        assert _badge(client.get("/notifications").text) == count, username
    sleutelpersoon = Client(inbox.url)
    sleutelpersoon.login("sp_utrecht")  # u2 is not routed to her
    page = sleutelpersoon.get("/notifications")
    assert _listed(page.text) == [] and "Alle meldingen over uw aanmeldingen zijn aangekomen" in page.text
    admin = Client(inbox.url)
    admin.login("beheer")
    assert set(_listed(admin.get("/notifications").text)) == {outbox["u2_failed"], outbox["u2_retrying"],
                                                               outbox["a1_failed"]}


def test_the_view_is_written_to_the_access_log(inbox: InboxServer, client: Client, outbox: dict[str, int]) -> None:
    client.login("km_amersfoort")
    before = len(_actions(inbox, "inbox:km_amersfoort", "inbox_outbox"))
    client.get("/notifications")
    logged = _actions(inbox, "inbox:km_amersfoort", "inbox_outbox")[before:]
    assert logged == [inbox.refs["a1"]], "one row per referral shown, only the own gemeente's"
    other = Client(inbox.url)
    other.login("sp_utrecht")
    other.get("/notifications")
    assert _actions(inbox, "inbox:sp_utrecht", "inbox_outbox")[-1] is None, "an empty page is logged too"


def test_nothing_without_login(inbox: InboxServer, outbox: dict[str, int]) -> None:
    anonymous = Client(inbox.url)
    resp = anonymous.get("/notifications")
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    resp = anonymous.post(f"/notifications/{outbox['u2_failed']}/retry", csrf=False)
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    assert _row(inbox, outbox["u2_failed"])["status"] == "failed"


def test_retry_needs_csrf_and_makes_the_row_due(inbox: InboxServer, client: Client, outbox: dict[str, int]) -> None:
    client.login("km_utrecht")
    page = client.get("/notifications")
    assert f'action="/notifications/{outbox["u2_failed"]}/retry"' in page.text
    failed = outbox["u2_failed"]
    assert client.post(f"/notifications/{failed}/retry", csrf=False).status_code == 403
    assert client.post(f"/notifications/{failed}/retry", {"csrf": "forged"}).status_code == 403
    assert _row(inbox, failed)["status"] == "failed", "refused without the session's token"

    before = datetime.now(timezone.utc)
    resp = client.post(f"/notifications/{failed}/retry")
    assert resp.status_code == 303 and resp.headers["Location"] == "/notifications"
    row = _row(inbox, failed)
    assert row["status"] == "pending" and row["attempts"] == 8
    assert before - timedelta(seconds=5) <= row["next_attempt_at"] <= datetime.now(timezone.utc)

    retrying = outbox["u2_retrying"]
    assert _row(inbox, retrying)["next_attempt_at"] > datetime.now(timezone.utc) + timedelta(minutes=30)
    assert client.post(f"/notifications/{retrying}/retry").status_code == 303
    row = _row(inbox, retrying)
    assert row["status"] == "pending" and row["next_attempt_at"] <= datetime.now(timezone.utc)
    page = client.get("/notifications").text
    assert _listed(page) == [failed, retrying], "still listed until the worker sends them"
    assert page.count('class="next">nu<') == 2
    assert _actions(inbox, "inbox:km_utrecht", "inbox_outbox_retry")[-2:] == [inbox.refs["u2"]] * 2


def test_retry_of_another_gemeente_is_404_and_of_a_sent_row_409(
    inbox: InboxServer, client: Client, outbox: dict[str, int]
) -> None:
    client.login("km_utrecht")
    client.get("/notifications")
    other = client.post(f"/notifications/{outbox['a1_failed']}/retry")
    missing = client.post("/notifications/999999/retry")
    assert other.status_code == 404 and missing.status_code == 404
    assert inbox.refs["a1"] not in other.text
    assert _row(inbox, outbox["a1_failed"])["status"] == "failed", "untouched"
    sent = client.post(f"/notifications/{outbox['u1_sent']}/retry")
    assert sent.status_code == 409 and _row(inbox, outbox["u1_sent"])["status"] == "sent"
    sleutelpersoon = Client(inbox.url)
    sleutelpersoon.login("sp_utrecht")
    sleutelpersoon.get("/")
    assert sleutelpersoon.post(f"/notifications/{outbox['u2_failed']}/retry").status_code == 404
