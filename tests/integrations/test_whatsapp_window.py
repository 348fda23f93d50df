"""WhatsApp's 24-hour customer-service window (integrations/whatsapp.py: ServiceWindow,
Templates, Reengagement) over real HTTP on 127.0.0.1, against the fake Graph API of
test_whatsapp.py, which records every message it was sent.

Time: the channel's window clock is the real clock plus an offset the test moves
(``Clock.later(hours)``); the database rows keep their real ``received_at``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

import pytest

from integrations.whatsapp import (
    DEFAULT_TEMPLATES_FILE,
    MessageLog,
    ReplyTexts,
    Template,
    Templates,
    WhatsAppCloudInput,
)
from tests.integrations.test_whatsapp import (  # noqa: F401  (fixtures)
    PARENT,
    TEXTS,
    FakeAgent,
    FakeGraph,
    RasaServer,
    fixture_body,
    graph,
    migrated_template,
    rows,
    session_factory,
    start_server,
)
from wegwijs.content.loader import load_registry

TEMPLATES = Templates(
    {"ar": Template("wegwijs_bericht", "ar"), "nl": Template("wegwijs_bericht", "nl"),
     "ti": Template("wegwijs_bericht_en", "en")},
    default="nl",
)
HOUR = 3600.0


class Clock:
    """The real time plus an offset the test moves."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset

    def later(self, hours: float) -> None:
        self.offset += hours * HOUR


def text_body(wamid: str, sender: str = PARENT, text: str = "hallo") -> bytes:
    """A parent's text message (the shape of message__text.json) with its own id."""
    data = json.loads(fixture_body("message__text.json"))
    message = data["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"id": wamid, "from": sender, "text": {"body": text}})
    return json.dumps(data).encode()


def failed_status_body(wamid: str, code: int = 131047, recipient: str = PARENT) -> bytes:
    """A ``failed`` status (the shape of message_status__failed.json) with ``code``."""
    data = json.loads(fixture_body("message_status__failed.json"))
    status = data["entry"][0]["changes"][0]["value"]["statuses"][0]
    status.update({"id": wamid, "recipient_id": recipient})
    status["errors"] = [{"code": code, "title": "Re-engagement message"}]
    return json.dumps(data).encode()


def sent(graph: FakeGraph) -> List[Dict[str, Any]]:
    return [r["json"] for r in graph.requests]


def kinds(session_factory: Any) -> List[str]:
    return [r.kind for r in rows(session_factory)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_server(graph: FakeGraph, session_factory: Any, clock: Clock):  # noqa: F811
    """test_whatsapp's server with this module's templates and clock, parent speaking Arabic."""
    async def make(agent: Optional[FakeAgent] = None, templates: Optional[Templates] = TEMPLATES,
                   **config: Any) -> RasaServer:
        return await start_server(graph, session_factory, agent or FakeAgent(languages={PARENT: "ar"}),
                                  channel_kwargs={"templates": templates, "clock": clock}, **config)

    return make


@pytest.fixture
async def server(make_server: Any) -> AsyncIterator[RasaServer]:
    srv = await make_server()
    yield srv
    await srv.stop()


async def late_reply(srv: RasaServer, text: str, recipient: str = PARENT) -> None:
    """What a person's late reply or a reminder does: Rasa's output channel of the input."""
    await srv.channel.get_output_channel().send_text_message(recipient, text)


# ------------------------------------------------------------------ inside and outside


async def test_inside_the_window_text_goes_out_as_text(
    server: RasaServer, graph: FakeGraph, clock: Clock, session_factory: Any
) -> None:
    assert (await server.post(text_body("wamid.in1")))[0] == 200
    clock.later(23)
    await late_reply(server, "Anna van de gemeente: ik bel u morgen om 10 uur.")
    assert [m["type"] for m in sent(graph)] == ["text"]
    assert graph.texts() == ["Anna van de gemeente: ik bel u morgen om 10 uur."]
    assert kinds(session_factory) == ["text"]
    [row] = rows(session_factory)
    assert row.conversation_id == PARENT, "the window needs the sender of each message"


async def test_after_24_hours_the_template_goes_out_and_the_text_waits_for_the_parent(
    server: RasaServer, graph: FakeGraph, clock: Clock, session_factory: Any
) -> None:
    assert (await server.post(text_body("wamid.in1")))[0] == 200
    clock.later(25)
    await late_reply(server, "Anna: ik bel u morgen.")
    await late_reply(server, "Tot morgen!")
    [template] = sent(graph)                      # one template, no free text
    assert template["type"] == "template" and template["to"] == PARENT
    assert template["template"] == {"name": "wegwijs_bericht", "language": {"code": "ar"}}
    assert kinds(session_factory) == ["text", "held_text", "template_window", "held_text"]

    # the parent answers (e.g. "ok"): the held texts go out first, in order, then Rasa
    assert (await server.post(text_body("wamid.in2", text="ok")))[0] == 200
    assert graph.texts() == ["Anna: ik bel u morgen.", "Tot morgen!"]
    assert [m.text for m in server.agent.messages] == ["hallo", "ok"]
    assert kinds(session_factory)[-3:] == ["text", "held_delivered_text", "held_delivered_text"]
    # the window is open again: the next message is plain text
    await late_reply(server, "Nog één ding.")
    assert sent(graph)[-1]["type"] == "text" and len(sent(graph)) == 4


async def test_window_survives_a_restart_through_the_database(
    make_server: Any, graph: FakeGraph, clock: Clock
) -> None:
    first = await make_server()
    try:
        assert (await first.post(text_body("wamid.in1")))[0] == 200
    finally:
        await first.stop()
    restarted = await make_server()          # nothing in memory: channel_messages decides
    try:
        clock.later(2)
        await late_reply(restarted, "binnen 24 uur")
        assert sent(graph)[-1]["type"] == "text"
        clock.later(23)
        await late_reply(restarted, "na 25 uur")
        assert sent(graph)[-1]["type"] == "template"
    finally:
        await restarted.stop()


async def test_held_messages_survive_a_restart_and_are_erased_with_the_parents_data(
    make_server: Any, graph: FakeGraph, clock: Clock, session_factory: Any
) -> None:
    import sqlalchemy as sa

    from wegwijs.db.models import HeldMessage
    from wegwijs.referrals.repository import delete_for_conversation

    first = await make_server()
    try:
        assert (await first.post(text_body("wamid.in1")))[0] == 200
        clock.later(25)
        await late_reply(first, "Anna: ik bel u morgen.")      # window closed: held, template out
    finally:
        await first.stop()
    with session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(HeldMessage)).scalar_one() == 1
    restarted = await make_server()                             # nothing in memory
    try:
        assert (await restarted.post(text_body("wamid.in2", text="ok")))[0] == 200
        assert graph.texts() == ["Anna: ik bel u morgen."]      # delivered by the new process
        assert kinds(session_factory)[-1] == "held_delivered_text"
        clock.later(25)
        await late_reply(restarted, "Nog een vraag?")
    finally:
        await restarted.stop()
    with session_factory.begin() as session:                    # "delete my data": held text goes too
        delete_for_conversation(session=session, conversation_id=PARENT)
    with session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(HeldMessage)).scalar_one() == 0


