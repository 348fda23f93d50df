"""The safety net in the NLU pipeline: danger keywords of every language.

``SafetyKeywordClassifier`` runs after DIETClassifier and FallbackClassifier. When a
message contains a keyword of any language's ``languages/<lang>/safety.yml``
(matching rules: :mod:`wegwijs.safety`), it sets the intent to ``urgent_help`` with
confidence 1.0, leaves ``intent_ranking`` as the model made it, and sets the output
property ``safety`` to ``{"category", "keyword", "lang"}``. Otherwise it sets
``safety`` to None, which Rasa leaves out of the parse result (``Message.as_dict``
drops None values), so readers use ``parse_data.get("safety")``.

It is not trainable: Rasa builds it with ``create`` each time a model is loaded, so the
keyword files are read from ``languages_dir`` at load time and edits take effect on
the next model load without retraining (``fingerprint_addon`` hashes the files all the
same). Detection does not depend on the detected language, so a parent whose language
has little NLU data is still covered (BRIEF section 4).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.language_id import LANGUAGE, LANGUAGE_CODE
from wegwijs.safety import KeywordMatcher, files_fingerprint

logger = logging.getLogger(__name__)

#: Message property set by this component (an output property; None when nothing matched).
SAFETY = "safety"
#: Repository root: a relative ``languages_dir`` is taken from here.
REPO_ROOT = Path(__file__).resolve().parents[2]


def resolve_languages_dir(value: Text) -> Path:
    """Absolute path of ``languages_dir``: absolute as given, relative to the repository root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SafetyKeywordClassifier(GraphComponent, IntentClassifier):
    """Sets ``urgent_help`` and ``safety`` when a danger keyword of any language occurs."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """An intent classifier must run first (its ranking is kept)."""
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # Folder with one sub-folder per language holding safety.yml; a relative
            # path is taken from the repository root (not the working directory).
            "languages_dir": "languages",
            # Intent set when a keyword matches (docs/design.md: urgent_help).
            "intent": "urgent_help",
            # Start even when no safety.yml holds a keyword (only for tests and
            # development: an empty safety net is otherwise an error).
            "allow_empty": False,
        }

    def __init__(self, config: Dict[Text, Any], matcher: KeywordMatcher) -> None:
        """Creates the component around a loaded keyword matcher."""
        self.component_config = {**self.get_default_config(), **config}
        self.matcher = matcher

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyKeywordClassifier:
        """Loads all ``<languages_dir>/*/safety.yml`` (see parent class for full docstring).

        Raises:
            FileNotFoundError: ``languages_dir`` does not exist.
            ValueError: a safety.yml is malformed, or no keyword was found and
                ``allow_empty`` is false.
        """
        merged = {**cls.get_default_config(), **config}
        languages_dir = resolve_languages_dir(merged["languages_dir"])
        matcher = KeywordMatcher.from_dir(languages_dir)
        if not matcher.keywords:
            message = f"{cls.__name__}: no safety keywords in {languages_dir}/*/safety.yml"
            if not merged["allow_empty"]:
                raise ValueError(message + " (set allow_empty: true to run without the safety net)")
            logger.warning(message)
        else:
            logger.debug(
                f"{cls.__name__}: {len(matcher.keywords)} keywords in {matcher.languages()} from {languages_dir}"
            )
        return cls(merged, matcher)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """sha256 over all ``safety.yml`` files (names and contents)."""
        merged = {**cls.get_default_config(), **config}
        return files_fingerprint(resolve_languages_dir(merged["languages_dir"]))

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets ``urgent_help`` and ``safety`` on messages with a danger keyword."""
        for message in messages:
            text = message.get(TEXT)
            detected = message.get(LANGUAGE)
            prefer = detected.get(LANGUAGE_CODE) if isinstance(detected, dict) else None
            match = self.matcher.match(text, prefer_lang=prefer) if isinstance(text, str) else None
            if match is None:
                message.set(SAFETY, None, add_to_output=True)
                continue
            logger.debug(f"{type(self).__name__}: '{match.category}' keyword from '{match.lang}' list")
            message.set(
                INTENT,
                {INTENT_NAME_KEY: self.component_config["intent"], PREDICTED_CONFIDENCE_KEY: 1.0},
                add_to_output=True,
            )
            message.set(SAFETY, match.as_dict(), add_to_output=True)
        return messages
