"""``wegwijs worker`` (send the outbox) and ``wegwijs outbox list`` (what waits or failed).

Exit codes: 0 ok; 2 database unreachable or not migrated; 3 routing files invalid.
``outbox list`` shows no payload (no recipients, no summary): id, referral reference,
kind, status, attempts, when due, the error class and code; then one line with the
referral spool's numbers (:func:`spool_line`; with ``--json`` on stderr, so stdout stays
a JSON array). ``worker`` drains the spool (``WEGWIJS_SPOOL_DIR``) before each pass, with
``--once`` too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from wegwijs.referrals.cli import EXIT_DATABASE, DatabaseUnavailable, _run, _session_factory, _settings, database_errors
from wegwijs.settings import Settings

EXIT_ROUTING = 3
STATUSES = ("pending", "sending", "sent", "failed")


def add_parsers(subparsers: Any) -> None:
    """Add ``worker`` and ``outbox list`` to ``subparsers``."""
    worker = subparsers.add_parser(
        "worker",
        help="send referral notifications from the outbox (e-mail, webhook) with retries",
        description="Send the outbox: claim due rows, send, retry with exponential backoff.",
    )
    worker.add_argument("--once", action="store_true", help="one pass (the spool drained first), then exit")
    worker.add_argument("--poll-seconds", type=float, default=2.0, help="wait when nothing is due (default 2)")
    worker.add_argument("--max-attempts", type=int, default=8, help="attempts before 'failed' (default 8)")
    worker.set_defaults(func=cmd_worker)

    outbox = subparsers.add_parser("outbox", help="the notification outbox")
    commands = outbox.add_subparsers(dest="outbox_command")
    commands.required = True
    list_parser = commands.add_parser("list", help="pending, sending and failed notifications")
    list_parser.add_argument(
        "--status", action="append", choices=STATUSES,
        help="only this status (repeatable; default: pending, sending, failed)",
    )
    list_parser.add_argument("--json", action="store_true", help="print a JSON array")
    list_parser.add_argument("--limit", type=int, default=100, help="at most N rows (default 100)")
    list_parser.set_defaults(func=cmd_list)


def list_rows(session_factory: Any, statuses: list[str], limit: int) -> list[dict[str, Any]]:
    """Outbox rows with the given statuses, oldest first, without payloads."""
    import sqlalchemy as sa

    from wegwijs.db.models import OutboxMessage, Referral

    with session_factory.begin() as session:
        rows = session.execute(
            sa.select(OutboxMessage, Referral.reference)
            .join(Referral, Referral.id == OutboxMessage.referral_id)
            .where(OutboxMessage.status.in_(statuses))
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .limit(limit)
        ).all()
        return [
            {
                "id": row.id,
                "reference": reference,
                "kind": row.kind,
                "status": row.status,
                "attempts": row.attempts,
                "next_attempt_at": row.next_attempt_at.isoformat(timespec="seconds"),
                "last_error": row.last_error,
                "created_at": row.created_at.isoformat(timespec="seconds"),
                "sent_at": row.sent_at.isoformat(timespec="seconds") if row.sent_at else None,
            }
            for row, reference in rows
        ]


def spool_line(spool_dir: Path) -> str:
    """One line about the referral spool (:func:`wegwijs.referrals.spool.count`): files
    waiting for the worker, how many of them urgent, files in ``bad/``. No file names."""
    from wegwijs.referrals import spool

    try:
        counts = spool.count(spool_dir)
    except OSError as error:
        return f"spool {spool_dir}: cannot be read ({error.strerror or type(error).__name__})"
    return (f"spool {spool_dir}: {counts['waiting']} waiting ({counts['urgent']} urgent), "
            f"{counts['bad']} in {spool.BAD_DIR}/")


def cmd_list(args: argparse.Namespace) -> int:
    """``wegwijs outbox list [--status S]... [--json] [--limit N]``."""

    def body(settings: Settings) -> int:
        rows = list_rows(_session_factory(settings), args.status or ["pending", "sending", "failed"], args.limit)
        if args.json:
            json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
            print(spool_line(settings.spool_dir), file=sys.stderr)
            return 0
        columns = ("id", "reference", "kind", "status", "attempts", "next_attempt_at", "last_error")
        table = [[str(row[c] if row[c] is not None else "") for c in columns] for row in rows]
        widths = [max([len(c)] + [len(r[i]) for r in table]) for i, c in enumerate(columns)]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
        for r in table:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        if not rows:
            print("(geen berichten met deze status)")
        print(spool_line(settings.spool_dir))
        return 0

    return _run(args, body)


def cmd_worker(args: argparse.Namespace) -> int:
    """``wegwijs worker [--once] [--poll-seconds S] [--max-attempts N]``."""
    from wegwijs.outbox import worker
    from wegwijs.routing import RoutingError, load_routing

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings(args)
    try:
        routing = load_routing(settings.routing_dir)
    except RoutingError as error:
        print(f"wegwijs: {error}", file=sys.stderr)
        return EXIT_ROUTING
    config = worker.WorkerConfig(max_attempts=args.max_attempts)
    session_factory = _session_factory(settings)

    async def main() -> None:
        if args.once:
            counts = await worker.run_once(session_factory, routing, config=config, spool_dir=settings.spool_dir)
            print(json.dumps(counts), flush=True)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print(f"outbox worker: running (routing {settings.routing_dir})", flush=True)
        await worker.run(session_factory, routing, stop, config=config, poll_seconds=args.poll_seconds,
                         spool_dir=settings.spool_dir)

    try:
        with database_errors(settings.database_url):
            asyncio.run(main())
    except DatabaseUnavailable as error:
        print(f"wegwijs: {error}", file=sys.stderr)
        return EXIT_DATABASE
    return 0
