"""Check feedback is plain bounded text and flags compare exactly; pure parts of the runner, no sandbox needed."""

import pytest

from xblocks.labs.definition import Flag, LabFile, parse_lab
from xblocks.labs.runner import FEEDBACK_CHARS, ProvisionError, check_flag, clean_feedback, place_file_script


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[1;31mFAIL\x1b[0m: missing file\n", "FAIL: missing file"),
        ("\x1b]0;window title\x07text", "text"),
        ("line\r\nnext\x00\x08", "line\nnext"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("  \n\n", ""),
    ],
    ids=["ansi-colour", "osc-title", "controls", "markup-kept-for-escaping", "blank"],
)
def test_feedback_loses_escapes_and_controls_but_keeps_text_for_the_page_to_escape(raw, expected):
    assert clean_feedback(raw) == (expected, False)


def test_long_feedback_is_cut_with_a_marker():
    text, truncated = clean_feedback("x" * (FEEDBACK_CHARS * 3))
    assert truncated and text.endswith("\n[output truncated]")
    assert text.count("x") == FEEDBACK_CHARS


def test_feedback_the_backend_already_cut_carries_the_marker():
    assert clean_feedback("partial", truncated=True) == ("partial\n[output truncated]", True)


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [
        ("CTF{abc}", True),
        (" CTF{abc}\n", True),
        ("ctf{abc}", False),
        ("CTF{abc", False),
        ("", False),
        ("CTF{abc}x", False),
    ],
)
def test_a_flag_accepts_only_its_value_trimmed(answer, accepted):
    assert check_flag(Flag(id="f", points=1, value="CTF{abc}"), answer) is accepted


def test_a_file_is_placed_by_rename_after_refusing_symlinked_folders():
    script = place_file_script(LabFile(path="/home/learner/it's here.txt", mode=0o640, owner="learner", content=""))
    assert "target='/home/learner/it'\"'\"'s here.txt'" in script  # quoted for the shell
    assert 'cd -P -- "$dir"' in script and "mv -fT" in script and "chmod 0640" in script


def test_a_provision_error_keeps_learner_and_operator_text_apart():
    error = ProvisionError("Please try again.", "setup exited 3: /etc/secret missing")
    assert error.learner_message == "Please try again." and str(error) == "setup exited 3: /etc/secret missing"


def test_a_definition_without_solves_still_parses_for_the_runner():
    lab = parse_lab('<kafaat_lab display_name="x"><step id="s" title="S"><flag id="f">a</flag></step></kafaat_lab>')
    assert lab.steps[0].solve is None and lab.steps[0].max_points == 1
