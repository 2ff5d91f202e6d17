"""Parsing: the ``<kafaat_lab>`` OLX read by the hardened parser, every problem collected with its line."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from lxml import etree

from xblocks.core import skills as skill_catalogue
from xblocks.core.i18n import gettext as _
from xblocks.core.xml import UnsafeXMLError
from xblocks.core.xml import parse as parse_xml
from xblocks.labs import params as param_kinds
from xblocks.labs.definition.languages import feedback_keys
from xblocks.labs.definition.model import (
    TAG,
    Check,
    CheckPlace,
    Feedback,
    Flag,
    Gating,
    Hint,
    LabDefinition,
    LabDefinitionError,
    LabFile,
    Param,
    Problem,
    SetupScript,
    Step,
)
from xblocks.labs.definition.validation import (
    CHILD_ATTRIBUTES,
    DEFAULT_CHECK_TIMEOUT,
    ID_PATTERN,
    LAB_ATTRIBUTES,
    LANGUAGE_PATTERN,
    LIMIT_BOUNDS,
    MAX_CHECK_TIMEOUT,
    MAX_FILE_CHARS,
    MAX_FILES,
    MAX_FLAG_CHARS,
    MAX_ITEMS_PER_STEP,
    MAX_PARAMS,
    MAX_POINTS,
    MAX_SCRIPT_CHARS,
    MAX_SKILLS,
    MAX_STEPS,
    MAX_TEXT_CHARS,
    MAX_TIME_LIMIT,
    MIN_TIME_LIMIT,
    RUNTIME_ATTRIBUTES,
    SIZE_PATTERN,
    SIZE_UNITS,
    STEP_CHILD_ATTRIBUTES,
    format_size,
    human_duration,
    known_images,
    parse_duration,
    path_problem,
)
from xblocks.labs.sandbox.base import Limits, User


def parse_lab(source: str | bytes | etree._Element) -> LabDefinition:
    """Parse and validate the OLX of one ``<kafaat_lab>`` element; raise LabDefinitionError listing every problem.

    An lxml element (what ``XBlock.parse_xml`` receives) is re-serialised and parsed again by the
    hardened parser, keeping its line numbers in the enclosing file.
    """
    return parse_lab_with_warnings(source)[0]


def parse_lab_with_warnings(source: str | bytes | etree._Element) -> tuple[LabDefinition, list[Problem]]:
    """``parse_lab``, plus what is worth an author's look but does not stop the lab from working.

    Warnings, in source order: a language whose text is missing for a title, step, hint, intro, finish
    or feedback key that another language has (the learner reads the lab's own language there), and a
    ``kafaat-feedback`` key a check script prints literally that no <feedback> defines.
    """
    offset = 0
    if isinstance(source, etree._Element):
        offset = max((source.sourceline or 1) - 1, 0)
        source = etree.tostring(source, encoding="unicode", with_tail=False)
    try:
        root = parse_xml(source)
    except UnsafeXMLError as error:
        line = error.line + offset if error.line else None
        raise LabDefinitionError(
            [Problem(line, _("The lab is not well-formed XML: %(reason)s") % {"reason": error.message})]
        ) from None
    parser = _Parser(offset)
    definition = parser.lab(root)
    return definition, sorted(parser.warnings, key=lambda problem: problem.line or 0)


def _block_text(raw: str | None) -> str:
    """Element text as authored, without the indentation the XML nesting adds.

    Leading and trailing blank lines go, then the common indentation (tabs kept, so Makefiles work).
    """
    lines = (raw or "").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return textwrap.dedent("\n".join(lines))


class _Parser:
    """One parse: walks the tree once and collects problems instead of stopping at the first."""

    def __init__(self, offset: int):
        self.offset = offset
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.language = "en"
        # where each text is, per language ("" is the lab's own), for the missing-translation warnings
        self.places: dict[str, dict[str, int]] = {}
        self.texts: list[tuple[str, int]] = []  # (text, line where it starts) to check references

    def error(self, node: Any, message: str) -> None:
        line = getattr(node, "sourceline", None) if node is not None else None
        self.problems.append(Problem(line + self.offset if line else None, message))

    def line(self, node: Any) -> int:
        return (getattr(node, "sourceline", None) or 0) + self.offset

    def lang(self, node: Any, required: bool = False) -> str:
        """The ``lang`` of a text element: "" for the lab's own language (absent, or equal to it)."""
        raw = (node.get("lang") or "").strip()
        if not raw:
            if required:
                self.error(node, _("<%(tag)s> here needs a lang attribute.") % {"tag": node.tag})
            return ""
        if not LANGUAGE_PATTERN.match(raw):
            self.error(node, _("lang must be a language code such as fr or ar, not %(value)r.") % {"value": raw})
            return ""
        return "" if raw.lower() == self.language.lower() else raw.lower()

    def place(self, what: str, lang: str, node: Any) -> None:
        self.places.setdefault(what, {}).setdefault(lang, self.line(node))

    # attribute readers: each returns a usable default after recording a problem

    def attributes(self, node: etree._Element, allowed: set[str], extra: set[str] = frozenset()) -> None:
        for name in node.attrib:
            if name not in allowed and name not in extra:
                self.error(node, _("Unknown attribute %(name)s on <%(tag)s>.") % {"name": name, "tag": node.tag})

    def integer(self, node, name, default, low, high):
        raw = node.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            self.error(node, _("%(name)s must be a whole number, not %(value)r.") % {"name": name, "value": raw})
            return default
        if not low <= value <= high:
            self.error(
                node,
                _("%(name)s must be between %(low)s and %(high)s, not %(value)s.")
                % {"name": name, "low": low, "high": high, "value": value},
            )
            return default
        return value

    def number(self, node, name, default, low, high):
        raw = node.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            self.error(node, _("%(name)s must be a number, not %(value)r.") % {"name": name, "value": raw})
            return default
        if not low <= value <= high or value != value:  # NaN compares false with everything
            self.error(
                node,
                _("%(name)s must be between %(low)s and %(high)s, not %(value)s.")
                % {"name": name, "low": low, "high": high, "value": raw},
            )
            return default
        return value

    def duration(self, node, name, default, low, high, unit):
        """Seconds from ``"90"`` (in ``unit``: ``"s"`` or ``"m"``) or ``"30s"``, ``"45m"``, ``"1.5h"``."""
        raw = node.get(name)
        if raw is None or raw.strip() == "":
            return default
        seconds = parse_duration(raw, unit)
        if seconds is None:
            self.error(
                node,
                _("%(name)s must be a duration such as 30s, 45m or 2h, not %(value)r.") % {"name": name, "value": raw},
            )
            return default
        if not low <= seconds <= high:
            self.error(
                node,
                _("%(name)s must be between %(low)s and %(high)s, not %(value)s.")
                % {
                    "name": name,
                    "low": human_duration(low),
                    "high": human_duration(high),
                    "value": raw,
                },
            )
            return default
        return seconds

    def size(self, node, name, default, low, high):
        raw = node.get(name)
        if raw is None or raw.strip() == "":
            return default
        match = SIZE_PATTERN.match(raw)
        if not match:
            self.error(
                node, _("%(name)s must be a size such as 512M or 2G, not %(value)r.") % {"name": name, "value": raw}
            )
            return default
        value = int(match.group(1)) * SIZE_UNITS[match.group(2).upper()]
        if not low <= value <= high:
            self.error(
                node,
                _("%(name)s must be between %(low)s and %(high)s, not %(value)s.")
                % {
                    "name": name,
                    "low": format_size(low),
                    "high": format_size(high),
                    "value": raw,
                },
            )
            return default
        return value

    def boolean(self, node, name, default):
        raw = node.get(name)
        if raw is None or raw.strip() == "":
            return default
        if raw.strip().lower() in ("true", "yes", "1"):
            return True
        if raw.strip().lower() in ("false", "no", "0"):
            return False
        self.error(node, _("%(name)s must be true or false, not %(value)r.") % {"name": name, "value": raw})
        return default

    def user(self, node, name="user"):
        raw = (node.get(name) or User.ROOT).strip()
        if raw not in (User.ROOT, User.LEARNER):
            self.error(node, _("%(name)s must be root or learner, not %(value)r.") % {"name": name, "value": raw})
            return str(User.ROOT)
        return raw

    def identifier(self, node, name, seen: dict[str, int], what: str) -> str:
        raw = node.get(name)
        if raw is None or not raw.strip():
            self.error(node, _("<%(tag)s> is missing its %(name)s attribute.") % {"tag": node.tag, "name": name})
            return ""
        if not ID_PATTERN.match(raw):
            self.error(
                node,
                _("%(what)s id %(value)r must be letters, digits, - and _ (at most 64).")
                % {"what": what, "value": raw},
            )
        elif raw in seen:
            self.error(
                node,
                _("Duplicate %(what)s id %(value)r (first used on line %(line)s).")
                % {"what": what, "value": raw, "line": seen[raw]},
            )
        else:
            seen[raw] = (node.sourceline or 0) + self.offset
        return raw

    def script(self, node, cap, what) -> str:
        for child in node:
            if isinstance(child.tag, str):
                self.error(
                    child,
                    _("<%(tag)s> cannot contain elements (found <%(child)s>); wrap the text in CDATA.")
                    % {"tag": node.tag, "child": child.tag},
                )
        # A comment splits an element's text: lxml keeps what follows it as the comment's tail.
        raw = (node.text or "") + "".join(child.tail or "" for child in node)
        text = _block_text(raw)
        if len(text) > cap:
            self.error(
                node,
                _("%(what)s is %(size)s characters; the limit is %(cap)s.")
                % {"what": what, "size": len(text), "cap": cap},
            )
        if "\x00" in text:
            self.error(node, _("%(what)s contains a NUL character.") % {"what": what})
        self.texts.append((raw, (node.sourceline or 0) + self.offset))
        return text

    # elements

    def lab(self, root: etree._Element) -> LabDefinition:
        if root.tag != TAG:
            self.error(
                root, _("The root element must be <%(expected)s>, not <%(tag)s>.") % {"expected": TAG, "tag": root.tag}
            )
            raise LabDefinitionError(self.problems)
        self.attributes(root, LAB_ATTRIBUTES, RUNTIME_ATTRIBUTES)
        display_name = (root.get("display_name") or "").strip()
        if not display_name:
            self.error(root, _("<kafaat_lab> needs a display_name."))
        lab_key = (root.get("lab_key") or "").strip()
        if lab_key and not ID_PATTERN.match(lab_key):
            self.error(
                root,
                _("lab_key %(value)r must be 1 to 64 letters, digits, '-' or '_', starting with a letter or digit.")
                % {"value": lab_key},
            )
        language = (root.get("language") or "en").strip()
        if not LANGUAGE_PATTERN.match(language):
            self.error(
                root, _("language must be a language code such as en, fr or ar, not %(value)r.") % {"value": language}
            )
            language = "en"
        self.language = language = language.lower()
        domain, skills = self.domain_and_skills(root)
        image = (root.get("image") or "base").strip()
        images = known_images()
        if images is not None and image not in images:
            self.error(
                root,
                _("Unknown image %(image)r; known images: %(known)s.")
                % {"image": image, "known": ", ".join(sorted(images))},
            )
        time_limit = int(self.duration(root, "time_limit", 3600, MIN_TIME_LIMIT, MAX_TIME_LIMIT, "m"))
        idle_timeout = int(self.duration(root, "idle_timeout", 900, MIN_TIME_LIMIT, MAX_TIME_LIMIT, "m"))
        if idle_timeout > time_limit:
            self.error(root, _("idle_timeout cannot be longer than time_limit."))
        weight = self.number(root, "weight", 1.0, 0.0, 1000.0)
        max_attempts = self.integer(root, "max_attempts", None, 1, 1000)
        defaults = Limits()
        limits = Limits(
            memory_bytes=self.size(root, "memory", defaults.memory_bytes, *LIMIT_BOUNDS["memory"]),
            pids=self.integer(root, "pids", defaults.pids, *LIMIT_BOUNDS["pids"]),
            cpus=self.number(root, "cpus", defaults.cpus, *LIMIT_BOUNDS["cpus"]),
            disk_bytes=self.size(root, "disk", defaults.disk_bytes, *LIMIT_BOUNDS["disk"]),
            inodes=self.integer(root, "inodes", defaults.inodes, *LIMIT_BOUNDS["inodes"]),
        )
        gating = (root.get("gating") or Gating.SEQUENTIAL).strip()
        if gating not in tuple(Gating):
            self.error(root, _("gating must be sequential or free, not %(value)r.") % {"value": gating})
            gating = Gating.SEQUENTIAL
        learner_sudo = self.boolean(root, "sudo", False)
        if self.boolean(root, "network", False):
            self.error(root, _('Network access for labs is not available yet; remove network="true".'))
        if root.text and root.text.strip():
            self.error(root, _("Text directly inside <kafaat_lab> is not allowed; put it in a step's <instructions>."))

        params, setup, files, steps = [], [], [], []
        pages: dict[str, str] = {}
        translations: dict[str, list[tuple[str, str]]] = {"title": [], "intro": [], "finish": []}
        feedback: list[Feedback] = []
        feedback_seen: dict[tuple[str, str], int] = {}
        self.place(_("The title"), "", root)
        step_ids: dict[str, int] = {}
        item_ids: dict[str, int] = {}
        paths: dict[str, int] = {}
        param_names: dict[str, int] = {}
        for child in root:
            if not isinstance(child.tag, str):
                continue  # comments
            if child.tail and child.tail.strip():
                self.error(child, _("Text after <%(tag)s> is not allowed.") % {"tag": child.tag})
            if child.tag == "param":
                params.append(self.param(child, param_names))
            elif child.tag == "setup":
                self.attributes(child, CHILD_ATTRIBUTES["setup"])
                setup.append(
                    SetupScript(
                        user=self.user(child), script=self.script(child, MAX_SCRIPT_CHARS, _("The setup script"))
                    )
                )
            elif child.tag == "file":
                files.append(self.file(child, paths))
            elif child.tag == "step":
                steps.append(self.step(child, step_ids, item_ids))
            elif child.tag in ("intro", "finish"):
                self.attributes(child, CHILD_ATTRIBUTES[child.tag])
                lang = self.lang(child)
                text = self.script(child, MAX_TEXT_CHARS, _("The %(tag)s page") % {"tag": child.tag})
                page = _("The %(tag)s page") % {"tag": child.tag}
                self.translation(child, lang, text, pages, translations[child.tag], child.tag, page)
            elif child.tag == "title":
                self.attributes(child, CHILD_ATTRIBUTES["title"])
                lang = self.lang(child, required=True)
                text = self.script(child, MAX_TEXT_CHARS, _("The title")).strip()
                if lang:
                    self.translation(child, lang, text, {}, translations["title"], "title", _("The title"))
                elif child.get("lang"):
                    self.error(child, _("The title in the lab's own language is its display_name attribute."))
            elif child.tag == "feedback":
                self.attributes(child, CHILD_ATTRIBUTES["feedback"])
                feedback.append(self.feedback(child, feedback_seen, None))
            else:
                self.error(
                    child,
                    _(
                        "Unknown element <%(tag)s> in <kafaat_lab>; expected title, intro, param, setup, file, "
                        "feedback, step or finish."
                    )
                    % {"tag": child.tag},
                )
        if not steps:
            self.error(root, _("A lab needs at least one <step>."))
        elif not any(step.checks or step.flags for step in steps):
            self.error(root, _("A lab needs at least one step with a <check> or <flag> to grade."))
        for what, items, cap in (
            (_("steps"), steps, MAX_STEPS),
            (_("files"), files, MAX_FILES),
            (_("params"), params, MAX_PARAMS),
        ):
            if len(items) > cap:
                self.error(root, _("A lab can have at most %(cap)s %(what)s.") % {"cap": cap, "what": what})
        self.references(set(param_names))
        self.literal_feedback_keys(root, {item.key for item in feedback})
        if self.problems:
            raise LabDefinitionError(self.problems)
        self.missing_translations()
        return LabDefinition(
            display_name=display_name,
            lab_key=lab_key,
            image=image,
            time_limit=time_limit,
            idle_timeout=idle_timeout,
            weight=weight,
            max_attempts=max_attempts,
            limits=limits,
            gating=gating,
            learner_sudo=learner_sudo,
            network=False,
            params=tuple(params),
            setup=tuple(setup),
            files=tuple(files),
            steps=tuple(steps),
            intro=pages.get("intro", ""),
            finish=pages.get("finish", ""),
            language=language,
            domain=domain,
            skills=skills,
            title_translations=tuple(translations["title"]),
            intro_translations=tuple(translations["intro"]),
            finish_translations=tuple(translations["finish"]),
            feedback=tuple(feedback),
        )

    def domain_and_skills(self, root) -> tuple[str, tuple[str, ...]]:
        domain = (root.get("domain") or "").strip()
        if domain and domain not in skill_catalogue.DOMAINS:
            self.error(
                root,
                _("domain must be one of %(domains)s, not %(value)r.")
                % {"domains": ", ".join(skill_catalogue.DOMAINS), "value": domain},
            )
            domain = ""
        skills: list[str] = []
        known = skill_catalogue.known_skill_ids()
        for skill in (root.get("skills") or "").split():
            if skill in skills:
                self.error(root, _("Skill %(skill)s is listed twice.") % {"skill": skill})
            elif not skill_catalogue.SKILL_ID.match(skill):
                self.error(root, _("Skill id %(skill)r must read domain.name.") % {"skill": skill})
            elif known is not None and skill not in known:
                self.error(
                    root,
                    _("Unknown skill %(skill)s; the skills are the ids of the catalogue (skills/*.json).")
                    % {"skill": skill},
                )
            else:
                skills.append(skill)
        if len(skills) > MAX_SKILLS:
            self.error(root, _("A lab can name at most %(cap)s skills.") % {"cap": MAX_SKILLS})
        return domain, tuple(skills)

    def translation(self, node, lang, text, own: dict, others: list, slot: str, what: str) -> None:
        """Record ``text`` as the lab's own (``own[slot]``) or as the ``lang`` translation; one per language."""
        taken = slot in own if not lang else any(code == lang for code, _text in others)
        if taken and not lang:  # the messages of the single-language format, kept
            if node.tag == "instructions":
                self.error(node, _("A step has one <instructions>."))
            else:
                self.error(node, _("A lab has one <%(tag)s>.") % {"tag": node.tag})
            return
        if taken:
            self.error(node, _("There is already a <%(tag)s> in %(lang)s here.") % {"tag": node.tag, "lang": lang})
            return
        if lang:
            others.append((lang, text))
        else:
            own[slot] = text
        self.place(what, lang, node)

    def feedback(self, node, seen: dict[tuple[str, str], int], where: str | None) -> Feedback:
        """One <feedback>; ``where`` is the step's id, None at lab level."""
        key = (node.get("key") or "").strip()
        if not ID_PATTERN.match(key):
            self.error(
                node, _("A feedback key must be letters, digits, - and _ (at most 64), not %(value)r.") % {"value": key}
            )
        lang = self.lang(node)
        text = self.script(node, MAX_TEXT_CHARS, _("The feedback %(key)s") % {"key": key})
        if not text.strip():
            self.error(node, _("The feedback %(key)s is empty.") % {"key": key})
        if (key, lang) in seen:
            self.error(
                node,
                _("Feedback %(key)s in %(lang)s is already defined on line %(line)s.")
                % {"key": key, "lang": lang or self.language, "line": seen[(key, lang)]},
            )
        else:
            seen[(key, lang)] = self.line(node)
        what = (
            _("Step %(id)s: feedback %(key)s") % {"id": where, "key": key}
            if where
            else _("Feedback %(key)s") % {"key": key}
        )
        self.place(what, lang, node)
        return Feedback(key=key, text=text, lang=lang)

    def literal_feedback_keys(self, root, lab_keys: set[str]) -> None:
        """Warn about ``kafaat-feedback: KEY`` literals in check scripts that no <feedback> defines."""
        for step in root.iter("step"):
            keys = lab_keys | {(item.get("key") or "").strip() for item in step.iter("feedback")}
            for check in step.iter("check"):
                raw = (check.text or "") + "".join(child.tail or "" for child in check)
                for key, position in feedback_keys(raw):
                    if key not in keys:
                        self.warnings.append(
                            Problem(
                                self.line(check) + raw[:position].count("\n"),
                                _("Check %(check)s prints feedback key %(key)s, which no <feedback> defines.")
                                % {"check": check.get("id") or "", "key": key},
                            )
                        )

    def missing_translations(self) -> None:
        """Warn, per text, about each language the lab has that this text lacks (another language has it)."""
        codes = {code for places in self.places.values() for code in places}
        if codes <= {""}:
            return
        for what, places in self.places.items():
            for code in sorted(codes - set(places)):
                line = min(places.values())
                self.warnings.append(
                    Problem(
                        line,
                        _("%(what)s has no text in %(lang)s, which other texts of this lab have.")
                        % {"what": what, "lang": code or self.language},
                    )
                )

    def param(self, node, seen: dict[str, int]) -> Param:
        self.attributes(node, CHILD_ATTRIBUTES["param"])
        name = (node.get("name") or "").strip()
        if not param_kinds.NAME.match(name):
            self.error(
                node,
                _("Parameter name %(value)r must be a letter or _ followed by letters, digits or _.") % {"value": name},
            )
        elif name in seen:
            self.error(
                node,
                _("Duplicate parameter %(value)r (first declared on line %(line)s).")
                % {"value": name, "line": seen[name]},
            )
        else:
            seen[name] = (node.sourceline or 0) + self.offset
        raw_kind = (node.get("kind") or "").strip()
        try:
            kind = param_kinds.Kind(raw_kind)
        except ValueError:
            self.error(
                node,
                _("Parameter kind must be one of %(kinds)s, not %(value)r.")
                % {"kinds": ", ".join(param_kinds.Kind), "value": raw_kind},
            )
            return Param(name=name, kind=raw_kind)
        spec = param_kinds.KINDS[kind]
        options: dict[str, Any] = {}
        for option in ("min", "max", "length", "prefix"):
            if option not in spec.options:
                if node.get(option) is not None:
                    self.error(node, _("A %(kind)s parameter takes no %(option)s.") % {"kind": kind, "option": option})
                continue
            default = spec.options[option]
            if option == "prefix":
                value = (node.get(option) or default).strip()
                if not param_kinds.PREFIX.match(value):
                    self.error(node, _("A flag prefix must be 1 to 32 letters, digits, - or _."))
                    value = default
                options[option] = value
            else:
                options[option] = self.integer(node, option, default, *spec.bounds[option])
        if "min" in options and options["min"] > options["max"]:
            self.error(node, _("Parameter %(name)s has min greater than max.") % {"name": name})
        return Param(name=name, kind=str(kind), **options)

    def file(self, node, seen: dict[str, int]) -> LabFile:
        self.attributes(node, CHILD_ATTRIBUTES["file"])
        path = node.get("path") or ""
        problem = path_problem(path)
        if problem:
            self.error(node, problem)
        elif path in seen:
            self.error(
                node, _("Duplicate file path %(path)s (first on line %(line)s).") % {"path": path, "line": seen[path]}
            )
        else:
            seen[path] = (node.sourceline or 0) + self.offset
        raw_mode = (node.get("mode") or "0644").strip()
        mode = 0o644
        if not re.fullmatch(r"0?[0-7]{3,4}", raw_mode):
            self.error(node, _("mode must be an octal mode such as 0644 or 0755, not %(value)r.") % {"value": raw_mode})
        else:
            mode = int(raw_mode, 8)
            if mode & 0o6000:
                # Sandboxes mount everything nosuid: a setuid file would look privileged and not be.
                self.error(
                    node, _("mode %(value)s sets setuid or setgid, which labs do not support.") % {"value": raw_mode}
                )
                mode &= 0o1777
        owner = self.user(node, "owner")
        content = self.script(node, MAX_FILE_CHARS, _("The file %(path)s") % {"path": path})
        return LabFile(path=path, mode=mode, owner=owner, content=content + "\n" if content else "")

    def step(self, node, step_ids: dict[str, int], item_ids: dict[str, int]) -> Step:
        self.attributes(node, CHILD_ATTRIBUTES["step"])
        step_id = self.identifier(node, "id", step_ids, _("step"))
        title = (node.get("title") or "").strip()
        if not title:
            self.error(node, _("Step %(id)s needs a title.") % {"id": step_id})
        if node.text and node.text.strip():
            self.error(node, _("Text directly inside <step> is not allowed; put it in <instructions>."))
        instructions, solve, solve_user = None, None, str(User.ROOT)
        checks, flags, hints, setup = [], [], [], []
        own: dict[str, str] = {}
        title_translations: list[tuple[str, str]] = []
        instructions_translations: list[tuple[str, str]] = []
        hint_translations: dict[str, list[tuple[str, Any]]] = {}  # lang -> [(text, node)]
        feedback: list[Feedback] = []
        feedback_seen: dict[tuple[str, str], int] = {}
        self.place(_("Step %(id)s: the title") % {"id": step_id}, "", node)
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if child.tail and child.tail.strip():
                self.error(child, _("Text after <%(tag)s> is not allowed.") % {"tag": child.tag})
            allowed = STEP_CHILD_ATTRIBUTES.get(child.tag)
            if allowed is None:
                self.error(
                    child,
                    _(
                        "Unknown element <%(tag)s> in <step>; expected title, instructions, setup, check, flag, "
                        "hint, feedback or solve."
                    )
                    % {"tag": child.tag},
                )
                continue
            self.attributes(child, allowed)
            if child.tag == "instructions":
                lang = self.lang(child)
                text = self.script(child, MAX_TEXT_CHARS, _("The instructions"))
                what = _("Step %(id)s: the instructions") % {"id": step_id}
                self.translation(child, lang, text, own, instructions_translations, "instructions", what)
                instructions = own.get("instructions")
            elif child.tag == "title":
                lang = self.lang(child, required=True)
                text = self.script(child, MAX_TEXT_CHARS, _("The title")).strip()
                if lang:
                    what = _("Step %(id)s: the title") % {"id": step_id}
                    self.translation(child, lang, text, {}, title_translations, "title", what)
                elif child.get("lang"):
                    self.error(child, _("The title in the lab's own language is the step's title attribute."))
            elif child.tag == "feedback":
                feedback.append(self.feedback(child, feedback_seen, step_id))
            elif child.tag == "setup":
                script = self.script(child, MAX_SCRIPT_CHARS, _("The setup script"))
                if not script.strip():
                    self.error(child, _("Step %(id)s has an empty <setup> script.") % {"id": step_id})
                setup.append(SetupScript(user=self.user(child), script=script))
            elif child.tag == "solve":
                if solve is not None:
                    self.error(child, _("A step has one <solve>."))
                solve = self.script(child, MAX_SCRIPT_CHARS, _("The solve script"))
                solve_user = self.user(child)
            elif child.tag == "check":
                check_id = self.identifier(child, "id", item_ids, _("check"))
                script = self.script(child, MAX_SCRIPT_CHARS, _("The check script"))
                if not script.strip():
                    self.error(child, _("Check %(id)s has an empty script.") % {"id": check_id})
                where = (child.get("where") or CheckPlace.INSIDE).strip()
                if where not in tuple(CheckPlace):
                    self.error(child, _("where must be inside or outside, not %(value)r.") % {"value": where})
                    where = CheckPlace.INSIDE
                user = self.user(child)
                if where == CheckPlace.OUTSIDE and child.get("user") is not None and user != User.ROOT:
                    self.error(
                        child,
                        _(
                            "Check %(id)s runs outside the learner's environment, always as root: "
                            "remove user=%(user)r (it reads the learner's files under /lab)."
                        )
                        % {"id": check_id, "user": user},
                    )
                    user = str(User.ROOT)
                checks.append(
                    Check(
                        id=check_id,
                        points=self.integer(child, "points", 1, 0, MAX_POINTS),
                        timeout=self.duration(child, "timeout", DEFAULT_CHECK_TIMEOUT, 1, MAX_CHECK_TIMEOUT, "s"),
                        user=user,
                        script=script,
                        where=str(where),
                    )
                )
            elif child.tag == "flag":
                flag_id = self.identifier(child, "id", item_ids, _("flag"))
                value = self.script(child, MAX_FLAG_CHARS, _("The flag")).strip()
                if not value or "\n" in value:
                    self.error(child, _("Flag %(id)s must hold its answer on one line.") % {"id": flag_id})
                flags.append(Flag(id=flag_id, points=self.integer(child, "points", 1, 0, MAX_POINTS), value=value))
            elif child.tag == "hint":
                lang = self.lang(child)
                text = self.script(child, MAX_TEXT_CHARS, _("The hint"))
                if lang:
                    hint_translations.setdefault(lang, []).append((text, child))
                    continue
                hints.append(Hint(text=text, cost=self.integer(child, "cost", 0, 0, MAX_POINTS)))
                self.place(_("Step %(id)s: hint %(number)s") % {"id": step_id, "number": len(hints)}, "", child)
        if len(checks) + len(flags) + len(hints) > MAX_ITEMS_PER_STEP:
            self.error(
                node,
                _("Step %(id)s has more than %(cap)s checks, flags and hints.")
                % {"id": step_id, "cap": MAX_ITEMS_PER_STEP},
            )
        hints = self.translated_hints(step_id, hints, hint_translations)
        return Step(
            id=step_id,
            title=title,
            instructions=instructions or "",
            title_translations=tuple(title_translations),
            instructions_translations=tuple(instructions_translations),
            feedback=tuple(feedback),
            checks=tuple(checks),
            flags=tuple(flags),
            hints=tuple(hints),
            solve=solve,
            solve_user=solve_user,
            setup=tuple(setup),
        )

    def translated_hints(self, step_id: str, hints: list[Hint], others: dict[str, list]) -> list[Hint]:
        """Attach the n-th ``<hint lang>`` of each language to the n-th hint in the lab's language."""
        translations: list[list[tuple[str, str]]] = [[] for _hint in hints]
        for lang, items in others.items():
            for index, (text, node) in enumerate(items):
                if index >= len(hints):
                    self.error(
                        node,
                        _(
                            "Step %(id)s has %(count)s hints in %(default)s and more in %(lang)s: the n-th hint of "
                            "a language translates the n-th hint in the lab's language."
                        )
                        % {"id": step_id, "count": len(hints), "default": self.language, "lang": lang},
                    )
                    break
                if node.get("cost") is not None and self.integer(node, "cost", 0, 0, MAX_POINTS) != hints[index].cost:
                    self.error(
                        node,
                        _("A translated hint costs what the hint it translates costs (%(cost)s).")
                        % {"cost": hints[index].cost},
                    )
                translations[index].append((lang, text))
                self.place(_("Step %(id)s: hint %(number)s") % {"id": step_id, "number": index + 1}, lang, node)
        return [
            Hint(text=hint.text, cost=hint.cost, translations=tuple(pairs))
            for hint, pairs in zip(hints, translations, strict=True)
        ]

    def references(self, declared: set[str]) -> None:
        for text, line in self.texts:
            for name, position in param_kinds.references(text):
                if name not in declared:
                    self.problems.append(
                        Problem(
                            line + text[:position].count("\n"),
                            _("Unknown parameter %(name)s in {{ lab.param.%(name)s }}; declare it with <param>.")
                            % {"name": name},
                        )
                    )
            for expression, position in param_kinds.malformed(text):
                self.problems.append(
                    Problem(
                        line + text[:position].count("\n"),
                        _("%(expression)s is not a parameter reference; write {{ lab.param.NAME }}.")
                        % {"expression": expression},
                    )
                )
