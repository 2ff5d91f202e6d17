"""``kafaat image ...`` and ``kafaat sandbox ...``: build lab images and run throwaway sandboxes, no database needed."""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import signal
import sys
import termios
import tty

from xblocks.labs.sandbox.base import Limits, MiB, SandboxError, SandboxSpec, User

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
UNITS = {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB, "T": 1024 * 1024 * MiB}


def register(name: str, parser: argparse.ArgumentParser) -> None:
    """Attach the sub-commands of the ``image`` or ``sandbox`` group (``xblocks/cli.py`` calls this once for each)."""
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    sub.required = True
    if name == "image":
        build = sub.add_parser("build", help="build images from their recipes (cached by recipe hash)")
        build.add_argument("names", nargs="*", metavar="NAME")
        build.add_argument("--all", action="store_true", help="every image some recipe folder provides")
        build.add_argument("--force", action="store_true", help="rebuild even when the cached image is current")
        build.set_defaults(func=image_build)
        listing = sub.add_parser("list", help="images, recipe hash, built or not, size and path")
        listing.set_defaults(func=image_list)
        prune = sub.add_parser("prune", help="remove cached images of old recipes that no live sandbox uses")
        prune.add_argument("--dry-run", action="store_true", help="only print what would be removed")
        prune.set_defaults(func=image_prune)
    elif name == "sandbox":
        shell = sub.add_parser("shell", help="an interactive shell in a throwaway sandbox, destroyed on exit")
        _sandbox_options(shell)
        shell.add_argument("--root", action="store_true", help="be the sandbox's root instead of the learner")
        shell.set_defaults(func=sandbox_shell)
        run = sub.add_parser("exec", help="run a command in a throwaway sandbox; exits with its code")
        _sandbox_options(run)
        run.add_argument("--root", action="store_true", help="run as the sandbox's root instead of the learner")
        run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...")
        run.set_defaults(func=sandbox_exec)
        selftest = sub.add_parser("selftest", help="run the abuse cases in real sandboxes and print each")
        selftest.set_defaults(func=sandbox_selftest)
        listing = sub.add_parser("list", help="sandboxes that exist on this host")
        listing.set_defaults(func=sandbox_list)
        destroy = sub.add_parser("destroy", help="destroy sandboxes by id (or --all)")
        destroy.add_argument("ids", nargs="*", metavar="ID")
        destroy.add_argument("--all", action="store_true")
        destroy.set_defaults(func=sandbox_destroy)
        built = sub.add_parser("helper", help="build the sandbox helper if needed and print its path")
        built.add_argument("--rebuild", action="store_true", help="compile it again even when cached")
        built.set_defaults(func=sandbox_helper)
    else:
        raise ValueError(f"unknown command group {name!r}")


def _sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", default="base")
    parser.add_argument("--memory", default="512M", type=parse_size, help="memory limit, e.g. 256M")
    parser.add_argument("--pids", default=256, type=int, help="process limit")
    parser.add_argument("--cpus", default=1.0, type=float, help="CPU quota in cores")
    parser.add_argument("--disk", default="512M", type=parse_size, help="writable layer size")
    parser.add_argument("--timeout", default=30.0, type=float, help="wall-clock limit in seconds (exec)")
    parser.add_argument("--network", action="store_true", help="(reserved) the local backend has loopback only")
    parser.add_argument("--sudo", action="store_true", help="let the learner use sudo inside")


def parse_size(text: str) -> int:
    match = SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256M, 1G)")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def _spec(args: argparse.Namespace) -> SandboxSpec:
    limits = Limits(memory_bytes=args.memory, pids=args.pids, cpus=args.cpus, disk_bytes=args.disk)
    return SandboxSpec(image=args.image, limits=limits, network=args.network, learner_sudo=args.sudo, label="cli")


# ---------------------------------------------------------------------------------------------------
# image