async def test_a_parent_who_never_wrote_gets_the_default_language_template(
    server: RasaServer, graph: FakeGraph, session_factory: Any
) -> None:
    await late_reply(server, "Herinnering", recipient="31612345678")
    [template] = sent(graph)
    assert template["template"]["language"] == {"code": "nl"}     # default: language unknown
    assert kinds(session_factory) == ["held_text", "template_window"]


async def test_buttons_and_images_wait_too(
    server: RasaServer, graph: FakeGraph, clock: Clock, session_factory: Any
) -> None:
    assert (await server.post(text_body("wamid.in1")))[0] == 200
    clock.later(30)
    output = server.channel.get_output_channel()
    await output.send_text_with_buttons(PARENT, "Kies", [{"title": "Ja", "payload": "/affirm"}])
    await output.send_image_url(PARENT, "https://example.org/a.png")
    await output.send_custom_json(PARENT, {"type": "template", "template": {"name": "x", "language": {"code": "nl"}}})
    assert [m["type"] for m in sent(graph)] == ["template", "template"]   # ours, then the custom one
    assert sent(graph)[1]["template"]["name"] == "x"
    assert (await server.post(text_body("wamid.in2")))[0] == 200
    assert [m["type"] for m in sent(graph)[2:]] == ["interactive", "image"]
    assert "held_interactive" in kinds(session_factory) and "held_image" in kinds(session_factory)


# ------------------------------------------------------------------ error 131047


async def test_failed_131047_is_retried_once_as_the_template(
    server: RasaServer, graph: FakeGraph, session_factory: Any
) -> None:
    assert (await server.post(text_body("wamid.in1")))[0] == 200
    await late_reply(server, "Eerste bericht")            # accepted by the Graph API...
    await late_reply(server, "Tweede bericht")
    first, second = (f"wamid.out{i}" for i in (1, 2))      # the fake's ids
    # ...and later reported failed: the parent's window had closed after all
    assert (await server.post(failed_status_body(first)))[0] == 200
    assert [m["type"] for m in sent(graph)] == ["text", "text", "template"]
    assert sent(graph)[2]["template"] == {"name": "wegwijs_bericht", "language": {"code": "ar"}}
    # a redelivered status is not retried again; a second failure gets no second template
    assert (await server.post(failed_status_body(first)))[0] == 200
    assert (await server.post(failed_status_body(second)))[0] == 200
    assert len(sent(graph)) == 3
    assert kinds(session_factory) == [
        "text", "status_failed", "reengage_131047", "held_text", "template_131047",
        "status_failed", "reengage_131047", "held_text"]
    # while WhatsApp says the window is closed, new messages wait as well
    await late_reply(server, "Derde bericht")
    assert len(sent(graph)) == 3 and kinds(session_factory)[-1] == "held_text"
    # the parent writes: the failed messages and the held one arrive, in order
    assert (await server.post(text_body("wamid.in2")))[0] == 200
    assert graph.texts()[2:] == ["Eerste bericht", "Tweede bericht", "Derde bericht"]


