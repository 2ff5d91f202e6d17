"""Per-learner parameters: stable for one seed, different between seeds, substituted everywhere, safe in a shell."""

import pathlib
import re

import pytest

from xblocks.labs import params
from xblocks.labs.definition import generate_params, parse_lab, render
from xblocks.labs.runner import check_flag

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "olx"
EVERY = parse_lab((FIXTURES / "every_feature.xml").read_text())
SEEDS = [bytes([n]) * 16 for n in range(40)]


def test_values_are_stable_for_one_seed():
    assert generate_params(EVERY, b"seed-one") == generate_params(EVERY, b"seed-one")


def test_values_differ_between_seeds():
    first, second = generate_params(EVERY, b"seed-one"), generate_params(EVERY, b"seed-two")
    assert first.keys() == second.keys() == {"port", "count", "token", "flag", "who"}
    assert first["token"] != second["token"] and first["flag"] != second["flag"]
    assert len({generate_params(EVERY, seed)["token"] for seed in SEEDS}) == len(SEEDS)


def test_an_empty_seed_is_refused():
    with pytest.raises(ValueError):
        generate_params(EVERY, b"")


@pytest.mark.parametrize("seed", SEEDS[:20])
def test_every_kind_respects_its_options_and_a_shell_safe_alphabet(seed):
    values = generate_params(EVERY, seed)
    assert 8000 <= int(values["port"]) <= 8100
    assert -5 <= int(values["count"]) <= 5
    assert re.fullmatch(r"[0-9a-f]{32}", values["token"])
    assert re.fullmatch(r"CTF\{[0-9a-f]{12}\}", values["flag"])
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d\d", values["who"])
    for value in values.values():
        assert re.fullmatch(r"[A-Za-z0-9_{}-]+", value)


def test_numbers_cover_their_whole_range():
    seen = {int(generate_params(EVERY, bytes([n, m]))["count"]) for n in range(16) for m in range(16)}
    assert seen == set(range(-5, 6))


def test_render_substitutes_every_reference_everywhere():
    values = generate_params(EVERY, b"render")
    rendered = render(EVERY, values)
    texts = [s.script for s in rendered.setup] + [f.content for f in rendered.files]
    for step in rendered.steps:
        texts += (
            [step.instructions, step.solve or ""]
            + [c.script for c in step.checks]
            + [f.value for f in step.flags]
            + [h.text for h in step.hints]
        )
    assert not any("{{" in text for text in texts)
    assert values["token"] in rendered.setup[0].script
    assert f"hello from {values['who']}" in rendered.setup[1].script
    assert f"port {values['port']}" in rendered.files[0].content
    assert f"**{values['port']}**" in rendered.step("first").instructions
    assert rendered.step("first").flags[0].value == values["flag"]
    assert f"127.0.0.1 {values['port']}" in rendered.step("first").checks[0].script
    assert values["port"] in rendered.step("first").solve
    assert EVERY.step("first").flags[0].value == "{{ lab.param.flag }}"  # the source is untouched


def test_render_without_a_value_for_a_declared_parameter_is_refused():
    with pytest.raises(ValueError, match="port"):
        render(EVERY, {"count": "1"})


def test_a_flag_copied_from_another_learner_is_rejected():
    mine = render(EVERY, generate_params(EVERY, b"learner-a")).step("first").flags[0]
    theirs = render(EVERY, generate_params(EVERY, b"learner-b")).step("first").flags[0]
    assert check_flag(mine, mine.value)
    assert check_flag(mine, f"  {mine.value}\n")
    assert not check_flag(mine, theirs.value)
    assert not check_flag(mine, mine.value.lower().replace("ctf", "ctf"))
    assert not check_flag(mine, "")


def test_an_unrendered_flag_accepts_nothing():
    unrendered = EVERY.step("first").flags[0]
    assert not check_flag(unrendered, "{{ lab.param.flag }}")


def test_a_derived_seed_depends_on_the_secret_and_every_part_of_the_context():
    seed = params.derive_seed("secret", 42, "block-v1:x")
    assert seed == params.derive_seed(b"secret", "42", "block-v1:x")
    assert seed != params.derive_seed("other", 42, "block-v1:x")
    assert seed != params.derive_seed("secret", 43, "block-v1:x")
    assert len(seed) == 32


def test_references_and_typos_are_found_with_their_offsets():
    text = "a {{ lab.param.x }} b {{lab.param.y}} c {{ lab.params.z }} d {{ other }}"
    assert params.references(text) == [("x", 2), ("y", 22)]
    assert params.malformed(text) == [("{{ lab.params.z }}", 40)]
    with pytest.raises(KeyError):
        params.substitute("{{ lab.param.q }}", {})
