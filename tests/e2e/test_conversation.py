"""End to end: start the action server and the Rasa server, chat over REST in Arabic and
Tigrinya, and find the referrals in the database.

Runs twice: on the embedded defaults (SQLite for referrals and the tracker store) and on
PostgreSQL (a database this test run creates and drops).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from wegwijs import bootstrap
from wegwijs.build import RASA_MODEL
from wegwijs.db.migrate import upgrade
from wegwijs.referrals import service
from wegwijs.serve import free_port, running
from wegwijs.settings import Settings

pytestmark = pytest.mark.e2e

ARABIC = re.compile(r"[\u0600-\u06FF]")
ETHIOPIC = re.compile(r"[\u1200-\u137F]")


def _post(url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def servers(request, tmp_path_factory):
    """Both servers on their own ports and databases; yields (servers, settings)."""
    assert RASA_MODEL.is_file(), "no Rasa model: run scripts/install.sh"
    tmp = tmp_path_factory.mktemp("e2e")
    if request.param == "sqlite":
        settings = Settings(database_url=f"sqlite:///{tmp / 'w.db'}", tracker_db_url=f"sqlite:///{tmp / 't.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        settings = Settings(database_url=url, tracker_db_url=url)
    upgrade(settings.database_url)
    env = {"WEGWIJS_DATABASE_URL": settings.database_url, "WEGWIJS_TRACKER_DB_URL": settings.tracker_db_url}
    with running(settings=settings, rasa_port=free_port(), action_port=free_port(), extra_env=env) as s:
        bootstrap.bootstrap({"settings": settings})
        yield s, settings
        bootstrap.reset()


def _chat(s, sender: str, message: str) -> list[dict]:
    status, replies = _post(f"{s.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": message})
    assert status == 200, replies
    return replies


def _referrals(sender: str) -> list:
    outs = service.list_referrals(bootstrap.get_session_factory(), actor="e2e-test", limit=500)
    return [r for r in outs if r.conversation_id == sender]


def test_model_parse_reports_language(servers) -> None:
    s, _ = servers
    status, parsed = _post(s.api_url("/model/parse"), {"text": "ابني ما بدو يروح على المدرسة"})
    assert status == 200
    assert parsed["language"]["code"] == "ar" and 0.5 < parsed["language"]["confidence"] <= 1.0
    status, parsed = _post(s.api_url("/model/parse"), {"text": "ወደይ ናብ ቤት ትምህርቲ ክኸይድ ኣይደልን እዩ"})
    assert parsed["language"]["code"] == "ti"


def test_arabic_parent_gets_arabic_replies_and_a_referral(servers) -> None:
    s, _ = servers
    sender = f"e2e-ar-{s.rasa_port}"
    welcome = _chat(s, sender, "مرحبا، كيف حالكم اليوم")
    assert ARABIC.search(_texts(welcome)), welcome
    titles = [b["title"] for r in welcome for b in r.get("buttons", [])]
    assert "العربية" in titles and "Nederlands" in titles      # a choice of languages, not yes/no
    # three facts in one line, before they were asked: kept, never asked again
    consent = _chat(s, sender, "عندي ولدين عمرهم ٤ و ٩ سنين وساكنين بروتردام")
    assert ARABIC.search(_texts(consent)), consent
    menu = _chat(s, sender, "/affirm")                          # privacy: I agree (button)
    assert any(r.get("buttons") for r in menu), menu             # ages and gemeente known: straight to the topics
    tips = _chat(s, sender, "ابني عنده مشاكل بالمدرسة وما بدو يروح")
    assert ARABIC.search(_texts(tips)) and "•" in _texts(tips), tips
    _chat(s, sender, "بدي حدا من جاليتنا يتصل فيني عالواتساب بعد الساعة ٥، امرأة لو سمحت")
    for msg in ['/inform{"contact_setting":"individual"}']:
        _chat(s, sender, msg)
    done = _chat(s, sender, "/deny")                            # no interpreter
    assert ARABIC.search(_texts(done)) and "WW-" in _texts(done), done
    [ref] = _referrals(sender)
    assert ref.language == "ar" and ref.children_ages == [4, 9] and ref.topics == ["school"]
    assert ref.urgency == "normal" and ref.municipality == "Rotterdam" and ref.person_type == "sleutelpersoon"
    assert ref.contact_channel == "whatsapp" and ref.contact_gender == "woman" and ref.interpreter_needed is False
    assert ref.contact_times == "na 17:00" and "الساعة" in (ref.contact_times_text or "")
    assert "4" in ref.summary_nl and "9" in ref.summary_nl and ref.topics_nl[0] in ref.summary_nl
    assert any(ARABIC.search(c.text) for c in ref.concern_text)


def test_tigrinya_parent_urgent_message_gets_numbers_and_urgent_referral(servers) -> None:
    s, _ = servers
    sender = f"e2e-ti-{s.rasa_port}"
    welcome = _chat(s, sender, "ሰላም ከመይ ኣለኹም ሕቶ ኣለኒ")
    assert ETHIOPIC.search(_texts(welcome)), welcome
    _chat(s, sender, "ሰለስተ ቆልዑ ኣለዉኒ 2 ፡ 6 ን 13")
    urgent = _chat(s, sender, "ሰብኣየይ ብሓይሊ ይወቕዓኒ ኣሎ ሓገዝ")   # during the privacy question
    text = _texts(urgent)
    assert ETHIOPIC.search(text) and "112" in text and "0800-2000" in text, urgent
    [ref] = _referrals(sender)
    assert ref.urgency == "urgent" and ref.language == "ti" and ref.children_ages == [2, 6, 13]
    assert "URGENT" in ref.summary_nl.upper()
    # the conversation goes on where it was: the privacy question is still open
    after = _chat(s, sender, "/affirm")
    assert ETHIOPIC.search(_texts(after)), after


def test_bad_input_is_refused_and_nothing_is_lost(servers) -> None:
    s, _ = servers
    assert _post(f"{s.rasa_url}/webhooks/rest/webhook", b"{not json")[0] == 400
    assert _post(f"{s.rasa_url}/webhooks/rest/webhook", {"sender": "x", "message": ""})[0] == 400
    assert _post(f"{s.rasa_url}/webhooks/rest/webhook", {"sender": "x", "message": "a" * 5000})[0] == 413
    # the conversation still works afterwards
    assert _chat(s, "e2e-after-bad-input", "hallo")


def test_emergency_numbers_arrive_when_the_action_server_is_down(tmp_path) -> None:
    """Only the Rasa server runs; its action endpoint points at a closed port."""
    import subprocess
    import time

    from wegwijs.build import rasa_bin, rasa_env
    from wegwijs.content.loader import REPO_ROOT

    port = free_port()
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{free_port()}/webhook\n")
    env = rasa_env()
    env["WEGWIJS_TRACKER_DB_URL"] = f"sqlite:///{tmp_path / 't.db'}"
    log = (tmp_path / "rasa.log").open("wb")
    proc = subprocess.Popen(
        [rasa_bin(), "run", "--enable-api", "--port", str(port), "--interface", "127.0.0.1", "--model", str(RASA_MODEL),
         "--credentials", str(REPO_ROOT / "credentials.yml"), "--endpoints", str(endpoints)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
                    if json.loads(r.read()).get("model_file"):
                        break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(2)
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        status, replies = _post(url, {"sender": "down-1", "message": "my husband hits me and the children, help"})
        assert status == 200 and "112" in _texts(replies) and "0800-2000" in _texts(replies), replies
        status, replies = _post(url, {"sender": "down-2", "message": "ابني بلع حبوب كثيرة من الخزانة ولا يتنفس جيدا"})
        assert status == 200 and "112" in _texts(replies), replies
    finally:
        proc.terminate()
        proc.wait(timeout=30)
