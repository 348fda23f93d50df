"""The ``wegwijs`` command line: ``python -m wegwijs.cli <command> ...``.

Each feature contributes commands through ``add_parsers(subparsers)`` and sets
``func`` on its parsers (``func(args) -> int`` exit code). Features:

* ``wegwijs.referrals.cli``: ``referrals list|show|export|erase``, ``purge``
* ``wegwijs.lid.cli``: ``detect-language``, ``build-lid``, ``lid-report``
* ``wegwijs.ops_cli``: ``build``, ``build-content``, ``serve``
* ``wegwijs.outbox.cli``: ``worker``, ``outbox list``
* ``wegwijs.inbox.cli``: ``users add|list|reset-password|disable|token``, ``inbox``
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: Feature modules with an ``add_parsers(subparsers)`` function; optional ones may be absent.
FEATURE_CLIS = (
    ("wegwijs.ops_cli", True),
    ("wegwijs.referrals.cli", True),
    ("wegwijs.lid.cli", True),
    ("wegwijs.outbox.cli", True),
    ("wegwijs.inbox.cli", True),
)


#: Commands whose module parses its own arguments (``module.main(argv) -> int``).
PASS_THROUGH = {
    "eval-conversations": lambda: importlib.import_module("wegwijs.conversations"),
    "safety-report": lambda: importlib.import_module("wegwijs.safety_report"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available feature's commands."""
    parser = argparse.ArgumentParser(
        prog="wegwijs", description="Wegwijs maintenance and operations commands."
    )
    subparsers = parser.add_subparsers(dest="command")
    subparsers.required = True
    for module_name, required in FEATURE_CLIS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # only "the feature is not there"; a missing dependency inside it is a bug
            if required or not (error.name and module_name.startswith(error.name)):
                raise
            continue
        module.add_parsers(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASS_THROUGH:  # commands with their own argument parser
        return int(PASS_THROUGH[argv[0]]().main(argv[1:]) or 0)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:  # pragma: no cover - argparse enforces a command
        parser.print_help(sys.stderr)
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
