"""Rendering: each learner's parameter values, and the definition with ``{{ lab.param.NAME }}`` replaced."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from xblocks.labs import params as param_kinds
from xblocks.labs.definition.model import (
    LabDefinition,
)


def generate_params(definition: LabDefinition, seed: bytes) -> dict[str, str]:
    """The values of every declared parameter for one session seed (deterministic, differs between seeds)."""
    if not seed:
        raise ValueError("a parameter seed must not be empty")
    return {
        param.name: param_kinds.generate_value(param.kind, param.name, seed, param.options)
        for param in definition.params
    }


def render(definition: LabDefinition, params: Mapping[str, str]) -> LabDefinition:
    """The definition with every ``{{ lab.param.NAME }}`` replaced.

    Everywhere text is: instructions, files, setup, checks, flags, hints, feedback and solves, in every language.
    """
    missing = {param.name for param in definition.params} - set(params)
    if missing:
        raise ValueError(f"no value for parameters {sorted(missing)}")

    def sub(text: str | None) -> str | None:
        return None if text is None else param_kinds.substitute(text, params)

    def subs(pairs):
        return tuple((lang, sub(text)) for lang, text in pairs)

    def feedback(items):
        return tuple(dataclasses.replace(item, text=sub(item.text)) for item in items)

    return dataclasses.replace(
        definition,
        intro=sub(definition.intro),
        finish=sub(definition.finish),
        foreground=sub(definition.foreground),
        title_translations=subs(definition.title_translations),
        intro_translations=subs(definition.intro_translations),
        finish_translations=subs(definition.finish_translations),
        feedback=feedback(definition.feedback),
        setup=tuple(dataclasses.replace(item, script=sub(item.script)) for item in definition.setup),
        files=tuple(dataclasses.replace(item, content=sub(item.content)) for item in definition.files),
        steps=tuple(
            dataclasses.replace(
                step,
                instructions=sub(step.instructions),
                foreground=sub(step.foreground),
                title_translations=subs(step.title_translations),
                instructions_translations=subs(step.instructions_translations),
                feedback=feedback(step.feedback),
                checks=tuple(dataclasses.replace(check, script=sub(check.script)) for check in step.checks),
                flags=tuple(dataclasses.replace(flag, value=sub(flag.value)) for flag in step.flags),
                hints=tuple(
                    dataclasses.replace(hint, text=sub(hint.text), translations=subs(hint.translations))
                    for hint in step.hints
                ),
                solve=sub(step.solve),
                setup=tuple(dataclasses.replace(item, script=sub(item.script)) for item in step.setup),
            )
            for step in definition.steps
        ),
    )
