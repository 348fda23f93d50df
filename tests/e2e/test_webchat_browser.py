"""The web chat page (``GET /webhooks/webchat/chat``, integrations/webchat.py) in a real
browser against the real servers: Debian's Chromium driven by Playwright with
``executable_path`` (never ``playwright install``; /work/shared/notes/channels.md).

Both servers start once for the module (``wegwijs.serve.running`` on free ports on
127.0.0.1, SQLite databases in a temp folder, as in test_conversation.py). A parent types
in Arabic, sees the bot's Arabic reply right-to-left and the language buttons, clicks one
and gets the next question; a Tigrinya parent gets Ge'ez script that really renders
(glyphs, not empty boxes). Screenshots: ``var/artifacts/webchat/*.png`` (gitignored).

Without Chromium the module skips with the reason (and FAILS when ``CI=true`` or
``WEGWIJS_REQUIRE_BROWSER=1``, like the inbox's browser test); scripts/install.sh installs
it with apt-get when it runs as root.
"""

from __future__ import annotations

import re
from typing import Iterator

import pytest

from wegwijs.build import RASA_MODEL
from wegwijs.serve import free_port, running
from wegwijs.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.e2e

ARTIFACTS = REPO_ROOT / "var" / "artifacts" / "webchat"
ARABIC = re.compile(r"[\u0600-\u06FF]")
ETHIOPIC = re.compile(r"[\u1200-\u137F]")
#: every wait for the bot is bounded (a reply takes 1-5 s on a busy 2-core machine)
REPLY_TIMEOUT_MS = 30_000

#: Draws each character on a canvas in the page's font and returns a hash of its pixels;
#: a font without the glyph draws the same empty box (.notdef) for all of them.
GLYPHS_JS = """([chars, font]) => {
  const c = document.createElement("canvas"); c.width = 64; c.height = 64;
  const g = c.getContext("2d");
  return chars.map(ch => {
    g.clearRect(0, 0, 64, 64); g.font = font; g.fillStyle = "#000"; g.fillText(ch, 8, 48);
    const d = g.getImageData(0, 0, 64, 64).data; let h = 0, ink = 0;
    for (let i = 3; i < d.length; i += 4) { h = (h * 31 + d[i]) >>> 0; if (d[i]) ink++; }
    return [h, ink];
  });
}"""


@pytest.fixture(scope="module")
def chat_url(browser, tmp_path_factory) -> Iterator[str]:
    assert RASA_MODEL.is_file(), "no Rasa model: run scripts/install.sh"
    tmp = tmp_path_factory.mktemp("webchat")
    settings = Settings(database_url=f"sqlite:///{tmp / 'w.db'}", tracker_db_url=f"sqlite:///{tmp / 't.db'}")
    env = {"WEGWIJS_DATABASE_URL": settings.database_url, "WEGWIJS_TRACKER_DB_URL": settings.tracker_db_url,
           "WEGWIJS_RATE_LIMIT_PER_MINUTE": "0"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running(settings=settings, rasa_port=free_port(), action_port=free_port(), extra_env=env,
                 timeout=180) as s:
        yield f"{s.rasa_url}/webhooks/webchat/chat"


def _page(browser, url: str, locale: str):
    """A fresh context (own localStorage, so its own sender id) on a phone-sized screen."""
    context = browser.new_context(locale=locale, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(REPLY_TIMEOUT_MS)
    response = page.goto(url)
    assert response.status == 200
    return context, page


def _type(page, text: str) -> None:
    """Type like a parent: into the box, then Enter."""
    bots = page.locator(".msg.bot").count()
    page.click("#t")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {bots}")


def test_arabic_parent_chats_sees_right_to_left_and_clicks_a_button(browser, chat_url) -> None:
    context, page = _page(browser, chat_url, "ar")
    try:
        _type(page, "مرحبا، كيف حالكم اليوم")
        user = page.locator(".msg.user").last
        assert user.inner_text() == "مرحبا، كيف حالكم اليوم"
        reply = page.locator(".msg.bot").first
        assert ARABIC.search(reply.inner_text()), reply.inner_text()
        # right-to-left: the bubble's own direction, resolved by the browser from dir="auto"
        assert reply.get_attribute("dir") == "auto"
        assert reply.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert reply.evaluate("e => e.matches(':dir(rtl)')")
        assert user.evaluate("e => getComputedStyle(e).direction") == "rtl"
        # the language choice as real buttons
        buttons = page.locator(".buttons button")
        page.wait_for_selector(".buttons button")
        titles = buttons.all_inner_texts()
        assert "العربية" in titles and "Nederlands" in titles, titles
        assert page.locator("button:has-text('العربية')").evaluate("e => e.matches(':dir(rtl)')")
        page.screenshot(path=str(ARTIFACTS / "01-arabic-welcome.png"), full_page=True)

        bots = page.locator(".msg.bot").count()
        page.click("button:has-text('العربية')")
        page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {bots}")
        assert page.locator(".msg.user").last.inner_text() == "العربية"   # the title, not the payload
        assert "/" not in page.locator(".msg.user").last.inner_text()
        after = page.locator(".msg.bot").nth(bots)
        assert ARABIC.search(after.inner_text()), after.inner_text()
        assert after.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert not page.locator("button:has-text('Nederlands')").count(), "the old buttons are gone"
        # choices shown before the parent's last message can no longer be tapped
        stale = page.evaluate("""() => {
            const users = document.querySelectorAll('.msg.user'), last = users[users.length - 1];
            return [...document.querySelectorAll('.buttons button:enabled')].filter(
                b => b.compareDocumentPosition(last) & Node.DOCUMENT_POSITION_FOLLOWING).length; }""")
        assert stale == 0, stale
        assert page.locator(".buttons button:disabled").count() > 0
        # the chat is mirrored for a right-to-left language: the bot's bubbles on the right
        assert page.eval_on_selector("#log", "e => getComputedStyle(e).direction") == "rtl"
        bot_box, user_box = after.bounding_box(), page.locator(".msg.user").last.bounding_box()
        assert bot_box["x"] + bot_box["width"] > user_box["x"] + user_box["width"], (bot_box, user_box)
        assert page.inner_text("#status") == "", "no error shown"
        page.screenshot(path=str(ARTIFACTS / "02-arabic-after-button.png"), full_page=True)
    finally:
        context.close()


def test_tigrinya_parent_gets_geez_script_that_renders(browser, chat_url) -> None:
    context, page = _page(browser, chat_url, "ti")
    try:
        _type(page, "ሰላም ከመይ ኣለኹም ሕቶ ኣለኒ")
        reply = page.locator(".msg.bot").first
        text = reply.inner_text()
        assert ETHIOPIC.search(text), text
        assert reply.evaluate("e => getComputedStyle(e).direction") == "ltr"
        font = reply.evaluate("e => { const s = getComputedStyle(e); return s.fontSize + ' ' + s.fontFamily; }")
        chars = sorted(set(ETHIOPIC.findall(text)))[:6]
        drawn = page.evaluate(GLYPHS_JS, [chars + ["\u0378"], font])   # U+0378: unassigned → .notdef
        notdef = drawn[-1]
        glyphs = drawn[:-1]
        assert all(ink > 0 for _, ink in glyphs), "Ethiopic characters drew nothing"
        assert len({h for h, _ in glyphs}) == len(glyphs), "different characters drew the same box"
        assert notdef[0] not in {h for h, _ in glyphs}, "Ethiopic characters drew the missing-glyph box"
        page.screenshot(path=str(ARTIFACTS / "03-tigrinya.png"), full_page=True)
    finally:
        context.close()
