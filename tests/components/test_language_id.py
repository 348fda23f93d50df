"""FastTextLanguageIdentifier: detection per message, persistence, fingerprint, graph placement."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.data import TrainingType
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ACTION_NAME, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

from bot.components.language_id import (
    LANGUAGE,
    MODEL_FILE,
    REPO_ROOT,
    FastTextLanguageIdentifier,
    resolve_model_path,
)
from bot.components.safety import SafetyKeywordClassifier
from bot.components.tokenizer import MultilingualSpacyTokenizer


@pytest.fixture
def create_identifier(
    tiny_lid_model: Path,
    model_storage: LocalModelStorage,
    resource: Resource,
    execution_context: ExecutionContext,
):
    """Factory: ``create_identifier(config)`` merges the default config (tiny test model)."""

    def make(config: Optional[Dict[str, Any]] = None) -> FastTextLanguageIdentifier:
        config = {
            **FastTextLanguageIdentifier.get_default_config(),
            "model_path": str(tiny_lid_model),
            "supported_languages": ["nl", "en", "ar", "ti"],
            **(config or {}),
        }
        return FastTextLanguageIdentifier.create(config, model_storage, resource, execution_context)

    return make


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Mijn zoon gaat naar school en hij is vaak ziek", "nl"),
        ("waar is de huisarts", "nl"),
        ("My son goes to school and he is often sick", "en"),
        ("where is the doctor", "en"),
        ("ابني يذهب إلى المدرسة وهو مريض", "ar"),  # Arabic script
        ("مرحبا كيف الحال", "ar"),
        ("ወደይ ናብ ቤት ትምህርቲ ይኸይድ እዩ፣ ሓሚሙ ኣሎ", "ti"),  # Ge'ez script, Tigrinya
        ("ሰላም ከመይ ኣለኹም", "ti"),
        ("ልጄ ትምህርት ቤት ይሄዳል፣ ታሟል", "am"),  # Ge'ez script, Amharic
        ("kifak ibni 3ando 7arara", "ar"),  # Arabizi (Latin-script Arabic)
        ("ana mesh fahem", "ar"),  # Arabizi without digits
        ("ኣብ gemeente Amersfoort እየ ዘለኹ", "ti"),  # Ge'ez script with Dutch words
        ("ابني في school ما بدو", "ar"),  # Arabic script with a Dutch word
    ],
)
def test_detects_language_per_script(create_identifier, text: str, lang: str) -> None:
    identifier = create_identifier()
    message = Message(data={TEXT: text})

    identifier.process([message])

    detected = message.get(LANGUAGE)
    assert detected["code"] == lang
    assert 0.0 < detected["confidence"] <= 1.0


@pytest.mark.parametrize("text", ["", "   ", "👍", "😀😀 🙏", "112", "https://wegwijs.nl", "\n\n"])
def test_text_without_letters_is_undetermined(create_identifier, text: str) -> None:
    message = Message(data={TEXT: text})

    create_identifier().process([message])

    assert message.get(LANGUAGE) == {"code": "und", "confidence": 0.0}


def test_language_is_a_top_level_output_property(create_identifier) -> None:
    message = Message(data={TEXT: "waar is de huisarts"})

    create_identifier().process([message])

    output = message.as_dict(only_output_properties=True)
    assert set(output[LANGUAGE]) == {"code", "confidence"}
    assert output[LANGUAGE]["code"] == "nl"
    assert isinstance(output[LANGUAGE]["confidence"], float)


def test_training_examples_get_a_language(create_identifier) -> None:
    examples = [
        Message(data={TEXT: "where is the doctor", INTENT: "request_human"}),
        Message(data={TEXT: "ابني مريض", INTENT: "topic_health"}),
        Message(data={ACTION_NAME: "utter_greet_back"}),  # no text: left alone
    ]

    create_identifier().process_training_data(TrainingData(examples))

    assert examples[0].get(LANGUAGE)["code"] == "en"
    assert examples[1].get(LANGUAGE)["code"] == "ar"
    assert examples[2].get(LANGUAGE) is None


def test_missing_model_names_the_path(model_storage, resource, execution_context, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "lid.bin"
    config = {**FastTextLanguageIdentifier.get_default_config(), "model_path": str(missing)}

    with pytest.raises(FileNotFoundError, match=str(missing)):
        FastTextLanguageIdentifier.create(config, model_storage, resource, execution_context)
    with pytest.raises(FileNotFoundError, match="wegwijs build-lid"):
        FastTextLanguageIdentifier.fingerprint_addon(config)


def test_fingerprint_changes_with_the_model_file(tiny_lid_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "lid.bin"
    shutil.copyfile(tiny_lid_model, copy)
    config = {"model_path": str(copy)}
    before = FastTextLanguageIdentifier.fingerprint_addon(config)

    assert FastTextLanguageIdentifier.fingerprint_addon(config) == before
    with copy.open("ab") as handle:
        handle.write(b"\0")
    assert FastTextLanguageIdentifier.fingerprint_addon(config) != before


def test_relative_model_path_is_taken_from_the_repository_root() -> None:
    assert resolve_model_path("models/lid/lid.bin") == REPO_ROOT / "models" / "lid" / "lid.bin"
    assert resolve_model_path("/abs/lid.bin") == Path("/abs/lid.bin")


def test_trained_model_is_self_contained(
    tiny_lid_model: Path, model_storage, resource, execution_context, tmp_path: Path
) -> None:
    source = tmp_path / "source.bin"
    shutil.copyfile(tiny_lid_model, source)
    config = {**FastTextLanguageIdentifier.get_default_config(), "model_path": str(source)}
    component = FastTextLanguageIdentifier.create(config, model_storage, resource, execution_context)

    returned = component.train(TrainingData([]))
    source.unlink()  # the trained model must not need the original file any more
    loaded = FastTextLanguageIdentifier.load(config, model_storage, returned, execution_context)
    message = Message(data={TEXT: "ابني مريض جدا"})
    loaded.process([message])

    assert returned == resource
    with model_storage.read_from(resource) as directory:
        assert (directory / MODEL_FILE).is_file()
    assert message.get(LANGUAGE)["code"] == "ar"


def test_training_fails_when_a_supported_language_is_unknown(create_identifier) -> None:
    identifier = create_identifier({"supported_languages": ["nl", "en", "ar", "ti", "so"]})

    with pytest.raises(InvalidConfigException, match="so"):
        identifier.train(TrainingData([]))


def test_arabizi_can_be_switched_off(create_identifier) -> None:
    message = Message(data={TEXT: "kifak ibni 3ando 7arara"})

    create_identifier({"arabizi": False}).process([message])

    assert message.get(LANGUAGE)["code"] != "ar"


def test_script_candidates_can_be_switched_off(create_identifier) -> None:
    """Without the script rule fastText may pick any label; with it only Ge'ez languages."""
    on, off = create_identifier(), create_identifier({"script_candidates": False})

    assert on.detector.by_script and not off.detector.by_script
    assert {code for code, _ in on.detector.detect_top("ሰላም gemeente", k=-1)} <= {"ti", "am"}
    assert len(off.detector.detect_top("ሰላም gemeente", k=-1)) == len(off.detector.labels)


