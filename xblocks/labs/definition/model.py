"""The lab as data: frozen dataclasses for a lab, its steps, checks, flags, hints, files and parameters."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from xblocks.labs import params as param_kinds
from xblocks.labs.sandbox.base import Limits, MachineSpec, SandboxSpec

TAG = "kafaat_lab"
# The one machine of a lab that declares no <machine>: built from the lab's own image, limits and sudo.
DEFAULT_MACHINE = "lab"

# ``(language, text)`` pairs: a text's translations into the languages other than the lab's own.
Translations = tuple[tuple[str, str], ...]


def translated(default: str, translations: Translations, lang: str | None) -> str:
    """The text in ``lang`` (its exact code, then its base language: ``fr-ca`` -> ``fr``), else the default."""
    if lang and translations:
        wanted = (lang.lower(), lang.lower().split("-")[0])
        for code in wanted:
            for language, text in translations:
                if language.lower() == code:
                    return text
    return default


class Gating(enum.StrEnum):
    SEQUENTIAL = "sequential"
    FREE = "free"


@dataclass(frozen=True)
class Problem:
    """One validation problem; ``line`` is 1-based in the source, None when it has no place."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class LabDefinitionError(ValueError):
    """The OLX is not a valid lab; ``errors`` lists every problem found, in source order."""

    def __init__(self, errors: Iterable[Problem]):
        self.errors = sorted(errors, key=lambda problem: problem.line or 0)
        super().__init__("\n".join(str(problem) for problem in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.errors)


@dataclass(frozen=True)
class Param:
    """A per-learner value; ``min``/``max`` for numbers and ports, ``length`` for hex and flags, ``prefix`` for flags"""

    name: str
    kind: str
    min: int | None = None
    max: int | None = None
    length: int | None = None
    prefix: str | None = None

    @property
    def options(self) -> dict[str, int | str]:
        return {key: getattr(self, key) for key in param_kinds.KINDS[param_kinds.Kind(self.kind)].options}


class CheckPlace(enum.StrEnum):
    """Where a check runs: in the learner's environment, or outside it (see docs/authoring-labs.md)."""

    INSIDE = "inside"
    OUTSIDE = "outside"


@dataclass(frozen=True)
class Check:
    """A check script. ``where="outside"`` runs it as root in a fresh copy of the lab's image with the
    learner's files read-only at ``/lab``: nothing of the learner's runs, so even a learner who is
    root in their environment cannot forge its result."""

    id: str
    points: int
    timeout: float
    user: str
    script: str
    where: str = CheckPlace.INSIDE
    machine: str = ""  # "": the lab's first machine


@dataclass(frozen=True)
class Flag:
    id: str
    points: int
    value: str


@dataclass(frozen=True)
class Hint:
    """A hint; ``translations`` hold the same hint in other languages (the n-th ``<hint lang>`` of a
    language translates the n-th hint of the lab's language)."""

    text: str
    cost: int
    translations: Translations = ()


@dataclass(frozen=True)
class Feedback:
    """The text a check's ``kafaat-feedback: KEY`` line shows; ``lang`` is "" for the lab's own language."""

    key: str
    text: str
    lang: str = ""


@dataclass(frozen=True)
class SetupScript:
    user: str
    script: str
    machine: str = ""  # "": the lab's first machine


@dataclass(frozen=True)
class Machine:
    """One machine of a lab (``<machine>``): its name is its hostname and its name on the lab's network.

    ``terminal=False``: a machine the learner gets no terminal tab for (a database the lab reaches
    over the network)."""

    name: str
    image: str = "base"
    limits: Limits = field(default_factory=Limits)
    learner_sudo: bool = False
    terminal: bool = True


@dataclass(frozen=True)
class Step:
    """One step. A step with neither checks nor flags is a reading (or setup) step: it passes when reached.

    ``setup`` scripts run in the learner's environment when the learner reaches the step (at start for
    the steps already reached, then as each earlier step passes). ``foreground`` is typed into the
    learner's terminal by their page when the step is reached, visibly, as the Run button types a command.
    """

    id: str
    title: str
    instructions: str
    checks: tuple[Check, ...] = ()
    flags: tuple[Flag, ...] = ()
    hints: tuple[Hint, ...] = ()
    solve: str | None = None
    solve_user: str = "root"
    setup: tuple[SetupScript, ...] = ()
    solve_machine: str = ""  # "": the lab's first machine
    foreground: str = ""  # commands the page types into the terminal when the step is reached
    title_translations: Translations = ()
    instructions_translations: Translations = ()
    feedback: tuple[Feedback, ...] = ()  # step-level keys override the lab's

    @property
    def max_points(self) -> int:
        return sum(check.points for check in self.checks) + sum(flag.points for flag in self.flags)

    @property
    def graded(self) -> bool:
        """Whether the step has anything to check (a reading step has not)."""
        return bool(self.checks or self.flags)


@dataclass(frozen=True)
class LabFile:
    path: str
    mode: int
    owner: str
    content: str
    machine: str = ""  # "": the lab's first machine


class ServiceKind(enum.StrEnum):
    """What a service tab shows: a web app on a port, Jupyter started by the platform, or the editor."""

    WEB = "web"
    NOTEBOOK = "notebook"
    EDITOR = "editor"


# A lab without <machine> elements has one machine of this name.
DEFAULT_MACHINE = "lab"


@dataclass(frozen=True)
class Service:
    """A tab beside the terminal: a port of a machine proxied from its own origin, or the file editor.

    ``port`` is None for an editor, which works on the machine's files under ``root`` instead.
    ``machine`` is always a name (the lab's single machine is ``lab``), so the proxy takes that
    machine's sandbox handle whichever way the lab declares its machines.
    """

    id: str
    label: str
    machine: str = DEFAULT_MACHINE
    port: int | None = None
    path: str = "/"
    kind: str = ServiceKind.WEB
    root: str = ""


@dataclass(frozen=True)
class LabDefinition:
    display_name: str
    # The lab's stable identity, written by its author: track files name it, and it is the same in every
    # course run, import and export (usage keys are not; Studio's block ids are random).
    lab_key: str = ""
    image: str = "base"
    time_limit: int = 3600
    idle_timeout: int = 900
    weight: float = 1.0
    max_attempts: int | None = None
    limits: Limits = field(default_factory=Limits)
    gating: str = Gating.SEQUENTIAL
    learner_sudo: bool = False
    network: bool = False
    params: tuple[Param, ...] = ()
    setup: tuple[SetupScript, ...] = ()
    files: tuple[LabFile, ...] = ()
    steps: tuple[Step, ...] = ()
    intro: str = ""  # Markdown shown before the steps
    finish: str = ""  # Markdown shown once every step has passed
    machines: tuple[Machine, ...] = ()  # declared <machine>s; none: one machine named "lab"
    deny: tuple[tuple[str, str], ...] = ()  # <network><deny from to/>: (from, to) machine names
    foreground: str = ""  # commands the page types into the terminal when it first opens

    # The language of the texts above (display_name, titles, instructions, hints, intro, finish);
    # the ``*_translations`` and ``Hint.translations`` hold the other languages.
    language: str = "en"
    domain: str = ""  # one of xblocks.core.skills.DOMAINS, or "" when the author named none
    skills: tuple[str, ...] = ()  # skill ids of the catalogue (course_content/skills/*.json)
    title_translations: Translations = ()
    intro_translations: Translations = ()
    finish_translations: Translations = ()
    feedback: tuple[Feedback, ...] = ()

    @property
    def all_machines(self) -> tuple[Machine, ...]:
        """The lab's machines, the implicit one (``lab``) when none is declared."""
        if self.machines:
            return self.machines
        return (Machine(DEFAULT_MACHINE, image=self.image, limits=self.limits, learner_sudo=self.learner_sudo),)

    @property
    def terminals(self) -> tuple[str, ...]:
        """Names of the machines the learner gets a terminal on, in declaration order."""
        return tuple(machine.name for machine in self.all_machines if machine.terminal)

    services: tuple[Service, ...] = ()

    def service(self, service_id: str) -> Service:
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    @property
    def max_score(self) -> int:
        return sum(step.max_points for step in self.steps)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def sandbox_spec(self, label: str) -> SandboxSpec:
        """What the backend creates: one machine as before, or (two or more) machines on their network."""
        if len(self.machines) > 1:
            return SandboxSpec(
                machines=tuple(
                    MachineSpec(name=m.name, image=m.image, limits=m.limits, learner_sudo=m.learner_sudo)
                    for m in self.machines
                ),
                deny=self.deny,
                label=label,
            )
        machine = self.all_machines[0]
        return SandboxSpec(
            image=machine.image,
            limits=machine.limits,
            network=self.network,
            learner_sudo=machine.learner_sudo,
            hostname=machine.name,
            label=label,
        )
