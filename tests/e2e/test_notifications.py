"""End to end: `wegwijs serve` starts the outbox worker; a Tigrinya parent's urgent message in
Utrecht becomes a referral routed to the Tigrinya-speaking sleutelpersoon, and the e-mail with
the complete Dutch summary reaches a real local SMTP server (aiosmtpd) without anyone
running the worker by hand. SQLite only (the PostgreSQL path of the worker is in
tests/wegwijs/outbox/)."""

from __future__ import annotations

import pytest

from tests.e2e.test_conversation import ETHIOPIC, _chat, _texts
from tests.wegwijs.outbox.conftest import ScriptedHandler, routing_dir_for
from wegwijs import bootstrap
from wegwijs.build import RASA_MODEL
from wegwijs.db.migrate import upgrade
from wegwijs.referrals import service
from wegwijs.serve import free_port, running
from wegwijs.settings import Settings

pytestmark = pytest.mark.e2e


def test_urgent_tigrinya_referral_e_mail_reaches_the_sleutelpersoon(tmp_path) -> None:
    from aiosmtpd.controller import Controller

    assert RASA_MODEL.is_file(), "no Rasa model: run scripts/install.sh"
    handler = ScriptedHandler([])
    smtp_port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", tracker_db_url=f"sqlite:///{tmp_path / 't.db'}")
    upgrade(settings.database_url)
    env = {
        "WEGWIJS_DATABASE_URL": settings.database_url, "WEGWIJS_TRACKER_DB_URL": settings.tracker_db_url,
        "WEGWIJS_ROUTING_DIR": str(routing_dir_for(tmp_path, smtp_port)),
    }
    try:
        with running(settings=settings, rasa_port=free_port(), action_port=free_port(), extra_env=env) as s:
            assert len(s.procs) >= 3 and all(p.poll() is None for p in s.procs)  # the worker runs too
            sender = f"e2e-notify-{s.rasa_port}"
            assert ETHIOPIC.search(_texts(_chat(s, sender, "ሰላም ከመይ ኣለኹም ሕቶ ኣለኒ")))
            _chat(s, sender, "ኣብ ኡትረኽት ንነብር")
            urgent = _chat(s, sender, "ሰብኣየይ ብሓይሊ ይወቕዓኒ ኣሎ ሓገዝ")
            assert "112" in _texts(urgent), urgent
            assert handler.received.got_data.wait(timeout=60), "no e-mail reached the SMTP server"
            bootstrap.bootstrap({"settings": settings})
            [ref] = [r for r in service.list_referrals(bootstrap.get_session_factory(), actor="e2e-test")
                     if r.conversation_id == sender]
            bootstrap.reset()
    finally:
        controller.stop()
    assert ref.urgency == "urgent" and ref.municipality == "Utrecht" and ref.language == "ti"
    assert ref.assignee_key == "utrecht-sp-senait"
    [message] = handler.received.accepted
    assert message["To"] == "senait.sp@example.org"
    assert message["Subject"].startswith(f"Wegwijs: URGENT — nieuwe warme overdracht {ref.reference}")
    assert ref.summary_nl.strip() in message.get_content()
