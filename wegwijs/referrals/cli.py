"""``wegwijs referrals list|show`` and ``wegwijs purge``.

``add_parsers(subparsers)`` adds the commands to the top-level parser of
``wegwijs/cli.py``; each parser sets ``func`` (``func(args) -> int`` exit code).

Exit codes: 0 ok; 1 referral not found or bad input; 2 database unreachable or
not migrated.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, TextIO

from wegwijs.settings import Settings

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_DATABASE = 2


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or has no schema; the message is one line."""


def add_parsers(subparsers: Any) -> None:
    """Add ``referrals`` (``list``, ``show``) and ``purge`` to ``subparsers``."""
    referrals = subparsers.add_parser(
        "referrals",
        help="list or show warm referrals (every access is logged)",
        description="Read warm referrals. Every access is written to the access log.",
    )
    commands = referrals.add_subparsers(dest="referrals_command")
    commands.required = True

    list_parser = commands.add_parser("list", help="newest referrals first, as a table")
    list_parser.add_argument("--json", action="store_true", help="print a JSON array")
    list_parser.add_argument("--municipality", help="only referrals of this gemeente")
    list_parser.add_argument(
        "--limit", type=_positive_int, default=50, help="at most N referrals (default 50)"
    )
    list_parser.set_defaults(func=cmd_list)

    show_parser = commands.add_parser("show", help="the Dutch handoff summary of one referral")
    show_parser.add_argument("key", metavar="ID_OR_REFERENCE", help="e.g. 12 or WW-7KQ3MX")
    show_parser.add_argument("--json", action="store_true", help="print a JSON object")
    show_parser.set_defaults(func=cmd_show)

    purge = subparsers.add_parser(
        "purge",
        help="delete referrals and conversation events older than the retention period",
        description=(
            "Delete referrals and Rasa conversation events older than the retention "
            "period (WEGWIJS_RETENTION_DAYS, default 365 days)."
        ),
    )
    purge.add_argument(
        "--older-than-days",
        type=_positive_int,
        default=None,
        help="retention in days (default: WEGWIJS_RETENTION_DAYS)",
    )
    purge.add_argument("--dry-run", action="store_true", help="only count, delete nothing")
    purge.set_defaults(func=cmd_purge)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _settings(args: argparse.Namespace) -> Settings:
    settings = getattr(args, "settings", None)
    if settings is not None:
        return settings
    from wegwijs import bootstrap

    return bootstrap.get_settings()


def current_actor(settings: Settings) -> str:
    """Who is using the CLI: ``WEGWIJS_ACTOR`` (via settings) or the OS user."""
    if settings.actor:
        return settings.actor
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        return "unknown"


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid database URL>"


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn SQLAlchemy connection and missing-schema errors into :class:`DatabaseUnavailable`."""
    from sqlalchemy import exc

    try:
        yield
    except (exc.OperationalError, exc.ProgrammingError, exc.InterfaceError) as error:
        reason = _first_line(error)
        if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
            raise DatabaseUnavailable(
                f"database {_safe_url(url)} has no Wegwijs tables; "
                f"run `python -m wegwijs.db.migrate` ({reason})"
            ) from error
        raise DatabaseUnavailable(f"cannot reach database {_safe_url(url)}: {reason}") from error
    except exc.ArgumentError as error:
        raise DatabaseUnavailable(f"invalid database URL {_safe_url(url)}: {error}") from error


def _session_factory(settings: Settings) -> Any:
    from wegwijs import bootstrap

    return bootstrap.get_session_factory(settings)


def _print_json(value: Any, out: TextIO) -> None:
    json.dump(value, out, ensure_ascii=False, indent=2)
    out.write("\n")


def _short_time(value: datetime) -> str:
    from wegwijs.referrals.summary import format_datetime_nl

    return (format_datetime_nl(value) or "").split(" (")[0]


TABLE_COLUMNS = ("id", "referentie", "aangemaakt", "gemeente", "gevraagd", "taal", "urgentie",
                 "status", "onderwerpen")


def format_table(referrals: list[Any]) -> str:
    """A plain-text table of referrals for a terminal."""
    rows = [
        (
            str(item.id),
            item.reference,
            _short_time(item.created_at),
            item.municipality or "-",
            item.person_type,
            item.language,
            "URGENT" if item.urgency == "urgent" else "normaal",
            item.status,
            ", ".join(item.topics) or "-",
        )
        for item in referrals
    ]
    widths = [
        max(len(header), *(len(row[index]) for row in rows)) if rows else len(header)
        for index, header in enumerate(TABLE_COLUMNS)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(TABLE_COLUMNS, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _run(args: argparse.Namespace, body: Any) -> int:
    settings = _settings(args)
    try:
        with database_errors(settings.database_url):
            return body(settings)
    except DatabaseUnavailable as error:
        print(f"wegwijs: {error}", file=sys.stderr)
        return EXIT_DATABASE


def cmd_list(args: argparse.Namespace) -> int:
    """``wegwijs referrals list [--json] [--municipality X] [--limit N]``."""
    from wegwijs.referrals import service

    def body(settings: Settings) -> int:
        referrals = service.list_referrals(
            _session_factory(settings),
            actor=current_actor(settings),
            municipality=args.municipality,
            limit=args.limit,
        )
        if args.json:
            _print_json([item.to_json_dict() for item in referrals], sys.stdout)
        elif not referrals:
            print("Geen verwijzingen gevonden.")
        else:
            print(format_table(referrals))
        return EXIT_OK

    return _run(args, body)


def cmd_show(args: argparse.Namespace) -> int:
    """``wegwijs referrals show <id-or-reference> [--json]``."""
    from wegwijs.referrals import service

    def body(settings: Settings) -> int:
        try:
            referral = service.get_referral(
                _session_factory(settings), args.key, actor=current_actor(settings)
            )
        except service.ReferralNotFound:
            print(f"wegwijs: no referral with id or reference {args.key!r}", file=sys.stderr)
            return EXIT_NOT_FOUND
        if args.json:
            _print_json(referral.to_json_dict(), sys.stdout)
        else:
            sys.stdout.write(referral.summary_nl)
        return EXIT_OK

    return _run(args, body)


def cmd_purge(args: argparse.Namespace) -> int:
    """``wegwijs purge [--older-than-days N] [--dry-run]``."""
    from integrations.tracker_store import purge_tracker_events
    from wegwijs.referrals import service

    settings = _settings(args)
    days = args.older_than_days or settings.retention_days
    cutoff = service.retention_cutoff(days)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"Older than {days} days (before {cutoff.isoformat(timespec='seconds')}):")
    try:
        with database_errors(settings.database_url):
            referrals = service.purge_referrals(
                _session_factory(settings), cutoff=cutoff, dry_run=args.dry_run
            )
        print(f"  referrals: {verb} {referrals}")
        with database_errors(settings.tracker_db_url):
            events = purge_tracker_events(settings.tracker_db_url, cutoff, dry_run=args.dry_run)
        print(f"  conversation events: {verb} {events}")
    except DatabaseUnavailable as error:
        print(f"wegwijs: {error}", file=sys.stderr)
        return EXIT_DATABASE
    return EXIT_OK
