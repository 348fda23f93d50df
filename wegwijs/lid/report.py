"""How well the LID model does on held-out text, and how fast it is.

Four evaluations of the held-out FLORES-200 sentences (never trained on):

* ``full``: whole sentences (~20 words);
* ``3 words``: each sentence truncated to its first 3 words;
* ``1-2 words``: half the sentences truncated to 1 word, the other half to 2 words
  (chosen by a hash of the sentence), chat-message length;

plus the held-out project NLU examples (``nlu_data``; chat style) when there are any.
Words are counted after :func:`~wegwijs.lid.detector.normalise` (digits and
punctuation removed), so runs are repeatable.

Persian (``fa``) and Dari (``prs``) are close; the report gives them separately and
merged. Tigrinya ↔ Amharic (same Ge'ez script) confusion is listed explicitly.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from wegwijs.lid import LANGUAGES, REPO_ROOT, UNDETERMINED
from wegwijs.lid.data import Dataset, Example, build_dataset, stable_hash
from wegwijs.lid.detector import LanguageDetector, normalise

#: Languages merged in the "fa+prs" line.
MERGED = ("fa", "prs")


@dataclass
class Evaluation:
    """Accuracy per language and confusion counts for one evaluation set.

    Attributes:
        name: e.g. ``"full"``, ``"3 words"``.
        total: gold label → number of examples.
        correct: gold label → number predicted right.
        confusion: (gold, predicted) → count, all pairs including correct ones.
    """

    name: str
    total: Counter = field(default_factory=Counter)
    correct: Counter = field(default_factory=Counter)
    confusion: Counter = field(default_factory=Counter)

    def accuracy(self, label: str) -> float:
        """Share (0..1) of ``label`` examples predicted as ``label``."""
        return self.correct[label] / self.total[label] if self.total[label] else float("nan")

    def merged_accuracy(self, labels: Sequence[str] = MERGED) -> float:
        """Accuracy when any of ``labels`` counts as right for any of them."""
        total = sum(self.total[g] for g in labels)
        hits = sum(self.confusion[(g, p)] for g in labels for p in labels)
        return hits / total if total else float("nan")

    def overall(self) -> float:
        """Micro-averaged accuracy over all examples."""
        total = sum(self.total.values())
        return sum(self.correct.values()) / total if total else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form: accuracies and the confusion as nested dicts."""
        nested: dict[str, dict[str, int]] = defaultdict(dict)
        for (gold, predicted), n in sorted(self.confusion.items()):
            nested[gold][predicted] = n
        return {
            "name": self.name,
            "overall": round(self.overall(), 4),
            "accuracy": {label: round(self.accuracy(label), 4) for label in sorted(self.total)},
            "fa+prs": round(self.merged_accuracy(), 4),
            "confusion": dict(nested),
        }


def evaluate(detector: LanguageDetector, examples: Iterable[Example], name: str) -> Evaluation:
    """Runs the detector on labelled examples.

    Args:
        detector: a loaded model.
        examples: texts with their gold labels.
        name: label for the printed table.

    Returns:
        The filled :class:`Evaluation`.
    """
    result = Evaluation(name)
    for example in examples:
        predicted, _ = detector.detect(example.text)
        result.total[example.label] += 1
        result.confusion[(example.label, predicted)] += 1
        if predicted == example.label:
            result.correct[example.label] += 1
    return result


def truncate(example: Example, size: int) -> Example:
    """The sentence cut to its first ``size`` words (after normalisation)."""
    words = normalise(example.text).split()
    return Example(" ".join(words[:size]), example.label, example.source)


def short_prefixes(examples: Iterable[Example]) -> list[Example]:
    """Each sentence cut to 1 or 2 words (half each, chosen by a hash of the sentence)."""
    return [truncate(e, 1 + stable_hash(f"short:{e.text}") % 2) for e in examples]


