"""A lab in several languages: the definition as one language reads it, and check feedback by key.

One OLX holds every language: the lab's own (``language``, default ``en``) in the plain elements and
attributes, the others in ``<title lang>``, ``<instructions lang>``, ``<hint lang>``, ``<intro lang>``,
``<finish lang>`` and ``<feedback key lang>``. ``localise`` gives the definition with each text in the
asked language where the author wrote it, else in the lab's own: the page, the hints and the staff views
work on that, unchanged. A check prints ``kafaat-feedback: KEY name=value ...`` on a line of its own and
``localise_feedback`` shows the key's text instead, in the learner's language (then the lab's, then the
line itself), with ``{name}`` in the text replaced by the line's values.
"""

from __future__ import annotations

import dataclasses
import re

from xblocks.labs.definition.model import Feedback, LabDefinition, Step, translated

# A line of check output that names a feedback text; the key is an id (see ID_PATTERN).
FEEDBACK_LINE = re.compile(r"^[ \t]*kafaat-feedback:[ \t]*([A-Za-z0-9][A-Za-z0-9_-]{0,63})(?:[ \t]+(.*?))?[ \t]*$")

# ``name=value`` pairs after the key; a value is a word, or "quoted with spaces".
_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]{0,31})=(?:"([^"]*)"|(\S*))')
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,31})\}")
MAX_VALUE_CHARS = 200
MAX_PAIRS = 16

# A literal key in a check script: what ``kafaat lab validate`` compares with the <feedback> keys.
_LITERAL_KEY = re.compile(r"kafaat-feedback:[ \t]*([A-Za-z0-9][A-Za-z0-9_-]{0,63})")


def _base(lang: str) -> str:
    return lang.lower().replace("_", "-").split("-")[0]


def languages(definition: LabDefinition) -> tuple[str, ...]:
    """Every language the lab has text in: its own first, then the others in the order they appear."""
    found = [definition.language]

    def add(code: str) -> None:
        if code and code not in found:
            found.append(code)

    for pairs in (definition.title_translations, definition.intro_translations, definition.finish_translations):
        for code, _text in pairs:
            add(code)
    for item in definition.feedback:
        add(item.lang)
    for step in definition.steps:
        for code, _text in (*step.title_translations, *step.instructions_translations):
            add(code)
        for hint in step.hints:
            for code, _text in hint.translations:
                add(code)
        for item in step.feedback:
            add(item.lang)
    return tuple(found)


def shown_language(definition: LabDefinition, lang: str | None) -> str:
    """The language a learner asking for ``lang`` reads the lab in: theirs when the lab has it, else the lab's."""
    if lang:
        have = languages(definition)
        for candidate in (lang.lower(), _base(lang)):
            for code in have:
                if code.lower() == candidate:
                    return code
    return definition.language


def localise(definition: LabDefinition, lang: str | None) -> LabDefinition:
    """The definition with every text in ``lang`` where the author wrote it, else in the lab's language.

    The result is an ordinary definition whose plain texts are the chosen ones, so everything that shows a
    lab (the page, hints, Studio's preview) needs no change; the translations stay attached, so
    ``localise`` can be called again for another language.
    """
    code = shown_language(definition, lang)
    if code == definition.language:
        return definition

    def step(item: Step) -> Step:
        return dataclasses.replace(
            item,
            title=translated(item.title, item.title_translations, code),
            instructions=translated(item.instructions, item.instructions_translations, code),
            hints=tuple(
                dataclasses.replace(hint, text=translated(hint.text, hint.translations, code)) for hint in item.hints
            ),
        )

    return dataclasses.replace(
        definition,
        display_name=translated(definition.display_name, definition.title_translations, code),
        intro=translated(definition.intro, definition.intro_translations, code),
        finish=translated(definition.finish, definition.finish_translations, code),
        steps=tuple(step(item) for item in definition.steps),
    )


def _feedback_text(items: tuple[Feedback, ...], key: str, lang: str, default: str) -> str | None:
    for wanted in (lang, _base(lang)) if lang else ():
        for item in items:
            if item.key == key and item.lang and item.lang.lower() in (wanted.lower(), _base(wanted)):
                return item.text
    for item in items:
        if item.key == key and (not item.lang or item.lang == default):
            return item.text
    return None


def _values(rest: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for match in _PAIR.finditer(rest or ""):
        if len(values) >= MAX_PAIRS:
            break
        value = match.group(2) if match.group(2) is not None else match.group(3)
        values.setdefault(match.group(1), value[:MAX_VALUE_CHARS])
    return values


def feedback_for(definition: LabDefinition, step_id: str | None, key: str, lang: str | None) -> str | None:
    """The text of ``key`` in ``lang`` (step-level keys first, then the lab's), or None when no <feedback> has it."""
    code = shown_language(definition, lang)
    step = next((item for item in definition.steps if item.id == step_id), None)
    for items in ((step.feedback if step else ()), definition.feedback):
        text = _feedback_text(items, key, code, definition.language)
        if text is not None:
            return text
    return None


def localise_feedback(definition: LabDefinition, step_id: str | None, output: str, lang: str | None) -> str:
    """Check output with each ``kafaat-feedback: KEY ...`` line replaced by that key's text in ``lang``.

    A key no <feedback> defines leaves its line as printed (an author sees the mistake; the learner still
    reads something). The result is plain text, like any check output: the page escapes it, so a value a
    learner's files put in the line cannot become markup.
    """
    if "kafaat-feedback:" not in (output or ""):
        return output
    lines = []
    for line in output.split("\n"):
        match = FEEDBACK_LINE.match(line)
        text = feedback_for(definition, step_id, match.group(1), lang) if match else None
        if text is None:
            lines.append(line)
            continue
        lines.append(_fill(text, _values(match.group(2) or "")))
    return "\n".join(lines)


def _fill(text: str, values: dict[str, str]) -> str:
    """``{name}`` replaced by the line's value; a name the line did not give stays as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def feedback_keys(script: str) -> list[tuple[str, int]]:
    """Literal keys a script prints (``echo "kafaat-feedback: no-index"``), each with its offset in the script."""
    return [(match.group(1), match.start()) for match in _LITERAL_KEY.finditer(script or "")]
