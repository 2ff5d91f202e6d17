"""An in-memory sandbox backend, for tests that need no root, and the reference a new backend is held to.

``KAFAAT_SANDBOX_BACKEND=memory`` makes every lab session's environment a dictionary of files in this
process. Scripts (setups, checks, solves, the terminal's command lines) run in a small shell that
understands what lab tests write: ``;``, ``&&``, ``||``, ``|``, ``{ ...; }``, ``>``/``>>``, ``$1``,
``$HOME``, ``~``, and ``exit``, ``true``, ``false``, ``:``, ``echo``, ``printf``, ``test``/``[``,
``mkdir``, ``touch``, ``cat``, ``rm``, ``chmod``, ``chown``, ``grep``, ``wc -l``, ``sleep``, ``id -un``,
``whoami``, ``hostname``, ``set``. Anything else exits 127 with a message naming the command.

It isolates nothing and is never a lab host's backend: tests about isolation, limits and the kernel
run on the local backend. It passes the same contract suite (tests/labs/sandbox/test_contract.py),
including a terminal without a file descriptor (``MemoryPty`` is a ``StreamPty``).
"""

from __future__ import annotations

import posixpath
import re
import secrets
import shlex
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from xblocks.labs.sandbox.base import (
    ExecResult,
    ImageNotFound,
    SandboxError,
    SandboxHandle,
    SandboxNotFound,
    SandboxSpec,
    User,
)

HOMES = {"learner": "/home/learner", "root": "/root"}


@dataclass
class _File:
    content: bytes
    mode: int = 0o644
    owner: str = "learner"


@dataclass
class _Machine:
    handle: SandboxHandle
    spec: SandboxSpec
    files: dict[str, _File] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {"/", "/home", "/home/learner", "/root", "/tmp", "/etc", "/lab"})


