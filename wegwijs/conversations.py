"""Whole conversations, measured: ``wegwijs eval-conversations`` (issue 6).

Runs the scenarios of ``tests/conversations/<split>/<lang>/*.yml`` (format:
``tests/conversations/FORMAT.md``) against a running Wegwijs over
``POST /webhooks/rest/webhook``, reads each conversation back from Rasa's tracker
(``GET /conversations/<id>/tracker``: slots, and the response names of the bot's
messages) and the stored referrals from the database, and counts the expected facts
that were met, per scenario and per language.

Counted facts: every ``expect`` key of every turn, every key of ``expect_referral`` (or
``expect_no_referral``), plus two checked in every scenario: every reply is non-empty,
and no question is asked again after it was answered.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from wegwijs.content.loader import REPO_ROOT

SCENARIOS_DIR = REPO_ROOT / "tests" / "conversations"

#: question id → the responses that ask it
QUESTIONS: dict[str, set[str]] = {
    "language": {"utter_ask_language_ok", "utter_language_choice_short", "utter_ask_language_choice"},
    "consent": {"utter_ask_consent", "utter_ask_consent_plain"},
    "children_ages": {"utter_ask_children_ages"},
    "municipality": {"utter_ask_municipality"},
    "person_type": {"utter_ask_person_type"},
    "handoff_consent": {"utter_ask_handoff_consent"},
    "contact_channel": {"utter_ask_contact_channel"},
    "contact_times": {"utter_ask_contact_times"},
    "contact_gender": {"utter_ask_contact_gender"},
    "contact_setting": {"utter_ask_contact_setting"},
    "interpreter": {"utter_ask_interpreter"},
    "delete_confirm": {"utter_ask_delete_confirm", "utter_ask_delete_confirm_referral"},
}
#: question id → the slot that holds its answer (no re-asking once it is set)
ANSWER_SLOT = {q: q for q in QUESTIONS if q not in ("language", "delete_confirm")}
OFFERS_PERSON = {"utter_ask_want_person", "utter_offer_human_after_fallback", "utter_bot_challenge"}
EMERGENCY_PREFIX = "utter_urgent_"
NOT_EMERGENCY = {"utter_urgent_referral"}


@dataclass
class Turn:
    """What one parent message got back."""

    user: str
    texts: list[str]
    responses: list[str]  # response names (utter_...) of the bot messages, in order
    slots_before: dict[str, Any]
    slots_after: dict[str, Any]


@dataclass
class Result:
    """The facts of one scenario: ``(name, met, detail)``."""

    scenario: str
    language: str
    split: str
    facts: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.facts.append((name, bool(ok), detail))

    @property
    def met(self) -> int:
        return sum(1 for _, ok, _ in self.facts if ok)


def load_scenarios(split: str = "seen", langs: Iterable[str] | None = None, root: Path = SCENARIOS_DIR) -> list[tuple[str, dict[str, Any]]]:
    """``[(split, scenario), ...]`` for ``split`` ("seen", "unseen" or "all"), sorted by file.

    Raises:
        ValueError: a scenario file lacks ``id``, ``language`` or ``turns``.
    """
    splits = ["seen", "unseen"] if split == "all" else [split]
    wanted = set(langs or [])
    out: list[tuple[str, dict[str, Any]]] = []
    for sp in splits:
        for path in sorted((root / sp).glob("*/*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not all(k in data for k in ("id", "language", "turns")):
                raise ValueError(f"{path}: a scenario needs id, language and turns")
            if wanted and data["language"] not in wanted:
                continue
            out.append((sp, data))
    return out


def _http(method: str, url: str, body: Any = None, timeout: float = 120.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def _tracker(base: str, sender: str) -> dict[str, Any]:
    """The tracker through Rasa's HTTP API, with its token (``WEGWIJS_API_TOKEN``, else the
    generated one of :func:`wegwijs.security.secrets.load_secrets`)."""
    from urllib.parse import quote, urlencode

    from wegwijs.security.secrets import load_secrets

    query = urlencode({"include_events": "ALL", "token": load_secrets().api_token})
    return _http("GET", f"{base}/conversations/{quote(sender, safe='')}/tracker?{query}")


def _bot_events_since(tracker: dict[str, Any], n_events: int) -> list[dict[str, Any]]:
    return [e for e in tracker.get("events", [])[n_events:] if e.get("event") == "bot"]


def run_scenario(base: str, scenario: dict[str, Any]) -> tuple[list[Turn], str]:
    """Send every message of ``scenario``; returns the turns and the sender id used."""
    sender = f"eval-{scenario['id']}-{uuid.uuid4().hex[:8]}"
    turns: list[Turn] = []
    n_events = 0
    slots: dict[str, Any] = {}
    for turn in scenario["turns"]:
        text = str(turn["user"])
        replies = _http("POST", f"{base}/webhooks/rest/webhook", {"sender": sender, "message": text}) or []
        tracker = _tracker(base, sender)
        if len(tracker.get("events", [])) < n_events:
            n_events = 0  # "delete my data" erased the conversation: a new tracker began
        bots = _bot_events_since(tracker, n_events)
        n_events = len(tracker.get("events", []))
        after = dict(tracker.get("slots") or {})
        turns.append(Turn(
            user=text,
            texts=[r.get("text") or "" for r in replies if isinstance(r, dict)],
            responses=[(b.get("metadata") or {}).get("utter_action") or "" for b in bots],
            slots_before=slots,
            slots_after=after,
        ))
        slots = after
    return turns, sender


_DETECTOR: list[Any] = []


def _language_of(texts: list[str]) -> str | None:
    """The language of the bot's replies by the project's language-ID model (used when
    the turn erased the tracker, so the language slot is gone with the data)."""
    from wegwijs.lid import default_model_path
    from wegwijs.lid.detector import LanguageDetector

    if not _DETECTOR:
        _DETECTOR.append(LanguageDetector.load(default_model_path()))
    code, _ = _DETECTOR[0].detect(" ".join(texts))
    return code


def _asked(turn: Turn, question: str) -> bool:
    return bool(set(turn.responses) & QUESTIONS[question])


def check_turns(result: Result, scenario: dict[str, Any], turns: list[Turn]) -> None:
    """Adds the per-turn facts and the two implicit ones."""
    for i, (spec, turn) in enumerate(zip(scenario["turns"], turns), start=1):
        expect = spec.get("expect") or {}
        where = f"turn {i}"
        for key, want in expect.items():
            if key == "reply_language":
                got = turn.slots_after.get("language")
                if got is None and not turn.slots_after.get("asked") and turn.texts:
                    got = _language_of(turn.texts)  # erased with the data: read it from the replies
                result.add(f"{where} reply_language", got == want, f"language slot {got!r}, want {want!r}")
            elif key == "emergency":
                got = any(r.startswith(EMERGENCY_PREFIX) and r not in NOT_EMERGENCY for r in turn.responses)
                result.add(f"{where} emergency", got == bool(want), f"responses {turn.responses}")
            elif key == "emergency_numbers":
                text = "\n".join(turn.texts)
                missing = [n for n in want if str(n) not in text]
                result.add(f"{where} emergency_numbers", not missing, f"missing {missing}")
            elif key == "asks":
                result.add(f"{where} asks {want}", _asked(turn, want), f"responses {turn.responses}")
            elif key == "not_asks":
                asked = [q for q in want if q in QUESTIONS and _asked(turn, q)]
                result.add(f"{where} not_asks", not asked, f"asked {asked}")
            elif key == "tips":
                got = "utter_tips_intro" in turn.responses
                result.add(f"{where} tips", got == bool(want), f"responses {turn.responses}")
            elif key == "offers_person":
                got = bool(set(turn.responses) & OFFERS_PERSON)
                result.add(f"{where} offers_person", got == bool(want), f"responses {turn.responses}")
            elif key == "consent":
                got = turn.slots_after.get("consent")
                result.add(f"{where} consent", got == want, f"consent slot {got!r}")
            elif key == "not_empty":
                pass  # counted below for every turn
            else:
                result.add(f"{where} {key}", False, "unknown expectation key")
    empty = [i for i, t in enumerate(turns, start=1) if not any(x.strip() for x in t.texts)]
    result.add("every reply non-empty", not empty, f"empty replies at turns {empty}")
    again = []
    for i, turn in enumerate(turns, start=1):
        for question, slot in ANSWER_SLOT.items():
            if _asked(turn, question) and turn.slots_before.get(slot) not in (None, [], ""):
                again.append(f"turn {i}: {question}")
    result.add("no question asked again", not again, "; ".join(again))


def _referrals_for(sender: str) -> list[Any]:
    from wegwijs import bootstrap
    from wegwijs.referrals import service

    outs = service.list_referrals(bootstrap.get_session_factory(), actor="eval-conversations", limit=100000)
    return sorted((r for r in outs if r.conversation_id == sender), key=lambda r: r.id)


def check_referral(result: Result, scenario: dict[str, Any], referrals: list[Any]) -> None:
    """Adds the facts of ``expect_referral`` / ``expect_no_referral``."""
    if scenario.get("expect_no_referral"):
        result.add("no referral stored", not referrals, f"{len(referrals)} stored")
    want = scenario.get("expect_referral")
    if not want:
        return
    if not referrals:
        for key in want:
            result.add(f"referral {key}", False, "no referral stored")
        return
    normal = [r for r in referrals if r.urgency == "normal"]
    latest = (normal or referrals)[-1]
    topics = {t for r in referrals for t in (r.topics or [])}
    for key, value in want.items():
        if key == "urgency":
            ok = any(r.urgency == value for r in referrals) if value == "urgent" else latest.urgency == value
            result.add("referral urgency", ok, f"{[r.urgency for r in referrals]}")
        elif key == "urgency_reason":
            got = [r.urgency_reason for r in referrals if r.urgency == "urgent"]
            ok = (value in got) if value else not got
            result.add("referral urgency_reason", ok, f"{got}")
        elif key == "children_ages":
            got = list(latest.children_ages or [])
            ok = Counter(got) == Counter(value or [])
            result.add("referral children_ages", ok, f"{got} want {value}")
        elif key == "pregnant":
            result.add("referral pregnant", bool(latest.pregnant) == bool(value), f"{latest.pregnant}")
        elif key == "person_type":
            got = latest.person_type if latest.person_type != "not_said" else None
            result.add("referral person_type", got == value, f"{got!r} want {value!r}")
        elif key == "contact_times_contains":
            got = " ".join(x for x in (latest.contact_times, latest.contact_times_text) if x)
            ok = (str(value).lower() in (latest.contact_times or "").lower()) if value else not got
            result.add("referral contact_times", ok, f"{latest.contact_times!r} / {latest.contact_times_text!r}")
        elif key == "topics_include":
            missing = [t for t in value or [] if t not in topics]
            result.add("referral topics_include", not missing, f"missing {missing} of {sorted(topics)}")
        elif key == "topics_exclude":
            extra = [t for t in value or [] if t in topics]
            result.add("referral topics_exclude", not extra, f"invented {extra}")
        else:
            got = getattr(latest, key, "<no such field>")
            if key == "interpreter_needed":
                got = latest.interpreter_needed
            result.add(f"referral {key}", got == value, f"{got!r} want {value!r}")


def evaluate(base: str, scenarios: list[tuple[str, dict[str, Any]]], *, verbose: bool = False) -> list[Result]:
    """Run and check every scenario; returns one :class:`Result` each."""
    results = []
    for split, scenario in scenarios:
        result = Result(scenario["id"], scenario["language"], split)
        try:
            turns, sender = run_scenario(base, scenario)
        except (urllib.error.URLError, OSError, ValueError) as error:
            result.add("conversation ran", False, f"{type(error).__name__}: {error}")
            results.append(result)
            continue
        check_turns(result, scenario, turns)
        check_referral(result, scenario, _referrals_for(sender))
        results.append(result)
        if verbose:
            for name, ok, detail in result.facts:
                if not ok:
                    print(f"  FAIL {scenario['id']}: {name}: {detail}", file=sys.stderr)
    return results


def summarise(results: list[Result]) -> dict[str, dict[str, Any]]:
    """``{language: {"met", "total", "share", "scenarios"}}`` plus ``"all"``."""
    table: dict[str, dict[str, Any]] = defaultdict(lambda: {"met": 0, "total": 0, "scenarios": 0})
    for r in results:
        for key in (r.language, "all"):
            table[key]["met"] += r.met
            table[key]["total"] += len(r.facts)
            table[key]["scenarios"] += 1
    for row in table.values():
        row["share"] = round(row["met"] / row["total"], 3) if row["total"] else 0.0
    return dict(table)


def main(argv: list[str] | None = None) -> int:
    """``wegwijs eval-conversations``: print the share of expected facts met per language."""
    p = argparse.ArgumentParser(prog="wegwijs eval-conversations", description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a running Wegwijs (default: start one on free ports for this run)")
    p.add_argument("--split", choices=["seen", "unseen", "all"], default="seen")
    p.add_argument("--lang", action="append", help="only this language (repeatable)")
    p.add_argument("--min-share", type=float, default=0.0, help="exit 1 when a language is below this share")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--verbose", action="store_true", help="print every missed fact to stderr")
    args = p.parse_args(argv)
    scenarios = load_scenarios(args.split, args.lang)
    if not scenarios:
        print("no scenarios found", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    if args.url:
        results = evaluate(args.url.rstrip("/"), scenarios, verbose=args.verbose)
    else:
        results = _with_servers(scenarios, args.verbose)
    table = summarise(results)
    if args.json:
        print(json.dumps({"split": args.split, "languages": table,
                          "scenarios": [{"id": r.scenario, "language": r.language, "met": r.met, "total": len(r.facts),
                                         "missed": [f"{n}: {d}" for n, ok, d in r.facts if not ok]} for r in results]},
                         ensure_ascii=False, indent=2))
    else:
        print(f"conversations ({args.split}): share of expected facts met, {time.monotonic() - t0:.0f} s")
        print(f"{'lang':<6}{'scenarios':>10}{'facts':>8}{'met':>6}{'share':>8}")
        for lang in sorted(k for k in table if k != "all") + ["all"]:
            row = table[lang]
            print(f"{lang:<6}{row['scenarios']:>10}{row['total']:>8}{row['met']:>6}{row['share']:>8.3f}")
    low = [k for k, row in table.items() if k != "all" and row["share"] < args.min_share]
    if low:
        print(f"below {args.min_share}: {', '.join(sorted(low))}", file=sys.stderr)
        return 1
    return 0


def _with_servers(scenarios: list[tuple[str, dict[str, Any]]], verbose: bool) -> list[Result]:
    """Start both servers on free ports with throw-away SQLite databases, evaluate, stop."""
    import tempfile

    from wegwijs import bootstrap
    from wegwijs.db.migrate import upgrade
    from wegwijs.serve import free_port, running
    from wegwijs.settings import Settings

    with tempfile.TemporaryDirectory(prefix="wegwijs-eval-") as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/w.db", tracker_db_url=f"sqlite:///{tmp}/t.db")
        upgrade(settings.database_url)
        env = {"WEGWIJS_DATABASE_URL": settings.database_url, "WEGWIJS_TRACKER_DB_URL": settings.tracker_db_url}
        with running(settings=settings, rasa_port=free_port(), action_port=free_port(), extra_env=env) as s:
            bootstrap.bootstrap({"settings": settings})
            try:
                return evaluate(s.rasa_url, scenarios, verbose=verbose)
            finally:
                bootstrap.reset()
