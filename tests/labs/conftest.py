"""Fixtures for the labs app tests: lab blocks in the workbench runtime, handler calls, learners, sandboxes."""

from __future__ import annotations

import json
import pathlib
import uuid
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11; pytest.ini turns
    # warnings into errors, so import it once here with that one warning silenced.
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401  pylint: disable=unused-import

from tests.labs.harness import redis_lab_queue  # noqa: E402,F401  a fixture: the api's tasks to real workers

OLX_DIR = pathlib.Path(__file__).resolve().parent / "block" / "olx"


def olx(name: str) -> str:
    """The text of a lab fixture under tests/labs/block/olx/."""
    return (OLX_DIR / f"{name}.xml").read_text(encoding="utf-8")


class Lab:
    """One lab block in the workbench, usable as any learner (``lab.as_("bob")``)."""

    def __init__(self, text: str, student: str):
        from workbench.runtime import WorkbenchRuntime  # pylint: disable=import-outside-toplevel

        runtime = WorkbenchRuntime(student)
        runtime.id_generator.set_scenario(f"labtest-{uuid.uuid4().hex[:10]}")
        self.usage_id = runtime.parse_xml_string(text)
        self.published: dict[str, list] = {}
        self.student = student
        self.block = self._bind(runtime, student)

    def _bind(self, runtime, student):
        block = runtime.get_block(self.usage_id)
        sink = self.published.setdefault(student, [])
        runtime.publish = lambda _block, event, data: sink.append((event, data))
        return block

    def as_(self, student: str) -> Lab:
        from workbench.runtime import WorkbenchRuntime  # pylint: disable=import-outside-toplevel

        other = object.__new__(Lab)
        other.usage_id, other.published, other.student = self.usage_id, self.published, student
        other.block = other._bind(WorkbenchRuntime(student), student)
        return other

    def call(self, handler: str, data: dict | None = None, method: str = "POST") -> tuple[int, dict]:
        """Call a handler the way the page does (JSON body) and return (HTTP status, JSON body)."""
        from webob import Request  # pylint: disable=import-outside-toplevel

        request = Request.blank("/", method=method)
        if method == "POST":
            request.body = json.dumps(data or {}).encode("utf-8")
            request.content_type = "application/json"
        response = self.block.runtime.handle(self.block, handler, request)
        try:
            body = json.loads(response.body or b"null")
        except ValueError:
            body = None
        return response.status_code, body

    def ok(self, handler: str, data: dict | None = None) -> dict:
        status, body = self.call(handler, data)
        assert status == 200, (handler, status, body)
        return body

    def grades(self, student: str | None = None) -> list[dict]:
        return [data for event, data in self.published.get(student or self.student, []) if event == "grade"]

    @property
    def usage_key(self) -> str:
        return str(self.usage_id)


@pytest.fixture
def lab_factory(db):  # pylint: disable=unused-argument
    """``lab_factory("files_and_flags", student="alice")`` or with raw OLX text."""

    def make(name_or_text: str, student: str = "alice") -> Lab:
        text = name_or_text if name_or_text.lstrip().startswith("<") else olx(name_or_text)
        return Lab(text, student)

    return make


@pytest.fixture
def user_factory(db):  # pylint: disable=unused-argument
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel

    def make(username: str, **extra):
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com", **extra}
        )
        return user

    return make


@pytest.fixture
def definition_of():
    from xblocks.labs.definition import parse_lab  # pylint: disable=import-outside-toplevel

    return lambda name: parse_lab(olx(name))


@pytest.fixture
def backend():
    """The real configured sandbox backend (local bubblewrap sandboxes on this machine)."""
    from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel

    return get_backend()


@pytest.fixture
def no_dispatch(monkeypatch):
    """Record the tasks the api queues instead of running them (for tests about the database alone)."""
    from xblocks.labs import tasks  # pylint: disable=import-outside-toplevel

    queued: list[tuple[str, int]] = []
    monkeypatch.setattr(
        tasks, "enqueue", lambda task, session_id, queue=None: queued.append((task.name.rsplit(".", 1)[-1], session_id))
    )
    return queued


def solve_in_sandbox(backend, session_id: int, step_id: str):
    """Do a step's work inside the learner's sandbox, as the learner would in the terminal."""
    from xblocks.labs import api, runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.api import status  # pylint: disable=import-outside-toplevel
    from xblocks.labs.models import LabSession  # pylint: disable=import-outside-toplevel

    row = LabSession.objects.get(pk=session_id)
    step = status._rendered(row).step(step_id)  # pylint: disable=protected-access
    result = runner.run_solve(backend, api.terminal_target(session_id), step)
    assert result.exit_code == 0, result
    return result


def assert_inert(markup: str) -> None:
    """No element of ``markup`` can run script: no script/svg/iframe, no on* attribute, no javascript: URL."""
    from lxml import html as lxml_html  # pylint: disable=import-outside-toplevel

    tree = lxml_html.fragment_fromstring(markup, create_parent="div")
    assert not tree.xpath("//script[not(@type='json/xblock-args')] | //svg | //iframe | //object | //embed")
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        assert not [name for name in element.attrib if name.lower().startswith("on")], element.attrib
        for name in ("href", "src", "action", "formaction"):
            assert not (element.get(name) or "").strip().lower().startswith("javascript:"), element.attrib