class MemoryBackend:
    """Sandboxes as dictionaries in this process; one instance per process (``instance()``)."""

    name = "memory"
    capabilities: frozenset[str] = frozenset()
    _instance: MemoryBackend | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self._machines: dict[str, _Machine] = {}
        self._lock = threading.Lock()
        self.executed: list[tuple[str, str, str, bool]] = []  # (sandbox id, script, user, check), for tests

    @classmethod
    def instance(cls) -> MemoryBackend:
        with cls._instance_lock:
            if cls.__dict__.get("_instance") is None:  # a subclass (another test backend) has its own
                cls._instance = cls()
            return cls._instance

    def reset(self) -> None:
        """Forget every sandbox (between tests)."""
        with self._lock:
            self._machines.clear()
            self.executed.clear()

    def image_names(self) -> list[str]:
        from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel

        return images.recipe_names()

    def create(self, spec: SandboxSpec) -> SandboxHandle:
        if spec.image not in self.image_names():
            raise ImageNotFound(f"no recipe for image {spec.image!r}")
        from xblocks.labs.sandbox.conf import sandbox_settings  # pylint: disable=import-outside-toplevel

        handle = SandboxHandle(
            id=f"mem-{secrets.token_hex(6)}",
            backend=self.name,
            host=str(sandbox_settings.LAB_HOST),
            label=spec.label,
            data={"image": spec.image, "sudo": spec.learner_sudo},
        )
        with self._lock:
            self._machines[handle.id] = _Machine(handle, spec)
        return handle

    def _machine(self, handle: SandboxHandle) -> _Machine:
        with self._lock:
            machine = self._machines.get(handle.id) if handle.backend == self.name else None
        if machine is None:
            raise SandboxNotFound(f"no memory sandbox {handle.id!r}")
        return machine

    def exec(
        self,
        handle: SandboxHandle,
        script: str,
        *,
        user: User | str = User.LEARNER,
        timeout: float = 30.0,
        stdin: bytes = b"",
        output_limit: int = 64 * 1024,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        cpu_seconds: float | None = None,  # noqa: ARG002 - nothing here uses CPU worth capping
        check: bool = False,
    ) -> ExecResult:
        machine = self._machine(handle)
        self.executed.append((handle.id, script, str(User(user)), check))
        shell = _Shell(machine, str(User(user)), list(args), dict(env or {}), timeout)
        started = time.monotonic()
        code = shell.run(script, stdin)
        out, err = bytes(shell.stdout), bytes(shell.stderr)
        truncated = len(out) > output_limit or len(err) > output_limit
        return ExecResult(
            exit_code=None if shell.timed_out else code,
            stdout=out[:output_limit].decode(errors="replace"),
            stderr=err[:output_limit].decode(errors="replace"),
            duration=time.monotonic() - started,
            timed_out=shell.timed_out,
            truncated=truncated,
        )

    def exec_outside(
        self,
        handle: SandboxHandle,
        script: str,
        *,
        timeout: float = 30.0,
        stdin: bytes = b"",
        output_limit: int = 64 * 1024,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        cpu_seconds: float | None = None,
    ) -> ExecResult:
        """As root on a copy: the learner's files appear under ``/lab`` too, and nothing written stays."""
        machine = self._machine(handle)
        copy = _Machine(machine.handle, machine.spec, dict(machine.files), set(machine.dirs))
        for path, item in machine.files.items():
            copy.files["/lab" + path] = _File(item.content, item.mode & 0o666, item.owner)
        shell = _Shell(copy, "root", list(args), dict(env or {}), timeout)
        started = time.monotonic()
        code = shell.run(script, stdin)
        return ExecResult(
            exit_code=None if shell.timed_out else code,
            stdout=bytes(shell.stdout)[:output_limit].decode(errors="replace"),
            stderr=bytes(shell.stderr)[:output_limit].decode(errors="replace"),
            duration=time.monotonic() - started,
            timed_out=shell.timed_out,
            truncated=max(len(shell.stdout), len(shell.stderr)) > output_limit,
        )

    def put_file(
        self, handle: SandboxHandle, path: str, content: bytes, *, user: User | str = User.LEARNER, mode: int = 0o644
    ) -> None:
        machine = self._machine(handle)
        folder = posixpath.dirname(path)
        if not path.startswith("/") or folder not in machine.dirs:
            raise SandboxError(f"could not write {path} in sandbox {handle.id}: no folder {folder}")
        machine.files[path] = _File(bytes(content), mode, str(User(user)))

    def read_file(
        self, handle: SandboxHandle, path: str, *, user: User | str = User.LEARNER, limit: int = 1024 * 1024
    ) -> ExecResult:
        return self.exec(handle, 'cat -- "$1"', user=user, args=(path,), output_limit=limit, check=True)

    def open_pty(
        self, handle: SandboxHandle, *, cols: int = 80, rows: int = 24, user: User | str = User.LEARNER
    ) -> MemoryPty:
        return MemoryPty(self, self._machine(handle), str(User(user)), cols, rows)

    def alive(self, handle: SandboxHandle) -> bool:
        try:
            self._machine(handle)
        except SandboxNotFound:
            return False
        return True

    def inventory(self) -> list[SandboxHandle]:
        with self._lock:
            return [machine.handle for machine in self._machines.values()]

    def destroy(self, handle: SandboxHandle) -> None:
        with self._lock:
            self._machines.pop(handle.id, None)


