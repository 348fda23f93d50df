"""Stop 22: a fact typed after the referral was passed on reaches that referral.

"Sorry, we live in Zwolle, not Utrecht" after the referral went was answered with the
topic menu and the stored referral kept Utrecht; now it is added (and rerouted while
nobody has taken it up) and the parent is told so.
"""

from __future__ import annotations

import sqlalchemy as sa
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionCreateReferral
from actions.intake import ActionTopicMenu
from tests.actions.conftest import make_tracker
from wegwijs import bootstrap
from wegwijs.db.models import Referral

SLOTS = {
    "language": "nl", "consent": "yes", "municipality": "Amsterdam", "person_type": "sleutelpersoon",
    "concern_text": [{"text": "ik wil met iemand praten", "lang": "nl"}], "intake_done": True,
}


async def _released(sender: str) -> str:
    d = CollectingDispatcher()
    events = await ActionCreateReferral().run(d, make_tracker("nee", "deny", slots=SLOTS, sender_id=sender), {})
    return next(e["value"] for e in events if e.get("name") == "referral_reference")


def _stored(reference: str) -> Referral:
    with bootstrap.get_session_factory().begin() as session:
        row = session.execute(sa.select(Referral).where(Referral.reference == reference)).scalar_one()
        session.expunge(row)
        return row


async def test_a_gemeente_said_after_the_referral_went_is_added_to_it(db) -> None:
    reference = await _released("p-zwolle")
    assert _stored(reference).municipality == "Amsterdam"
    d = CollectingDispatcher()
    tracker = make_tracker(
        "sorry, we wonen niet in Amsterdam maar in Zwolle", "inform", sender_id="p-zwolle",
        slots={**SLOTS, "municipality": "Zwolle", "referral_reference": reference, "person_type": None},
        entities=[{"entity": "municipality", "value": "Zwolle"}],
    )
    events = await ActionTopicMenu().run(d, tracker, {})
    assert events == []
    assert [m["response"] for m in d.messages] == ["utter_referral_updated"]
    assert d.messages[0]["reference"] == reference
    stored = _stored(reference)
    assert stored.municipality == "Zwolle"
    assert stored.person_type == "sleutelpersoon"  # "not said" now does not erase what was said


async def test_a_caution_after_the_referral_went_is_added_and_acknowledged(db) -> None:
    reference = await _released("p-caution")
    d = CollectingDispatcher()
    words = "bel me liever niet, mijn man kijkt mee"
    tracker = make_tracker(
        words, "inform", sender_id="p-caution",
        slots={**SLOTS, "referral_reference": reference, "contact_caution": words, "contact_channel": "whatsapp"},
        entities=[{"entity": "contact_caution", "value": words}, {"entity": "contact_channel", "value": "whatsapp"}],
    )
    await ActionTopicMenu().run(d, tracker, {})
    assert [m["response"] for m in d.messages] == ["utter_contact_caution_noted", "utter_referral_updated"]
    stored = _stored(reference)
    assert stored.contact_caution == words and stored.contact_channel == "whatsapp"


async def test_without_a_new_fact_the_menu_comes(db) -> None:
    reference = await _released("p-menu")
    d = CollectingDispatcher()
    tracker = make_tracker("iets anders", "inform", sender_id="p-menu",
                           slots={**SLOTS, "referral_reference": reference})
    await ActionTopicMenu().run(d, tracker, {})
    assert [m.get("response") for m in d.messages] != ["utter_referral_updated"]
    assert d.messages  # the topic menu


async def test_a_deleted_referral_is_not_revived(db) -> None:
    d = CollectingDispatcher()
    tracker = make_tracker("we wonen in Zwolle", "inform", sender_id="p-gone",
                           slots={**SLOTS, "municipality": "Zwolle", "referral_reference": "WW-GONE22"},
                           entities=[{"entity": "municipality", "value": "Zwolle"}])
    await ActionTopicMenu().run(d, tracker, {})
    assert "utter_referral_updated" not in [m.get("response") for m in d.messages]
    with bootstrap.get_session_factory().begin() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Referral)).scalar_one() == 0


async def test_a_question_we_cannot_answer_offers_a_person_when_no_question_is_open(db) -> None:
    from actions.intake import ActionNoteOutOfScope

    d = CollectingDispatcher()
    tracker = make_tracker("krijg ik toeslag voor de kinderen?", "out_of_scope", sender_id="p-oos",
                           slots={"language": "nl", "consent": "yes", "intake_done": True})
    events = await ActionNoteOutOfScope().run(d, tracker, {})
    assert [m["response"] for m in d.messages] == ["utter_out_of_scope_noted", "utter_ask_want_person"]
    assert {"event": "slot", "name": "offered_person", "value": True, "timestamp": None} in events


async def test_a_question_we_cannot_answer_inside_a_form_lets_the_form_ask_again(db) -> None:
    from actions.intake import ActionNoteOutOfScope

    d = CollectingDispatcher()
    tracker = make_tracker("krijg ik toeslag?", "out_of_scope", sender_id="p-oos2", active_loop="intake_form",
                           slots={"language": "nl"})
    await ActionNoteOutOfScope().run(d, tracker, {})
    assert [m["response"] for m in d.messages] == ["utter_out_of_scope_noted"]


async def test_a_question_we_cannot_answer_after_the_referral_joins_it(db) -> None:
    from actions.intake import ActionNoteOutOfScope

    reference = await _released("p-oos3")
    d = CollectingDispatcher()
    tracker = make_tracker("en hoe zit het met de huurtoeslag?", "out_of_scope", sender_id="p-oos3",
                           slots={**SLOTS, "referral_reference": reference})
    await ActionNoteOutOfScope().run(d, tracker, {})
    assert [m["response"] for m in d.messages] == ["utter_out_of_scope_noted", "utter_referral_updated"]
    assert [q["text"] for q in _stored(reference).out_of_scope_questions] == ["en hoe zit het met de huurtoeslag?"]
