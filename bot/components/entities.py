"""Intake entities in every message, whatever question is open (issue 6).

``IntakeEntityExtractor`` runs :func:`wegwijs.intake.extract.extract` on each message
with the word lists of the detected language plus Dutch and English
(``languages/<lang>/parsing.yml``) and the gemeente list (``municipalities/gemeenten/``),
and adds one entity per fact:

==================  ===========================================================
entity              value
==================  ===========================================================
children_ages       list of ints (years; 0 = a baby), when the message says they are ages
numbers             list of ints, bare numbers (slot-mapped only while the ages question is open)
pregnant            true
pregnancy_months    int
municipality        official gemeente name ("Zaanstad")
contact_channel     whatsapp | phone | visit
contact_times       {"nl": "dinsdag en donderdag ochtend; na 17:00", "text": the parent's words}
contact_gender      woman | man
contact_setting     individual | group
person_type         klantmanager | sleutelpersoon
interpreter         true | false
contact_caution     the parent's words when someone may hear or see the contact ("kocam duyuyor")
language_choice     a supported language code, when the message is just a language's name
detected_language   the language fastText saw (≥ 0.7, more than 2 words): emergency replies
                    use it when the conversation language is not set yet
==================  ===========================================================

A message of at most three words that gives an intake fact ("Den Bosch", "taleefan,
galabtii"), or an unsure non-topic one that does, gets the intent ``inform`` (an answer,
not a topic or a request for the language menu); an unsure ``change_language`` without
any fact becomes ``nlu_fallback`` (:func:`reread_intent`).

A message that is only a language's name ("العربية", "Tigrinya", "in het Nederlands
graag") also gets the intent ``inform`` (confidence 1.0), so the language is switched at
once instead of the menu being shown again. The global slot mappings in
``bot/domain.yml`` fill the slots from these entities.

A message with a ``delete_request_words`` phrase ("..., my husband found out, delete my
data") gets the intent ``delete_my_data`` whatever the classifier read (the deletion is
confirmed before anything goes; the urgent classifier after this component still turns
an emergency into ``urgent_help``).

Not trainable; the word lists are read when the model is loaded (``fingerprint_addon``
hashes them so a change retrains).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.language_id import LANGUAGE, LANGUAGE_CODE, LANGUAGE_CONFIDENCE
from bot.components.safety import resolve_languages_dir  # a path relative to the repository root
from wegwijs.intake.extract import Words, asks_deletion, extract
from wegwijs.intake.gemeenten import GemeenteMatcher
from wegwijs.intake.language_names import LanguageNames

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
#: LID confidence above which the message's language is reported as ``detected_language``.
DETECTED_CONFIDENCE = 0.7


#: intents a message keeps even when it carries intake facts ("klantmanager graag" asks for a
#: person, "ja, via WhatsApp" agrees; an emergency, a deletion and "what do you know about my
#: kids" are never re-read)
KEEP_INTENTS = frozenset({"request_human", "urgent_help", "delete_my_data", "ask_my_data", "affirm", "deny", "inform"})
#: intents a short contact answer is mistaken for ("subax" = morning read as a greeting)
POLITE_INTENTS = frozenset({"greet", "goodbye", "thanks"})
#: a message of at most this many words that carries an intake fact is an answer
#: ("Den Bosch" was read as topic_leisure, "taleefan, galabtii" as change_language)
SHORT_ANSWER_WORDS = 3
#: below this confidence a non-topic intent on a message with intake facts is an answer,
#: and change_language (which opens the language menu mid-question) is not trusted
UNSURE_CONFIDENCE = 0.6
#: a short message read as a topic at least this surely keeps its topic ("school 8"
#: is both)
SURE_TOPIC = 0.8
#: Each of two topics at least this sure makes a fallback "two close topics" (did you mean).
CLOSE_TOPIC_CONFIDENCE = 0.3


def two_close_topics(ranking: Optional[List[Dict[str, Any]]]) -> bool:
    """Whether the first two intents of the ranking (``nlu_fallback`` left out) are topics,
    each at least :data:`CLOSE_TOPIC_CONFIDENCE`: a topical message the classifier could
    not choose between ("the kids don't know their father, my son of 10 never talks to
    him": family reunification or talking with your child)."""
    top = [r for r in ranking or [] if r.get(INTENT_NAME_KEY) != "nlu_fallback"][:2]
    return len(top) == 2 and all(
        str(r.get(INTENT_NAME_KEY) or "").startswith("topic_")
        and float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= CLOSE_TOPIC_CONFIDENCE for r in top)


def reread_intent(intent: Dict[str, Any], facts: Dict[str, Any], text: str,
                  ranking: Optional[List[Dict[str, Any]]] = None) -> Optional[str]:
    """The intent a message should have instead of the classifier's, or None to keep it.

    A fallback between two close topics (:func:`two_close_topics`) in a message longer
    than a short answer stays ``nlu_fallback`` even when it also gives a fact: the
    fallback action then asks "did you mean X or Y?" with both as buttons.

    Args:
        intent: the classifier's ``{"name", "confidence"}``.
        facts: the intake facts found in the message (``detected_language`` excluded).
        text: the message.
        ranking: the classifier's intent ranking (``[{"name", "confidence"}]``), if any.

    Returns:
        ``"inform"`` for a short or unsure message that gives intake facts, a language
        named with an interpreter ("interpreter pls, tigrinya"), or a contact caution
        read as an unsure topic ("don't call, my husband hears, only whatsapp"),
        ``"nlu_fallback"`` for an unsure change_language without facts, else None.
    """
    name = intent.get(INTENT_NAME_KEY) or ""
    confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    if name == "change_language" and facts.get("interpreter") is not None:
        return "inform"  # "yes interpreter pls, tigrinya": the language is the interpreter's
    if name == "topic_multilingual" and facts.get("interpreter") is not None:
        return "inform"  # "yes, I need an Arabic interpreter, my Dutch is weak": not a question about languages at home
    if (name.startswith("topic_") and confidence < UNSURE_CONFIDENCE
            and facts.get("person_type") in ("klantmanager", "sleutelpersoon")):
        return "request_human"  # "بغيت نهضر مع شي حد من الجالية" (someone from the community), unsure topic
    if name.startswith("topic_") and confidence < SURE_TOPIC and facts.get("contact_caution"):
        return "inform"  # "lütfen aramayın kocam duyuyor, sadece whatsapp" is about contact, not phones
    if facts and name == "nlu_fallback" and len(text.split()) > SHORT_ANSWER_WORDS and two_close_topics(ranking):
        return None
    if facts and name not in KEEP_INTENTS:
        if len(text.split()) <= SHORT_ANSWER_WORDS and not (name.startswith("topic_") and confidence >= SURE_TOPIC):
            return "inform"
        if confidence < UNSURE_CONFIDENCE and not name.startswith("topic_"):
            return "inform"
    if not facts and name == "change_language" and confidence < UNSURE_CONFIDENCE:
        return "nlu_fallback"
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class IntakeEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Adds intake-fact entities (ages, gemeente, contact preferences...) to every message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # folder with languages/<lang>/parsing.yml and meta.yml, and registry.yml
            "languages_dir": "languages",
            # the gemeente list (CBS names, woonplaatsen, spellings in other scripts)
            "gemeenten_file": "municipalities/gemeenten",
            # languages whose words are always read besides the detected one (parents mix them in)
            "always_languages": ["nl", "en"],
            # below this LID confidence the detected language's words are not used
            "min_language_confidence": 0.3,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Loads the word lists and the gemeente matcher."""
        self.component_config = {**self.get_default_config(), **config}
        languages_dir = resolve_languages_dir(self.component_config["languages_dir"])
        self._parsing: Dict[str, Any] = {}
        for path in sorted(languages_dir.glob("*/parsing.yml")):
            self._parsing[path.parent.name] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        gemeenten = resolve_languages_dir(self.component_config["gemeenten_file"])
        self._gemeenten = GemeenteMatcher.load(gemeenten)
        self._names = LanguageNames.load(languages_dir)
        self._words_cache: Dict[str, Words] = {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntakeEntityExtractor:
        """Creates the component (see parent class for full docstring)."""
        return cls(config)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """sha256 over every parsing.yml, meta.yml, registry.yml and the gemeente file."""
        merged = {**cls.get_default_config(), **config}
        digest = hashlib.sha256()
        root = resolve_languages_dir(merged["languages_dir"])
        files = sorted(root.glob("*/parsing.yml")) + sorted(root.glob("*/meta.yml")) + [root / "registry.yml"]
        gemeenten = resolve_languages_dir(merged["gemeenten_file"])
        files += sorted(gemeenten.glob("*.yml")) if gemeenten.is_dir() else [gemeenten]
        for path in files:
            if path.exists():
                digest.update(str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def words_for(self, lang: Optional[str]) -> Words:
        """Merged word lists of ``lang`` (first, wins conflicts) plus the always-read languages."""
        key = lang or ""
        if key not in self._words_cache:
            codes = [c for c in dict.fromkeys([key, *self.component_config["always_languages"]]) if c in self._parsing]
            self._words_cache[key] = Words.from_parsing([self._parsing[c] for c in codes])
        return self._words_cache[key]

    def _language(self, message: Message) -> Optional[str]:
        detected = message.get(LANGUAGE)
        if not isinstance(detected, dict):
            return None
        if (detected.get(LANGUAGE_CONFIDENCE) or 0.0) < self.component_config["min_language_confidence"]:
            return None
        return detected.get(LANGUAGE_CODE)

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the entities (see the module docstring) to each message."""
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text or text.startswith("/"):
                continue
            lang = self._language(message)
            facts = extract(text, self.words_for(lang), self._gemeenten).as_entities()
            choice = self._names.choice(text)
            if choice and facts.get("interpreter") is not None:
                choice = None  # "ja somali tolk": the interpreter's language, not a switch of the chat language
            lead = None if choice or facts.get("interpreter") is not None else self._names.leading_choice(text)
            if choice:
                facts = {"language_choice": choice}
                message.set(INTENT, {INTENT_NAME_KEY: "inform", PREDICTED_CONFIDENCE_KEY: 1.0}, add_to_output=True)
            elif lead:
                facts["language_choice"] = lead  # "farsi lotfan. ok, zakhire konid": the language, and the rest as said
            else:
                intent = message.get(INTENT) or {}
                better = reread_intent(intent, facts, text, message.get(INTENT_RANKING_KEY))
                if intent.get(INTENT_NAME_KEY) not in ("urgent_help", "delete_my_data") \
                        and asks_deletion(text, self.words_for(lang)):
                    better = "delete_my_data"  # "..., verwijder mijn gegevens alstublieft" in a long message
                elif not better and self._contact_answer(text, lang, intent):
                    better = "inform"  # "subax" (morning) read as a greeting, "naag" (a woman) as goodbye
                if better:
                    message.set(INTENT, {INTENT_NAME_KEY: better,
                                         PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0},
                                add_to_output=True)
            detected = message.get(LANGUAGE) or {}
            if lang in self._names.supported and (detected.get(LANGUAGE_CONFIDENCE) or 0.0) >= DETECTED_CONFIDENCE \
                    and len(text.split()) > 2:
                facts["detected_language"] = lang  # only for emergency replies when the action server is down
            if not facts:
                continue
            entities = list(message.get(ENTITIES, []) or [])
            for name, value in facts.items():
                if isinstance(value, dict) or hasattr(value, "__dataclass_fields__"):
                    value = dict(value) if isinstance(value, dict) else value.__dict__
                entities.append(
                    {"entity": name, "value": value, "start": 0, "end": len(text), "confidence": 1.0,
                     "extractor": type(self).__name__}
                )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

    def _contact_answer(self, text: str, lang: Optional[str], intent: Dict[str, Any]) -> bool:
        """Whether a short greeting, goodbye or thanks is really an answer to a contact
        question: a time of day, a man or a woman, alone or in a group, a channel
        ("subax", "naag", "ماښام"), read as if a contact question were open (the pipeline
        does not know which question is; the form reads the answer for its own)."""
        if intent.get(INTENT_NAME_KEY) not in POLITE_INTENTS or len(text.split()) > SHORT_ANSWER_WORDS:
            return False
        said = extract(text, self.words_for(lang), None, open_question="contact_times")
        return any(v is not None for v in (said.contact_times, said.contact_gender, said.contact_setting,
                                           said.contact_channel))

    def process_training_data(self, training_data: Any) -> Any:
        """Training data passes unchanged (the extractor is not trained)."""
        return training_data