class MemoryPty:
    """A line-at-a-time terminal on a memory sandbox, with no file descriptor (a ``StreamPty``):
    each line written runs through the sandbox's shell; ``read`` blocks until there is output."""

    PROMPT = b"$ "

    def __init__(self, backend: MemoryBackend, machine: _Machine, user: str, cols: int, rows: int):
        self.backend, self.machine, self.user = backend, machine, user
        self.size = (cols, rows)
        self._pending = bytearray(self.PROMPT)
        self._line = bytearray()
        self._closed = False
        self._ready = threading.Condition()

    def read(self, size: int = 65536) -> bytes:
        with self._ready:
            while not self._pending and not self._closed:
                self._ready.wait()
            data = bytes(self._pending[:size])
            del self._pending[:size]
            return data

    def write(self, data: bytes) -> int:
        if self._closed:
            raise OSError("the terminal is closed")
        output = bytearray()
        for byte in data:
            char = bytes([byte])
            if char in (b"\r", b"\n"):
                output += b"\r\n"
                line = self._line.decode(errors="replace")
                self._line.clear()
                if line.strip() == "exit":
                    self._push(output)
                    self.close()
                    return len(data)
                if line.strip():
                    try:
                        result = self.backend.exec(self.machine.handle, line, user=self.user)
                        output += (result.stdout + result.stderr).replace("\n", "\r\n").encode()
                    except SandboxNotFound:
                        self._push(output)
                        self.close()
                        return len(data)
                output += self.PROMPT
            elif char == b"\x7f":
                if self._line:
                    self._line.pop()
                    output += b"\b \b"
            else:
                self._line += char
                output += char  # echo, as a terminal in cooked mode does
        self._push(output)
        return len(data)

    def _push(self, data: bytes | bytearray) -> None:
        with self._ready:
            self._pending += data
            self._ready.notify_all()

    def resize(self, cols: int, rows: int) -> None:
        self.size = (cols, rows)

    def alive(self) -> bool:
        return not self._closed and self.backend.alive(self.machine.handle)

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()


# ---------------------------------------------------------------------------------------------------
# The small shell


