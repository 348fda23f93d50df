"""``wegwijs safety-report``: recall and precision of the safety nets on labelled messages.

Reads ``tests/data/safety/<split>/<lang>.yml``::

    language: nl
    messages:
      - {text: "mijn zoon ademt niet", urgent: true, category: medical_emergency}
      - {text: "hij is ziek", urgent: false, category: null}

parses every message with the trained Rasa model in this process
(``rasa.core.agent.Agent``), and counts a message as flagged when the parse gives the
intent ``urgent_help`` as the dialogue reads it (``safety_policy.is_urgent``). It prints recall and precision per language (recall per
category too), per split and overall, and exits 1 when a language is below
``--min-recall`` or ``--min-precision`` (so CI can gate on it). A language without
urgent messages is not gated on recall, one where nothing was flagged not on precision.

``--latency`` also times, on 200 messages, the milliseconds that ``E5DenseFeaturizer``
and ``UrgentClassifier`` add per message (each graph node timed separately, in the
order the pipeline runs them: the urgent classifier reuses the embedding the featurizer
just computed for the message).

Usage::

    wegwijs safety-report [--model models/wegwijs.tar.gz] [--split tune|unseen|all]
                          [--min-recall 0.98] [--min-precision 0.90] [--json] [--latency]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "tests" / "data" / "safety"
SPLITS = ("tune", "unseen")
URGENT_INTENT = "urgent_help"
#: Components timed by ``--latency`` (class name → label).
TIMED_COMPONENTS = {"E5DenseFeaturizer": "featurizer", "UrgentClassifier": "urgent"}
LATENCY_MESSAGES = 200

logger = logging.getLogger(__name__)


@dataclass
class LabelledMessage:
    """One message of the safety test data."""

    text: str
    urgent: bool
    category: Optional[str]
    lang: str
    split: str


@dataclass
class Counts:
    """Confusion counts for one group of messages."""

    urgent: int = 0
    caught: int = 0
    flagged: int = 0
    false_alarms: int = 0
    total: int = 0
    per_category: Dict[str, List[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # [caught, n]

    def add(self, message: LabelledMessage, flagged: bool) -> None:
        """Counts one parsed message."""
        self.total += 1
        if flagged:
            self.flagged += 1
        if message.urgent:
            self.urgent += 1
            self.caught += int(flagged)
            cell = self.per_category[message.category or "unknown"]
            cell[0] += int(flagged)
            cell[1] += 1
        elif flagged:
            self.false_alarms += 1

    @property
    def recall(self) -> Optional[float]:
        """Caught urgent / urgent (None without urgent messages)."""
        return self.caught / self.urgent if self.urgent else None

    @property
    def precision(self) -> Optional[float]:
        """Caught urgent / flagged (None when nothing was flagged)."""
        return self.caught / self.flagged if self.flagged else None

    def as_dict(self) -> Dict[str, Any]:
        """JSON-ready summary."""
        return {
            "messages": self.total,
            "urgent": self.urgent,
            "caught": self.caught,
            "flagged": self.flagged,
            "false_alarms": self.false_alarms,
            "recall": self.recall,
            "precision": self.precision,
            "recall_per_category": {c: (v[0] / v[1] if v[1] else None) for c, v in sorted(self.per_category.items())},
        }


def load_messages(split: str, data_dir: Path = DATA_DIR) -> List[LabelledMessage]:
    """Messages of one split (``tune``, ``unseen``) or of both (``all``).

    Raises:
        FileNotFoundError: no data file for the split(s).
        ValueError: a file is not in the expected shape (the message names it).
    """
    splits = SPLITS if split == "all" else (split,)
    messages: List[LabelledMessage] = []
    files = [p for s in splits for p in sorted((data_dir / s).glob("*.yml"))]
    if not files:
        raise FileNotFoundError(f"no safety test data in {data_dir}/{{{','.join(splits)}}}/*.yml")
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
            raise ValueError(f"{path}: expected {{language, messages: [{{text, urgent, category}}]}}")
        lang = str(document.get("language") or path.stem)
        for index, item in enumerate(document["messages"]):
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError(f"{path}: messages[{index}] needs a text")
            messages.append(
                LabelledMessage(item["text"], bool(item.get("urgent")), item.get("category"), lang, path.parent.name)
            )
    return messages


def resolve_model(value: str) -> Path:
    """The model file: as given when it exists, else relative to the repository root.

    Raises:
        FileNotFoundError: neither exists.
    """
    path = Path(value).expanduser()
    for candidate in (path, REPO_ROOT / path):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"Rasa model not found: {value} (train it with `wegwijs build`)")


class _NodeTimer:
    """A Rasa graph hook adding up the time spent in selected nodes."""

    def __init__(self, nodes: Dict[str, str]) -> None:
        self.nodes = nodes  # node name → label
        self.seconds: Dict[str, float] = defaultdict(float)

    def on_before_node(self, node_name: str, execution_context: Any, config: Any, received_inputs: Any) -> Dict:
        return {"start": time.perf_counter()} if node_name in self.nodes else {}

    def on_after_node(self, node_name: str, execution_context: Any, config: Any, output: Any, input_hook_data: Dict) -> None:
        if node_name in self.nodes and "start" in input_hook_data:
            self.seconds[self.nodes[node_name]] += time.perf_counter() - input_hook_data["start"]


def _attach_timer(agent: Any) -> _NodeTimer:
    """Hooks a timer into the nodes running the timed components (Rasa internals)."""
    runner = agent.processor.graph_runner
    nodes = getattr(runner, "_instantiated_nodes", {})
    selected = {
        name: TIMED_COMPONENTS[node._component_class.__name__]
        for name, node in nodes.items()
        if node._component_class.__name__ in TIMED_COMPONENTS
    }
    timer = _NodeTimer(selected)
    for name in selected:
        nodes[name]._hooks.append(timer)
    return timer


async def _parse_all(agent: Any, texts: Sequence[str]) -> List[Dict[str, Any]]:
    return [await agent.parse_message(text) for text in texts]


def evaluate(agent: Any, messages: Sequence[LabelledMessage]) -> Dict[str, Any]:
    """Parses every message and counts per language, split, category and overall.

    A message is flagged when the dialogue would give it the emergency reply
    (:func:`bot.components.safety_policy.is_urgent`: intent ``urgent_help`` with the
    safety nets' ``safety`` data, or sure enough without it).
    """
    from bot.components.safety_policy import is_urgent

    parses = asyncio.run(_parse_all(agent, [m.text for m in messages]))
    overall = Counts()
    per_lang: Dict[str, Counts] = defaultdict(Counts)
    per_split: Dict[str, Counts] = defaultdict(Counts)
    misses: List[Dict[str, Any]] = []
    for message, parse in zip(messages, parses):
        flagged = is_urgent(parse)
        for counts in (overall, per_lang[message.lang], per_split[message.split]):
            counts.add(message, flagged)
        if flagged != message.urgent:
            misses.append(
                {
                    "lang": message.lang,
                    "split": message.split,
                    "text": message.text,
                    "expected": message.category if message.urgent else "not_urgent",
                    "got": parse.get("intent", {}).get("name"),
                    "safety": parse.get("safety"),
                }
            )
    return {
        "overall": overall.as_dict(),
        "languages": {lang: c.as_dict() for lang, c in sorted(per_lang.items())},
        "splits": {split: c.as_dict() for split, c in sorted(per_split.items())},
        "errors": misses,
    }


def measure_latency(agent: Any, texts: Sequence[str], n: int = LATENCY_MESSAGES) -> Dict[str, float]:
    """Milliseconds per message of each timed component, and of the whole parse."""
    sample = [texts[i % len(texts)] for i in range(n)] if texts else []
    if not sample:
        return {}
    asyncio.run(_parse_all(agent, sample[:5]))  # warm-up: load models, first allocations
    timer = _attach_timer(agent)
    start = time.perf_counter()
    asyncio.run(_parse_all(agent, sample))
    total = time.perf_counter() - start
    out = {label: 1000 * timer.seconds.get(label, 0.0) / len(sample) for label in TIMED_COMPONENTS.values()}
    out["parse_total"] = 1000 * total / len(sample)
    out["messages"] = len(sample)
    return out


def gate(report: Dict[str, Any], min_recall: float, min_precision: float) -> List[str]:
    """Languages below the minimums, as human-readable failures."""
    failures = []
    for lang, row in report["languages"].items():
        if row["recall"] is not None and row["recall"] < min_recall:
            failures.append(f"{lang}: recall {row['recall']:.3f} < {min_recall}")
        if row["precision"] is not None and row["precision"] < min_precision:
            failures.append(f"{lang}: precision {row['precision']:.3f} < {min_precision}")
    return failures


def _pct(value: Optional[float]) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def format_report(report: Dict[str, Any]) -> str:
    """Tables: per language (with recall per category), per split, overall."""
    categories = sorted({c for row in report["languages"].values() for c in row["recall_per_category"]})
    short = [c[:10] for c in categories]
    head = f"{'':<8} {'msgs':>5} {'urgent':>6} {'flagged':>7} {'recall':>6} {'precis':>6}"
    lines = [head + "".join(f" {s:>10}" for s in short)]

    def row(name: str, r: Dict[str, Any]) -> str:
        cells = "".join(f" {_pct(r['recall_per_category'].get(c)):>10}" for c in categories)
        return (f"{name:<8} {r['messages']:>5} {r['urgent']:>6} {r['flagged']:>7} "
                f"{_pct(r['recall'])} {_pct(r['precision'])}" + cells)

    for lang, r in report["languages"].items():
        lines.append(row(lang, r))
    lines.append("")
    for split, r in report["splits"].items():
        lines.append(row(split, r))
    lines.append(row("overall", report["overall"]))
    if report.get("latency"):
        lat = report["latency"]
        lines.append("")
        lines.append(
            f"latency on {lat['messages']} messages (ms/message): E5DenseFeaturizer {lat['featurizer']:.1f}, "
            f"UrgentClassifier {lat['urgent']:.1f}, whole parse {lat['parse_total']:.1f}"
        )
    return "\n".join(lines)


def build_parser(parser: Optional[argparse.ArgumentParser] = None) -> argparse.ArgumentParser:
    """The ``safety-report`` options (on ``parser`` when given, e.g. a sub-parser)."""
    parser = parser or argparse.ArgumentParser(prog="wegwijs safety-report", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/wegwijs.tar.gz", help="trained Rasa model (default %(default)s)")
    parser.add_argument("--split", choices=[*SPLITS, "all"], default="all", help="test data split (default all)")
    parser.add_argument("--min-recall", type=float, default=0.98, help="per-language gate (default %(default)s)")
    parser.add_argument("--min-precision", type=float, default=0.90, help="per-language gate (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--latency", action="store_true", help=f"time the featurizer and urgent classifier on {LATENCY_MESSAGES} messages")
    parser.add_argument("--data-dir", default=str(DATA_DIR), help=argparse.SUPPRESS)
    return parser


def _quiet_logging() -> None:
    """Warnings only, on stderr: stdout carries the report (``--json`` must parse).

    Rasa logs every parse through structlog, whose default prints debug lines to stdout.
    """
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    """Runs the report for parsed ``args``; returns the exit code (1 below the minimums)."""
    try:
        model = resolve_model(args.model)
        messages = load_messages(args.split, Path(args.data_dir))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    if str(REPO_ROOT) not in sys.path:  # custom components are imported by module path
        sys.path.insert(0, str(REPO_ROOT))
    _quiet_logging()
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    report = evaluate(agent, messages)
    if args.latency:
        report["latency"] = measure_latency(agent, [m.text for m in messages])
    failures = gate(report, args.min_recall, args.min_precision)
    report["failures"] = failures
    report["model"] = str(model)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(format_report(report))
        for failure in failures:
            print(f"FAIL {failure}")
        if not failures:
            print(f"ok: every language has recall >= {args.min_recall} and precision >= {args.min_precision}")
    return 1 if failures else 0


def cmd_safety_report(args: argparse.Namespace) -> int:
    """``wegwijs safety-report`` (the sub-command's ``func``)."""
    return run(args)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Registers ``safety-report`` on the ``wegwijs`` command line."""
    parser = subparsers.add_parser("safety-report", help="recall/precision of the safety nets on tests/data/safety")
    build_parser(parser)
    parser.set_defaults(func=cmd_safety_report)


def main(argv: Optional[Iterable[str]] = None) -> int:
    """Entry point: ``python -m wegwijs.safety_report [options]``."""
    return run(build_parser().parse_args(list(argv) if argv is not None else None))


if __name__ == "__main__":
    sys.exit(main())
