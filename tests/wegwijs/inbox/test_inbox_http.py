"""The inbox over real HTTP (a served process), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import requests
import sqlalchemy as sa

from tests.wegwijs.inbox.conftest import ARABIC_WORDS, DUTCH_WORDS, Client, InboxServer, password_of
from wegwijs import bootstrap
from wegwijs.settings import Settings


def _audit(inbox: InboxServer, reference: str) -> list[tuple[str, str]]:
    engine = bootstrap.make_engine(inbox.seeded.db_url)
    try:
        with engine.connect() as c:
            rid = c.execute(sa.text("SELECT id FROM referrals WHERE reference = :r"), {"r": reference}).scalar_one()
            return [tuple(row) for row in c.execute(
                sa.text("SELECT actor, action FROM access_log WHERE referral_id = :i ORDER BY id"), {"i": rid})]
    finally:
        engine.dispose()


def test_nothing_is_readable_without_login(inbox: InboxServer) -> None:
    ref = inbox.refs["u1"]
    anonymous = Client(inbox.url)
    for path in ("/", f"/referrals/{ref}", "/?status=closed"):
        resp = anonymous.get(path)
        assert resp.status_code == 303 and resp.headers["Location"] == "/login", path
        assert ref not in resp.text
    resp = anonymous.post(f"/referrals/{ref}/status", {"status": "closed", "reason": "x"}, csrf=False)
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    for path in ("/api/referrals", f"/api/referrals/{ref}"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic a2F0"}):
            resp = requests.get(inbox.url + path, headers=headers, timeout=10)
            assert resp.status_code == 401, (path, headers)
            assert ref not in resp.text and "conv-" not in resp.text
    resp = requests.patch(f"{inbox.url}/api/referrals/{ref}", json={"status": "in_progress"}, timeout=10)
    assert resp.status_code == 401


def test_login_page_has_csrf_and_secure_cookie_and_headers(inbox: InboxServer) -> None:
    resp = requests.get(f"{inbox.url}/login", timeout=10)
    assert resp.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', resp.text).group(1)
    cookie = resp.headers["Set-Cookie"]
    assert f"wegwijs_login_csrf={token}" in cookie
    for flag in ("HttpOnly", "Secure", "SameSite=Strict"):
        assert flag in cookie
    assert "script" not in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    # a login without the form's token is refused even with the right password
    resp = requests.post(f"{inbox.url}/login", data={"username": "km_utrecht",
                         "password": password_of("km_utrecht"), "csrf": "forged"}, timeout=10,
                         allow_redirects=False)
    assert resp.status_code == 400 and "wegwijs_session" not in resp.headers.get("Set-Cookie", "")


def test_klantmanager_sees_only_own_gemeente_urgent_first(inbox: InboxServer, client: Client) -> None:
    resp = client.login("km_utrecht")
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    session_cookie = [c for c in resp.headers["Set-Cookie"].split(", ") if "wegwijs_session=" in c][0]
    assert "HttpOnly" in session_cookie and "Secure" in session_cookie and "SameSite=Strict" in session_cookie
    page = client.get("/")
    assert page.status_code == 200
    u1, u2, a1 = inbox.refs["u1"], inbox.refs["u2"], inbox.refs["a1"]
    assert u1 in page.text and u2 in page.text and a1 not in page.text
    assert page.text.index(u1) < page.text.index(u2), "the urgent one first, though younger"
    assert "3 uur" in page.text and "2 dagen" in page.text
    assert ("inbox:km_utrecht", "inbox_list") in _audit(inbox, u1)


def test_other_gemeente_is_404_like_a_missing_one(inbox: InboxServer, client: Client) -> None:
    client.login("km_amersfoort")
    other = client.get(f"/referrals/{inbox.refs['u1']}")
    missing = client.get("/referrals/WW-XXXXXX")
    assert other.status_code == 404 and missing.status_code == 404
    assert ARABIC_WORDS not in other.text and inbox.refs["u1"] not in other.text
    own = client.get(f"/referrals/{inbox.refs['a1']}")
    assert own.status_code == 200
    # the API: the same rule
    resp = requests.get(f"{inbox.url}/api/referrals/{inbox.refs['u1']}", headers=inbox.api("km_amersfoort"), timeout=10)
    assert resp.status_code == 404 and resp.json() == {"error": "niet gevonden"}
    resp = requests.patch(f"{inbox.url}/api/referrals/{inbox.refs['u1']}", headers=inbox.api("km_amersfoort"),
                          json={"status": "in_progress"}, timeout=10)
    assert resp.status_code == 404
    listed = requests.get(f"{inbox.url}/api/referrals", headers=inbox.api("km_amersfoort"), timeout=10).json()
    assert [r["reference"] for r in listed["referrals"]] == [inbox.refs["a1"]]


def test_sleutelpersoon_sees_only_referrals_routed_to_them(inbox: InboxServer, client: Client) -> None:
    client.login("sp_utrecht")
    page = client.get("/")
    assert inbox.refs["u1"] in page.text and inbox.refs["u2"] not in page.text
    assert client.get(f"/referrals/{inbox.refs['u2']}").status_code == 404
    detail = client.get(f"/referrals/{inbox.refs['u1']}")
    assert detail.status_code == 200
    # only klantmanagers and admins assign
    assert client.post(f"/referrals/{inbox.refs['u1']}/assign", {"staff_key": "km-anna"}).status_code == 403


def test_detail_shows_summary_own_words_and_rtl_transcript(inbox: InboxServer, client: Client) -> None:
    client.login("km_utrecht")
    page = client.get(f"/referrals/{inbox.refs['u1']}")
    assert page.status_code == 200
    html = page.text
    assert "Samenvatting" in html and "Eigen woorden van de ouder" in html
    assert re.search(r'<blockquote class="own-words" lang="ar" dir="rtl">' + ARABIC_WORDS, html)
    assert re.search(r'<p lang="ar" dir="rtl">' + ARABIC_WORDS + "</p>", html)
    assert re.search(r'<p lang="nl" dir="ltr">' + DUTCH_WORDS + "</p>", html)
    assert "Ouder — eigen woorden, Arabisch" in html
    assert "action_listen" not in html
    assert ("inbox:km_utrecht", "inbox_view") in _audit(inbox, inbox.refs["u1"])


def test_detail_and_api_list_the_voice_notes_of_the_conversation(inbox: InboxServer, client: Client) -> None:
    """Issue 8: voice notes of the referral's conversation (here stored after the referral, as
    the channels store them) are on the page and in the API, with how to listen."""
    from sqlalchemy.orm import Session

    from wegwijs.db.models import ChannelMessage
    from wegwijs.referrals.voice_notes import on_voice_note_stored
    from wegwijs.routing import load_routing

    twilio_url = f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"
    engine = bootstrap.make_engine(inbox.seeded.db_url)
    try:
        with Session(engine, future=True) as session, session.begin():
            for message_id, channel, media in (("wamid.inbox-voice", "whatsapp", "998877665544"),
                                               ("MM" + "1" * 32, "twilio_whatsapp", twilio_url)):
                row = ChannelMessage(message_id=message_id, channel=channel, kind="voice_note", media_id=media,
                                     conversation_id="conv-u2")
                session.add(row)
                session.flush()
                on_voice_note_stored(session=session, row=row, routing=load_routing())
    finally:
        engine.dispose()
    ref = inbox.refs["u2"]
    client.login("km_utrecht")
    page = client.get(f"/referrals/{ref}")
    assert page.status_code == 200
    html = page.text
    assert "Spraakberichten van de ouder" in html
    section = html[html.index('id="voice-notes"'):html.index("<h2>Gesprek</h2>")]
    assert section.count('<li class="voice-note">') == 2
    assert "spraakbericht via WhatsApp (Cloud API)" in section and "<code>998877665544</code>" in section
    assert "GET https://graph.facebook.com/v19.0/998877665544" in section
    assert f'<a href="{twilio_url}" rel="noreferrer noopener">' in section and "HTTP basic auth" in section
    assert "media-id 998877665544" in html[html.index('class="summary"'):]  # and in the summary
    other = client.get(f"/referrals/{inbox.refs['u1']}")
    assert 'id="voice-notes"' not in other.text  # another conversation's voice notes are not shown

    resp = requests.get(f"{inbox.url}/api/referrals/{ref}", headers=inbox.api("km_utrecht"), timeout=10)
    notes = resp.json()["voice_notes"]
    assert [(n["channel"], n["media_id"], n["media_url"]) for n in notes] == [
        ("whatsapp", "998877665544", None), ("twilio_whatsapp", "ME" + "2" * 32, twilio_url)]
    assert all(n["listen_nl"].startswith("Beluisteren:") and n["received_at"].endswith("+00:00") for n in notes)
    assert "media-id 998877665544" in resp.json()["summary_nl"]


def test_status_flow_needs_csrf_and_a_reason_to_close(inbox: InboxServer, client: Client) -> None:
    ref = inbox.refs["u2"]
    client.login("km_utrecht")
    client.get(f"/referrals/{ref}")
    forged = client.post(f"/referrals/{ref}/status", {"status": "in_progress", "csrf": "forged"})
    assert forged.status_code == 403
    assert client.post(f"/referrals/{ref}/status", {"status": "in_progress"}).status_code == 303
    assert "in behandeling" in client.get(f"/referrals/{ref}").text
    no_reason = client.post(f"/referrals/{ref}/status", {"status": "closed"})
    assert no_reason.status_code == 400 and "reden" in no_reason.text
    assert client.post(f"/referrals/{ref}/status", {"status": "new"}).status_code == 409
    assert client.post(f"/referrals/{ref}/status", {"status": "contacted"}).status_code == 303
    assert client.post(f"/referrals/{ref}/status", {"status": "closed", "reason": "ouder geholpen"}).status_code == 303
    page = client.get(f"/referrals/{ref}").text
    assert "afgesloten — reden: ouder geholpen" in page
    assert ref not in client.get("/").text, "the default list shows open referrals"
    assert ref in client.get("/?status=closed").text
    actions = [a for actor, a in _audit(inbox, ref) if actor == "inbox:km_utrecht"]
    assert actions.count("inbox_status") == 3


def test_notes_and_assignment(inbox: InboxServer, client: Client) -> None:
    ref = inbox.refs["u1"]
    client.login("km_utrecht")
    client.get(f"/referrals/{ref}")
    assert client.post(f"/referrals/{ref}/notes", {"text": "Gebeld, <b>voicemail</b>"}).status_code == 303
    page = client.get(f"/referrals/{ref}").text
    assert "Gebeld, &lt;b&gt;voicemail&lt;/b&gt;" in page, "autoescaped"
    assert client.post(f"/referrals/{ref}/assign", {"staff_key": "km-bram"}).status_code == 409, "other gemeente"
    assert client.post(f"/referrals/{ref}/assign", {"staff_key": "km-anna"}).status_code == 303
    assert ref in client.get("/?assignee=km-anna").text
    assert client.post(f"/referrals/{ref}/assign", {"staff_key": "sp-samira"}).status_code == 303
    actions = [a for _, a in _audit(inbox, ref)]
    assert "inbox_note" in actions and actions.count("inbox_assign") == 2
    engine = bootstrap.make_engine(inbox.seeded.db_url)
    try:
        with engine.connect() as c:
            logged = " ".join(str(v) for row in c.execute(sa.text("SELECT * FROM access_log")) for v in row)
    finally:
        engine.dispose()
    assert "voicemail" not in logged and ARABIC_WORDS not in logged


def test_filters(inbox: InboxServer, client: Client) -> None:
    client.login("beheer")
    u1, u2, a1 = (inbox.refs[k] for k in ("u1", "u2", "a1"))
    everything = client.get("/?status=").text
    assert all(r in everything for r in (u1, u2, a1)), "a national admin sees every gemeente"
    only_urgent = client.get("/?status=&urgency=urgent").text
    assert u1 in only_urgent and a1 not in only_urgent
    turkish = client.get("/?status=&language=tr").text
    assert a1 in turkish and u1 not in turkish
    school = client.get("/?status=&topic=school").text
    assert a1 in school and u1 not in school
    nobody = client.get("/?status=&assignee=-").text
    assert a1 in nobody and u1 not in nobody
    assert client.get("/?status=bogus").status_code == 400


def test_api_list_detail_and_status(inbox: InboxServer) -> None:
    ref = inbox.refs["a1"]
    headers = inbox.api("km_amersfoort")
    listed = requests.get(f"{inbox.url}/api/referrals?urgency=normal", headers=headers, timeout=10)
    assert listed.status_code == 200 and listed.json()["referrals"][0]["reference"] == ref
    detail = requests.get(f"{inbox.url}/api/referrals/{ref.lower()}", headers=headers, timeout=10).json()
    assert detail["municipality"] == "Amersfoort" and detail["status_label_nl"] == "nieuw"
    assert "summary_nl" in detail and detail["next_statuses"] == ["in_progress", "contacted", "closed"]
    bad = requests.patch(f"{inbox.url}/api/referrals/{ref}", headers=headers, json={"status": "closed"}, timeout=10)
    assert bad.status_code == 400 and "reden" in bad.json()["error"]
    extra = requests.patch(f"{inbox.url}/api/referrals/{ref}", headers=headers,
                           json={"status": "in_progress", "owner": "x"}, timeout=10)
    assert extra.status_code == 400
    not_json = requests.patch(f"{inbox.url}/api/referrals/{ref}", headers=headers, data="status", timeout=10)
    assert not_json.status_code == 400
    huge = requests.post(f"{inbox.url}/api/referrals/{ref}/notes", headers=headers,
                         json={"text": "x" * 100_000}, timeout=10)
    assert huge.status_code == 413
    ok = requests.patch(f"{inbox.url}/api/referrals/{ref}", headers=headers, json={"status": "in_progress"}, timeout=10)
    assert ok.status_code == 200 and ok.json()["status"] == "in_progress"
    note = requests.post(f"{inbox.url}/api/referrals/{ref}/notes", headers=headers, json={"text": "via API"}, timeout=10)
    assert note.status_code == 201
    actions = [a for actor, a in _audit(inbox, ref) if actor == "inbox:km_amersfoort"]
    assert {"api_list", "api_view", "api_status", "api_note"} <= set(actions)


def test_login_throttled_after_five_failures(inbox: InboxServer) -> None:
    client = Client(inbox.url)
    try:
        for _ in range(5):
            assert client.login("km_utrecht", "verkeerd-wachtwoord").status_code == 401
        throttled = client.login("km_utrecht")  # even the right password now
        assert throttled.status_code == 429 and "Te veel mislukte pogingen" in throttled.text
        assert "wegwijs_session" not in client.cookies
    finally:
        engine = bootstrap.make_engine(inbox.seeded.db_url)
        try:
            with engine.begin() as c:
                c.execute(sa.text("DELETE FROM login_attempts"))
        finally:
            engine.dispose()
    assert Client(inbox.url).login("km_utrecht").status_code == 303


def test_logout_ends_the_session(inbox: InboxServer, client: Client) -> None:
    client.login("km_utrecht")
    old = dict(client.cookies)
    client.get("/")
    assert client.post("/logout").status_code == 303
    replay = Client(inbox.url)
    replay.cookies = old
    assert replay.get("/").status_code == 303, "the old cookie no longer works"