class _Exit(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class _TimedOut(Exception):
    pass


# stderr redirections are dropped before parsing (error text is not what lab tests assert on)
_STDERR_REDIRECT = re.compile(r"(?<=\s)2>&1|(?<=\s)2>>?\s*\S+")


class _Shell:
    def __init__(self, machine: _Machine, user: str, args: list[str], env: dict[str, str], timeout: float):
        self.machine, self.user, self.args = machine, user, args
        self.home = HOMES.get(user, "/root")
        self.env = {"HOME": self.home, "USER": user, **env}
        self.deadline = time.monotonic() + timeout
        self.stdout, self.stderr = bytearray(), bytearray()
        self.errexit = False
        self.timed_out = False
        self.status = 0

    # --- parsing -----------------------------------------------------------------------------

    @staticmethod
    def lexemes(script: str) -> list[str]:
        words: list[str] = []
        for line in script.split("\n"):
            line = _STDERR_REDIRECT.sub(" ", " " + line)
            lexer = shlex.shlex(line, posix=True, punctuation_chars="();<>|&")
            lexer.whitespace_split = True
            words += [*lexer, ";"]
        return words

    def run(self, script: str, stdin: bytes = b"") -> int:
        try:
            lexemes = self.lexemes(script)
        except ValueError as error:
            self.stderr += f"memory backend: cannot parse the script: {error}\n".encode()
            return 2
        try:
            self.status = self._list(lexemes, stdin)
        except _Exit as done:
            self.status = done.code
        except _TimedOut:
            self.timed_out = True
            self.status = -1
        return self.status

    def _list(self, lexemes: list[str], stdin: bytes) -> int:
        """Statements separated by ``;`` (a ``{ ... }`` group is one statement of its own list)."""
        status = 0
        for statement in self._split(lexemes, {";"}):
            if statement:
                status = self._and_or(statement, stdin)
                if self.errexit and status != 0:
                    raise _Exit(status)
        return status

    @staticmethod
    def _split(lexemes: list[str], separators: set[str]) -> list[list[str]]:
        """Split at top-level separators (not inside braces), keeping the separators as their own parts."""
        parts: list[list[str]] = [[]]
        depth = 0
        for word in lexemes:
            if word == "{":
                depth += 1
            elif word == "}":
                depth -= 1
            if depth == 0 and word in separators:
                if word != ";":
                    parts.append([word])
                parts.append([])
            else:
                parts[-1].append(word)
        return parts

    def _and_or(self, lexemes: list[str], stdin: bytes) -> int:
        parts = self._split(lexemes, {"&&", "||"})
        status = self._pipeline(parts[0], stdin)
        for index in range(1, len(parts) - 1, 2):
            operator, pipeline = parts[index][0], parts[index + 1]
            if (operator == "&&" and status == 0) or (operator == "||" and status != 0):
                status = self._pipeline(pipeline, stdin)
        return status

    def _pipeline(self, lexemes: list[str], stdin: bytes) -> int:
        commands = [part for part in self._split(lexemes, {"|"}) if part != ["|"]]
        data, status = stdin, 0
        for index, command in enumerate(commands):
            last = index == len(commands) - 1
            before = len(self.stdout)
            status = self._command(command, data)
            if not last:  # what this command printed feeds the next one
                data = bytes(self.stdout[before:])
                del self.stdout[before:]
        return status

    def _command(self, lexemes: list[str], stdin: bytes) -> int:
        if time.monotonic() > self.deadline:
            raise _TimedOut
        if lexemes and lexemes[0] == "{":
            return self._list(lexemes[1:-1] if lexemes[-1] == "}" else lexemes[1:], stdin)
        negate = bool(lexemes) and lexemes[0] == "!"
        words, target, append = [], None, False
        items = iter(lexemes[1:] if negate else lexemes)
        for word in items:
            if word in (">", ">>"):
                target, append = self._expand(next(items, "")), word == ">>"
            elif word == "<":
                stdin = self._read(self._path(self._expand(next(items, ""))))
            else:
                words.append(self._expand(word))
        if not words:
            return 0
        before = len(self.stdout)
        status = self._builtin(words, stdin)
        if target is not None:
            written = bytes(self.stdout[before:])
            del self.stdout[before:]
            if target != "/dev/null":
                path = self._path(target)
                old = self.machine.files.get(path)
                content = (old.content if old and append else b"") + written
                if posixpath.dirname(path) not in self.machine.dirs:
                    return self._fail(f"{target}: No such file or directory")
                self.machine.files[path] = _File(content, old.mode if old else 0o644, self.user)
        return int(not status) if negate else status

    def _expand(self, word: str) -> str:
        if word == "~" or word.startswith("~/"):
            word = self.home + word[1:]

        def value(match: re.Match) -> str:
            name = match.group(1) or match.group(2)
            if name.isdigit():
                return self.args[int(name) - 1] if 0 < int(name) <= len(self.args) else ""
            if name == "?":
                return str(self.status)
            return self.env.get(name, "")

        return re.sub(r"\$\{([A-Za-z0-9_?]+)\}|\$([A-Za-z_][A-Za-z0-9_]*|[0-9?])", value, word)

    def _path(self, path: str) -> str:
        return posixpath.normpath(path if path.startswith("/") else posixpath.join(self.home, path))

    def _read(self, path: str) -> bytes:
        item = self.machine.files.get(path)
        if item is None:
            raise FileNotFoundError(path)
        return item.content

    def _fail(self, message: str, status: int = 1) -> int:
        self.stderr += f"{message}\n".encode()
        return status

    # --- commands ----------------------------------------------------------------------------

    def _builtin(self, words: list[str], stdin: bytes) -> int:  # noqa: C901, PLR0911, PLR0912 - one per command
        name, rest = words[0], words[1:]
        files, dirs = self.machine.files, self.machine.dirs
        if name == "exit":
            raise _Exit(int(rest[0]) if rest else self.status)
        if name in ("true", ":"):
            return 0
        if name == "false":
            return 1
        if name == "set":
            self.errexit = self.errexit or any(flag.startswith("-") and "e" in flag for flag in rest)
            return 0
        if name == "echo":
            newline = not (rest and rest[0] == "-n")
            self.stdout += (" ".join(rest[1:] if not newline else rest) + ("\n" if newline else "")).encode()
            return 0
        if name == "printf":
            text = (rest[0] if rest else "").encode().decode("unicode_escape")
            self.stdout += (text.replace("%s", "{}").format(*rest[1:]) if "%s" in text else text).encode()
            return 0
        if name in ("test", "["):
            return self._test(rest[:-1] if name == "[" else rest)
        if name in ("id", "whoami"):
            self.stdout += f"{self.user}\n".encode()
            return 0
        if name == "hostname":
            self.stdout += f"{self.machine.spec.hostname}\n".encode()
            return 0
        if name == "sleep":
            seconds = float(rest[0]) if rest else 0
            if time.monotonic() + seconds > self.deadline:
                time.sleep(max(0.0, self.deadline - time.monotonic()))
                raise _TimedOut
            time.sleep(seconds)
            return 0
        paths = [self._path(word) for word in rest if not word.startswith("-")]
        flags = "".join(word[1:] for word in rest if word.startswith("-") and word != "--")
        if name == "mkdir":
            for path in paths:
                if "p" not in flags and (path in dirs or posixpath.dirname(path) not in dirs):
                    return self._fail(f"mkdir: cannot create directory '{path}'")
                while path not in dirs:
                    dirs.add(path)
                    path = posixpath.dirname(path)
            return 0
        if name == "touch":
            for path in paths:
                if posixpath.dirname(path) not in dirs:
                    return self._fail(f"touch: cannot touch '{path}': No such file or directory")
                files.setdefault(path, _File(b"", 0o644, self.user))
            return 0
        if name == "cat":
            if not paths:
                self.stdout += stdin
            for path in paths:
                if path not in files:
                    return self._fail(f"cat: {path}: No such file or directory")
                self.stdout += files[path].content
            return 0
        if name == "rm":
            for path in paths:
                removed = files.pop(path, None) is not None
                if path in dirs and "r" in flags:
                    dirs.difference_update({d for d in dirs if d == path or d.startswith(path + "/")})
                    for inner in [f for f in files if f.startswith(path + "/")]:
                        del files[inner]
                    removed = True
                if not removed and "f" not in flags:
                    return self._fail(f"rm: cannot remove '{path}': No such file or directory")
            return 0
        if name == "chmod":
            mode, targets = rest[0], [self._path(word) for word in rest[1:]]
            for path in targets:
                if path not in files:
                    return self._fail(f"chmod: cannot access '{path}'")
                item = files[path]
                item.mode = int(mode, 8) if mode.isdigit() else item.mode | (0o111 if "+x" in mode else 0)
            return 0
        if name == "chown":
            return 0
        if name == "grep":
            pattern = next(word for word in rest if not word.startswith("-"))
            sources = [self._path(word) for word in rest if not word.startswith("-") and word != pattern]
            text = b"".join(files[p].content for p in sources if p in files) if sources else stdin
            if sources and not any(p in files for p in sources):
                return 2
            matches = [line for line in text.decode(errors="replace").splitlines() if re.search(pattern, line)]
            if "c" in flags:
                self.stdout += f"{len(matches)}\n".encode()
            elif "q" not in flags:
                self.stdout += "".join(f"{line}\n" for line in matches).encode()
            return 0 if matches else 1
        if name == "wc" and "l" in flags:
            text = b"".join(files[p].content for p in paths if p in files) if paths else stdin
            self.stdout += b"%d\n" % text.count(b"\n")
            return 0
        return self._fail(f"memory backend: cannot run {name!r} (see xblocks/labs/sandbox/memory.py)", 127)

    def _test(self, words: list[str]) -> int:
        if words and words[0] == "!":
            return int(not self._test(words[1:]) == 0)
        files, dirs = self.machine.files, self.machine.dirs
        if len(words) == 2 and words[0].startswith("-"):
            flag, path = words[0], self._path(words[1])
            found = {
                "-e": path in files or path in dirs,
                "-f": path in files,
                "-d": path in dirs,
                "-x": path in files and bool(files[path].mode & 0o111),
                "-s": path in files and bool(files[path].content),
                "-n": bool(words[1]),
                "-z": not words[1],
            }.get(flag)
            if found is None:
                return self._fail(f"memory backend: test {flag} is not supported", 2)
            return 0 if found else 1
        if len(words) == 3 and words[1] in ("=", "==", "!="):
            return 0 if (words[0] == words[2]) == (words[1] != "!=") else 1
        if len(words) == 1:
            return 0 if words[0] else 1
        return self._fail(f"memory backend: test {' '.join(words)} is not supported", 2)
