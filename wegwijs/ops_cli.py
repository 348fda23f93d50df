"""Commands that build and run Wegwijs: ``build``, ``build-content``, ``serve``."""

from __future__ import annotations

import argparse
import os
import sys


def cmd_build(args: argparse.Namespace) -> int:
    """Build what is stale: language-ID model, responses, database schema, Rasa model."""
    from wegwijs.build import STEPS, build
    from wegwijs.content.schema import ContentError

    try:
        build(force=args.force, only=args.only or None)
    except ContentError as e:
        print(f"content error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_build_content(args: argparse.Namespace) -> int:
    """Validate the language folders and (re)write bot/generated/responses.yml."""
    from wegwijs.content.compile import build, parity_problems
    from wegwijs.content.loader import load_all, load_registry
    from wegwijs.content.schema import ContentError

    try:
        problems = parity_problems(load_all(), load_registry())
        fresh = build(check=args.check)
    except ContentError as e:
        print(f"content error: {e}", file=sys.stderr)
        return 1
    for p in problems:
        print(f"parity: {p}", file=sys.stderr)
    if args.check and not fresh:
        print("bot/generated/responses.yml is out of date: run `wegwijs build-content`", file=sys.stderr)
        return 1
    return 1 if problems else 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Run ``rasa data validate`` on what Wegwijs trains on."""
    from wegwijs.build import validate

    return validate()


def cmd_coverage(args: argparse.Namespace) -> int:
    """Print the per-language coverage table; exit 1 on a gap in a supported language."""
    from wegwijs.coverage import coverage_report, format_table

    rows = coverage_report()
    print(format_table(rows))
    bad = [r.code for r in rows if r.status == "supported" and r.gaps]
    if bad:
        print(f"\ncoverage: gaps in supported languages: {', '.join(bad)}", file=sys.stderr)
        return 1
    print("\ncoverage: every supported language is complete")
    return 0


def cmd_add_language(args: argparse.Namespace) -> int:
    """Scaffold languages/<code>/ and nlu_data/<code>/ and register the language as in progress."""
    from wegwijs.scaffold import ScaffoldError, add_language

    try:
        files = add_language(
            args.code, name=args.name, english_name=args.english_name, dutch_name=args.dutch_name,
            direction=args.direction, spacy_lang=args.spacy_lang,
        )
    except ScaffoldError as e:
        print(f"add-language: {e}", file=sys.stderr)
        return 1
    for f in files:
        print(f"wrote {f}")
    print(f"registered {args.code} as in progress in languages/registry.yml; next: translate, "
          f"`wegwijs coverage`, then move it to `supported` (see README, 'Adding a language')")
    return 0


def cmd_nlu_eval(args: argparse.Namespace) -> int:
    """Intent F1 per language and per intent on a held-out split, with Rasa's plots."""
    from wegwijs.nlu_eval import format_rows, run

    from pathlib import Path

    from wegwijs.nlu_eval import RESULTS

    rows = run(out=Path(args.out) if args.out else RESULTS, langs=args.lang or None, config=args.config)
    print(format_rows(rows))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the action server, the Rasa server and the inbox; Ctrl-C stops them."""
    from wegwijs.serve import serve_forever

    return serve_forever(rasa_port=args.port, action_port=args.action_port, inbox_port=args.inbox_port)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``build``, ``build-content`` and ``serve``."""
    from wegwijs.build import STEPS

    p = subparsers.add_parser("build", help="build what is stale (LID model, responses, database, Rasa model)")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.add_argument("--only", action="append", choices=[s.name for s in STEPS], help="run only this step (repeatable)")
    p.set_defaults(func=cmd_build)
    p = subparsers.add_parser("build-content", help="validate languages/ and write bot/generated/responses.yml")
    p.add_argument("--check", action="store_true", help="fail when the generated file is out of date (CI)")
    p.set_defaults(func=cmd_build_content)
    p = subparsers.add_parser("validate", help="rasa data validate on the domain, supported languages' data and config")
    p.set_defaults(func=cmd_validate)
    p = subparsers.add_parser("coverage", help="per-language table of what is complete; exit 1 on a gap")
    p.set_defaults(func=cmd_coverage)
    p = subparsers.add_parser("add-language", help="scaffold a new language folder with every key to translate")
    p.add_argument("code", help="ISO 639-1 code, or 639-3 when there is none")
    p.add_argument("--name", required=True, help="the language's own name in its own script")
    p.add_argument("--english-name", required=True)
    p.add_argument("--dutch-name", required=True)
    p.add_argument("--direction", choices=["ltr", "rtl"], default="ltr")
    p.add_argument("--spacy-lang", default="xx", help="code for spacy.blank() (xx when spaCy has no rules)")
    p.set_defaults(func=cmd_add_language)
    p = subparsers.add_parser("nlu-eval", help="intent F1 per language and intent on a held-out split (+ plots)")
    p.add_argument("--lang", action="append", help="only this language (repeatable); training uses all")
    p.add_argument("--config", default="config.yml", help="Rasa config to evaluate (default config.yml)")
    p.add_argument("--out", help="results folder (default results/nlu-eval)")
    p.set_defaults(func=cmd_nlu_eval)
    p = subparsers.add_parser("eval-conversations", add_help=False,
                              help="run tests/conversations/ scenarios against Wegwijs; share of facts met per language")
    p.set_defaults(func=lambda a: __import__("wegwijs.conversations", fromlist=["main"]).main(a.rest), rest=[])
    p = subparsers.add_parser("serve", help="start the Rasa server and the action server")
    p.add_argument("--port", type=int, default=int(os.environ.get("WEGWIJS_PORT") or 5005),
                   help="Rasa server port (default: $WEGWIJS_PORT or 5005)")
    p.add_argument("--action-port", type=int, default=int(os.environ.get("WEGWIJS_ACTION_PORT") or 5055),
                   help="action server port (default: $WEGWIJS_ACTION_PORT or 5055)")
    p.add_argument("--inbox-port", type=int, default=None,
                   help="inbox port (default: $WEGWIJS_INBOX_PORT or 5010)")
    p.set_defaults(func=cmd_serve)
