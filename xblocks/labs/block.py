"""The ``kafaat_lab`` XBlock: a thin adapter that renders lab pages and turns handler calls into ``labs.api`` calls.

The block stores the lab's OLX verbatim (import/export round-trips unchanged) and keeps no learner
truth in XBlock fields: sessions, check runs and scores live in the labs app's tables, and grades are
published only from those server-side records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib
from functools import lru_cache
from urllib.parse import quote

from lxml import etree
from web_fragments.fragment import Fragment
from xblock.completable import CompletableXBlockMixin
from xblock.core import XBlock
from xblock.exceptions import JsonHandlerError
from xblock.fields import Scope, String

from xblocks.core import compat
from xblocks.core.html import render_markdown
from xblocks.core.i18n import direction, js_catalog, language
from xblocks.core.i18n import gettext as _
from xblocks.core.resources import add_http_js, add_i18n_js, resource_text
from xblocks.core.templates import render
from xblocks.core.xml import parse
from xblocks.labs import api
from xblocks.labs.catalog import find_labs
from xblocks.labs.conf import labs_settings
from xblocks.labs.data import ActionRefused, LabError, SessionNotFound, SessionNotReady
from xblocks.labs.definition import languages, localise, parse_lab, parse_lab_with_warnings
from xblocks.labs.definition.languages import shown_language

log = logging.getLogger(__name__)

RUNTIME_ATTRIBUTES = ("url_name", "xblock-family")
CHECKOUT = pathlib.Path(__file__).resolve().parents[2]

DEFAULT_OLX = """<kafaat_lab display_name="First steps in the shell" image="base" time_limit="30" idle_timeout="10">
  <step id="hello" title="Create a file">
    <instructions>Create a file named `hello.txt` in your home directory containing the word `hello`.</instructions>
    <check id="hello-file" points="1">grep -qx hello /home/learner/hello.txt ||
      { echo "hello.txt does not contain hello yet"; exit 1; }</check>
    <hint cost="0">`echo hello > ~/hello.txt`</hint>
    <solve>echo hello > /home/learner/hello.txt</solve>
  </step>
</kafaat_lab>"""


@lru_cache(maxsize=64)
def _parse(source_hash: str, source: str):

    return parse_lab(source)


# Only these context values are HTML, and they come from render_markdown (nh3-sanitised).
HTML_KEYS = ("instructions", "preview", "intro", "finish", "hint_html")


def render_page(name: str, context: dict) -> str:
    """Render one of this block's templates (``templates/<name>``); everything is escaped but sanitised Markdown."""
    return render("xblocks.labs", name, context, html_keys=HTML_KEYS)


def _problems(error) -> list[dict]:
    problems = getattr(error, "errors", None)
    if problems:
        return [{"line": getattr(p, "line", None), "message": str(getattr(p, "message", p))} for p in problems]
    return [{"line": getattr(error, "line", None), "message": str(error)}]


def lab_completion(status) -> float:
    """1.0 once the lab is passed (every step passed), before that the share of steps passed."""
    if status.completed:
        return 1.0
    steps = status.steps or ()
    if not steps:
        return 0.0
    return round(min(sum(1 for step in steps if step.passed) / len(steps), 0.99), 4)


def _pages(definition) -> dict:
    """The intro and finish pages as sanitised HTML ("" when the lab has none)."""
    return {key: render_markdown(text) if (text := getattr(definition, key, "")) else "" for key in ("intro", "finish")}


def _services(definition) -> list[dict]:
    """The service tabs the page shows: web apps and notebooks, when the site serves service origins."""
    if definition is None or not api.services_enabled():
        return []
    return [{"id": service.id, "label": service.label, "kind": service.kind} for service in definition.services]


