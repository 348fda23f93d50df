"""Per-message language identification with the Wegwijs fastText model.

``FastTextLanguageIdentifier`` runs first in the NLU pipeline, on training examples as
well as on incoming messages, and sets the message property ``language`` to
``{"code": "ar", "confidence": 0.98}`` (docs/design.md, "NLU parse output"). The
property is an output property, so ``POST /model/parse`` and
``tracker.latest_message`` show it at the top level. The tokenizer reads it to pick
its spaCy pipeline.

Graph placement: registered as ``MESSAGE_FEATURIZER`` — like Rasa's own ``SpacyNLP``,
which also annotates messages before the tokenizer — because only tokenizer and
featurizer types get a ``process_training_data`` node in the training graph
(``DefaultV1Recipe._add_nlu_train_nodes``). It subclasses neither ``Tokenizer`` nor
``Featurizer``, so Rasa's "one tokenizer" and featurizer-compatibility checks ignore it.

Persistence: the component is trainable only to copy the ``.bin`` (≈3 MB) into the
model storage, so a trained Rasa model is self-contained; ``fingerprint_addon`` holds
the file's sha256, so a rebuilt LID model retrains the NLU part.

Messages sent as payloads (``/affirm``) skip the NLU pipeline in Rasa and carry no
``language`` property.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from wegwijs.lid.detector import LanguageDetector

logger = logging.getLogger(__name__)

#: Message property set by this component (an output property).
LANGUAGE = "language"
#: Keys of the ``language`` property.
LANGUAGE_CODE = "code"
LANGUAGE_CONFIDENCE = "confidence"
#: Name of the model file inside the component's model storage.
MODEL_FILE = "lid.bin"
#: Repository root: relative ``model_path`` values are taken from here.
REPO_ROOT = Path(__file__).resolve().parents[2]
_DETECTOR_SOURCE = Path(__file__).resolve().parents[2] / "wegwijs" / "lid" / "detector.py"

# (path, size, mtime_ns) → sha256, so fingerprinting does not re-read the file per node.
_SHA_CACHE: Dict[Tuple[str, int, int], str] = {}


def resolve_model_path(value: Text) -> Path:
    """Absolute path of ``model_path``: absolute as given, relative to the repository root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def model_sha256(path: Path) -> str:
    """sha256 hex digest of the model file (cached by size and modification time).

    Raises:
        FileNotFoundError: the file does not exist (message names the path).
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"fastText language-identification model not found: {path}. "
            "Build it with `wegwijs build-lid` or fix `model_path` of FastTextLanguageIdentifier."
        )
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _SHA_CACHE[key] = digest.hexdigest()
    return _SHA_CACHE[key]


def _load_detector(path: Path, config: Dict[Text, Any]) -> LanguageDetector:
    """Loads the fastText model with the rule switches of the component config."""
    return LanguageDetector.load(
        path,
        arabizi=bool(config.get("arabizi", True)),
        by_script=bool(config.get("script_candidates", True)),
        dari_markers=bool(config.get("dari_markers", True)),
    )


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class FastTextLanguageIdentifier(GraphComponent):
    """Adds ``language: {"code", "confidence"}`` to every message (fastText LID)."""

    @classmethod
    def required_components(cls) -> List[type]:
        """Nothing: it must be the first component of the pipeline."""
        return []

    @staticmethod
    def required_packages() -> List[Text]:
        """None declared (see comment).

        ``fasttext`` is imported by ``wegwijs.lid.detector``. It is not listed here
        because Rasa fingerprints required packages by distribution name
        (``pkg_resources.get_distribution("fasttext")``), and the installed distribution
        is ``fasttext-wheel``: listing it would break every training run.
        """
        return []

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # fastText LID model built by `wegwijs build-lid`; a relative path is taken
            # from the repository root (not the working directory).
            "model_path": "models/lid/lid.bin",
            # Languages the assistant chats in. Training fails when the model cannot
            # output one of them; detection itself is not restricted to this list.
            "supported_languages": ["nl", "en", "ar", "ti"],
            # Report Latin-script Arabic chat ("kifak ibni 3ando 7arara") as "ar".
            "arabizi": True,
            # Only languages of the message's script can win: Tigrinya or Arabic with
            # Dutch words in it ("ኣብ gemeente Amersfoort እየ ዘለኹ") stays Tigrinya.
            "script_candidates": True,
            # Dari/Persian marker words (استم/هستم, مکتب/مدرسه) choose between prs and fa.
            "dari_markers": True,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        detector: Optional[LanguageDetector] = None,
    ) -> None:
        """Creates the component; the model is loaded now or on first use.

        Args:
            config: merged config (defaults plus user keys).
            model_storage: where ``train`` copies the model file.
            resource: this component's resource in ``model_storage``.
            detector: an already loaded detector (from the model storage), or None to
                load ``model_path`` on first use.
        """
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model_path = resolve_model_path(self._config["model_path"])
        self._detector = detector

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FastTextLanguageIdentifier:
        """Creates a new component (see parent class for full docstring).

        Raises:
            FileNotFoundError: ``model_path`` does not exist (message names the path).
        """
        component = cls(config, model_storage, resource)
        model_sha256(component._model_path)  # fail early, naming the path
        return component

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FastTextLanguageIdentifier:
        """Loads the model copied into the model storage (see parent class for full docstring).

        Falls back to ``model_path`` (with a warning) when the storage has no copy.
        """
        merged = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                detector = _load_detector(directory / MODEL_FILE, merged)
        except (ValueError, FileNotFoundError):
            logger.warning(
                f"{cls.__name__}: no model in the model storage for '{resource.name}', "
                f"using {resolve_model_path(merged['model_path'])}."
            )
            return cls.create(merged, model_storage, resource, execution_context)
        component = cls(merged, model_storage, resource, detector)
        component._warn_if_unsupported()
        return component

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """sha256 of the model file (plus the detector code), so a new model retrains.

        Raises:
            FileNotFoundError: ``model_path`` does not exist (message names the path).
        """
        merged = {**cls.get_default_config(), **config}
        model = model_sha256(resolve_model_path(merged["model_path"]))
        detector_code = hashlib.sha256(_DETECTOR_SOURCE.read_bytes()).hexdigest() if _DETECTOR_SOURCE.is_file() else ""
        return f"{model}:{detector_code}"

    @property
    def detector(self) -> LanguageDetector:
        """The loaded fastText detector (loaded from ``model_path`` on first use)."""
        if self._detector is None:
            self._detector = _load_detector(self._model_path, self._config)
            self._warn_if_unsupported()
        return self._detector

    def _missing_languages(self) -> List[Text]:
        labels = set(self.detector.labels)
        return [code for code in self._config["supported_languages"] if code not in labels]

    def _warn_if_unsupported(self) -> None:
        missing = self._missing_languages()
        if missing:
            logger.warning(f"{type(self).__name__}: the LID model cannot detect {missing}.")

    def train(self, training_data: TrainingData) -> Resource:
        """Copies the model file into the model storage (no learning happens here).

        Args:
            training_data: unused; needed for the node's place in the graph.

        Returns:
            This component's resource.

        Raises:
            InvalidConfigException: a ``supported_languages`` code is not a model label.
        """
        missing = self._missing_languages()
        if missing:
            raise InvalidConfigException(
                f"{type(self).__name__}: the model {self._model_path} has no label for "
                f"supported language(s) {missing}; it knows {sorted(self.detector.labels)}. "
                "Rebuild it with `wegwijs build-lid` or fix `supported_languages`."
            )
        with self._model_storage.write_to(self._resource) as directory:
            shutil.copyfile(self._model_path, directory / MODEL_FILE)
            info = {"source": str(self._model_path), "sha256": model_sha256(self._model_path)}
            (directory / "lid.json").write_text(json.dumps(info), encoding="utf-8")
        return self._resource

    def _annotate(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str):
            return  # e.g. action messages in end-to-end training data
        code, confidence = self.detector.detect(text)
        message.set(
            LANGUAGE,
            {LANGUAGE_CODE: code, LANGUAGE_CONFIDENCE: round(float(confidence), 4)},
            add_to_output=True,
        )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Detects the language of every training example, for the tokenizer."""
        for example in training_data.training_examples:
            self._annotate(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Detects the language of each incoming message."""
        for message in messages:
            self._annotate(message)
        return messages