def image_build(args: argparse.Namespace) -> int:
    from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel

    names = images.recipe_names() if args.all else args.names
    if not names:
        print("kafaat image build: name an image or pass --all", file=sys.stderr)
        return 2
    failed = 0
    if sandbox_helper(argparse.Namespace(rebuild=False)) != 0:  # what every sandbox of these images needs
        failed += 1
    for name in names:
        try:
            images.build(name, force=args.force, stream=sys.stderr)
        except SandboxError as error:
            print(f"{name}: build failed: {error}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def image_list(args: argparse.Namespace) -> int:  # pylint: disable=unused-argument
    from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel

    rows = [("NAME", "RECIPE", "BUILT", "SIZE", "PATH")]
    for image in images.list_images():
        size = f"{image.size_bytes() / MiB:.0f} MiB" if image.built else "-"
        rows.append((image.name, image.hash, "yes" if image.built else "no", size, str(image.path)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def image_prune(args: argparse.Namespace) -> int:
    from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel

    in_use = {
        f"{handle.data.get('image')}-{handle.data.get('image_hash')}"
        for handle in _backend().inventory()
        if handle.data.get("image")
    }
    for path in images.prune(in_use, dry_run=args.dry_run):
        print(f"{'would remove' if args.dry_run else 'removed'} {path}")
    return 0


# ---------------------------------------------------------------------------------------------------
# sandbox


def _backend():
    from xblocks.labs.sandbox.local import LocalBackend  # pylint: disable=import-outside-toplevel

    return LocalBackend.instance()


def sandbox_exec(args: argparse.Namespace) -> int:
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        print("kafaat sandbox exec: give a command after --", file=sys.stderr)
        return 2
    backend = _backend()
    handle = backend.create(_spec(args))
    try:
        result = backend.exec(
            handle,
            'exec "$@"',
            args=command,
            user=User.ROOT if args.root else User.LEARNER,
            timeout=args.timeout,
            stdin=b"" if sys.stdin.isatty() else sys.stdin.buffer.read(),
            output_limit=16 * MiB,
        )
    finally:
        backend.destroy(handle)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.timed_out:
        print(f"kafaat: timed out after {args.timeout:g} s", file=sys.stderr)
        return 124
    if result.exit_code is None:
        return 137
    return result.exit_code


def sandbox_shell(args: argparse.Namespace) -> int:
    backend = _backend()
    handle = backend.create(_spec(args))
    try:
        cols, rows = shutil.get_terminal_size()
        pty = backend.open_pty(handle, cols=cols, rows=rows, user=User.ROOT if args.root else User.LEARNER)
        try:
            _bridge(pty)
        finally:
            pty.close()
    finally:
        backend.destroy(handle)
    return 0


def _bridge(pty) -> None:
    """Copy the local terminal to the sandbox's PTY and back until the shell exits."""
    interactive = sys.stdin.isatty()
    saved = termios.tcgetattr(sys.stdin.fileno()) if interactive else None

    def resized(*_):
        cols, rows = shutil.get_terminal_size()
        pty.resize(cols, rows)

    previous = signal.signal(signal.SIGWINCH, resized)
    try:
        if interactive:
            tty.setraw(sys.stdin.fileno())
        stdin_open = True
        while True:
            readers = [pty.fileno()] + ([sys.stdin.fileno()] if stdin_open else [])
            ready, _, _ = select.select(readers, [], [], 0.5)
            if pty.fileno() in ready:
                data = pty.read()
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            elif not pty.alive():
                break
            if sys.stdin.fileno() in ready:
                data = os.read(sys.stdin.fileno(), 65536)
                if data:
                    pty.write(data)
                else:
                    stdin_open = False
    finally:
        signal.signal(signal.SIGWINCH, previous)
        if saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


def sandbox_selftest(args: argparse.Namespace) -> int:  # pylint: disable=unused-argument
    from xblocks.labs.sandbox import selftest  # pylint: disable=import-outside-toplevel

    report = selftest.run(progress=lambda case: print(case.line(), flush=True))
    for need in report.requirements:
        if not need.ok or not report.cases:
            print(need.line(), flush=True)
    selftest.record(report, host=True)  # an operator's passing run lifts a refusal on this host
    print(report.summary())
    return 0 if report.passed else 1


def sandbox_helper(args: argparse.Namespace) -> int:
    from xblocks.labs.sandbox import helper  # pylint: disable=import-outside-toplevel

    try:
        path = str(helper.build(force=True)) if args.rebuild else helper.path()
    except SandboxError as error:
        print(f"sandbox helper: {error}", file=sys.stderr)
        return 1
    print(f"sandbox helper: {path} (Landlock ABI {helper.landlock_abi()})")
    return 0


def sandbox_list(args: argparse.Namespace) -> int:  # pylint: disable=unused-argument
    backend = _backend()
    for handle in backend.inventory():
        state = "alive" if backend.alive(handle) else "dead"
        print(f"{handle.id}  {state:5}  {handle.data.get('image', '?'):10}  {handle.label}")
    return 0


def sandbox_destroy(args: argparse.Namespace) -> int:
    backend = _backend()
    handles = backend.inventory()
    chosen = handles if args.all else [h for h in handles if h.id in set(args.ids)]
    for handle in chosen:
        backend.destroy(handle)
        print(f"destroyed {handle.id}")
    return 0
