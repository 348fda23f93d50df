"""UrgentClassifier: both safety nets, outputs, threshold choice, persistence.

Keyword and example files are written to a temp folder, so the tests do not depend on
the real ``languages/*`` files (which translators edit). One model is trained per
module on tiny data (a few seconds); behaviour that depends on what the model says is
tested by fixing its scores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.language_id import LANGUAGE
from bot.components.urgent import (
    SAFETY,
    URGENT_ENTITY,
    UrgentClassifier,
    choose_threshold,
    inputs_fingerprint,
    read_examples,
)

SAFETY_FILES: Dict[str, Dict[str, Any]] = {
    "en": {
        "categories": {
            "self_harm": {"keywords": ["kill myself", "suicide"], "misspellings": ["sucide"]},
            "violence_at_home": {"keywords": ["husband hits me"]},
            "medical_emergency": {"keywords": ["not breathing"]},
            "child_missing": {"keywords": ["child is missing"]},
            "child_abuse": {"keywords": ["touches my daughter"]},
        },
        "not_urgent": ["what is suicide prevention"],
    },
    "nl": {
        "categories": {
            "child_missing": {"keywords": ["kind kwijt"]},
            "self_harm": {"keywords": ["zelfmoord"]},
        },
        "not_urgent": ["kind kwijt te raken"],
    },
}

EXAMPLES_EN = {
    "language": "en",
    "urgent": {
        "medical_emergency": ["my baby turned blue and is very still", "he fell and there is blood everywhere",
                              "she swallowed pills from the cupboard"],
        "violence_at_home": ["he pushed me down the stairs again", "I am scared he will hurt me tonight"],
        "child_abuse": ["the neighbour did things to my son he should not", "my daughter says her uncle hurts her"],
        "self_harm": ["I do not want to live anymore", "I want everything to end"],
        "child_missing": ["my son did not come home and his phone is off", "I can't find my little girl in the market"],
    },
    "not_urgent": ["I am dying to know the school holidays", "this homework is killing me", "my son hits the ball well"],
}

NLU = {
    "urgent_help": ["please help my husband hits me", "my child is missing since this morning",
                    "my son is not breathing", "I think about suicide", "emergency please help now",
                    "mijn kind kwijt op straat"],
    "topic_school": ["my son does not want to go to school", "how do schools work here", "school holidays",
                     "mijn dochter wil niet naar school", "what is the school advice", "homework is too much"],
    "topic_health": ["where is a doctor", "my child has a cold", "how do I get a huisarts", "vaccinations for babies",
                     "he has a fever of 38", "dentist for kids"],
    "greet": ["hello", "hi there", "good morning", "hallo", "hey", "salaam"],
}


def write_languages(folder: Path, with_examples: bool = True) -> Path:
    """``<folder>/<lang>/safety.yml`` (+ ``en/safety_examples.yml``); returns ``folder``."""
    for lang, document in SAFETY_FILES.items():
        (folder / lang).mkdir(parents=True, exist_ok=True)
        (folder / lang / "safety.yml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    if with_examples:
        (folder / "en" / "safety_examples.yml").write_text(yaml.safe_dump(EXAMPLES_EN), encoding="utf-8")
    (folder / "so").mkdir(exist_ok=True)  # a language with no files yet
    return folder


def training_data() -> TrainingData:
    """Tiny Rasa NLU data built in the test."""
    return TrainingData([Message(data={TEXT: t, INTENT: intent}) for intent, texts in NLU.items() for t in texts])


def parsed(text: str, intent: str = "topic_school", confidence: float = 0.8, lang: Optional[str] = "en") -> Message:
    """A message as the intent classifiers before UrgentClassifier leave it."""
    ranking = [{"name": intent, "confidence": confidence}, {"name": "greet", "confidence": 1 - confidence}]
    data: Dict[str, Any] = {TEXT: text, INTENT: {"name": intent, "confidence": confidence}, INTENT_RANKING_KEY: ranking}
    if lang:
        data[LANGUAGE] = {"code": lang, "confidence": 0.99}
    return Message(data=data)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Tuple[UrgentClassifier, LocalModelStorage, Resource, Dict]:
    """An UrgentClassifier trained once on the tiny data, in a real LocalModelStorage."""
    base = tmp_path_factory.mktemp("urgent")
    languages = write_languages(base / "languages")
    storage_dir = base / "storage"
    storage_dir.mkdir()
    storage = LocalModelStorage(storage_dir)
    resource = Resource("UrgentClassifier0")
    config = {
        **UrgentClassifier.get_default_config(),
        "languages_dir": str(languages),
        "cache_dir": str(base / "e5"),
        "min_df": 1,
    }
    component = UrgentClassifier.create(config, storage, resource, ExecutionContext(GraphSchema({}), "test"))
    component.train(training_data())
    return component, storage, resource, config


def fixed_scores(component: UrgentClassifier, monkeypatch: pytest.MonkeyPatch, probability: float,
                 category: Optional[str] = None, category_probability: float = 0.0) -> None:
    """Makes the model say ``probability`` (and ``category``) for every message."""
    monkeypatch.setattr(component, "scores", lambda texts: [(probability, category, category_probability) for _ in texts])


# ------------------------------------------------------------------ threshold


@pytest.mark.parametrize(
    "y, scores, min_recall, threshold, recall, precision",
    [
        ([1, 1, 1, 1, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.5, 0.1], 1.0, 0.6, 1.0, 1.0),
        ([1, 1, 1, 1, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.5, 0.1], 1.0, 0.2, 1.0, 4 / 5),
        ([1, 1, 1, 1, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.5, 0.1], 0.75, 0.7, 0.75, 1.0),  # one miss allowed
        ([1] * 100 + [0], [0.5] + [0.9] * 99 + [0.6], 0.99, 0.9, 0.99, 1.0),
    ],
)
def test_choose_threshold_is_the_highest_keeping_recall(
    y: List[int], scores: List[float], min_recall: float, threshold: float, recall: float, precision: float
) -> None:
    chosen = choose_threshold([bool(v) for v in y], scores, min_recall)

    assert chosen["threshold"] == pytest.approx(threshold)
    assert chosen["recall"] == pytest.approx(recall)
    assert chosen["precision"] == pytest.approx(precision)


def test_keyword_hits_count_as_caught_when_choosing_the_threshold() -> None:
    y = [True, True, True, True, False, False]
    scores = [0.9, 0.8, 0.7, 0.05, 0.5, 0.1]

    alone = choose_threshold(y, scores, 1.0)
    together = choose_threshold(y, scores, 1.0, always_flagged=[False, False, False, True, False, False])

    assert alone["threshold"] == pytest.approx(0.05)
    assert together["threshold"] == pytest.approx(0.7)
    assert together["recall"] == 1.0 and together["precision"] == 1.0


def test_training_stores_threshold_and_metrics(trained) -> None:
    component, storage, resource, _ = trained

    assert component.model is not None
    assert 0.0 < component.threshold <= 1.0
    with storage.read_from(resource) as directory:
        assert {"urgent.joblib", "keywords.json", "metrics.json"} <= {p.name for p in directory.iterdir()}
        metrics = json.loads((directory / "metrics.json").read_text(encoding="utf-8"))
    held_out = metrics["held_out"]
    if "recall_target_threshold" in held_out:  # raised by the false-alarm cap
        assert held_out["threshold"] > held_out["recall_target_threshold"]
    else:
        assert held_out["recall"] >= 0.99
    assert metrics["threshold"] == component.threshold
    assert 0.0 <= metrics["held_out"]["false_alarm_rate_nlu"] <= 1.0


def test_false_alarm_threshold_flags_at_most_the_share_asked() -> None:
    from bot.components.urgent import false_alarm_threshold

    scores = [i / 100 for i in range(100)]  # 0.00 .. 0.99
    t = false_alarm_threshold(scores, 0.05)
    assert sum(x >= t for x in scores) == 5
    assert sum(x >= false_alarm_threshold(scores, 0.0) for x in scores) == 0
    assert false_alarm_threshold(scores, 1.0) == 0.0


# ------------------------------------------------------------------ outputs


def test_the_trained_model_flags_an_urgent_training_example(trained) -> None:
    component = trained[0]
    message = parsed("he pushed me down the stairs again")  # no keyword in it

    component.process([message])

    assert message.get(INTENT)["name"] == "urgent_help"
    assert message.get(SAFETY)["source"] in ("model", "both")


def test_keyword_fires_even_when_the_model_says_no(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.0)
    message = parsed("I want to kill myself", "topic_health", 0.7)

    component.process([message])

    assert message.get(INTENT) == {"name": "urgent_help", "confidence": 1.0}
    assert message.get(INTENT_RANKING_KEY)[0] == {"name": "topic_health", "confidence": 0.7}  # the model's ranking
    assert message.get(SAFETY) == {
        "category": "self_harm", "source": "keywords", "score": 0.0, "keyword": "kill myself", "lang": "en",
    }
    assert message.get(ENTITIES) == [{
        "entity": URGENT_ENTITY, "value": "self_harm", "start": 0, "end": len("I want to kill myself"),
        "extractor": "UrgentClassifier",
    }]


def test_model_alone_sets_intent_category_and_entity(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.97, "medical_emergency", 0.8)
    message = parsed("mijn zoontje is blauw en beweegt niet", lang="nl")

    component.process([message])

    assert message.get(INTENT) == {"name": "urgent_help", "confidence": 0.97}
    assert message.get(SAFETY) == {"category": "medical_emergency", "source": "model", "score": 0.97, "lang": "nl"}
    assert message.get(ENTITIES)[0]["value"] == "medical_emergency"


def test_unsure_category_gives_none_and_no_entity(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.97, "child_missing", 0.3)
    message = parsed("please come quickly")

    component.process([message])

    assert message.get(INTENT)["name"] == "urgent_help"
    assert message.get(SAFETY)["category"] is None
    assert not message.get(ENTITIES)


def test_keyword_and_model_together_are_both_and_keyword_category_wins(trained, monkeypatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.9, "violence_at_home", 0.9)
    message = parsed("my child is missing!!")

    component.process([message])

    assert message.get(SAFETY)["source"] == "both"
    assert message.get(SAFETY)["category"] == "child_missing"
    assert message.get(INTENT)["confidence"] == 1.0


def test_not_urgent_leaves_the_message_alone(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.0)
    message = parsed("my son does not want to go to school", "topic_school", 0.9)

    component.process([message])

    assert message.get(INTENT) == {"name": "topic_school", "confidence": 0.9}
    assert message.get(SAFETY) is None
    assert not message.get(ENTITIES)
    assert "safety" not in message.as_dict(only_output_properties=True)


def intent_alone(text: str, confidence: float, ranking: List[Dict[str, Any]]) -> Message:
    """A message the intent classifiers called ``urgent_help`` at ``confidence``."""
    return Message(data={
        TEXT: text, INTENT: {"name": "urgent_help", "confidence": confidence},
        INTENT_RANKING_KEY: [{"name": "urgent_help", "confidence": confidence}, *ranking],
        LANGUAGE: {"code": "en", "confidence": 0.99},
    })


def test_intent_alone_below_the_floor_gives_the_next_intent(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.1, "medical_emergency", 0.9)
    floor = component.component_config["intent_only_floor"]
    message = intent_alone("my daughter is 8 months and dont sleep", floor - 0.25,
                           [{"name": "topic_sleep", "confidence": 0.31}, {"name": "greet", "confidence": 0.04}])

    component.process([message])

    assert message.get(INTENT) == {"name": "topic_sleep", "confidence": 0.31}
    assert message.get(SAFETY) is None
    assert not message.get(ENTITIES)


def test_intent_alone_below_the_floor_and_an_unsure_next_intent_is_fallback(trained, monkeypatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.1)
    message = intent_alone("ok so", 0.5, [{"name": "greet", "confidence": 0.2}])

    component.process([message])

    assert message.get(INTENT) == {"name": "nlu_fallback", "confidence": component.component_config["fallback_threshold"]}
    assert message.get(SAFETY) is None


def test_intent_alone_at_the_floor_stays_urgent_with_source_intent(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.1, "medical_emergency", 0.9)
    floor = component.component_config["intent_only_floor"]
    message = intent_alone("help help please now", floor, [{"name": "greet", "confidence": 0.01}])

    component.process([message])

    assert message.get(INTENT) == {"name": "urgent_help", "confidence": floor}
    assert message.get(SAFETY) == {"category": "medical_emergency", "source": "intent", "score": 0.1, "lang": "en"}
    assert message.get(ENTITIES)[0]["value"] == "medical_emergency"


def test_a_safety_net_fires_whatever_the_intent_confidence(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.0)
    message = intent_alone("my child is missing since this morning", 0.35, [{"name": "greet", "confidence": 0.3}])

    component.process([message])

    assert message.get(INTENT) == {"name": "urgent_help", "confidence": 1.0}
    assert message.get(SAFETY)["source"] == "keywords"


@pytest.mark.parametrize("text", ["/urgent_help", "/inform{\"text\": \"kill myself\"}", " /affirm"])
def test_button_payloads_are_never_urgent(trained, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 1.0, "self_harm", 1.0)
    message = parsed(text, "affirm", 1.0)

    component.process([message])

    assert message.get(SAFETY) is None
    assert message.get(INTENT)["name"] == "affirm"


def test_idiom_veto_cancels_the_keyword(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    component = trained[0]
    fixed_scores(component, monkeypatch, 0.0)
    idiom = parsed("ik ben bang mijn kind kwijt te raken aan jeugdzorg", lang="nl")
    real = parsed("ik ben mijn kind kwijt in de stad", lang="nl")

    component.process([idiom, real])

    assert idiom.get(SAFETY) is None
    assert real.get(SAFETY)["category"] == "child_missing"


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_or_missing_text(trained, text: Optional[str]) -> None:
    message = Message(data={TEXT: text} if text is not None else {})

    trained[0].process([message])

    assert message.get(SAFETY) is None


# ------------------------------------------------------------------ persistence


def test_persistence_round_trip_does_not_read_the_repository(trained, tmp_path: Path) -> None:
    component, storage, resource, config = trained
    texts = ["he pushed me down the stairs again", "hello", "I think about suicide", "how do schools work here"]
    before = component.scores(texts)
    moved = tmp_path / "gone"
    shutil.move(config["languages_dir"], moved)  # keyword files gone: the model has its own copy
    try:
        loaded = UrgentClassifier.load(config, storage, resource, ExecutionContext(GraphSchema({}), "test"))
        after = loaded.scores(texts)
        message = parsed("sucide")
        loaded.process([message])
    finally:
        shutil.move(str(moved), config["languages_dir"])

    assert loaded.threshold == component.threshold
    assert [round(a[0], 6) for a in after] == [round(b[0], 6) for b in before]
    assert message.get(SAFETY)["keyword"] == "sucide"


def test_load_without_training_fails_loudly(model_storage, resource, execution_context) -> None:
    with pytest.raises(ValueError, match="no trained model"):
        UrgentClassifier.load(UrgentClassifier.get_default_config(), model_storage, resource, execution_context)


# ------------------------------------------------------------------ inputs


def test_fingerprint_changes_with_examples_and_keywords(tmp_path: Path) -> None:
    languages = write_languages(tmp_path / "languages", with_examples=False)
    config = {"languages_dir": str(languages)}
    without = UrgentClassifier.fingerprint_addon(config)
    (languages / "en" / "safety_examples.yml").write_text(yaml.safe_dump(EXAMPLES_EN), encoding="utf-8")
    with_examples = UrgentClassifier.fingerprint_addon(config)
    (languages / "nl" / "safety.yml").write_text("categories: {self_harm: {keywords: [zelfdoding]}}\n", encoding="utf-8")

    assert len({without, with_examples, inputs_fingerprint(languages)}) == 3


def test_read_examples_uses_existing_files_and_skips_missing(tmp_path: Path) -> None:
    languages = write_languages(tmp_path / "languages")

    rows = read_examples(languages)

    assert ("he pushed me down the stairs again", True, "violence_at_home") in rows
    assert ("this homework is killing me", False, None) in rows
    assert len(rows) == sum(map(len, EXAMPLES_EN["urgent"].values())) + len(EXAMPLES_EN["not_urgent"])


def test_no_keywords_is_an_error_unless_allowed(tmp_path: Path, model_storage, resource, execution_context) -> None:
    empty = tmp_path / "languages"
    empty.mkdir()
    config = {**UrgentClassifier.get_default_config(), "languages_dir": str(empty), "use_embedding": False}

    with pytest.raises(ValueError, match="no safety keywords"):
        UrgentClassifier.create(config, model_storage, resource, execution_context).train(training_data())
    component = UrgentClassifier.create({**config, "allow_empty": True, "min_df": 1}, model_storage, resource,
                                        execution_context)
    component.train(training_data())
    assert component.model is not None  # the learned net still works