def time_detect(detector: LanguageDetector, texts: Sequence[str], repeat: int = 3) -> float:
    """Mean wall-clock microseconds per ``detect()`` call (best of ``repeat`` passes)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            detector.detect(text)
        best = min(best, time.perf_counter() - started)
    return best / max(len(texts), 1) * 1e6


def run(model_path: Path, root: Path = REPO_ROOT, dataset: Dataset | None = None) -> dict[str, Any]:
    """All evaluations plus timing, as one JSON-friendly dict.

    Args:
        model_path: the ``lid.bin`` to evaluate.
        root: repository root (for the held-out data).
        dataset: an already built :class:`Dataset` (saves ~2 s in tests).

    Returns:
        ``{"model": ..., "evaluations": [Evaluation.as_dict(), ...],
        "microseconds_per_detect": {"full": ..., "short": ...}, "ti_am": {...}}``.

    Raises:
        FileNotFoundError: the model file is missing.
    """
    detector = LanguageDetector.load(model_path)
    data = dataset if dataset is not None else build_dataset(root)
    held = data.held_out_flores
    evaluations = [
        evaluate(detector, held, "full"),
        evaluate(detector, [truncate(e, 3) for e in held], "3 words"),
        evaluate(detector, short_prefixes(held), "1-2 words"),
    ]
    if data.held_out_nlu:
        evaluations.append(evaluate(detector, data.held_out_nlu, "nlu examples"))
    full = evaluations[0]
    ti_am = {
        ev.name: {
            "ti→am": ev.confusion[("ti", "am")],
            "am→ti": ev.confusion[("am", "ti")],
            "ti": ev.total["ti"],
            "am": ev.total["am"],
        }
        for ev in evaluations
    }
    texts = [e.text for e in held]
    short = [e.text for e in short_prefixes(held)]
    return {
        "model": str(model_path),
        "held_out_sentences": len(held),
        "evaluations": [ev.as_dict() for ev in evaluations],
        "ti_am": ti_am,
        "microseconds_per_detect": {
            "full": round(time_detect(detector, texts), 1),
            "short": round(time_detect(detector, short), 1),
        },
        "und": full.confusion[(UNDETERMINED, UNDETERMINED)],
    }


def format_report(result: dict[str, Any]) -> str:
    """Human-readable tables: accuracy per language per evaluation, confusions, speed."""
    evaluations = result["evaluations"]
    labels = [label for label in LANGUAGES if any(label in ev["accuracy"] for ev in evaluations)]
    labels += sorted({label for ev in evaluations for label in ev["accuracy"]} - set(labels))
    names = [ev["name"] for ev in evaluations]
    lines = [f"LID model {result['model']} — held-out FLORES sentences: {result['held_out_sentences']}", ""]
    lines.append("accuracy  " + "".join(f"{n:>14}" for n in names))
    for label in labels:
        cells = []
        for ev in evaluations:
            acc = ev["accuracy"].get(label)
            cells.append(f"{acc * 100:13.1f}%" if acc is not None else f"{'-':>14}")
        lines.append(f"{label:<10}" + "".join(cells))
    lines.append(f"{'fa+prs':<10}" + "".join(f"{ev['fa+prs'] * 100:13.1f}%" for ev in evaluations))
    lines.append(f"{'all':<10}" + "".join(f"{ev['overall'] * 100:13.1f}%" for ev in evaluations))
    lines.append("")
    lines.append("Tigrinya ↔ Amharic: " + "; ".join(
        f"{name}: ti→am {v['ti→am']}/{v['ti']}, am→ti {v['am→ti']}/{v['am']}" for name, v in result["ti_am"].items()
    ))
    lines.append("")
    for ev in evaluations:
        lines.append(f"confusions ({ev['name']}), gold → predicted: count")
        pairs = [
            (gold, predicted, n)
            for gold, row in ev["confusion"].items()
            for predicted, n in row.items()
            if gold != predicted
        ]
        pairs.sort(key=lambda item: -item[2])
        lines.append("  " + (", ".join(f"{g}→{p}: {n}" for g, p, n in pairs[:15]) or "none"))
    lines.append("")
    speed = result["microseconds_per_detect"]
    lines.append(f"speed: {speed['full']} µs per detect() on full sentences, {speed['short']} µs on 1-2 words")
    return "\n".join(lines)


def confusion_matrix(evaluation: dict[str, Any], labels: Sequence[str] | None = None) -> str:
    """The full confusion matrix of one evaluation as a text table (rows: gold)."""
    confusion = evaluation["confusion"]
    labels = list(labels or _ordered(confusion))
    predicted = labels + _ordered({p for row in confusion.values() for p in row} - set(labels))
    lines = ["gold\\pred " + "".join(f"{p:>6}" for p in predicted)]
    for gold in labels:
        row = confusion.get(gold, {})
        lines.append(f"{gold:<10}" + "".join(f"{row.get(p, 0):>6}" for p in predicted))
    return "\n".join(lines)


def _ordered(codes: Iterable[str]) -> list[str]:
    """Codes in design.md order (:data:`LANGUAGES`), unknown ones after, sorted."""
    codes = set(codes)
    return [c for c in LANGUAGES if c in codes] + sorted(codes - set(LANGUAGES))


def main(model_path: Path | None = None) -> None:
    """Prints the report for ``model_path`` (default: the CLI's model path)."""
    from wegwijs.lid import default_model_path

    result = run(model_path or default_model_path())
    print(format_report(result))
    print()
    print(f"confusion matrix ({result['evaluations'][2]['name']}):")
    print(confusion_matrix(result["evaluations"][2]))


if __name__ == "__main__":  # pragma: no cover
    main()
