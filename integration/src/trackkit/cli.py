"""The ``trackkit`` command line.

Subcommands live in :mod:`trackkit._cli`, one module each, discovered at start-up. Expected
user errors (a missing file, a malformed annotation, a bad option value) print one line
``trackkit: error: ...`` and exit with status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn

from trackkit import _cli

__all__ = ["CLIError", "build_parser", "main"]


class CLIError(Exception):
    """An error the user can fix; reported as one line without a traceback."""


def _unbroken_names(formatter: type[argparse.HelpFormatter]) -> type[argparse.HelpFormatter]:
    """``formatter`` wrapping option help texts only at spaces: argparse's default also breaks
    after hyphens, which splits option and tracker names (``--trunk-`` / ``weights``)."""

    class Formatter(formatter):  # type: ignore[misc,valid-type]
        def _split_lines(self, text: str, width: int) -> list[str]:
            return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    return Formatter


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (no usage block), like the rest, and
    whose help never breaks a line inside a hyphenated name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        formatter = kwargs.get("formatter_class", argparse.HelpFormatter)
        kwargs["formatter_class"] = _unbroken_names(formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--init -20,-5,30,40`` -> ``--init=-20,-5,30,40`` (argparse reads a value starting with
    ``-`` as an option; a box partly left of or above the frame starts with one)."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--init" and re.fullmatch(r"-[\d.][\d.,eE+\- ]*", arg):
            out[-1] = f"--init={arg}"
        else:
            out.append(arg)
    return out


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand found in :mod:`trackkit._cli`."""
    parser = _Parser(
        prog="trackkit",
        description=(
            "Visual object tracking: run, evaluate and train the trackers of the trackkit "
            "libraries. Run 'trackkit COMMAND --help' for the options of one command."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(_cli.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_cli.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trackkit`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(_join_negative_values(list(sys.argv[1:] if argv is None else argv)))
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except (CLIError, OSError, ValueError) as err:
        # OSError: a missing input, an output into a folder or an unwritable place
        print(f"trackkit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trackkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # `python -m trackkit.cli`: run the imported module's main so that the subcommands and this
    # entry point share one CLIError class (this file also runs as __main__).
    from trackkit.cli import main as _main

    sys.exit(_main())
