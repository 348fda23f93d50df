"""Train the fastText language-identification model: ``models/lid/lid.bin``.

``build_lid()`` builds the data (:mod:`wegwijs.lid.data`: FLORES-200, NLU examples,
texts, CLDR names, clean and noisy chat-length windows), trains a supervised fastText
model on character n-grams (1-5) and word bigrams, quantizes it (about 3 MB) and
writes ``lid.bin`` plus ``lid.json`` (metadata: data hash, parameters, labels, counts,
file sha256). It skips the work when ``lid.json`` says the same data and parameters
already produced the file on disk, unless ``force=True``.

Training takes about 40 s (about 290,000 lines, one thread). fastText with
``thread > 1`` is not bit-for-bit reproducible (lock-free parallel SGD), so the
default is ``thread=1``: the same data always gives the same file and the same
report figures. Measured settings and figures: ``docs/lid.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from wegwijs.lid import DEFAULT_MODEL_RELPATH, REPO_ROOT
from wegwijs.lid.data import Dataset, build_dataset, fasttext_line

#: The model file ``build_lid`` writes by default (``<repo>/models/lid/lid.bin``).
DEFAULT_MODEL_PATH = REPO_ROOT / DEFAULT_MODEL_RELPATH

#: Bump when data building or training changes in a way the data hash cannot see.
BUILD_VERSION = 2

#: fastText ``train_supervised`` parameters.
DEFAULT_PARAMS: dict[str, Any] = {
    "lr": 0.5,  # learning rate
    "epoch": 12,  # passes over the data (8, 12, 15 measured: 12 is as good as 15)
    "dim": 32,  # vector size: 64 was no better on held-out text and 60 % larger
    "minn": 1,  # shortest character n-gram: single Ge'ez syllables tell ti from am
    "maxn": 5,  # longest character n-gram (6 measured: no better, slower)
    "wordNgrams": 2,  # word bigrams as well as words
    "minCount": 1,  # keep every word (quantize() prunes later)
    "bucket": 200_000,  # hash buckets shared by character n-grams and word bigrams
    "loss": "softmax",  # 15 labels: plain softmax is fast and calibrated enough
    "thread": 1,  # one thread: identical files on every build (2 threads: 36 s instead of 41 s)
    "seed": 13,  # fixed seed (exact only with thread=1)
    "verbose": 0,
}

#: ``quantize`` parameters: product quantization of the input matrix, keeping the
#: ``cutoff`` most important words and n-grams.
DEFAULT_QUANTIZE: dict[str, Any] = {"qnorm": True, "cutoff": 100_000, "retrain": False, "dsub": 2}

#: Shuffling seed for the training file (fastText reads lines in file order).
SHUFFLE_SEED = 7


@dataclass
class BuildResult:
    """What ``build_lid`` did.

    Attributes:
        path: the model file.
        built: False when the existing model was up to date.
        metadata: contents of the ``lid.json`` next to the model.
    """

    path: Path
    built: bool
    metadata: dict[str, Any]


def metadata_path(model_path: Path) -> Path:
    """``lid.json`` next to ``lid.bin``."""
    return model_path.with_suffix(".json")


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def training_lines(dataset: Dataset) -> list[str]:
    """fastText lines of the training examples, shuffled deterministically."""
    lines = [fasttext_line(e) for e in dataset.train]
    lines = [line for line in lines if " " in line and not line.endswith(" ")]
    random.Random(SHUFFLE_SEED).shuffle(lines)
    return lines


def data_hash(lines: list[str], params: dict[str, Any], quantize: dict[str, Any] | None) -> str:
    """sha256 over the training lines, the parameters and :data:`BUILD_VERSION`."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"v": BUILD_VERSION, "params": params, "quantize": quantize}, sort_keys=True).encode())
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def is_up_to_date(model_path: Path, expected_hash: str) -> bool:
    """Whether ``model_path`` exists and ``lid.json`` records ``expected_hash`` and its sha256."""
    meta_file = metadata_path(model_path)
    if not model_path.is_file() or not meta_file.is_file():
        return False
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("data_hash") == expected_hash and meta.get("sha256") == file_sha256(model_path)


