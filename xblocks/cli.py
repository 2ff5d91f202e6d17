"""The ``kafaat`` command: one entry point whose command groups live beside the code they drive.

Each group module exposes ``register(subparsers)``; a group that needs the database calls
``xblocks.core.bootstrap.setup_django()`` itself, so sandbox and image commands start fast and work
without a database.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (group name, module, help): the module adds its own sub-commands.
GROUPS = [
    ("image", "xblocks.labs.sandbox.cli", "build and list lab images"),
    ("sandbox", "xblocks.labs.sandbox.cli", "run a throwaway sandbox"),
    ("lab", "xblocks.labs.cli", "validate and test lab definitions"),
    ("cert", "xblocks.certification.cli", "certificates, credentials and exports"),
]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` naming a group, a parser where only that group's module is imported.

    Every group is listed either way (``kafaat --help`` names them all); the others just get no
    sub-commands, so ``kafaat sandbox exec`` does not import the certification app or Django.
    """
    parser = argparse.ArgumentParser(prog="kafaat", description="Kafaat labs and certification tools")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    sub.required = True
    for name, module_name, help_text in GROUPS:
        group = sub.add_parser(name, help=help_text)
        if only is None or name == only:
            module = importlib.import_module(module_name)
            module.register(name, group)
    return parser


def _group_named(argv: list[str]) -> str | None:
    """The group the command line names (its first word), if that is a known group."""
    first = argv[0] if argv else None
    return first if first in {name for name, _module, _help in GROUPS} else None


def main(argv: list[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_group_named(words))
    args = parser.parse_args(words)
    handler = getattr(args, "func", None)
    if handler is None:
        parser.parse_args([*words, "--help"])
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
