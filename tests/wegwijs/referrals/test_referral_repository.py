"""Repository functions on SQLite and PostgreSQL (each test rolls back its transaction)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from wegwijs.db.models import AccessLog, Referral
from wegwijs.referrals import repository

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


def _referral(**changes) -> Referral:
    values = dict(
        reference="WW-AAAAAA",
        created_at=T0,
        conversation_id="conv-1",
        municipality="Utrecht",
        person_type="klantmanager",
        language="nl",
        language_names_nl={"nl": "Nederlands"},
        children_ages=[4],
        topics=["school"],
        topics_nl=["School"],
        concern_text=[],
        urgency="normal",
        status="new",
    )
    values.update(changes)
    return Referral(**values)


def test_create_assigns_id_and_round_trips_types(session) -> None:
    created = repository.create(
        session=session,
        referral=_referral(
            concern_text=[{"text": "mijn zoon", "lang": "nl"}],
            consent_at=T0 + timedelta(minutes=5),
        ),
    )
    assert created.id is not None
    session.expire_all()
    loaded = repository.get_by_id(session=session, referral_id=created.id)
    assert loaded is not None
    assert loaded.children_ages == [4]
    assert loaded.concern_text == [{"text": "mijn zoon", "lang": "nl"}]
    assert loaded.created_at == T0 and loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.consent_at == T0 + timedelta(minutes=5)
    assert loaded.pregnant is False and loaded.language_name_nl == "Nederlands"


def test_naive_datetimes_are_refused(session) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        repository.create(session=session, referral=_referral(created_at=datetime(2026, 1, 1)))


def test_get_by_reference_and_missing(session) -> None:
    repository.create(session=session, referral=_referral(reference="WW-KM3PQR"))
    assert repository.get_by_reference(session=session, reference="WW-KM3PQR").reference == "WW-KM3PQR"
    assert repository.get_by_reference(session=session, reference="WW-NOPE00") is None
    assert repository.get_by_id(session=session, referral_id=999999) is None


def test_reference_is_unique(session) -> None:
    repository.create(session=session, referral=_referral(reference="WW-DUPDUP"))
    with pytest.raises(IntegrityError):
        repository.create(session=session, referral=_referral(reference="WW-DUPDUP"))


def test_list_newest_first_filter_and_limit(session) -> None:
    for index, municipality in enumerate(["Utrecht", "Tilburg", "utrecht", "Utrecht"]):
        repository.create(
            session=session,
            referral=_referral(
                reference=f"WW-LIST0{index}",
                municipality=municipality,
                created_at=T0 + timedelta(hours=index),
            ),
        )
    everything = repository.list_referrals(session=session)
    assert [r.reference for r in everything] == ["WW-LIST03", "WW-LIST02", "WW-LIST01", "WW-LIST00"]
    utrecht = repository.list_referrals(session=session, municipality="UTRECHT ")
    assert [r.reference for r in utrecht] == ["WW-LIST03", "WW-LIST02", "WW-LIST00"]
    assert len(repository.list_referrals(session=session, limit=2)) == 2
    with pytest.raises(ValueError):
        repository.list_referrals(session=session, limit=0)


def test_delete_for_conversation_counts_only_that_conversation(session) -> None:
    repository.create(session=session, referral=_referral(reference="WW-DEL001", conversation_id="a"))
    repository.create(session=session, referral=_referral(reference="WW-DEL002", conversation_id="a"))
    repository.create(session=session, referral=_referral(reference="WW-DEL003", conversation_id="b"))
    assert repository.delete_for_conversation(session=session, conversation_id="a") == 2
    assert repository.delete_for_conversation(session=session, conversation_id="a") == 0
    assert [r.conversation_id for r in repository.list_referrals(session=session)] == ["b"]


def test_purge_and_count_older_than(session) -> None:
    for days in (400, 366, 10):
        repository.create(
            session=session,
            referral=_referral(reference=f"WW-P{days:05d}", created_at=T0 - timedelta(days=days)),
        )
    cutoff = T0 - timedelta(days=365)
    assert repository.count_older_than(session=session, cutoff=cutoff) == 2
    assert repository.purge_older_than(session=session, cutoff=cutoff) == 2
    assert [r.reference for r in repository.list_referrals(session=session)] == ["WW-P00010"]


def test_access_log_survives_deletion_of_the_referral(session) -> None:
    referral = repository.create(session=session, referral=_referral(reference="WW-LOG001"))
    entry = repository.log_access(session=session, actor="km", action="show", referral_id=referral.id)
    assert isinstance(entry, AccessLog) and entry.at.tzinfo is not None
    repository.delete_for_conversation(session=session, conversation_id="conv-1")
    rows = repository.list_access_log(session=session, referral_id=referral.id)
    assert [(r.actor, r.action, r.referral_id) for r in rows] == [("km", "show", referral.id)]