def _previews(definition) -> list[dict]:
    """The lab as a learner reads it in each of its languages (its own first), for authors and staff."""
    if definition is None:
        return []
    out = []
    for code in languages(definition):
        shown = localise(definition, code)
        out.append(
            {
                "lang": code,
                "dir": direction(code.split("-")[0]),
                "display_name": shown.display_name,
                "steps": [
                    {
                        "title": s.title,
                        "instructions": render_markdown(s.instructions),
                        "max_points": s.max_points,
                        "hints": [{"hint_html": render_markdown(hint.text), "cost": hint.cost} for hint in s.hints],
                    }
                    for s in shown.steps
                ],
                **_pages(shown),
            }
        )
    return out


def _refuse(status: int, message: str) -> JsonHandlerError:
    return JsonHandlerError(status, message)


@XBlock.needs("user")
@XBlock.wants("i18n")
class LabBlock(CompletableXBlockMixin, XBlock):
    """A hands-on Linux lab: Start, a terminal beside the steps, Check, and a score in the gradebook."""

    display_name = String(display_name=_("Display name"), default=_("Lab"), scope=Scope.settings)
    olx = String(
        display_name=_("Lab definition (OLX)"),
        default=DEFAULT_OLX,
        scope=Scope.content,
        help=_("The whole <kafaat_lab> element: steps, checks, hints, files and setup."),
    )

    has_score = True
    icon_class = "problem"
    has_author_view = True

    # ------------------------------------------------------------------ definition and grading

    def definition(self):
        """The parsed lab (cached per OLX text); raises LabDefinitionError when the OLX is invalid."""
        source = self.olx or ""
        return _parse(hashlib.sha256(source.encode("utf-8")).hexdigest(), source)

    def _definition_or_none(self):
        try:
            return self.definition()
        except ValueError:
            log.warning("lab %s has an invalid definition", self.scope_ids.usage_id, exc_info=True)
            return None

    @property
    def lab_key(self) -> str:
        """The lab's stable identity: its OLX ``lab_key``, else its block id (``url_name``)."""
        definition = self._definition_or_none()
        return (definition.lab_key if definition else "") or compat.block_id(self)

    @property
    def weight(self) -> float:
        definition = self._definition_or_none()
        return float(definition.weight) if definition else 1.0

    def max_score(self) -> int:
        definition = self._definition_or_none()
        return int(definition.max_score) if definition else 0

    def _publish_grade(self, status) -> None:
        """Publish the learner's score and completion as recorded server-side (never from request data).

        Completion is custom (``CompletableXBlockMixin``): without it edx-completion marks any scored
        block complete on its first grade event, so a lab would count as done after one failed Check.
        """
        self.runtime.publish(self, "grade", {"value": float(status.score), "max_value": float(status.max_score)})
        self.emit_completion(lab_completion(status))

    def _publish_recorded(self, requester, definition) -> None:
        """Publish the score that finished check runs recorded, if not yet published (idempotent).

        Runs are recorded by a worker, but grades reach the gradebook through this runtime during a
        request: when the page fetches a finished run, and on the next load or poll when the page was
        closed before the result arrived.
        """
        pending = api.claim_unpublished_grade(requester.user, self._usage_key(), definition)
        if pending is None:
            return
        try:
            self._publish_grade(pending.status)
        except Exception:
            api.release_grade_claim(pending)
            raise

    # ------------------------------------------------------------------ OLX

    @classmethod
    def parse_xml(cls, node, runtime, keys, *args, **kwargs):
        """Keep the ``<kafaat_lab>`` element verbatim (minus what the import machinery added)."""
        block = runtime.construct_xblock_from_class(cls, keys)
        element = etree.fromstring(etree.tostring(node, with_tail=False))
        for name in RUNTIME_ATTRIBUTES:
            element.attrib.pop(name, None)
        block.olx = etree.tostring(element, encoding="unicode", with_tail=False)
        if element.get("display_name"):
            block.display_name = element.get("display_name")
        return block

    def add_xml_to_node(self, node):
        """Write the stored OLX back: same attributes, text and children as imported."""

        source = parse(self.olx or DEFAULT_OLX)
        node.tag = self.scope_ids.block_type or source.tag
        for name, value in source.attrib.items():
            node.set(name, value)
        node.text = source.text
        for child in source:
            node.append(child)

    # ------------------------------------------------------------------ who is asking

    def _requester(self):
        try:
            return compat.current_requester(self)
        except PermissionError:
            raise _refuse(403, _("Sign in to use this lab.")) from None

    def _usage_key(self) -> str:
        return compat.usage_key(self)

    def _course_key(self) -> str:
        return compat.course_key(self)

    def _valid_definition(self):
        definition = self._definition_or_none()
        if definition is None:
            raise _refuse(409, _("This lab is not available: its definition has errors. Please tell your instructor."))
        return definition

    def _live_session(self, requester) -> int:
        session_id = api.live_session_id(requester.user, self._usage_key())
        if session_id is None:
            raise _refuse(409, _("Your lab is not running. Start it first."))
        return session_id

    def _staff(self):
        requester = self._requester()
        if not requester.is_staff:
            raise _refuse(403, _("Only course staff can do this."))
        return requester

    def _staff_session(self, data) -> int:
        try:
            session_id = int((data or {}).get("session_id"))
        except (TypeError, ValueError):
            raise _refuse(400, _("Choose a learner's lab first.")) from None
        try:
            return api.session_in_block(session_id, self._usage_key())
        except SessionNotFound as error:
            raise _refuse(404, error.learner_message) from None

    @staticmethod
    def _api_error(error: LabError) -> JsonHandlerError:
        if isinstance(error, SessionNotFound):
            return _refuse(404, error.learner_message)
        if isinstance(error, (SessionNotReady, ActionRefused)):
            return _refuse(409, error.learner_message)
        return _refuse(400, error.learner_message)

    # ------------------------------------------------------------------ views

    def student_view(self, context=None):
        """The lab page: steps beside the terminal, Start/Check/Reset/Stop, and the staff panel for staff."""
        frag = Fragment()
        lang = language()
        try:
            requester = compat.current_requester(self)
        except PermissionError:
            requester = None
        definition = self._definition_or_none()
        status = None
        shown = definition
        if definition is not None and requester is not None:
            try:
                self._publish_recorded(requester, definition)
            except Exception:  # the page still renders; the next poll retries
                log.exception("lab %s: publishing a recorded grade failed", self.scope_ids.usage_id)
            status = api.learner_status(requester.user, self._usage_key(), definition)
            shown = api.learner_definition(requester.user, self._usage_key(), definition)
        # The lab's text in the learner's language when the author wrote it, else in the lab's own;
        # the page's chrome stays in the learner's language (content_lang/content_dir mark the text).
        content_lang = shown_language(definition, lang) if definition else lang
        shown = localise(shown, lang) if shown is not None else None
        frag.add_content(
            render_page(
                "kafaat_lab/student.html",
                {
                    "dir": direction(lang),
                    "lang": lang,
                    "content_lang": content_lang,
                    "content_dir": direction(content_lang.split("-")[0]),
                    "display_name": (shown.display_name if shown else self.display_name),
                    "invalid": definition is None,
                    "signed_in": requester is not None,
                    "is_staff": bool(requester and requester.is_staff),
                    "steps": [
                        {
                            "id": step.id,
                            "title": step.title,
                            "instructions": render_markdown(step.instructions),
                            "has_checks": bool(step.checks),
                            "flags": [flag.id for flag in step.flags],
                            "has_hints": bool(step.hints),
                            "has_solution": bool(step.solve),
                            "max_points": step.max_points,
                            "foreground": step.foreground,
                        }
                        for step in (shown.steps if shown else ())
                    ],
                    **_pages(shown),
                    "services": _services(shown),
                    "foreground": shown.foreground if shown else "",
                    "max_score": definition.max_score if definition else 0,
                    "time_limit_minutes": int(definition.time_limit // 60) if definition else 0,
                    # one terminal tab per machine when the lab has several
                    "machines": list(definition.terminals) if definition and definition.machines else [],
                },
            )
        )
        frag.add_css(resource_text("xblocks.labs", "static/css/lab.css"))
        add_i18n_js(frag)
        add_http_js(frag)
        terminal = self._add_terminal_assets(frag)
        frag.add_javascript(resource_text("xblocks.labs", "static/js/lab.js"))
        frag.initialize_js(
            "KafaatLabBlock",
            {
                "i18n": js_catalog(lang),
                # Percent-encoded: runtimes print init args into a <script> element with plain json.dumps,
                # so authored text such as "</script>" in a title or solution must never appear raw.
                "status": quote(json.dumps(status.as_json())) if status else None,
                "isStaff": bool(requester and requester.is_staff),
                "terminal": terminal,
                "expiryWarning": int(labs_settings.EXPIRY_WARNING),
                "extendSeconds": int(labs_settings.EXTEND_SECONDS),
            },
        )
        return frag

    def author_view(self, context=None):
        """Studio's preview of the unit: the lab's steps as a learner will read them, without a session."""
        definition = self._definition_or_none()
        return Fragment(
            render_page(
                "kafaat_lab/author.html",
                {"dir": direction(), "definition": definition, "languages": _previews(definition)},
            )
        )

    def studio_view(self, context=None):
        """An OLX editor that validates (errors with line numbers) and previews before it saves."""
        frag = Fragment(render_page("kafaat_lab/studio.html", {"dir": direction(), "olx": self.olx or DEFAULT_OLX}))
        frag.add_css(resource_text("xblocks.labs", "static/css/lab.css"))
        add_i18n_js(frag)
        add_http_js(frag)
        frag.add_javascript(resource_text("xblocks.labs", "static/js/studio.js"))
        frag.initialize_js("KafaatLabStudio", {"i18n": js_catalog(language())})
        return frag

    def _add_terminal_assets(self, frag) -> bool:
        return api.add_terminal_assets(frag, lambda path: self.runtime.local_resource_url(self, path))

    # ------------------------------------------------------------------ learner handlers

    @XBlock.json_handler
    def start(self, data, suffix=""):
        """Start (or rejoin) the learner's lab; the page then polls ``status`` through the phases.

        Like ``status``, it carries the terminal's token when asked (``{"terminal": true}``) and the lab
        is already ready (a rejoin), so the page needs no further round trip.
        """
        requester = self._requester()
        definition = self._valid_definition()
        try:
            status = api.start_session(requester.user, self._usage_key(), self._course_key(), definition)
        except LabError as error:  # e.g. no lab machine is free
            raise self._api_error(error) from None
        return self._status_reply(requester, status, data)

    @XBlock.json_handler
    def status(self, data, suffix=""):
        """The learner's own lab in this block; with ``{"terminal": true}`` and a ready lab, its terminal token too.

        The page polls this while the lab starts (briefly at first, then backing off) and opens the
        terminal with the token it brings: "ready" and the token arrive in one answer.
        """
        requester = self._requester()
        definition = self._valid_definition()
        self._publish_recorded(requester, definition)
        status = api.learner_status(requester.user, self._usage_key(), definition)
        return self._status_reply(requester, status, data)

    def _status_reply(self, requester, status, data) -> dict:
        """``status`` as JSON, plus ``terminal`` (a token for the learner's own shell) when asked and ready.

        The session is the requester's own (``learner_status`` and ``start_session`` answer only for
        them) and minting checks ownership again; a token that cannot be minted is left out, and the
        page then asks ``terminal_token`` as before (which answers with the reason).
        """
        reply = status.as_json()
        if not (isinstance(data, dict) and data.get("terminal") is True):
            return reply
        if status.state != "ready" or status.session_id is None:
            return reply
        try:
            reply["terminal"] = self._mint(requester.user, status.session_id, "rw", machine=self._terminal_machine({}))
        except JsonHandlerError:
            log.info("no terminal token with the status of session %s", status.session_id)
        return reply

    def _answer_run(self, requester, definition, action) -> dict:
        """Call the api for a run and answer with it; a finished run's grade is published on the way."""
        try:
            run = action()
        except LabError as error:
            raise self._api_error(error) from None
        if run.finished:
            self._publish_recorded(requester, definition)
        return run.as_json()

    @XBlock.json_handler
    def check(self, data, suffix=""):
        """Record a press of Check; a worker runs the step's checks in the learner's environment.

        Answers at once with the run (``queued``; already finished when Celery runs tasks eagerly);
        the page then polls ``check_status``. A second press while a run is active is refused (409).
        """
        requester = self._requester()
        definition = self._valid_definition()
        session_id = self._live_session(requester)
        step = str((data or {}).get("step") or "")
        return self._answer_run(requester, definition, lambda: api.request_checks(session_id, step))

    @XBlock.json_handler
    def check_status(self, data, suffix=""):
        """Progress of one of the learner's check runs in this block, then its results; publishes the grade."""
        requester = self._requester()
        definition = self._valid_definition()
        try:
            run_id = int((data or {}).get("run_id"))
        except (TypeError, ValueError):
            raise _refuse(400, _("This check does not exist.")) from None
        return self._answer_run(
            requester, definition, lambda: api.learner_check_run(requester.user, self._usage_key(), run_id)
        )

    @XBlock.json_handler
    def submit_flag(self, data, suffix=""):
        """Compare an answer with the learner's flag (in the request: no sandbox needed); publishes the grade."""
        requester = self._requester()
        definition = self._valid_definition()
        session_id = self._live_session(requester)
        data = data or {}
        step, flag, answer = (str(data.get(key) or "") for key in ("step", "flag", "answer"))
        return self._answer_run(requester, definition, lambda: api.submit_flag(session_id, step, flag, answer))

    @XBlock.json_handler
    def hint(self, data, suffix=""):
        requester = self._requester()
        session_id = self._live_session(requester)
        try:
            reveal = api.reveal_hint(session_id, str((data or {}).get("step") or ""))
        except LabError as error:
            raise self._api_error(error) from None
        self._publish_grade(reveal.status)
        return {
            "step_id": reveal.step_id,
            "index": reveal.index,
            "html": reveal.text,
            "cost": reveal.cost,
            "status": reveal.status.as_json(),
        }

    @XBlock.json_handler
    def solution(self, data, suffix=""):
        requester = self._requester()
        session_id = self._live_session(requester)
        try:
            reveal = api.reveal_solution(session_id, str((data or {}).get("step") or ""))
        except LabError as error:
            raise self._api_error(error) from None
        self._publish_grade(reveal.status)
        return {"step_id": reveal.step_id, "script": reveal.script, "status": reveal.status.as_json()}

    @XBlock.json_handler
    def reset(self, data, suffix=""):
        """A fresh environment; earned points and used attempts are kept."""
        requester = self._requester()
        definition = self._valid_definition()
        try:
            status = api.reset_session(
                requester.user, self._usage_key(), self._course_key(), definition, actor=f"user:{requester.user.pk}"
            )
        except LabError as error:
            raise self._api_error(error) from None
        return self._status_reply(requester, status, data)

    @XBlock.json_handler
    def stop(self, data, suffix=""):
        requester = self._requester()
        session_id = self._live_session(requester)
        return api.stop_session(session_id, actor=f"user:{requester.user.pk}", reason="stopped by learner").as_json()

    @XBlock.json_handler
    def keepalive(self, data, suffix=""):
        """The learner is still there (reading, not typing): push the idle timeout back."""
        requester = self._requester()
        session_id = self._live_session(requester)
        api.record_activity(session_id)
        return api.session_status(session_id).as_json()

    @XBlock.json_handler
    def terminal_token(self, data, suffix=""):
        """A short-lived single-use token for the learner's own terminal (never for another session),
        on ``machine`` (one of the lab's machines with a terminal; absent: its first)."""
        requester = self._requester()
        machine = self._terminal_machine(data)
        session_id = self._live_session(requester)
        return self._mint(requester.user, session_id, "rw", machine=machine)

    def _terminal_machine(self, data) -> str:
        """The machine a terminal is asked for, as a token names it: "" for the lab's first machine, else its name.

        No machine asked means the first machine *with a terminal*: a lab whose first machine has
        ``terminal="false"`` (a target the learner must not get a shell on) opens its first terminal
        machine, never that one.
        """
        machine = (data or {}).get("machine") if isinstance(data, dict) else None
        definition = self._valid_definition()
        if machine in (None, ""):
            machine = next(iter(definition.terminals), None)
        if not isinstance(machine, str) or machine not in definition.terminals:
            raise _refuse(400, _("This lab has no terminal on that machine."))
        return "" if machine == definition.all_machines[0].name else machine

    @XBlock.json_handler
    def service_token(self, data, suffix=""):
        """A short-lived single-use token that opens one service tab of the learner's own lab."""
        requester = self._requester()
        session_id = self._live_session(requester)
        service_id = (data or {}).get("service") if isinstance(data, dict) else None
        return self._mint_service(requester.user, session_id, service_id, "rw")

    @staticmethod
    def _mint_service(user, session_id: int, service_id, mode: str, attached_by=None) -> dict:
        if not isinstance(service_id, str) or not service_id:
            raise _refuse(400, _("Choose a service."))
        try:
            return api.service_token(user, session_id, service_id, mode=mode, attached_by=attached_by)
        except LabError as error:
            raise _refuse(409, error.learner_message) from None
        except PermissionError:
            raise _refuse(403, _("You cannot open this service.")) from None
        except Exception as error:
            if type(error).__name__ == "TerminalDenied":  # the terminal app's refusal (not imported here)
                raise _refuse(403, _("You cannot open this service.")) from None
            raise

    @staticmethod
    def _mint(user, session_id: int, mode: str, attached_by=None, machine: str = "") -> dict:
        try:
            return api.terminal_token(user, session_id, mode=mode, attached_by=attached_by, machine=machine)
        except LabError as error:
            raise _refuse(409, error.learner_message) from None
        except PermissionError:
            raise _refuse(403, _("You cannot open this terminal.")) from None
        except Exception as error:
            if type(error).__name__ == "TerminalDenied":
                raise _refuse(403, _("You cannot open this terminal.")) from None
            raise

    # ------------------------------------------------------------------ staff handlers

    @XBlock.json_handler
    def staff_sessions(self, data, suffix=""):
        """Every learner's lab in this block: state, step, last check, attempts, time used."""
        self._staff()
        return {"sessions": [row.as_json() for row in api.list_sessions(self._usage_key())]}

    @XBlock.json_handler
    def staff_stop(self, data, suffix=""):
        requester = self._staff()
        session_id = self._staff_session(data)
        return api.stop_session(session_id, actor=f"staff:{requester.user.pk}", reason="stopped by staff").as_json()

    @XBlock.json_handler
    def staff_reset(self, data, suffix=""):
        requester = self._staff()
        session_id = self._staff_session(data)
        definition = self._valid_definition()
        try:
            return api.staff_reset(session_id, definition, actor=f"staff:{requester.user.pk}").as_json()
        except LabError as error:
            raise self._api_error(error) from None

    @XBlock.json_handler
    def staff_extend(self, data, suffix=""):
        requester = self._staff()
        session_id = self._staff_session(data)
        try:
            seconds = int((data or {}).get("seconds") or labs_settings.EXTEND_SECONDS)
            return api.extend_session(session_id, seconds, actor=f"staff:{requester.user.pk}").as_json()
        except (TypeError, ValueError):
            raise _refuse(400, _("Choose an extension in seconds.")) from None
        except LabError as error:
            raise self._api_error(error) from None

    @XBlock.json_handler
    def staff_terminal_token(self, data, suffix=""):
        """A read-only attach to a learner's terminal; recorded by the gateway as a staff watch."""
        requester = self._staff()
        session_id = self._staff_session(data)
        if not api.can_watch(requester.user, session_id):
            raise _refuse(403, _("Only course staff can do this."))
        machine = self._terminal_machine(data)
        return self._mint(requester.user, session_id, "ro", attached_by=requester.user, machine=machine)

    @XBlock.json_handler
    def staff_service_token(self, data, suffix=""):
        """A read-only view of a learner's service (GET and HEAD only); recorded as a staff watch."""
        requester = self._staff()
        session_id = self._staff_session(data)
        if not api.can_watch(requester.user, session_id):
            raise _refuse(403, _("Only course staff can do this."))
        return self._mint_service(requester.user, session_id, data.get("service"), "ro", attached_by=requester.user)

    @XBlock.json_handler
    def staff_transcript(self, data, suffix=""):
        """The recorded terminal of one machine of a learner's lab (the one asked, else the first with a terminal)."""
        self._staff()
        session_id = self._staff_session(data)
        machine = self._terminal_machine(data)
        return {
            "session_id": session_id,
            "machine": machine,
            "cast": api.transcript(session_id, machine),
            "recorded": api.transcript_machines(session_id),
        }

    # ------------------------------------------------------------------ Studio handlers

    @XBlock.json_handler
    def studio_validate(self, data, suffix=""):
        """Validate OLX without saving: errors with line numbers, or a preview of the steps."""
        self._author()
        return self._validated((data or {}).get("olx") or "")[0]

    @XBlock.json_handler
    def studio_submit(self, data, suffix=""):
        """Save the OLX only when it validates."""
        self._author()
        source = (data or {}).get("olx") or ""
        result, definition, clean = self._validated(source)
        if definition is not None:
            self.olx = clean
            self.display_name = definition.display_name
            result["saved"] = True
        return result

    def _author(self) -> None:
        # Studio protects its own handlers; in the LMS only staff may reach these (learners could
        # otherwise POST to them, though the LMS would refuse the content-scope write anyway).
        if getattr(self.runtime, "is_author_mode", False) or self._in_studio():
            return
        self._staff()

    @staticmethod
    def _in_studio() -> bool:
        # Studio's component handler view already requires course author access, and authors are
        # usually not global staff (the only staff flag Studio's user service carries).
        return compat.in_studio()

    @staticmethod
    def _validated(source: str):

        try:
            element = etree.fromstring(source.encode("utf-8")) if source.strip() else None
        except etree.XMLSyntaxError:
            element = None
        try:
            definition, warnings = parse_lab_with_warnings(source)
        except ValueError as error:
            return {"valid": False, "errors": _problems(error)}, None, source
        clean = source.strip()
        if element is not None:
            for name in RUNTIME_ATTRIBUTES:
                element.attrib.pop(name, None)
            clean = etree.tostring(element, encoding="unicode")
        preview = render_page(
            "kafaat_lab/author.html",
            {"dir": direction(), "definition": definition, "languages": _previews(definition)},
        )
        result = {
            "valid": True,
            "errors": [],
            # a missing translation or an undefined feedback key: the lab saves, the author is told
            "warnings": [{"line": problem.line, "message": problem.message} for problem in warnings],
            "preview": preview,
            "max_score": definition.max_score,
        }
        return result, definition, clean

    # ------------------------------------------------------------------ workbench

    @staticmethod
    def workbench_scenarios():
        """Every lab of the sample course when running from a checkout, plus a small inline lab."""

        scenarios = [("Kafaat lab: first steps (inline)", DEFAULT_OLX)]
        course = CHECKOUT / "course_content"
        for item in find_labs([str(course)]) if course.is_dir() else []:
            source = item.source
            text = source if isinstance(source, str) else etree.tostring(source, encoding="unicode", with_tail=False)
            try:
                definition = parse_lab(text)
            except ValueError:
                log.warning("skipping invalid sample lab %s", item.where, exc_info=True)
                continue
            scenarios.append((f"Kafaat lab: {definition.display_name}", text))
        return scenarios
