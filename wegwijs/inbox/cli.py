"""``wegwijs users add|list|reset-password|disable|token`` and ``wegwijs inbox``.

Passwords are read from standard input (first line; twice, hidden, at a terminal),
never from an argument (arguments show up in ``ps`` and shell history).

Exit codes: 0 ok; 1 bad input (unknown user, short password, ...).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from wegwijs.db.models import USER_ROLES


def add_parsers(subparsers: Any) -> None:
    """Add ``users`` (``add``, ``list``, ``reset-password``, ``disable``, ``token``) and ``inbox``."""
    users = subparsers.add_parser("users", help="manage inbox users (password from stdin)")
    commands = users.add_subparsers(dest="users_command")
    commands.required = True
    p = commands.add_parser("add", help="add a user; the password is read from stdin")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=USER_ROLES)
    p.add_argument("--municipality", help="CBS gemeente name (an admin without it sees all)")
    p.add_argument("--display-name", help="name shown to colleagues (default: the username)")
    p.add_argument("--staff-key", help="key in municipalities/routing/<gemeente>.yml (= referrals.assignee_key)")
    p.set_defaults(func=cmd_add)
    p = commands.add_parser("list", help="all users")
    p.set_defaults(func=cmd_list)
    p = commands.add_parser("reset-password", help="new password from stdin; ends the user's sessions")
    p.add_argument("username")
    p.set_defaults(func=cmd_reset_password)
    p = commands.add_parser("disable", help="no more logins; sessions and API tokens deleted")
    p.add_argument("username")
    p.set_defaults(func=cmd_disable)
    p = commands.add_parser("token", help="create an API token for /api/ (printed once)")
    p.add_argument("username")
    p.set_defaults(func=cmd_token)

    inbox = subparsers.add_parser("inbox", help="serve the inbox alone (default http://127.0.0.1:5010/)")
    inbox.add_argument("--host", default="127.0.0.1")
    inbox.add_argument("--port", type=int, default=None, help="default: $WEGWIJS_INBOX_PORT or 5010")
    inbox.set_defaults(func=cmd_inbox)


def _session_factory() -> Any:
    from wegwijs import bootstrap

    return bootstrap.get_session_factory()


def read_password(stdin: TextIO | None = None) -> str:
    """The password: hidden prompt twice at a terminal, else the first line of stdin."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("Wachtwoord: ")
        if getpass.getpass("Nogmaals: ") != first:
            raise ValueError("the passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def _fail(error: Exception) -> int:
    print(f"users: {error}", file=sys.stderr)
    return 1


def cmd_add(args: argparse.Namespace) -> int:
    from wegwijs.inbox.auth import AuthError, add_user

    try:
        user = add_user(_session_factory(), username=args.username, password=read_password(),
                        role=args.role, display_name=args.display_name,
                        municipality=args.municipality, staff_key=args.staff_key)
    except (AuthError, ValueError) as error:
        return _fail(error)
    print(f"added {user.username} ({user.role}, {user.municipality or 'alle gemeenten'})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from wegwijs.inbox.auth import list_users

    print(f"{'username':<24} {'role':<15} {'gemeente':<20} {'staff key':<16} state")
    for user, disabled in list_users(_session_factory()):
        print(f"{user.username:<24} {user.role:<15} {(user.municipality or '(alle)'):<20} "
              f"{(user.staff_key or '-'):<16} {'disabled' if disabled else 'active'}")
    return 0


def cmd_reset_password(args: argparse.Namespace) -> int:
    from wegwijs.inbox.auth import AuthError, reset_password

    try:
        reset_password(_session_factory(), args.username, read_password())
    except (AuthError, ValueError) as error:
        return _fail(error)
    print(f"password of {args.username} changed; their sessions ended")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from wegwijs.inbox.auth import AuthError, disable_user

    try:
        disable_user(_session_factory(), args.username)
    except AuthError as error:
        return _fail(error)
    print(f"{args.username} disabled")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from wegwijs.inbox.auth import AuthError, create_api_token

    try:
        token = create_api_token(_session_factory(), args.username)
    except AuthError as error:
        return _fail(error)
    print(token)
    print("(shown once: only its hash is stored)", file=sys.stderr)
    return 0


def cmd_inbox(args: argparse.Namespace) -> int:
    from wegwijs.inbox.app import run

    run(host=args.host, port=args.port)
    return 0
