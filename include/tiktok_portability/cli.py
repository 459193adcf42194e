"""``tiktok-portability``: the command line.

Each part of the core registers its own subcommands (``register(subparsers)`` in its ``cli``
module) so this file stays a table of contents and importing it stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# (module, attribute): each module exposes ``register(subparsers) -> None``. Imported lazily and
# tolerated when missing so a partial checkout still gives a working CLI.
COMMAND_MODULES: tuple[str, ...] = (
    "tiktok_portability.emulator.cli",
    "tiktok_portability.state.cli",
    "tiktok_portability.lake.cli",
    "tiktok_portability.sync.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiktok-portability",
        description="Recurring TikTok Data Portability transfers into a Parquet data lake.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a CLI prints the error, not a traceback, unless -vv
        if args.verbose >= 2:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
