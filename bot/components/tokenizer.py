"""Tokenizer with one blank spaCy pipeline per language, chosen per message.

``MultilingualSpacyTokenizer`` builds ``spacy.blank(lang)`` once for each configured
language and tokenizes every message with the pipeline of the language that
``FastTextLanguageIdentifier`` detected for it (message property ``language``). Text
with no or an unknown language, or with a detection below ``min_confidence``, uses
``default_language`` (``xx``: spaCy's multi-language rules).

Blank pipelines have no model, so Rasa's ``SpacyNLP`` cannot load them (it needs a
pipeline with a path); this component uses only spaCy's rule-based tokenizer. Rasa's
``Tokenizer`` config keys (``intent_tokenization_flag``, ``intent_split_symbol``,
``token_pattern``, ``prefix_separator_symbol``) keep their meaning.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message

from bot.components.language_id import LANGUAGE, LANGUAGE_CODE, LANGUAGE_CONFIDENCE
from wegwijs.text import normalise

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def blank_pipeline(spacy_code: Text) -> Language:
    """``spacy.blank(spacy_code)``, built once per process.

    Building takes 20 ms to 2.5 s (French compiles large exception tables), and Rasa
    creates the tokenizer several times per training run. Only ``make_doc`` (the
    rule-based tokenizer) is used, so sharing the object is safe.

    Raises:
        ImportError: spaCy has no rules for ``spacy_code``.
    """
    import spacy

    return spacy.blank(spacy_code)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MultilingualSpacyTokenizer(Tokenizer):
    """Tokenizes each message with the blank spaCy pipeline of its detected language."""

    @staticmethod
    def required_packages() -> List[Text]:
        """spaCy (blank pipelines only; no model packages)."""
        return ["spacy"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # Flag to check whether to split intents (Rasa Tokenizer key)
            "intent_tokenization_flag": False,
            # Symbol on which intent should be split (Rasa Tokenizer key)
            "intent_split_symbol": "_",
            # Regular expression to further split tokens (Rasa Tokenizer key)
            "token_pattern": None,
            # Symbol on which prefix should be split (Rasa Tokenizer key)
            "prefix_separator_symbol": None,
            # Language codes (as FastTextLanguageIdentifier reports them) that get their
            # own blank pipeline; codes spaCy lacks (so, ps, ckb, kmr) use the default.
            "languages": ["nl", "en", "ar", "ti", "am", "fa", "prs", "tr", "so", "ps", "ckb", "kmr", "fr", "uk", "ru"],
            # Detected code → spaCy language code where they differ (Dari → Persian rules).
            "spacy_languages": {"prs": "fa"},
            # spaCy language for messages without a (usable) detected language;
            # "xx" is spaCy's multi-language tokenizer.
            "default_language": "xx",
            # Detections below this confidence (0..1) use `default_language`.
            "min_confidence": 0.0,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Builds one blank spaCy pipeline per configured language (once).

        Raises:
            InvalidConfigException: ``default_language`` is not a spaCy language.
        """
        config = {**self.get_default_config(), **config}
        super().__init__(config)
        self._min_confidence = float(config["min_confidence"])
        try:
            self._default: Language = blank_pipeline(config["default_language"])
        except (ImportError, KeyError) as error:
            raise InvalidConfigException(
                f"{type(self).__name__}: default_language {config['default_language']!r} "
                f"is not a spaCy language: {error}"
            ) from error
        by_spacy_code: Dict[Text, Language] = {config["default_language"]: self._default}
        self._pipelines: Dict[Text, Language] = {}
        for code in config["languages"]:
            spacy_code = (config.get("spacy_languages") or {}).get(code, code)
            if spacy_code not in by_spacy_code:
                try:
                    by_spacy_code[spacy_code] = blank_pipeline(spacy_code)
                except (ImportError, KeyError):
                    logger.debug(f"spaCy has no '{spacy_code}' rules; '{code}' uses the default pipeline.")
                    by_spacy_code[spacy_code] = self._default
            self._pipelines[code] = by_spacy_code[spacy_code]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MultilingualSpacyTokenizer:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config)

    def pipeline_for(self, message: Message) -> Language:
        """The blank pipeline for the message's detected language (or the default)."""
        detected = message.get(LANGUAGE)
        if not isinstance(detected, dict):
            return self._default
        code: Optional[Text] = detected.get(LANGUAGE_CODE)
        confidence = detected.get(LANGUAGE_CONFIDENCE) or 0.0
        if code is None or confidence < self._min_confidence:
            return self._default
        return self._pipelines.get(code, self._default)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokenizes the text of the attribute (see parent class for full docstring)."""
        text = message.get(attribute)
        if not text:
            return []
        doc = self.pipeline_for(message).make_doc(text)
        # the lemma is the normalised form (wegwijs.text.normalise: no tashkeel, unified
        # letter variants, ASCII digits): CountVectorsFeaturizer counts lemmas, so
        # "مَدْرَسَة" and "مدرسة" give the same features
        tokens = [Token(t.text, t.idx, lemma=normalise(t.text) or t.text) for t in doc if t.text.strip()]
        return self._apply_token_pattern(tokens)
