"""``python -m benchmarks NAME [options]`` runs ``benchmarks/NAME.py``'s ``main(argv)``; ``all`` runs each."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def available() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if not info.name.startswith("_") and info.name not in {"report"}
    )


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in {"-h", "--help"}:
        print(f"usage: python -m benchmarks {{{'|'.join(names)}|all}} [options]")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "all":
        status = 0
        for each in names:
            print(f"\n=== {each} ===", flush=True)
            status |= int(importlib.import_module(f"benchmarks.{each}").main([]) or 0)
        return status
    if name not in names:
        print(f"unknown benchmark {name!r}; choose from {', '.join(names)}", file=sys.stderr)
        return 2
    return int(importlib.import_module(f"benchmarks.{name}").main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
