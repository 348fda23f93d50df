"""How well the LID model does on held-out text, and how fast it is.

Evaluations, all on text the model was never trained on:

* ``full``: held-out FLORES-200 sentences (~20 words);
* ``3 words``: each held-out sentence cut to its first 3 words;
* ``3-6 words``: one window of 3 to 6 words from each held-out sentence (size and
  position chosen by a hash of the sentence);
* ``noisy 3-6``: such windows with chat noise (typos, no diacritics, keyboard
  variants, Dutch words; :func:`wegwijs.lid.augment.chat_noise` with a seed the
  training does not use);
* ``+dutch``: 3-6 word windows with one or two Dutch words inserted (every language
  but Dutch);
* ``1-2 words``: half the sentences cut to 1 word, the other half to 2 words;
* ``chat``: the held-out project NLU examples (``nlu_data``; written as parents chat),
  and ``chat 3+``: those with at least 3 words;
* ``3+ words``: ``3 words``, ``3-6 words``, ``noisy 3-6``, ``+dutch`` and ``chat 3+``
  together: the chat-length figure the targets (≥ 97 % per language) are about.

Words are counted after :func:`~wegwijs.lid.detector.normalise` (digits and
punctuation removed), so runs are repeatable.

Persian (``fa``) and Dari (``prs``) are close; the report gives them separately and
merged. Tigrinya ↔ Amharic (same Ge'ez script) confusion is listed explicitly. The
hand-written samples of :mod:`wegwijs.lid.samples` check the Arabizi, mixed-script and
Dari/Persian rules; Arabizi false positives are also counted on all held-out
Latin-script text.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from wegwijs.lid import LANGUAGES, REPO_ROOT, SCRIPTS, UNDETERMINED, augment, samples
from wegwijs.lid.data import Dataset, Example, build_dataset, stable_hash
from wegwijs.lid.detector import LanguageDetector, normalise

#: Languages merged in the "fa+prs" line.
MERGED = ("fa", "prs")
#: Evaluations pooled into "3+ words".
THREE_PLUS = ("3 words", "3-6 words", "noisy 3-6", "+dutch", "chat 3+")
#: Seed of the report's noisy held-out text (training uses ``data.NOISE_SEED``).
REPORT_NOISE_SEED = 90125


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
            "fa+prs": _rounded(self.merged_accuracy()),
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


def chat_windows(examples: Iterable[Example], low: int = 3, high: int = 6) -> list[Example]:
    """One window of ``low``..``high`` words per sentence (size and position by hash)."""
    out = []
    for e in examples:
        words = normalise(e.text).split()
        size = low + stable_hash(f"size:{e.text}") % (high - low + 1)
        if len(words) <= size:
            out.append(Example(" ".join(words), e.label, e.source))
            continue
        start = stable_hash(f"start:{e.text}") % (len(words) - size + 1)
        out.append(Example(" ".join(words[start : start + size]), e.label, e.source))
    return out


def noisy(examples: Iterable[Example]) -> list[Example]:
    """:func:`chat_windows` with chat noise (seed :data:`REPORT_NOISE_SEED`)."""
    out = []
    for e in chat_windows(examples):
        rng = random.Random(REPORT_NOISE_SEED ^ stable_hash(f"{e.label}:{e.text}"))
        out.append(Example(augment.chat_noise(e.text, e.label, rng, dutch=0.5), e.label, e.source))
    return out


def with_dutch(examples: Iterable[Example]) -> list[Example]:
    """:func:`chat_windows` with one or two Dutch words inserted (Dutch itself left out)."""
    out = []
    for e in chat_windows(examples):
        if e.label == "nl":
            continue
        rng = random.Random(REPORT_NOISE_SEED ^ stable_hash(f"dutch:{e.label}:{e.text}"))
        count = 1 if len(e.text.split()) < 5 else 2
        out.append(Example(augment.insert_dutch(e.text, rng, count), e.label, e.source))
    return out


def time_detect(detector: LanguageDetector, texts: Sequence[str], repeat: int = 3) -> float:
    """Mean wall-clock microseconds per ``detect()`` call (best of ``repeat`` passes)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            detector.detect(text)
        best = min(best, time.perf_counter() - started)
    return best / max(len(texts), 1) * 1e6


