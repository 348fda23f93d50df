"""Command-line entry points for language identification.

The lead wires these into ``wegwijs/cli.py``::

    from wegwijs.lid import cli as lid_cli
    lid_cli.add_parsers(subparsers)          # adds detect-language, build-lid, lid-report
    ...
    sys.exit(args.func(args))                # each command returns an exit code

Each sub-parser sets ``func`` to its ``cmd_*`` function. They also run standalone:
``python -m wegwijs.lid.cli detect-language "salam"``.

``detect-language`` contract (scripts depend on it): with a text argument it prints one
JSON object ``{"code": "ar", "confidence": 0.97}``; without one it reads stdin and prints
one such object per input line (empty lines give ``{"code": "und", "confidence": 0.0}``).
A missing model prints an error naming the path and how to build it, exit code 2.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from wegwijs.lid import MODEL_ENV, default_model_path

#: Exit code when the model file is missing.
EXIT_NO_MODEL = 2


def _model_path(args: argparse.Namespace) -> Path:
    given = getattr(args, "model", None)
    return Path(given).expanduser().resolve() if given else default_model_path()


def _missing_model(path: Path) -> int:
    print(
        f"error: language-identification model not found: {path}\n"
        f"Build it with `wegwijs build-lid` (or set {MODEL_ENV} to an existing model file).",
        file=sys.stderr,
    )
    return EXIT_NO_MODEL


def _result_json(code: str, confidence: float) -> str:
    return json.dumps({"code": code, "confidence": round(float(confidence), 4)}, ensure_ascii=False)


def cmd_detect_language(args: argparse.Namespace) -> int:
    """``wegwijs detect-language [TEXT]``: print the language of TEXT or of each stdin line.

    Args:
        args: ``text`` (str or None) and optional ``model`` (path).

    Returns:
        0 on success, 2 when the model file is missing.
    """
    from wegwijs.lid.detector import LanguageDetector

    path = _model_path(args)
    if not path.is_file():
        return _missing_model(path)
    detector = LanguageDetector.load(path)
    text = getattr(args, "text", None)
    if text is not None:
        print(_result_json(*detector.detect(text)))
        return 0
    # Read UTF-8 whatever the locale says; one JSON line out per line in.
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline=None)
    for line in stream:
        print(_result_json(*detector.detect(line.rstrip("\r\n"))), flush=True)
    return 0


def cmd_build_lid(args: argparse.Namespace) -> int:
    """``wegwijs build-lid [--force] [--output PATH] [--no-cldr]``: train the LID model.

    Skips training when ``lid.json`` says the model is up to date with its inputs.

    Returns:
        0 on success, 1 when the training data is missing.
    """
    from wegwijs.lid.train import build_lid

    output = Path(args.output).expanduser().resolve() if getattr(args, "output", None) else None
    try:
        result = build_lid(
            output=output,
            force=getattr(args, "force", False),
            include_cldr=not getattr(args, "no_cldr", False),
            log=lambda message: print(message, file=sys.stderr),
        )
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    meta = result.metadata
    print(
        json.dumps(
            {
                "path": str(result.path),
                "built": result.built,
                "size_bytes": meta.get("size_bytes"),
                "labels": meta.get("labels"),
                "train_lines": meta.get("train_lines"),
                "data_hash": meta.get("data_hash"),
            },
            ensure_ascii=False,
        )
    )
    return 0


def cmd_lid_report(args: argparse.Namespace) -> int:
    """``wegwijs lid-report [--model PATH] [--json]``: held-out accuracy and speed.

    Returns:
        0 on success, 2 when the model file is missing.
    """
    from wegwijs.lid import report

    path = _model_path(args)
    if not path.is_file():
        return _missing_model(path)
    result = report.run(path)
    if getattr(args, "json", False):
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(report.format_report(result))
        if getattr(args, "matrix", False):
            for evaluation in result["evaluations"]:
                print(f"\nconfusion matrix ({evaluation['name']}):")
                print(report.confusion_matrix(evaluation))
    return 0


def add_parsers(subparsers: Any) -> None:
    """Adds ``detect-language``, ``build-lid`` and ``lid-report`` to an argparse sub-parser set.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers()``.
    """
    model_help = f"model file (default: ${MODEL_ENV} or models/lid/lid.bin in the repository)"

    detect = subparsers.add_parser(
        "detect-language",
        help="print the language of a text (or of each stdin line) as JSON",
        description='Prints {"code": "ar", "confidence": 0.97} per text.',
    )
    detect.add_argument("text", nargs="?", default=None, help="text to classify; omit to read stdin lines")
    detect.add_argument("--model", default=None, help=model_help)
    detect.set_defaults(func=cmd_detect_language)

    build = subparsers.add_parser("build-lid", help="train the fastText language-identification model")
    build.add_argument("--force", action="store_true", help="train even when the model is up to date")
    build.add_argument("--output", default=None, help="model file (default: models/lid/lid.bin)")
    build.add_argument("--no-cldr", action="store_true", help="leave CLDR names (babel) out of the training text")
    build.set_defaults(func=cmd_build_lid)

    report = subparsers.add_parser("lid-report", help="held-out accuracy per language, confusions, speed")
    report.add_argument("--model", default=None, help=model_help)
    report.add_argument("--json", action="store_true", help="print the full result as JSON")
    report.add_argument("--matrix", action="store_true", help="also print full confusion matrices")
    report.set_defaults(func=cmd_lid_report)


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m wegwijs.lid.cli <command> ...``."""
    parser = argparse.ArgumentParser(prog="wegwijs-lid")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
