"""The referral service on SQLite and PostgreSQL: create, read with access log, delete, purge."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from wegwijs.db.models import AccessLog, ChannelMessage, Referral
from wegwijs.referrals import repository, service
from wegwijs.referrals.service import JSON_FIELDS, ReferralIn, ReferralOut

REFERENCE = re.compile(r"^WW-[ACDEFGHJKMNPQRTUVWXY34679]{6}$")


def test_create_referral_returns_stable_json(session_factory, names, make_referral_in) -> None:
    now = datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=timezone.utc)
    out = service.create_referral(session_factory, make_referral_in(), names=names, now=now)
    assert isinstance(out, ReferralOut)
    assert REFERENCE.match(out.reference)
    data = out.to_json_dict()
    assert tuple(data) == JSON_FIELDS
    assert data["created_at"] == "2026-11-29T10:00:00+00:00"
    assert data["consent_at"] == "2026-11-02T09:30:00+00:00"
    assert data["language_name_nl"] == "Arabisch"
    assert data["topics"] == ["school", "wellbeing"]
    assert data["topics_nl"] == ["School en huiswerk", "Welzijn en gevoelens"]
    assert data["children_count"] == 2 and data["children_ages"] == [3, 7]
    assert data["concern_text"] == [{"text": "ابني لا يريد الذهاب إلى المدرسة", "lang": "ar"}]
    assert data["urgency"] == "urgent" and data["status"] == "new"
    assert data["summary_nl"].startswith(f"Warme overdracht Wegwijs — referentie {out.reference}")

    with session_factory() as session:
        stored = repository.get_by_reference(session=session, reference=out.reference)
        assert stored.id == out.id
        assert stored.created_at == now


def test_references_are_unique_over_many_referrals(session_factory, make_referral_in) -> None:
    references = {
        service.create_referral(session_factory, make_referral_in(conversation_id=f"c{i}")).reference
        for i in range(25)
    }
    assert len(references) == 25


def test_taken_reference_is_redrawn(session_factory, make_referral_in, monkeypatch) -> None:
    first = service.create_referral(session_factory, make_referral_in())
    draws = iter([first.reference, "WW-CCCCCC"])
    monkeypatch.setattr(service, "new_reference", lambda: next(draws))
    second = service.create_referral(session_factory, make_referral_in())
    assert second.reference == "WW-CCCCCC"


def test_without_names_ids_are_used(session_factory, make_referral_in) -> None:
    out = service.create_referral(session_factory, make_referral_in(language="ti"))
    assert out.language_name_nl == "ti"
    assert out.topics_nl == ["school", "wellbeing"]


def test_get_referral_by_id_and_reference_logs_access(session_factory, make_referral_in) -> None:
    out = service.create_referral(session_factory, make_referral_in())
    by_id = service.get_referral(session_factory, str(out.id), actor="km.utrecht")
    by_reference = service.get_referral(
        session_factory, out.reference.lower().removeprefix("ww-"), actor="sp.amina"
    )
    assert by_id == by_reference
    with session_factory() as session:
        log = repository.list_access_log(session=session, referral_id=out.id)
    assert sorted((e.actor, e.action) for e in log) == [("km.utrecht", "show"), ("sp.amina", "show")]


def test_get_unknown_referral_raises(session_factory) -> None:
    with pytest.raises(service.ReferralNotFound):
        service.get_referral(session_factory, "WW-ZZZZZZ", actor="km")
    with pytest.raises(service.ReferralNotFound):
        service.get_referral(session_factory, "12345", actor="km")


def test_list_referrals_logs_one_access_per_row(session_factory, make_referral_in) -> None:
    service.create_referral(session_factory, make_referral_in(municipality="Utrecht"))
    service.create_referral(session_factory, make_referral_in(municipality="Tilburg"))
    listed = service.list_referrals(session_factory, actor="km", municipality="tilburg")
    assert [r.municipality for r in listed] == ["Tilburg"]
    with session_factory() as session:
        log = session.query(AccessLog).all()
    assert [(e.action, e.referral_id) for e in log] == [("list", listed[0].id)]


def test_delete_for_conversation(session_factory, make_referral_in) -> None:
    service.create_referral(session_factory, make_referral_in(conversation_id="parent-a"))
    service.create_referral(session_factory, make_referral_in(conversation_id="parent-a"))
    service.create_referral(session_factory, make_referral_in(conversation_id="parent-b"))
    assert service.delete_for_conversation(session_factory, "parent-a") == 2
    with session_factory() as session:
        assert [r.conversation_id for r in session.query(Referral)] == ["parent-b"]


def test_purge_referrals_with_dry_run(session_factory, make_referral_in) -> None:
    now = datetime.now(timezone.utc)
    for days in (500, 400, 1):
        service.create_referral(
            session_factory, make_referral_in(), now=now - timedelta(days=days)
        )
    cutoff = service.retention_cutoff(365, now=now)
    assert service.purge_referrals(session_factory, cutoff=cutoff, dry_run=True) == 2
    assert service.purge_referrals(session_factory, cutoff=cutoff) == 2
    assert service.purge_referrals(session_factory, cutoff=cutoff) == 0
    with session_factory() as session:
        assert session.query(Referral).count() == 1


def test_delete_and_purge_reach_the_channel_rows(session_factory) -> None:
    now = datetime.now(timezone.utc)
    with session_factory.begin() as session:
        session.add(ChannelMessage(message_id="wamid.a", channel="whatsapp", kind="voice_note", media_id="m1",
                                   conversation_id="parent-a", received_at=now))
        session.add(ChannelMessage(message_id="wamid.b", channel="whatsapp", kind="voice_note", media_id="m2",
                                   conversation_id="parent-b", received_at=now - timedelta(days=400)))
    assert service.delete_for_conversation(session_factory, "parent-a") == 0
    with session_factory() as session:
        a = session.query(ChannelMessage).filter_by(message_id="wamid.a").one()
        assert (a.conversation_id, a.media_id) == (None, None)
    service.purge_referrals(session_factory, cutoff=service.retention_cutoff(365, now=now))
    with session_factory() as session:
        assert [r.message_id for r in session.query(ChannelMessage)] == ["wamid.a"]


class TestReferralIn:
    def test_minimal_input(self) -> None:
        data = ReferralIn(conversation_id="c", person_type="either", language="NL")
        assert data.language == "nl" and data.children_ages == [] and data.urgency == "normal"
        assert data.children_count is None and data.pregnant is False

    def test_normalisation(self, make_referral_in) -> None:
        data = make_referral_in(
            municipality="skipped",
            contact_times="  ",
            topics=["topic_school", "School", "wellbeing"],
            children_ages=[1, 2, 3],
            consent_at=datetime(2026, 1, 1, 12, 0),
        )
        assert data.municipality is None and data.contact_times is None
        assert data.topics == ["school", "wellbeing"]
        assert data.children_count == 3
        assert data.consent_at.tzinfo == timezone.utc

    def test_long_free_text_is_cut_not_refused(self, make_referral_in) -> None:
        data = make_referral_in(
            municipality="Ik woon in " + "heel " * 40 + "Tilburg",
            concern_text=[{"text": "a" * 5000, "lang": "NL", "ts": 1.0}],
        )
        assert len(data.municipality) == 100 and data.municipality.endswith("…")
        assert len(data.concern_text[0].text) == 4000
        assert data.concern_text[0].dict() == {"text": data.concern_text[0].text, "lang": "nl"}

    @pytest.mark.parametrize(
        "changes",
        [
            {"person_type": "teacher"},
            {"urgency": "high"},
            {"contact_channel": "pigeon"},
            {"contact_gender": "female"},
            {"contact_setting": "alone"},
            {"children_ages": [-1]},
            {"children_ages": [3, 4], "children_count": 1},
            {"concern_text": [{"text": "", "lang": "ar"}]},
            {"conversation_id": ""},
            {"unknown_field": 1},
        ],
        ids=lambda c: ",".join(c),
    )
    def test_invalid_input(self, make_referral_in, changes) -> None:
        with pytest.raises(ValidationError):
            make_referral_in(**changes)


def test_reference_helpers() -> None:
    assert REFERENCE.match(service.new_reference())
    assert service.normalise_reference(" ww-7kq3mx ") == "WW-7KQ3MX"
    assert service.normalise_reference("7kq3mx") == "WW-7KQ3MX"
    assert not set("0O1IL5S8B2Z") & set(service.REFERENCE_ALPHABET)


def test_a_gemeente_said_after_an_urgent_referral_routes_it_there(session_factory, names, make_referral_in) -> None:
    from wegwijs.db.models import OutboxMessage

    urgent = service.create_referral(session_factory, make_referral_in(
        municipality=None, urgency="urgent", urgency_reason="violence_at_home"), names=names)
    assert urgent.route_queue == "default"
    with session_factory() as session:
        before = session.query(OutboxMessage).count()
    later = make_referral_in(municipality="Utrecht", urgency="normal", urgency_reason=None)
    out = service.update_contact(session_factory, urgent.reference, later, names=names)
    assert out.municipality == "Utrecht" and out.route_queue != "default" and out.contact is not None
    with session_factory() as session:
        assert session.query(OutboxMessage).count() > before     # the gemeente hears of it too
    again = service.update_contact(session_factory, urgent.reference, later, names=names)
    assert again.contact is None                                  # nothing changed: no second notification


def test_a_man_woman_wish_said_after_an_urgent_referral_routes_it_again(session_factory, names, make_referral_in) -> None:
    # the urgent referral goes out before the contact questions; "only a woman" comes later
    urgent = service.create_referral(session_factory, make_referral_in(
        contact_gender=None, urgency="urgent", urgency_reason="violence_at_home"), names=names)
    later = make_referral_in(contact_gender="woman", urgency="normal", urgency_reason=None)
    out = service.update_contact(session_factory, urgent.reference, later, names=names)
    assert out.contact_gender == "woman" and out.assignee_key == "utrecht-sp-amina"


def test_a_referral_a_person_already_took_is_not_routed_again(session_factory, names, make_referral_in) -> None:
    first = service.create_referral(session_factory, make_referral_in(contact_gender=None), names=names)
    with session_factory.begin() as session:
        repository.get_by_reference(session=session, reference=first.reference).status = "in_progress"
    out = service.update_contact(session_factory, first.reference, make_referral_in(contact_gender="woman"), names=names)
    assert out.contact_gender == "woman" and out.assignee_key == first.assignee_key and out.contact is None


def test_a_second_danger_message_joins_the_urgent_referral(session_factory, names, make_referral_in) -> None:
    from wegwijs.db.models import OutboxMessage
    from wegwijs.referrals.service import ConcernText

    def urgent_in(reason: str, text: str):
        return make_referral_in(urgency="urgent", urgency_reason=reason,
                                concern_text=[ConcernText(text=text, lang="en")])

    first = service.create_referral(session_factory, urgent_in("urgent_help", "help please"), names=names)
    with session_factory() as session:
        before = session.query(OutboxMessage).count()
    same = service.add_urgent_signal(session_factory, first.reference, urgent_in("urgent_help", "help please"))
    assert [c.text for c in same.concern_text] == ["help please"]       # the same words are not added twice
    with session_factory() as session:
        assert session.query(OutboxMessage).count() == before            # nothing new: nobody notified twice
    later = service.add_urgent_signal(session_factory, first.reference, urgent_in("child_missing", "he is not home, phone off"))
    assert later.reference == first.reference and later.urgency_reason == "child_missing"
    assert [c.text for c in later.concern_text] == ["help please", "he is not home, phone off"]
    with session_factory() as session:
        assert session.query(OutboxMessage).count() > before             # a new danger: the person hears again
        assert session.query(Referral).count() == 1
    assert service.add_urgent_signal(session_factory, "WW-XXXXXX", urgent_in("child_missing", "x")) is None


def test_the_same_new_danger_twice_notifies_once(session_factory, names, make_referral_in) -> None:
    from wegwijs.db.models import OutboxMessage
    from wegwijs.referrals.service import ConcernText

    def urgent_in(reason: str, text: str):
        return make_referral_in(urgency="urgent", urgency_reason=reason, concern_text=[ConcernText(text=text, lang="en")])

    first = service.create_referral(session_factory, urgent_in("medical_emergency", "he fell and vomits"), names=names)
    service.add_urgent_signal(session_factory, first.reference, urgent_in("violence_at_home", "now he has a knife"))
    with session_factory() as session:
        after_first = session.query(OutboxMessage).count()
    again = service.add_urgent_signal(session_factory, first.reference, urgent_in("violence_at_home", "he is at the door"))
    assert again.urgency_reason == "medical_emergency" and len(again.concern_text) == 3
    with session_factory() as session:
        assert session.query(OutboxMessage).count() == after_first   # the outbox keys are unique: no second notice


def _outbox(session_factory, reference: str) -> list:
    from wegwijs.db.models import OutboxMessage

    with session_factory() as session:
        row = repository.get_by_reference(session=session, reference=reference)
        if row is None:
            return []
        messages = session.query(OutboxMessage).filter_by(referral_id=row.id).order_by(OutboxMessage.id).all()
        session.expunge_all()
        return messages


def _due(message) -> datetime:
    due = message.next_attempt_at
    return due if due.tzinfo else due.replace(tzinfo=timezone.utc)


def test_a_held_referral_waits_and_is_released_with_the_last_answers(session_factory, names, make_referral_in) -> None:
    # stored while the contact questions are open: nobody is told yet
    held = service.create_referral(session_factory, make_referral_in(urgency="normal", urgency_reason=None,
                                                                     contact_channel=None), names=names,
                                   notify_after=timedelta(minutes=20))
    messages = _outbox(session_factory, held.reference)
    assert messages, "the routed queue must be notified"
    now = service.utcnow()
    assert all(_due(m) > now + timedelta(minutes=15) for m in messages)
    # the parent answers the channel question and finishes: the notice goes now, with that answer in it
    later = make_referral_in(urgency="normal", urgency_reason=None, contact_channel="whatsapp")
    out = service.update_contact(session_factory, held.reference, later, names=names, release=True)
    assert out.contact_channel == "whatsapp" and out.contact            # who will contact the parent
    released = _outbox(session_factory, held.reference)
    assert len(released) == len(messages)
    assert all(_due(m) <= service.utcnow() for m in released)
    for message in released:
        body = message.payload["body"]
        text = body["summary_nl"] if isinstance(body, dict) else body
        assert out.summary_nl in text and "WhatsApp" in out.summary_nl


def test_an_update_without_release_keeps_the_notice_held(session_factory, names, make_referral_in) -> None:
    held = service.create_referral(session_factory, make_referral_in(urgency="normal", urgency_reason=None),
                                   names=names, notify_after=timedelta(minutes=20))
    service.update_contact(session_factory, held.reference, make_referral_in(
        urgency="normal", urgency_reason=None, contact_times="in de middag"), names=names)
    assert all(_due(m) > service.utcnow() + timedelta(minutes=15) for m in _outbox(session_factory, held.reference))


def test_a_withdrawn_held_referral_is_gone_with_its_notices(session_factory, names, make_referral_in) -> None:
    from wegwijs.db.models import OutboxMessage

    held = service.create_referral(session_factory, make_referral_in(), names=names, notify_after=timedelta(minutes=20))
    assert _outbox(session_factory, held.reference)
    assert service.withdraw_referral(session_factory, held.reference) is True
    with session_factory() as session:
        assert session.query(Referral).count() == 0
        assert session.query(OutboxMessage).count() == 0
    assert service.withdraw_referral(session_factory, held.reference) is False


def test_a_held_referral_routed_elsewhere_goes_only_to_the_new_queue_at_the_same_time(
        session_factory, names, make_referral_in) -> None:
    held = service.create_referral(session_factory, make_referral_in(municipality=None, urgency="normal",
                                                                     urgency_reason=None),
                                   names=names, notify_after=timedelta(minutes=20))
    assert held.route_queue == "default"
    first = _outbox(session_factory, held.reference)
    held_until = max(_due(m) for m in first)
    out = service.update_contact(session_factory, held.reference, make_referral_in(
        municipality="Utrecht", urgency="normal", urgency_reason=None), names=names)
    assert out.route_queue != "default"
    after = _outbox(session_factory, held.reference)
    assert after and not {m.idempotency_key for m in first} & {m.idempotency_key for m in after}   # the default queue is never told
    assert all(abs((_due(m) - held_until).total_seconds()) < 1 for m in after)


def test_a_danger_in_a_held_referral_makes_it_urgent_and_sends_it_now(session_factory, names, make_referral_in) -> None:
    from wegwijs.referrals.service import ConcernText

    held = service.create_referral(session_factory, make_referral_in(urgency="normal", urgency_reason=None),
                                   names=names, notify_after=timedelta(minutes=20))
    out = service.add_urgent_signal(session_factory, held.reference, make_referral_in(
        urgency="urgent", urgency_reason="urgent_help", concern_text=[ConcernText(text="help me please", lang="en")]))
    assert out.urgency == "urgent" and out.urgency_reason == "urgent_help"
    messages = _outbox(session_factory, held.reference)
    assert messages and all(_due(m) <= service.utcnow() for m in messages)


def test_a_contact_caution_said_later_reaches_the_held_referral(session_factory, make_referral_in) -> None:
    out = service.create_referral(session_factory, make_referral_in())
    assert "LET OP" not in out.summary_nl
    later = make_referral_in(contact_caution="please don't call, my husband checks my phone")
    updated = service.update_contact(session_factory, out.reference, later)
    assert updated is not None and "my husband checks my phone" in updated.summary_nl
