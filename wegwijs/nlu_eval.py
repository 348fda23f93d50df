"""``wegwijs nlu-eval``: intent F1 per language and per intent on a held-out split.

1. Every supported language's NLU examples are split per intent, deterministically
   (sha1 of the text), into 80 % train and 20 % held out.
2. One NLU model is trained on all languages' train parts (``rasa train nlu``, the
   project's config.yml), as in production.
3. ``rasa test nlu`` runs on each language's held-out part, writing Rasa's own
   reports and plots (intent_report.json, intent_confusion_matrix.png,
   intent_histogram.png) to ``results/nlu-eval/<lang>/``.
4. A table of accuracy and macro/weighted F1 per language is printed, then F1 per
   intent and language.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from wegwijs.build import rasa_bin, rasa_env
from wegwijs.content.loader import REPO_ROOT, load_registry

RESULTS = REPO_ROOT / "results" / "nlu-eval"
#: Share of examples held out per intent, in percent.
HELD_OUT_PERCENT = 20


def _held_out(text: str) -> bool:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 100 < HELD_OUT_PERCENT


def split_language(lang: str, nlu_dir: Path = REPO_ROOT / "nlu_data") -> tuple[dict, dict]:
    """``(train, test)`` Rasa NLU documents for one language (every intent keeps ≥ 1 train example)."""
    train: dict[str, list[str]] = {}
    test: dict[str, list[str]] = {}
    for path in sorted((nlu_dir / lang).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu", []) or []:
            if "intent" not in item:
                continue
            examples = [l.strip()[2:].strip() for l in str(item.get("examples") or "").splitlines() if l.strip().startswith("- ")]
            for ex in examples:
                (test if _held_out(ex) else train).setdefault(item["intent"], []).append(ex)
    for intent, exs in list(test.items()):
        if not train.get(intent):
            train[intent] = [exs.pop()]
    def doc(d: dict[str, list[str]]) -> dict:
        return {"version": "3.1", "nlu": [{"intent": i, "examples": "".join(f"- {e}\n" for e in exs)} for i, exs in d.items() if exs]}
    return doc(train), doc(test)


def run(out: Path = RESULTS, langs: list[str] | None = None, config: str = "config.yml") -> list[dict]:
    """Train on the train parts and test each language; return one summary row per language.

    Raises:
        subprocess.CalledProcessError: Rasa training or testing failed.
    """
    langs = langs or load_registry().supported
    if out.exists():
        shutil.rmtree(out)
    (out / "data" / "train").mkdir(parents=True)
    (out / "data" / "test").mkdir(parents=True)
    all_langs = load_registry().supported
    for lang in all_langs:  # train on every supported language, as in production
        train, test = split_language(lang)
        (out / "data" / "train" / f"{lang}.yml").write_text(yaml.safe_dump(train, allow_unicode=True), encoding="utf-8")
        (out / "data" / "test" / f"{lang}.yml").write_text(yaml.safe_dump(test, allow_unicode=True), encoding="utf-8")
    t0 = time.monotonic()
    subprocess.run(
        [rasa_bin(), "train", "nlu", "--config", config, "--nlu", str(out / "data" / "train"),
         "--out", str(out / "model"), "--fixed-model-name", "nlu-eval"],
        cwd=REPO_ROOT, env=rasa_env(), check=True, stdout=subprocess.DEVNULL,
    )
    print(f"trained the evaluation model in {time.monotonic() - t0:.0f} s")
    rows = []
    for lang in langs:
        subprocess.run(
            [rasa_bin(), "test", "nlu", "--model", str(out / "model" / "nlu-eval.tar.gz"),
             "--nlu", str(out / "data" / "test" / f"{lang}.yml"), "--out", str(out / lang)],
            cwd=REPO_ROOT, env=rasa_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        report = json.loads((out / lang / "intent_report.json").read_text(encoding="utf-8"))
        per_intent = {k: v["f1-score"] for k, v in report.items() if isinstance(v, dict) and "f1-score" in v
                      and k not in ("macro avg", "weighted avg", "micro avg")}
        rows.append({
            "lang": lang,
            "examples": int(report.get("weighted avg", {}).get("support", 0)),
            "accuracy": report.get("accuracy", report.get("micro avg", {}).get("f1-score", 0.0)),
            "macro_f1": report["macro avg"]["f1-score"],
            "weighted_f1": report["weighted avg"]["f1-score"],
            "per_intent": per_intent,
        })
    return rows


def format_rows(rows: list[dict]) -> str:
    """Per-language table, then per-intent F1 with one column per language."""
    lines = [f"{'lang':<5} {'held-out':>8} {'accuracy':>9} {'macro F1':>9} {'weighted F1':>12}"]
    for r in rows:
        lines.append(f"{r['lang']:<5} {r['examples']:>8} {r['accuracy']:>9.3f} {r['macro_f1']:>9.3f} {r['weighted_f1']:>12.3f}")
    intents = sorted({i for r in rows for i in r["per_intent"]})
    lines.append("")
    lines.append(f"{'intent F1':<28}" + "".join(f"{r['lang']:>7}" for r in rows))
    for i in intents:
        lines.append(f"{i:<28}" + "".join(
            f"{r['per_intent'][i]:>7.2f}" if i in r["per_intent"] else f"{'-':>7}" for r in rows))
    lines.append(f"\nplots and reports: {RESULTS}/<lang>/ (intent_confusion_matrix.png, intent_histogram.png, intent_report.json)")
    return "\n".join(lines)