async def test_other_failures_and_failed_templates_are_not_retried(
    server: RasaServer, graph: FakeGraph, clock: Clock, session_factory: Any
) -> None:
    assert (await server.post(fixture_body("message_status__failed.json")))[0] == 200  # 130472
    assert graph.requests == [] and kinds(session_factory) == ["status_failed"]
    clock.later(25)
    await late_reply(server, "laat")                       # the template is wamid.out1
    assert (await server.post(failed_status_body("wamid.out1")))[0] == 200
    assert len(graph.requests) == 1                        # a template is never retried as one
    assert "reengage_131047" not in kinds(session_factory)


async def test_failed_status_for_an_unknown_message_still_sends_the_template(
    server: RasaServer, graph: FakeGraph, session_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """After a restart the failed message's text is no longer in memory (never stored)."""
    assert (await server.post(failed_status_body("wamid.before-restart")))[0] == 200
    assert [m["type"] for m in sent(graph)] == ["template"]
    assert "reengage_original_unknown" in caplog.text and PARENT not in caplog.text
    assert kinds(session_factory) == ["status_failed", "reengage_131047", "template_131047"]


# ------------------------------------------------------------------ failures are recorded


async def test_without_a_template_the_message_is_held_and_an_error_recorded(
    make_server: Any, graph: FakeGraph, clock: Clock, session_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    srv = await make_server(templates=Templates({"nl": Template("", "nl")}, default="nl"))
    try:
        with caplog.at_level(logging.ERROR, logger="integrations.whatsapp"):
            await late_reply(srv, "laat")
        assert graph.requests == []
        assert kinds(session_factory) == ["held_text", "send_failed_no_template"]
        assert "whatsapp.no_template" in caplog.text and PARENT not in caplog.text
        assert (await srv.post(text_body("wamid.in1")))[0] == 200
        assert graph.texts() == ["laat"]                     # delivered once the parent wrote
    finally:
        await srv.stop()


async def test_a_template_the_graph_api_refuses_is_recorded_and_can_be_sent_again(
    server: RasaServer, graph: FakeGraph, session_factory: Any
) -> None:
    graph.fail_with = [400]                                 # e.g. template not approved
    await late_reply(server, "laat")
    assert kinds(session_factory) == ["held_text", "send_failed_template"]
    await late_reply(server, "nog later")                   # no cooldown after a failure
    assert [m["type"] for m in sent(graph)] == ["template", "template"]
    assert kinds(session_factory)[-2:] == ["held_text", "template_window"]


# ------------------------------------------------------------------ configuration


def test_templates_file_placeholders_names_and_default(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text(
        'name: "${TPL}"\ndefault: en\nlanguages:\n'
        '  en: {language: en_GB}\n'
        '  ti: {language: en, name: other}\n'
        '  fa: {language: fa, components: [{type: body, parameters: [{type: text, text: x}]}]}\n',
        encoding="utf-8")
    templates = Templates.load(path, {"TPL": "wegwijs_reply"})
    assert templates.for_language("en") == Template("wegwijs_reply", "en_GB")
    assert templates.for_language("ti").name == "other"
    assert templates.for_language("xx") == templates.for_language(None) == Template("wegwijs_reply", "en_GB")
    assert templates.for_language("fa").message()["template"]["components"][0]["type"] == "body"
    unset = Templates.load(path, {})
    assert unset.for_language("en") is None and unset.for_language("ti").name == "other"
    path.write_text("languages:\n  en: {name: x}\n", encoding="utf-8")
    with pytest.raises(ValueError):
        Templates.load(path, {})


def test_the_shipped_templates_file_covers_every_language() -> None:
    templates = Templates.load(DEFAULT_TEMPLATES_FILE, {"WHATSAPP_TEMPLATE_NAME": "wegwijs_bericht"})
    for code in load_registry().supported:
        template = templates.for_language(code)
        assert template is not None and template.name == "wegwijs_bericht", code
    assert templates.for_language("ar").language == "ar"
    assert Templates.load(DEFAULT_TEMPLATES_FILE, {}).for_language("ar") is None  # name unset


def test_channel_loads_the_templates_file_named_in_the_settings(tmp_path: Path, session_factory: Any) -> None:  # noqa: F811
    path = tmp_path / "t.yml"
    path.write_text("name: n\nlanguages:\n  nl: {language: nl}\n", encoding="utf-8")
    from integrations.whatsapp import WhatsAppConfig

    config = WhatsAppConfig.from_sources({"templates_file": str(path), "service_window_seconds": "60"}, {})
    channel = WhatsAppCloudInput(config=config, message_log=MessageLog(session_factory),
                                 reply_texts=ReplyTexts(TEXTS))
    assert channel.reengagement.templates.for_language("nl") == Template("n", "nl")
    assert channel.window.seconds == 60
    broken = WhatsAppConfig.from_sources({"templates_file": str(tmp_path / "missing.yml")}, {})
    channel = WhatsAppCloudInput(config=broken, message_log=MessageLog(session_factory),
                                 reply_texts=ReplyTexts(TEXTS))
    assert channel.reengagement.templates is None          # logged; messages are held

