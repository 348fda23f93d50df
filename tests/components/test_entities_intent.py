"""The intake extractor's second reading of the intent (bot/components/entities.py)."""

from __future__ import annotations

import pytest

from bot.components.entities import reread_intent


def _i(name: str, confidence: float) -> dict:
    return {"name": name, "confidence": confidence}


@pytest.mark.parametrize("intent, facts, text, expected", [
    (_i("topic_leisure", 0.36), {"municipality": "'s-Hertogenbosch"}, "Den Bosch", "inform"),
    (_i("change_language", 0.44), {"contact_channel": "phone"}, "taleefan, galabtii", "inform"),
    (_i("change_language", 0.46), {}, "lahal", "nlu_fallback"),
    (_i("change_language", 0.95), {}, "andere taal", None),
    (_i("change_language", 0.88), {"interpreter": True}, "yes interpreter pls, tigrinya", "inform"),
    (_i("greet", 0.5), {"children_ages": [14]}, "hallo, ik heb een zoon van 14 jaar", "inform"),
    (_i("topic_multilingual", 0.8), {"interpreter": True}, "ايوه محتاجة مترجم عربي عشان الهولندي بتاعي لسه ضعيف", "inform"),
    (_i("topic_parenting_confidence", 0.33), {"person_type": "sleutelpersoon"},
     "بغيت نهضر مع شي حد من الجالية المغربية هنا، راجل يكون", "request_human"),
    (_i("topic_school", 0.7), {"person_type": "klantmanager"}, "mijn klantmanager zegt dat mijn zoon naar een andere school moet", None),
    (_i("topic_online_safety", 0.7), {"contact_channel": "whatsapp", "contact_caution": "x"},
     "lutfen aramayin kocam duyuyor, sadece whatsapp", "inform"),        # a caution about contact, not phones
    (_i("topic_online_safety", 0.9), {"contact_caution": "x"}, "my husband checks my phone and reads my chats", None),
    # kept: an emergency, a request for a person, a sure topic, a sure long question
    (_i("urgent_help", 0.4), {"children_ages": [3]}, "mijn zoon 3 valt", None),
    (_i("request_human", 0.9), {"person_type": "klantmanager"}, "klantmanager", None),
    (_i("topic_school", 0.9), {"children_ages": [8]}, "school 8", None),
    (_i("topic_school", 0.7), {"children_ages": [8]}, "mijn zoon van 8 wil niet naar school", None),
    (_i("bot_challenge", 0.9), {"children_ages": [8]}, "ben jij een robot of een mens", None),
])
def test_reread_intent(intent, facts, text, expected) -> None:
    assert reread_intent(intent, facts, text) == expected


def test_a_fallback_between_two_close_topics_stays_a_fallback_with_a_fact() -> None:
    fallback = {"name": "nlu_fallback", "confidence": 0.3}
    close = [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "topic_family_reunification", "confidence": 0.47},
             {"name": "topic_talking_with_child", "confidence": 0.47}]
    text = "the kids dont know their father, my son of 10 never talks with him"
    assert reread_intent(fallback, {"children_ages": [10]}, text, close) is None  # "did you mean" follows
    assert reread_intent(fallback, {"children_ages": [10]}, "10 jaar", close) == "inform"  # a short answer stays one
    unsure = [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "topic_school", "confidence": 0.2},
              {"name": "inform", "confidence": 0.18}]
    assert reread_intent(fallback, {"children_ages": [10]}, text, unsure) == "inform"


def test_a_language_named_with_an_interpreter_is_no_language_choice() -> None:
    from rasa.shared.nlu.training_data.message import Message

    from bot.components.entities import IntakeEntityExtractor

    extractor = IntakeEntityExtractor({})
    said = {}
    for text in ("ja somali tolk", "Soomaali", "yes arabic interpreter"):
        message = Message(data={"text": text, "intent": {"name": "change_language", "confidence": 0.7},
                                "language": {"code": "nl", "confidence": 0.9}})
        extractor.process([message])
        said[text] = {e["entity"]: e["value"] for e in message.get("entities") or []}
    assert "language_choice" not in said["ja somali tolk"] and said["ja somali tolk"].get("interpreter") is True
    assert said["Soomaali"].get("language_choice") == "so"                 # a name alone still switches
    assert "language_choice" not in said["yes arabic interpreter"]


def test_a_language_named_in_a_first_sentence_is_chosen_and_the_rest_kept() -> None:
    from rasa.shared.nlu.training_data.message import Message

    from bot.components.entities import IntakeEntityExtractor

    extractor = IntakeEntityExtractor({})
    got = {}
    for text in ("farsi lotfan. ok ghabool, zakhire konid", "Arabic is what we speak at home, my son speaks Dutch",
                 "nederlands. tolk arabisch graag"):
        message = Message(data={"text": text, "intent": {"name": "affirm", "confidence": 0.8},
                                "language": {"code": "en", "confidence": 0.6}})
        extractor.process([message])
        got[text] = ({e["entity"]: e["value"] for e in message.get("entities") or []}, message.get("intent")["name"])
    entities, intent = got["farsi lotfan. ok ghabool, zakhire konid"]
    assert entities.get("language_choice") == "fa" and intent == "affirm"   # the consent after it is still read
    assert "language_choice" not in got["Arabic is what we speak at home, my son speaks Dutch"][0]
    assert "language_choice" not in got["nederlands. tolk arabisch graag"][0]  # an interpreter: no switch


def test_a_deletion_inside_a_long_message_is_a_deletion_request() -> None:
    from rasa.shared.nlu.training_data.message import Message

    from bot.components.entities import IntakeEntityExtractor

    extractor = IntakeEntityExtractor({})
    got = {}
    for text, intent in (("please delete everything you have about me, I changed my mind, my husband found out",
                          "topic_family_reunification"),
                         ("i want a woman, whatsapp please, and later delete my data", "request_human"),
                         ("my husband hits me, delete my data", "urgent_help"),
                         ("can you give tips about school", "topic_school")):
        message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.4},
                                "language": {"code": "en", "confidence": 0.9}})
        extractor.process([message])
        got[text] = message.get("intent")["name"]
    assert got["please delete everything you have about me, I changed my mind, my husband found out"] == "delete_my_data"
    assert got["i want a woman, whatsapp please, and later delete my data"] == "delete_my_data"
    assert got["my husband hits me, delete my data"] == "urgent_help"          # an emergency stays one
    assert got["can you give tips about school"] == "topic_school"


def test_a_short_contact_answer_read_as_a_greeting_is_an_answer() -> None:
    from rasa.shared.nlu.training_data.message import Message

    from bot.components.entities import IntakeEntityExtractor

    extractor = IntakeEntityExtractor({})
    got = {}
    for text, lang, intent in (("subax", "so", "greet"), ("naag", "so", "goodbye"), ("ماښام", "ps", "greet"),
                               ("salaan", "so", "greet"), ("nabad gelyo", "so", "goodbye"), ("thanks", "en", "thanks")):
        message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.8},
                                "language": {"code": lang, "confidence": 0.9}})
        extractor.process([message])
        got[text] = message.get("intent")["name"]
    assert got["subax"] == got["naag"] == got["ماښام"] == "inform"
    assert got["salaan"] == "greet" and got["nabad gelyo"] == "goodbye" and got["thanks"] == "thanks"
