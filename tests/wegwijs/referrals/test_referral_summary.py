"""The Dutch handoff summary (BRIEF 9) and the loader of Dutch names."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from wegwijs.referrals import summary
from wegwijs.referrals.summary import DutchNames, load_dutch_names, render_summary_nl

CREATED = datetime(2026, 11, 29, 9, 15, tzinfo=timezone.utc)  # 10:15 in Amsterdam


def _referral(**changes):
    values = dict(
        id=7,
        reference="WW-7KQ3MX",
        created_at=CREATED,
        conversation_id="wa-hash-1234",
        municipality="Utrecht",
        person_type="either",
        language="ar",
        language_names_nl={"ar": "Arabisch", "nl": "Nederlands"},
        interpreter_needed=True,
        children_count=3,
        children_ages=[0, 4, 13],
        pregnant=True,
        topics=["school", "child_removal_fear"],
        topics_nl=["School en huiswerk", "Angst voor uithuisplaatsing"],
        concern_text=[
            {"text": "ابني لا يريد الذهاب إلى المدرسة", "lang": "ar"},
            {"text": "de juf belt steeds", "lang": "nl"},
        ],
        urgency="urgent",
        urgency_reason="violence_at_home",
        contact_channel="phone",
        contact_times="na 15 uur",
        contact_gender="woman",
        contact_setting="individual",
        consent_at=datetime(2026, 11, 29, 9, 10, tzinfo=timezone.utc),
        status="new",
    )
    values.update(changes)
    return SimpleNamespace(**values)


def test_summary_has_every_item_of_brief_section_9() -> None:
    text = render_summary_nl(_referral())
    expected_lines = [
        "Warme overdracht Wegwijs — referentie WW-7KQ3MX",
        "Aangemaakt op: 29-11-2026 10:15 (Nederlandse tijd)",
        "Gemeente: Utrecht",
        "Gevraagd: klantmanager of sleutelpersoon (de ouder heeft geen voorkeur)",
        "Taal van de ouder: Arabisch (ar); tolk nodig: ja",
        "Kinderen: 3 (leeftijden: jonger dan 1 jaar, 4 en 13 jaar)",
        "Zwanger: ja",
        "  - School en huiswerk (school)",
        "  - Angst voor uithuisplaatsing (child_removal_fear)",
        '  "ابني لا يريد الذهاب إلى المدرسة"',
        "    (eigen woorden van de ouder, in het Arabisch)",
        '  "de juf belt steeds"',
        "    (eigen woorden van de ouder, in het Nederlands)",
        "Urgentie: URGENT — reden: geweld in huis (violence_at_home)",
        "Voorkeur contact: telefonisch (bellen); tijden: na 15 uur",
        "Man of vrouw: liever een vrouw",
        "Individueel of groep: individueel",
        "Toestemming om te delen: gegeven op 29-11-2026 10:10 (Nederlandse tijd)",
        "Gesprek-id: wa-hash-1234",
    ]
    lines = text.splitlines()
    for line in expected_lines:
        assert line in lines, f"missing line {line!r} in:\n{text}"
    assert text.endswith("\n") and "\n\n" not in text


def test_summary_of_a_sparse_normal_referral() -> None:
    text = render_summary_nl(
        _referral(
            municipality=None,
            person_type="klantmanager",
            interpreter_needed=None,
            children_count=None,
            children_ages=[],
            pregnant=False,
            topics=[],
            topics_nl=[],
            concern_text=[],
            urgency="normal",
            urgency_reason=None,
            contact_channel=None,
            contact_times=None,
            contact_gender=None,
            contact_setting=None,
            consent_at=None,
        )
    )
    for line in [
        "Gemeente: niet gezegd",
        "Gevraagd: klantmanager",
        "Taal van de ouder: Arabisch (ar); tolk nodig: niet gevraagd",
        "Kinderen: niet gezegd",
        "Onderwerpen: geen gekozen",
        "Vraag van de ouder: niet in eigen woorden beschreven",
        "Urgentie: normaal",
        "Voorkeur contact: niet gezegd; tijden: niet gezegd",
        "Toestemming om te delen: niet vastgelegd",
    ]:
        assert line in text.splitlines(), f"missing {line!r} in:\n{text}"
    assert "Zwanger" not in text and "URGENT" not in text


def test_sleutelpersoon_and_group() -> None:
    text = render_summary_nl(_referral(person_type="sleutelpersoon", contact_setting="group"))
    assert "Gevraagd: sleutelpersoon" in text
    assert "Individueel of groep: in een groep met andere ouders" in text


def test_summary_works_on_stored_referral_without_names_dict() -> None:
    text = render_summary_nl(
        _referral(language_names_nl=None, language_name_nl="Tigrinya", language="ti",
                  concern_text=[{"text": "ሰላም", "lang": "ti"}])
    )
    assert "Taal van de ouder: Tigrinya (ti)" in text
    assert "(eigen woorden van de ouder, in het ti)" in text


@pytest.mark.parametrize(
    ("ages", "expected"),
    [([3, 7], "3 en 7 jaar"), ([12], "12 jaar"), ([0], "jonger dan 1 jaar"),
     ([0, 0, 2, 5, 9], "2× jonger dan 1 jaar, 2, 5 en 9 jaar")],
)
def test_format_ages(ages, expected) -> None:
    assert summary.format_ages_nl(ages) == expected


def test_template_is_a_j2_file() -> None:
    path = summary.TEMPLATES_DIR / summary.SUMMARY_TEMPLATE
    assert path.suffix == ".j2" and path.is_file()


def test_load_dutch_names(languages_dir: Path) -> None:
    names = load_dutch_names(languages_dir)
    assert names.topic("school") == "School en huiswerk"
    assert names.topic("money") == "money"
    assert names.language("ar") == "Arabisch"
    assert names.language("ti") == "Tigrinya"
    assert names.language("fa") == "fa"


def test_load_dutch_names_tolerates_missing_files(tmp_path: Path) -> None:
    assert load_dutch_names(tmp_path / "nothing") == DutchNames()


def test_load_dutch_names_rejects_wrong_shape(tmp_path: Path) -> None:
    (tmp_path / "nl").mkdir()
    (tmp_path / "nl" / "topics.yml").write_text("- school\n- health\n", encoding="utf-8")
    with pytest.raises(ValueError, match="topics"):
        load_dutch_names(tmp_path)


def test_a_refusal_is_never_shown_as_consent() -> None:
    from wegwijs.handoff import referral_from_slots

    refused = referral_from_slots("c1", {"consent": "no", "consent_at": "2026-12-03T10:00:00+00:00", "person_type": "klantmanager"},
                                  urgent_reason="violence_at_home")
    assert refused.consent_at is None  # the time of a "no" is not a time of consent
    text = render_summary_nl(_referral(urgency="urgent", urgency_reason="violence_at_home", consent_at=None))
    assert "Toestemming om te delen: niet gegeven; doorgegeven omdat er gevaar kan zijn (de privacytekst zegt dit)" in text
    agreed = referral_from_slots("c1", {"consent": "yes", "consent_at": "2026-12-03T10:00:00+00:00"}, urgent_reason=None)
    assert agreed.consent_at is not None


def test_a_contact_caution_is_said_first_with_the_parents_words() -> None:
    text = render_summary_nl(_referral(contact_caution="lutfen aramayin kocam duyuyor"))
    lines = text.splitlines()
    caution = next(i for i, line in enumerate(lines) if line.startswith("LET OP bij contact"))
    assert caution < next(i for i, line in enumerate(lines) if line.startswith("Voorkeur contact"))
    assert 'Eigen woorden: "lutfen aramayin kocam duyuyor"' in text
    assert "LET OP" not in render_summary_nl(_referral())
