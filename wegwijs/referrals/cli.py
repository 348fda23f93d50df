"""``wegwijs referrals list|show|export|erase`` and ``wegwijs purge``.

``add_parsers(subparsers)`` adds the commands to the top-level parser of
``wegwijs/cli.py``; each parser sets ``func`` (``func(args) -> int`` exit code).

Exit codes: 0 ok; 1 referral not found or bad input (``erase`` without ``--yes`` or a
yes at the prompt); 2 database unreachable or not migrated (``erase``: also when only the
tracker store did not answer, after the Wegwijs data was erased); 3 routing files invalid
(``purge`` then applies ``WEGWIJS_RETENTION_DAYS`` to every gemeente).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator, TextIO

from wegwijs.settings import Settings

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_DATABASE = 2
EXIT_ROUTING = 3


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or has no schema; the message is one line."""


def add_parsers(subparsers: Any) -> None:
    """Add ``referrals`` (``list``, ``show``, ``export``, ``erase``) and ``purge`` to ``subparsers``."""
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

    export_parser = commands.add_parser(
        "export",
        help="JSON of everything stored about one conversation (GDPR art. 15; logged)",
        description="Print as JSON every referral of a conversation with its notes and the status of "
        "its notifications, its referrals still waiting in the spool (WEGWIJS_SPOOL_DIR), and the "
        "conversation's held messages and channel rows. Logged as 'export'.",
    )
    export_parser.add_argument("--conversation", required=True, metavar="ID", help="Rasa sender id")
    export_parser.set_defaults(func=cmd_export)

    erase_parser = commands.add_parser(
        "erase",
        help="erase everything stored about one conversation (GDPR art. 17; logged)",
        description="Delete a conversation's referrals, their notes and notifications, its spool "
        "files and its held messages, and unlink its channel rows (as 'delete my data'), then "
        "its Rasa conversation events (tracker store, WEGWIJS_TRACKER_DB_URL). Logged as 'erase'.",
    )
    erase_parser.add_argument("--conversation", required=True, metavar="ID", help="Rasa sender id")
    erase_parser.add_argument("--yes", action="store_true", help="do not ask (needed when not on a terminal)")
    erase_parser.set_defaults(func=cmd_erase)

    purge = subparsers.add_parser(
        "purge",
        help="delete referrals and conversation events older than the retention period",
        description=(
            "Delete referrals past the retention_days of their gemeente's routing file "
            "(municipalities/routing/; the national queue: _default.yml), at most "
            "WEGWIJS_RETENTION_DAYS (default 365), and Rasa conversation events, channel rows "
            "and held messages older than WEGWIJS_RETENTION_DAYS. Safe to run from cron."
        ),
    )
    purge.add_argument(
        "--older-than-days",
        type=_positive_int,
        default=None,
        help="one retention in days for every gemeente and the conversation events "
        "(default: per gemeente, at most WEGWIJS_RETENTION_DAYS)",
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


def cmd_export(args: argparse.Namespace) -> int:
    """``wegwijs referrals export --conversation ID``: JSON on stdout."""
    from wegwijs.referrals import service

    def body(settings: Settings) -> int:
        data = service.export_conversation(
            _session_factory(settings), args.conversation, actor=current_actor(settings),
            spool_dir=settings.spool_dir,
        )
        _print_json(data, sys.stdout)
        if not (data["referrals"] or data["spooled_referrals"] or data["held_messages"]
                or data["channel_messages"]):
            print("wegwijs: nothing is stored for this conversation in the Wegwijs database", file=sys.stderr)
        return EXIT_OK

    return _run(args, body)


ERASE_LABELS = (
    ("referrals", "referrals"),
    ("notes", "staff notes"),
    ("outbox", "notifications (outbox)"),
    ("held_messages", "held WhatsApp messages"),
    ("channel_messages", "channel rows (unlinked, message ids kept)"),
    ("spooled", "spooled referrals (spool files)"),
)
EVENTS_LABEL = "conversation events (Rasa tracker store)"


def _confirmed(question: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes", "j", "ja")


def cmd_erase(args: argparse.Namespace) -> int:
    """``wegwijs referrals erase --conversation ID [--yes]``.

    Order: the ``erase`` access-log rows; the spool files and the Wegwijs database rows
    (:func:`wegwijs.referrals.service.erase_conversation`, the deletion of "delete my
    data"); then the Rasa conversation events
    (:func:`integrations.tracker_store.delete_tracker_events`). When only the tracker store
    does not answer, the rest stays erased, stderr says so and the exit code is 2: run the
    command again (it is idempotent).
    """
    from integrations.tracker_store import delete_tracker_events
    from wegwijs.referrals import service

    def events(settings: Settings, dry_run: bool) -> int:
        with database_errors(settings.tracker_db_url):
            return delete_tracker_events(settings.tracker_db_url, args.conversation, dry_run=dry_run)

    def body(settings: Settings) -> int:
        factory = _session_factory(settings)
        if not args.yes:
            counts = {**service.conversation_counts(factory, args.conversation),
                      "spooled": len(service.spooled_for_conversation(settings.spool_dir, args.conversation))}
            print("Stored for this conversation:")
            for key, label in ERASE_LABELS:
                print(f"  {label}: {counts[key]}")
            print(f"  {EVENTS_LABEL}: {events(settings, dry_run=True)}")
            if not _confirmed("Erase all of it?"):
                print("wegwijs: nothing erased (confirm at the prompt, or add --yes)", file=sys.stderr)
                return EXIT_NOT_FOUND
        counts = service.erase_conversation(factory, args.conversation, actor=current_actor(settings),
                                            spool_dir=settings.spool_dir)
        print("Erased:")
        for key, label in ERASE_LABELS:
            print(f"  {label}: {counts[key]}")
        try:
            erased_events = events(settings, dry_run=False)
        except DatabaseUnavailable as error:
            print(f"  {EVENTS_LABEL}: NOT erased")
            print(f"wegwijs: {error}; the rest is erased, run the erase again for the conversation events",
                  file=sys.stderr)
            return EXIT_DATABASE
        print(f"  {EVENTS_LABEL}: {erased_events}")
        return EXIT_OK

    return _run(args, body)


def _queue_label(item: Any) -> str:
    if item.queue == "default":
        return "national queue (_default.yml)"
    if not item.has_routing_file:
        return f"{item.queue} (no routing file: as the national queue)"
    return item.queue


def cmd_purge(args: argparse.Namespace) -> int:
    """``wegwijs purge [--older-than-days N] [--dry-run]``.

    Referrals: per queue (:func:`wegwijs.referrals.service.purge_referrals_per_queue`),
    or ``--older-than-days`` for all. Conversation events: ``WEGWIJS_RETENTION_DAYS`` or
    ``--older-than-days``. Invalid routing files: every referral gets
    ``WEGWIJS_RETENTION_DAYS`` (never deletes more than the routing would) and the exit
    code is 3, so cron reports it.
    """
    from integrations.tracker_store import purge_tracker_events
    from wegwijs.referrals import service
    from wegwijs.routing import RoutingError, load_routing

    settings = _settings(args)
    now = datetime.now(timezone.utc)
    days = args.older_than_days or settings.retention_days
    cutoff = service.retention_cutoff(days, now=now)
    verb = "would delete" if args.dry_run else "deleted"
    routing_error: RoutingError | None = None
    try:
        routing = load_routing(settings.routing_dir)
    except RoutingError as error:
        routing, routing_error = None, error
        print(f"wegwijs: routing files invalid, {days} days for every gemeente: {error}", file=sys.stderr)
    if args.older_than_days or routing is None:
        print(f"Older than {days} days (before {cutoff.isoformat(timespec='seconds')}):")
    else:
        print(f"Referrals: the retention_days of their gemeente, at most {days} days (WEGWIJS_RETENTION_DAYS):")
    try:
        with database_errors(settings.database_url):
            if routing is None:
                referrals = service.purge_referrals(
                    _session_factory(settings), cutoff=cutoff, dry_run=args.dry_run
                )
            else:
                queues = service.purge_referrals_per_queue(
                    _session_factory(settings), routing=routing, max_days=settings.retention_days,
                    now=now, dry_run=args.dry_run, days=args.older_than_days,
                )
                for item in queues:
                    print(f"  {_queue_label(item)}: {item.days} days "
                          f"(before {item.cutoff.isoformat(timespec='seconds')}): {verb} {item.count}")
                referrals = sum(item.count for item in queues)
        print(f"  referrals: {verb} {referrals}")
        if not args.older_than_days and routing is not None:
            print(f"Conversation events older than {days} days (before {cutoff.isoformat(timespec='seconds')}):")
        with database_errors(settings.tracker_db_url):
            events = purge_tracker_events(settings.tracker_db_url, cutoff, dry_run=args.dry_run)
        print(f"  conversation events: {verb} {events}")
    except DatabaseUnavailable as error:
        print(f"wegwijs: {error}", file=sys.stderr)
        return EXIT_DATABASE
    return EXIT_ROUTING if routing_error is not None and not args.older_than_days else EXIT_OK