def evaluation_sets(data: Dataset) -> dict[str, list[Example]]:
    """The held-out evaluation sets by name (see the module docstring)."""
    held = data.held_out_flores
    sets = {
        "full": list(held),
        "3 words": [truncate(e, 3) for e in held],
        "3-6 words": chat_windows(held),
        "noisy 3-6": noisy(held),
        "+dutch": with_dutch(held),
        "1-2 words": short_prefixes(held),
    }
    if data.held_out_nlu:
        sets["chat"] = list(data.held_out_nlu)
        sets["chat 3+"] = [e for e in data.held_out_nlu if len(normalise(e.text).split()) >= 3]
    sets["3+ words"] = [e for name in THREE_PLUS for e in sets.get(name, [])]
    return sets


def _sample_check(detector: LanguageDetector, items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    wrong = []
    total = 0
    for text, expected in items:
        total += 1
        got = detector.detect(text)[0]
        if got != expected:
            wrong.append({"text": text, "expected": expected, "got": got})
    return {"total": total, "correct": total - len(wrong), "wrong": wrong}


def rule_checks(detector: LanguageDetector, sets: dict[str, list[Example]]) -> dict[str, Any]:
    """Arabizi recall and false positives, mixed-script and Dari/Persian samples."""
    arabizi = _sample_check(detector, [(t, "ar") for t in samples.ARABIZI])
    negatives = _sample_check(detector, samples.LATIN_NOT_ARABIZI)
    latin = [
        e
        for name in ("3 words", "3-6 words", "noisy 3-6", "1-2 words", "chat")
        for e in sets.get(name, [])
        if SCRIPTS.get(e.label) == "Latn"
    ]
    false_ar = [e.text for e in latin if detector.detect(e.text)[0] == "ar"]
    return {
        "arabizi": arabizi,
        "not_arabizi_samples": negatives,
        "arabizi_false_positives": {
            "total": len(latin),
            "ar": len(false_ar),
            "examples": false_ar[:10],
        },
        "mixed_script": _sample_check(detector, samples.MIXED_SCRIPT),
        "dari_persian": _sample_check(detector, samples.DARI_PERSIAN),
    }


def run(model_path: Path, root: Path = REPO_ROOT, dataset: Dataset | None = None) -> dict[str, Any]:
    """All evaluations plus timing, as one JSON-friendly dict.

    Args:
        model_path: the ``lid.bin`` to evaluate.
        root: repository root (for the held-out data).
        dataset: an already built :class:`Dataset` (saves time in tests).

    Returns:
        ``{"model": ..., "evaluations": [Evaluation.as_dict(), ...],
        "ti_am": {...}, "fa_prs": {...}, "rules": {...},
        "microseconds_per_detect": {"full": ..., "short": ...}}``.

    Raises:
        FileNotFoundError: the model file is missing.
    """
    detector = LanguageDetector.load(model_path)
    data = dataset if dataset is not None else build_dataset(root)
    held = data.held_out_flores
    sets = evaluation_sets(data)
    evaluations = [evaluate(detector, examples, name) for name, examples in sets.items()]
    ti_am = {}
    fa_prs = {}
    for ev in evaluations:
        ti_am[ev.name] = {
            "ti→am": ev.confusion[("ti", "am")],
            "am→ti": ev.confusion[("am", "ti")],
            "ti": ev.total["ti"],
            "am": ev.total["am"],
        }
        fa_prs[ev.name] = {
            "fa": _rounded(ev.accuracy("fa")),
            "prs": _rounded(ev.accuracy("prs")),
            "fa+prs": _rounded(ev.merged_accuracy()),
            "fa→prs": ev.confusion[("fa", "prs")],
            "prs→fa": ev.confusion[("prs", "fa")],
        }
    full = evaluations[0]
    texts = [e.text for e in held]
    short = [e.text for e in short_prefixes(held)]
    meta = _metadata(model_path)
    return {
        "model": str(model_path),
        "model_size_bytes": model_path.stat().st_size,
        "build_seconds": meta.get("seconds"),
        "train_lines": meta.get("train_lines"),
        "held_out_sentences": len(held),
        "held_out_nlu": len(data.held_out_nlu),
        "evaluations": [ev.as_dict() for ev in evaluations],
        "ti_am": ti_am,
        "fa_prs": fa_prs,
        "rules": rule_checks(detector, sets),
        "microseconds_per_detect": {
            "full": round(time_detect(detector, texts), 1),
            "short": round(time_detect(detector, short), 1),
        },
        "und": full.confusion[(UNDETERMINED, UNDETERMINED)],
    }


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def _metadata(model_path: Path) -> dict[str, Any]:
    meta = model_path.with_suffix(".json")
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _percent(numerator: int, denominator: int) -> str:
    return f"{numerator}/{denominator} ({numerator / denominator * 100:.1f} %)" if denominator else "-"


def format_report(result: dict[str, Any]) -> str:
    """Human-readable tables: accuracy per language per evaluation, confusions, rules, speed."""
    evaluations = result["evaluations"]
    labels = [label for label in LANGUAGES if any(label in ev["accuracy"] for ev in evaluations)]
    labels += sorted({label for ev in evaluations for label in ev["accuracy"]} - set(labels))
    names = [ev["name"] for ev in evaluations]
    size = result.get("model_size_bytes")
    lines = [
        f"LID model {result['model']}"
        + (f" ({size / 1e6:.1f} MB" if size else "")
        + (f", built in {result['build_seconds']} s" if result.get("build_seconds") is not None else "")
        + (")" if size else ""),
        f"held-out: {result['held_out_sentences']} FLORES sentences, {result.get('held_out_nlu', 0)} NLU examples"
        " (never trained on)",
        "",
    ]
    width = max(11, max(len(n) for n in names) + 2)
    lines.append("accuracy  " + "".join(f"{n:>{width}}" for n in names))
    for label in labels:
        cells = []
        for ev in evaluations:
            acc = ev["accuracy"].get(label)
            cells.append(f"{acc * 100:{width - 1}.1f}%" if acc is not None and acc == acc else f"{'-':>{width}}")
        lines.append(f"{label:<10}" + "".join(cells))
    cells = []
    for ev in evaluations:
        value = ev["fa+prs"]
        cells.append(f"{value * 100:{width - 1}.1f}%" if value is not None else f"{'-':>{width}}")
    lines.append(f"{'fa+prs':<10}" + "".join(cells))
    lines.append(f"{'all':<10}" + "".join(f"{ev['overall'] * 100:{width - 1}.1f}%" for ev in evaluations))
    lines.append("")
    lines.append("Tigrinya ↔ Amharic:")
    for name, v in result["ti_am"].items():
        lines.append(f"  {name:<10} ti→am {_percent(v['ti→am'], v['ti'])}, am→ti {_percent(v['am→ti'], v['am'])}")
    lines.append("Persian (fa) / Dari (prs):")
    for name, v in result.get("fa_prs", {}).items():
        if v["fa+prs"] is None:
            continue
        fa = "-" if v["fa"] is None else f"{v['fa'] * 100:.1f} %"
        prs = "-" if v["prs"] is None else f"{v['prs'] * 100:.1f} %"
        lines.append(
            f"  {name:<10} fa {fa}, prs {prs}, merged {v['fa+prs'] * 100:.1f} %"
            f" (fa→prs {v['fa→prs']}, prs→fa {v['prs→fa']})"
        )
    lines.append("")
    rules = result.get("rules")
    if rules:
        fp = rules["arabizi_false_positives"]
        lines.append(
            f"Arabizi samples recognised as ar: {rules['arabizi']['correct']}/{rules['arabizi']['total']}; "
            f"Latin-script samples not taken for ar: "
            f"{rules['not_arabizi_samples']['correct']}/{rules['not_arabizi_samples']['total']}; "
            f"held-out Latin-script text taken for ar: {_percent(fp['ar'], fp['total'])}"
        )
        lines.append(
            f"mixed-script samples right: {rules['mixed_script']['correct']}/{rules['mixed_script']['total']}; "
            f"Dari/Persian samples right: {rules['dari_persian']['correct']}/{rules['dari_persian']['total']}"
        )
        for key in ("arabizi", "not_arabizi_samples", "mixed_script", "dari_persian"):
            for wrong in rules[key]["wrong"]:
                lines.append(f"  wrong ({key}): {wrong['text']!r} → {wrong['got']} (expected {wrong['expected']})")
        for text in fp["examples"]:
            lines.append(f"  false Arabizi: {text!r}")
        lines.append("")
    for ev in evaluations:
        if ev["name"] == "3+ words":
            continue
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
