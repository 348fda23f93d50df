"""The inbox in a real browser: Debian's Chromium driven by Playwright (never
``playwright install``; see /work/shared/notes/channels.md "Browser tests offline").

Screenshots go to ``var/artifacts/inbox/*.png`` (gitignored). Without Chromium the
test skips on a developer's machine and FAILS in CI (``CI=true``); ``scripts/install.sh``
installs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.wegwijs.inbox.conftest import ARABIC_WORDS, password_of, seed, start_inbox, stop
from wegwijs import bootstrap
from wegwijs.db import migrate
from wegwijs.settings import REPO_ROOT

ARTIFACTS = REPO_ROOT / "var" / "artifacts" / "inbox"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict]]:
    db_url = f"sqlite:///{tmp_path / 'wegwijs.db'}"
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    migrate.upgrade(db_url)
    seeded = seed(db_url, tracker_url)
    bootstrap.reset()
    url, proc = start_inbox(db_url, tracker_url, tmp_path / "inbox.log")
    try:
        yield url, seeded.refs
    finally:
        stop(proc)


def _login(page, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password_of(username))
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_klantmanager_logs_in_opens_a_referral_and_changes_its_status(browser, served) -> None:
    url, refs = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # without login: every page sends you to /login, the API answers 401 and no data
    page.goto(f"{url}/referrals/{refs['u1']}")
    assert page.url == f"{url}/login"
    api = page.goto(f"{url}/api/referrals")
    assert api.status == 401 and refs["u1"] not in page.content()
    page.screenshot(path=str(ARTIFACTS / "01-login.png"))

    _login(page, url, "km_utrecht")
    cookie = {c["name"]: c for c in context.cookies()}["wegwijs_session"]
    # Chromium keeps (and sends back) a Secure cookie over http only because this is 127.0.0.1
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    rows = page.locator("table.referrals tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-reference") == refs["u1"], "urgent first"
    assert refs["a1"] not in page.content(), "another gemeente's referral is not listed"
    page.screenshot(path=str(ARTIFACTS / "02-list.png"), full_page=True)

    page.click(f"text={refs['u1']}")
    page.wait_for_url(f"{url}/referrals/{refs['u1']}")
    own = page.locator("blockquote.own-words")
    assert own.get_attribute("dir") == "rtl" and own.get_attribute("lang") == "ar"
    assert own.inner_text() == ARABIC_WORDS
    assert own.evaluate("e => getComputedStyle(e).direction") == "rtl"
    parent_msg = page.locator("ol.transcript li.parent p[lang=ar]")
    assert parent_msg.evaluate("e => getComputedStyle(e).textAlign") == "right"
    page.screenshot(path=str(ARTIFACTS / "03-detail.png"), full_page=True)

    page.select_option("#new-status", "in_progress")
    page.click(".status-form button[type=submit]")
    page.wait_for_url(f"{url}/referrals/{refs['u1']}")
    assert page.inner_text("#status").startswith("in behandeling")
    page.select_option("#new-status", "closed")
    page.click(".status-form button[type=submit]")
    assert "reden" in page.inner_text(".error"), "closing without a reason is refused"
    page.go_back()
    page.select_option("#new-status", "closed")
    page.fill("#reason", "doorverwezen naar het wijkteam")
    page.click(".status-form button[type=submit]")
    page.wait_for_url(f"{url}/referrals/{refs['u1']}")
    assert page.inner_text("#status") == "afgesloten — reden: doorverwezen naar het wijkteam"
    page.screenshot(path=str(ARTIFACTS / "04-closed.png"), full_page=True)
    context.close()

    # a klantmanager of another gemeente gets 404 for it
    other = browser.new_context(locale="nl-NL")
    page = other.new_page()
    _login(page, url, "km_amersfoort")
    resp = page.goto(f"{url}/referrals/{refs['u1']}")
    assert resp.status == 404
    assert ARABIC_WORDS not in page.content()
    page.screenshot(path=str(ARTIFACTS / "05-other-gemeente-404.png"))
    other.close()


def test_failed_notification_is_shown_with_a_badge_and_retried(browser, served, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from wegwijs.db.models import utcnow

    url, refs = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    engine = bootstrap.make_engine(f"sqlite:///{tmp_path / 'wegwijs.db'}")
    try:
        with engine.begin() as c:
            rid = c.execute(sa.text("SELECT id FROM referrals WHERE reference = :r"), {"r": refs["u2"]}).scalar_one()
            c.execute(sa.text(
                "INSERT INTO outbox (referral_id, kind, idempotency_key, payload, status, attempts, "
                "next_attempt_at, last_error, created_at) VALUES (:rid, 'webhook', 'test.browser', "
                "'{\"route_queue\": \"Utrecht\", \"body\": {}}', 'failed', 8, :now, 'SendError: HTTP 502', :now)"),
                {"rid": rid, "now": utcnow().replace(tzinfo=None)})
    finally:
        engine.dispose()
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, url, "km_utrecht")
    assert page.inner_text("#nav-notifications .badge.count") == "1"
    page.click("#nav-notifications")
    page.wait_for_url(f"{url}/notifications")
    row = page.locator(f"table.notifications tr[data-reference={refs['u2']}]")
    assert "mislukt — geen nieuwe poging meer" in row.inner_text() and "SendError: HTTP 502" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "06-notifications.png"), full_page=True)
    row.locator("button[type=submit]").click()
    page.wait_for_url(f"{url}/notifications")
    assert row.locator("td.status").inner_text() == "mislukt — wacht op een nieuwe poging"
    assert row.locator("td.next").inner_text() == "nu"
    context.close()
