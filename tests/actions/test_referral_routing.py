"""The handoff action routes the referral: the person's role and the gemeente's promised
working days reach the parent's message; the notification waits in the outbox."""

from __future__ import annotations

import sqlalchemy as sa
from rasa_sdk.executor import CollectingDispatcher

from actions.common import pack_for
from actions.handoff import ActionCreateReferral
from tests.actions.conftest import make_tracker
from wegwijs import bootstrap
from wegwijs.db.models import OutboxMessage, Referral


async def test_referral_is_routed_and_its_e_mail_queued(db) -> None:
    d = CollectingDispatcher()
    slots = {
        "language": "ti", "consent": "yes", "municipality": "Amsterdam", "person_type": "either",
        "contact_gender": "woman", "concern_text": [{"text": "ሓገዝ የድልየኒ", "lang": "ti"}],
    }
    events = await ActionCreateReferral().run(d, make_tracker("እወ", "affirm", slots=slots, sender_id="p-ti"), {})
    [message] = d.messages
    assert message["response"] == "utter_referral_done"
    assert message["days"] == "2"  # municipalities/routing/amsterdam.yml response_days
    reference = next(e["value"] for e in events if e.get("name") == "referral_reference")
    with bootstrap.get_session_factory().begin() as session:
        referral = session.execute(sa.select(Referral).where(Referral.reference == reference)).scalar_one()
        assert (referral.assignee_key, referral.route_queue) == ("amsterdam-sp-mehret", "Amsterdam")
        rows = {row.kind: row for row in session.execute(sa.select(OutboxMessage)).scalars()}
        assert sorted(rows) == ["email", "webhook"]  # amsterdam.yml has both
        assert rows["email"].status == "pending" and rows["email"].payload["to"] == ["mehret.sp@example.org"]
    # the parent asked for either: the label names the role of the person it went to
    tracker = make_tracker("እወ", "affirm", slots=slots, sender_id="p-ti")
    # and the first name of that person (stop 22), nothing else about them
    assert message["person_label"] == pack_for(tracker).label("person_type", "sleutelpersoon") + " (Mehret)"
    assert not message["person_label"].startswith(pack_for(tracker).label("person_type", "either"))