def build_lid(
    root: Path = REPO_ROOT,
    *,
    output: Path | None = None,
    force: bool = False,
    params: dict[str, Any] | None = None,
    quantize: bool = True,
    include_cldr: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> BuildResult:
    """Builds the LID model unless it is up to date.

    Args:
        root: repository root with ``data/lid/flores200``, ``nlu_data``, ``languages``.
        output: model file; default ``<root>/models/lid/lid.bin``.
        force: train even when ``lid.json`` says the model is up to date.
        params: overrides for :data:`DEFAULT_PARAMS` (e.g. ``{"epoch": 2}`` in tests).
        quantize: quantize the model (≈1-3 MB instead of ≈30 MB).
        include_cldr: add CLDR names from ``babel`` to the training text.
        log: receives one-line progress messages.

    Returns:
        A :class:`BuildResult`.

    Raises:
        FileNotFoundError: FLORES data is missing.
    """
    import fasttext

    output = Path(output) if output is not None else root / DEFAULT_MODEL_RELPATH
    params = {**DEFAULT_PARAMS, **(params or {})}
    quantize_params = dict(DEFAULT_QUANTIZE) if quantize else None

    started = time.perf_counter()
    dataset = build_dataset(root, include_cldr=include_cldr)
    lines = training_lines(dataset)
    expected = data_hash(lines, params, quantize_params)
    if not force and is_up_to_date(output, expected):
        log(f"{output} is up to date (data hash {expected[:12]})")
        meta = json.loads(metadata_path(output).read_text(encoding="utf-8"))
        return BuildResult(output, False, meta)

    log(f"training on {len(lines)} lines, {len(dataset.labels())} languages")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wegwijs-lid-") as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        model = fasttext.train_supervised(input=str(train_file), **params)
        if quantize_params is not None:
            model.quantize(input=str(train_file), **quantize_params)
        partial = Path(tmp) / "lid.bin"
        model.save_model(str(partial))
        _install(partial, output)

    meta = {
        "data_hash": expected,
        "sha256": file_sha256(output),
        "size_bytes": output.stat().st_size,
        "build_version": BUILD_VERSION,
        "params": params,
        "quantize": quantize_params,
        "labels": dataset.labels(),
        "train_lines": len(lines),
        "train_counts": dataset.counts(),
        "held_out_flores": len(dataset.held_out_flores),
        "held_out_nlu": len(dataset.held_out_nlu),
        "dropped": dict(sorted(dataset.dropped.items())),
        "include_cldr": include_cldr,
        "seconds": round(time.perf_counter() - started, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": "FLORES-200 via SIB-200 (CC BY-SA 4.0), nlu_data/, languages/, CLDR (babel)",
    }
    metadata_path(output).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {output} ({meta['size_bytes'] / 1e6:.1f} MB) in {meta['seconds']} s")
    return BuildResult(output, True, meta)


def build(force: bool = False) -> BuildResult:
    """``build_lid`` for the default model path, printing progress (used by ``wegwijs build``)."""
    return build_lid(force=force, log=lambda message: print(f"lid: {message}"))


def _install(source: Path, target: Path) -> None:
    """Copies ``source`` next to ``target``, then renames it into place atomically."""
    import shutil

    staging = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, staging)
    os.replace(staging, target)


def train_small(
    output: Path,
    *,
    root: Path = REPO_ROOT,
    languages: tuple[str, ...] = ("nl", "en", "ar", "ti", "am"),
    sentences: int = 300,
) -> Path:
    """Trains a small, deterministic model for tests and smoke trainings (≈1 s).

    Uses the first ``sentences`` FLORES training sentences of each language plus their
    windows, one thread, no quantization.

    Args:
        output: model file to write.
        root: repository root with ``data/lid/flores200``.
        languages: labels to include.
        sentences: FLORES training sentences per language.

    Returns:
        ``output``.
    """
    import fasttext

    from wegwijs.lid.data import read_flores, windows

    train, _ = read_flores(root)
    per_language: dict[str, int] = {}
    examples = []
    for example in train:
        if example.label in languages and per_language.get(example.label, 0) < sentences:
            per_language[example.label] = per_language.get(example.label, 0) + 1
            examples.append(example)
            examples.extend(windows(example))
    lines = [fasttext_line(e) for e in examples]
    random.Random(SHUFFLE_SEED).shuffle(lines)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wegwijs-lid-small-") as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        params = {**DEFAULT_PARAMS, "epoch": 10, "dim": 16, "bucket": 50_000, "thread": 1}
        model = fasttext.train_supervised(input=str(train_file), **params)
        model.save_model(str(output))
    return output
