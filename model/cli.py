"""What every command-line tool of the repository (jobs/, benchmarks/) shares: its parser's
name and help text, and how a refused input ends it."""

from __future__ import annotations

import argparse
import sys


def command_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m <module>``: the module's docstring as its help, kept as
    written (its usage examples are laid out by hand)."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def refuse(error: BaseException) -> int:
    """Say why the input was refused (the message names the file and field) and give the
    exit status of a refused input."""
    print(f"error: {error}", file=sys.stderr)
    return 2
