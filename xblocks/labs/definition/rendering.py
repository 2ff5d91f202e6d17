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

    Everywhere text is: instructions, files, setup, checks, flags, hints and solves.
    """
    missing = {param.name for param in definition.params} - set(params)
    if missing:
        raise ValueError(f"no value for parameters {sorted(missing)}")

    def sub(text: str | None) -> str | None:
        return None if text is None else param_kinds.substitute(text, params)

    return dataclasses.replace(
        definition,
        intro=sub(definition.intro),
        finish=sub(definition.finish),
        foreground=sub(definition.foreground),
        setup=tuple(dataclasses.replace(item, script=sub(item.script)) for item in definition.setup),
        files=tuple(dataclasses.replace(item, content=sub(item.content)) for item in definition.files),
        steps=tuple(
            dataclasses.replace(
                step,
                instructions=sub(step.instructions),
                foreground=sub(step.foreground),
                checks=tuple(dataclasses.replace(check, script=sub(check.script)) for check in step.checks),
                flags=tuple(dataclasses.replace(flag, value=sub(flag.value)) for flag in step.flags),
                hints=tuple(dataclasses.replace(hint, text=sub(hint.text)) for hint in step.hints),
                solve=sub(step.solve),
                setup=tuple(dataclasses.replace(item, script=sub(item.script)) for item in step.setup),
            )
            for step in definition.steps
        ),
    )
