"""Commands that build and run Wegwijs: ``build``, ``build-content``, ``serve``."""

from __future__ import annotations

import argparse
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


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the action server and the Rasa server; Ctrl-C stops both."""
    from wegwijs.serve import serve_forever

    return serve_forever(rasa_port=args.port, action_port=args.action_port)


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
    p = subparsers.add_parser("serve", help="start the Rasa server and the action server")
    p.add_argument("--port", type=int, default=5005, help="Rasa server port (default 5005)")
    p.add_argument("--action-port", type=int, default=5055, help="action server port (default 5055)")
    p.set_defaults(func=cmd_serve)