def test_default_config_has_the_rule_switches() -> None:
    config = FastTextLanguageIdentifier.get_default_config()

    assert config["arabizi"] is True and config["script_candidates"] is True and config["dari_markers"] is True


def test_recipe_runs_it_first_on_training_data_and_messages(tiny_lid_model: Path) -> None:
    """The default recipe gives it a process_training_data node before the tokenizer's."""
    import rasa.engine.validation

    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [
            {"name": "bot.components.language_id.FastTextLanguageIdentifier", "model_path": str(tiny_lid_model)},
            {"name": "bot.components.tokenizer.MultilingualSpacyTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier", "epochs": 1},
            {"name": "FallbackClassifier"},
            {"name": "bot.components.safety.SafetyKeywordClassifier", "allow_empty": True},
        ],
        "policies": [],
    }
    graph = DefaultV1Recipe().graph_config_for_recipe(config, {}, training_type=TrainingType.NLU)
    rasa.engine.validation.validate(graph)

    train = graph.train_schema.nodes
    lid_train = _node(train, FastTextLanguageIdentifier, "train")
    lid_run = _node(train, FastTextLanguageIdentifier, "process_training_data")
    tokenizer_run = _node(train, MultilingualSpacyTokenizer, "process_training_data")
    assert train[lid_run].needs["training_data"] == "nlu_training_data_provider"
    assert train[lid_run].needs["resource"] == lid_train
    assert train[tokenizer_run].needs["training_data"] == lid_run

    predict = graph.predict_schema.nodes
    lid_predict = _node(predict, FastTextLanguageIdentifier, "process")
    assert predict[lid_predict].resource == Resource(lid_train)  # loads the copied .bin
    assert predict[_node(predict, MultilingualSpacyTokenizer, "process")].needs["messages"] == lid_predict
    safety = _node(predict, SafetyKeywordClassifier, "process")
    assert predict[safety].needs["messages"] == _node(predict, FallbackClassifier, "process")


def _node(nodes: Dict[str, Any], component: type, fn: str) -> str:
    """Name of the graph node that runs ``component.fn``."""
    return next(name for name, node in nodes.items() if node.uses is component and node.fn == fn)
