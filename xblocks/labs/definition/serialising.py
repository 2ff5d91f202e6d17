"""Serialising: the canonical OLX of a definition, so that ``parse_lab(serialize_lab(d)) == d``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from xblocks.labs.definition.model import (
    TAG,
    CheckPlace,
    LabDefinition,
    ServiceKind,
)
from xblocks.labs.definition.validation import (
    format_size,
    human_duration,
)


def _attr(value: Any) -> str:
    text = str(value)
    for old, new in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("\n", "&#10;"),
        ("\t", "&#9;"),
        ("\r", "&#13;"),
    ):
        text = text.replace(old, new)
    return f'"{text}"'


def _attrs(pairs: Iterable[tuple[str, Any]]) -> str:
    return "".join(f" {name}={_attr(value)}" for name, value in pairs if value is not None)


def _body(text: str) -> str:
    """Text content on its own lines, CDATA when it holds markup characters (scripts and Markdown)."""
    if not text:
        return ""
    if "\n" not in text and text == text.strip():
        if "]]>" in text or not re.search(r"[<>&]", text):
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<![CDATA[{text}]]>"
    if "]]>" in text or not re.search(r"[<>&]", text):
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"\n{escaped}\n"
    return f"<![CDATA[\n{text}\n]]>"


def _machine(name: str) -> tuple[str, str | None]:
    """``machine=`` only where the author wrote one (absent: the lab's first machine)."""
    return ("machine", name or None)


def _number(value: float) -> str:
    return f"{value:g}" if value == float(f"{value:g}") else repr(value)


def _feedback(items, indent: str) -> list[str]:
    return [
        f"{indent}<feedback{_attrs([('key', item.key), ('lang', item.lang or None)])}>{_body(item.text)}</feedback>"
        for item in items
    ]


def serialize_lab(definition: LabDefinition) -> str:
    """The canonical OLX of a definition: attributes in a fixed order, text unindented in CDATA."""
    d = definition
    lab_attrs = [
        ("display_name", d.display_name),
        ("lab_key", d.lab_key or None),
        ("image", d.image),
        ("time_limit", human_duration(d.time_limit)),
        ("idle_timeout", human_duration(d.idle_timeout)),
        ("weight", _number(d.weight)),
        ("max_attempts", d.max_attempts),
        ("memory", format_size(d.limits.memory_bytes)),
        ("pids", d.limits.pids),
        ("cpus", _number(d.limits.cpus)),
        ("disk", format_size(d.limits.disk_bytes)),
        ("inodes", d.limits.inodes),
        ("gating", str(d.gating)),
        ("sudo", "true" if d.learner_sudo else "false"),
        ("language", d.language if d.language != "en" else None),
        ("domain", d.domain or None),
        ("skills", " ".join(d.skills) or None),
    ]
    out = [f"<{TAG}{_attrs(lab_attrs)}>"]
    for machine in d.machines:
        attrs = [
            ("name", machine.name),
            ("image", machine.image),
            ("memory", format_size(machine.limits.memory_bytes)),
            ("pids", machine.limits.pids),
            ("cpus", _number(machine.limits.cpus)),
            ("disk", format_size(machine.limits.disk_bytes)),
            ("sudo", "true" if machine.learner_sudo else "false"),
            *([("terminal", "false")] if not machine.terminal else []),
        ]
        out.append(f"  <machine{_attrs(attrs)}/>")
    if d.deny:
        out.append("  <network>")
        out += [f"    <deny{_attrs([('from', source), ('to', target)])}/>" for source, target in d.deny]
        out.append("  </network>")
    for lang, text in d.title_translations:
        out.append(f"  <title{_attrs([('lang', lang)])}>{_body(text)}</title>")
    if d.intro:
        out.append(f"  <intro>{_body(d.intro)}</intro>")
    for lang, text in d.intro_translations:
        out.append(f"  <intro{_attrs([('lang', lang)])}>{_body(text)}</intro>")
    if d.foreground:
        out.append(f"  <foreground>{_body(d.foreground)}</foreground>")
    out.extend(_feedback(d.feedback, "  "))
    for param in d.params:
        out.append(f"  <param{_attrs([('name', param.name), ('kind', param.kind), *param.options.items()])}/>")
    for setup in d.setup:
        out.append(f"  <setup{_attrs([('user', setup.user), _machine(setup.machine)])}>{_body(setup.script)}</setup>")
    for lab_file in d.files:
        attrs = _attrs(
            [
                ("path", lab_file.path),
                ("mode", f"{lab_file.mode:04o}"),
                ("owner", lab_file.owner),
                _machine(lab_file.machine),
            ]
        )
        out.append(f"  <file{attrs}>{_body(lab_file.content.removesuffix(chr(10)))}</file>")
    for service in d.services:
        attrs = [
            ("id", service.id),
            ("machine", service.machine),
            ("port", service.port),
            ("path", service.path if service.kind != ServiceKind.EDITOR and service.path != "/" else None),
            ("label", service.label),
            ("kind", service.kind),
            ("root", service.root or None),
        ]
        out.append(f"  <service{_attrs(attrs)}/>")
    for step in d.steps:
        out.append(f"  <step{_attrs([('id', step.id), ('title', step.title)])}>")
        for lang, text in step.title_translations:
            out.append(f"    <title{_attrs([('lang', lang)])}>{_body(text)}</title>")
        out.append(f"    <instructions>{_body(step.instructions)}</instructions>")
        for lang, text in step.instructions_translations:
            out.append(f"    <instructions{_attrs([('lang', lang)])}>{_body(text)}</instructions>")
        if step.foreground:
            out.append(f"    <foreground>{_body(step.foreground)}</foreground>")
        for setup in step.setup:
            out.append(
                f"    <setup{_attrs([('user', setup.user), _machine(setup.machine)])}>{_body(setup.script)}</setup>"
            )
        for check in step.checks:
            attrs = _attrs(
                [
                    ("id", check.id),
                    ("points", check.points),
                    ("timeout", human_duration(check.timeout)),
                    ("user", check.user),
                    *([("where", check.where)] if check.where != CheckPlace.INSIDE else []),
                    _machine(check.machine),
                ]
            )
            out.append(f"    <check{attrs}>{_body(check.script)}</check>")
        for flag in step.flags:
            out.append(f"    <flag{_attrs([('id', flag.id), ('points', flag.points)])}>{_body(flag.value)}</flag>")
        for hint in step.hints:
            out.append(f"    <hint{_attrs([('cost', hint.cost)])}>{_body(hint.text)}</hint>")
        for lang in dict.fromkeys(lang for hint in step.hints for lang, _text in hint.translations):
            # the n-th hint of a language translates the n-th hint: written in order, language by language
            for hint in step.hints:
                text = next((text for code, text in hint.translations if code == lang), None)
                if text is None:
                    break
                out.append(f"    <hint{_attrs([('cost', hint.cost), ('lang', lang)])}>{_body(text)}</hint>")
        out.extend(_feedback(step.feedback, "    "))
        if step.solve is not None:
            attrs = _attrs([("user", step.solve_user), _machine(step.solve_machine)])
            out.append(f"    <solve{attrs}>{_body(step.solve)}</solve>")
        out.append("  </step>")
    if d.finish:
        out.append(f"  <finish>{_body(d.finish)}</finish>")
    for lang, text in d.finish_translations:
        out.append(f"  <finish{_attrs([('lang', lang)])}>{_body(text)}</finish>")
    out.append(f"</{TAG}>")
    return "\n".join(out) + "\n"
