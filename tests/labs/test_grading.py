"""Scores, hint costs, gating and attempts computed from server-side records only."""

from __future__ import annotations

import pytest

from xblocks.labs import grading


@pytest.fixture
def lab(definition_of):
    return definition_of("files_and_flags")


def progress(**steps):
    return {"steps": steps}


@pytest.mark.parametrize(
    ("record", "points"),
    [
        ({}, 0.0),
        ({"check_points": 2, "checks_passed": True}, 2.0),
        ({"check_points": 2, "checks_passed": True, "hints": 1}, 1.0),
        ({"check_points": 0, "hints": 1}, 0.0),
        ({"check_points": 2, "checks_passed": True, "solution": True}, 0.0),
        ({"check_points": 2, "checks_passed": True, "solution_shown": True}, 2.0),
    ],
)
def test_step_points_take_hint_costs_and_revealed_solutions_into_account(lab, record, points):
    step = lab.step("write")
    assert grading.step_points(step, grading.step_record(progress(write=record), "write")) == points


def test_flag_points_count_only_for_accepted_flags(lab):
    assert grading.lab_score(lab, progress(flag={"flags": ["found"]})) == 1.0
    assert grading.lab_score(lab, progress(flag={"flags": ["not-a-flag"]})) == 0.0


def test_sequential_gating_opens_a_step_once_the_previous_one_passed(lab):
    assert grading.step_open(lab, {}, "write")
    assert not grading.step_open(lab, {}, "flag")
    assert grading.step_open(lab, progress(write={"checks_passed": True}), "flag")


def test_the_lab_completes_when_every_step_passed(lab):
    assert not grading.lab_completed(lab, progress(write={"checks_passed": True}))
    assert grading.lab_completed(lab, progress(write={"checks_passed": True}, flag={"flags": ["found"]}))
    assert grading.current_step(lab, progress(write={"checks_passed": True})) == "flag"


@pytest.mark.parametrize(("used", "left"), [(0, 3), (2, 1), (3, 0), (9, 0)])
def test_attempts_left_count_down_to_zero(lab, used, left):
    assert grading.attempts_left(lab, {"attempts": used}) == left


def test_a_solution_shown_after_passing_keeps_the_points_and_before_passing_ungrades(lab):
    step = lab.step("write")
    passed = grading.reveal_solution(
        step, grading.step_record(progress(write={"check_points": 2, "checks_passed": True}), "write")
    )
    assert grading.step_points(step, passed) == 2.0 and grading.solution_revealed(passed) and not passed["solution"]
    unpassed = grading.reveal_solution(step, grading.step_record(progress(write={"check_points": 1}), "write"))
    assert grading.step_points(step, unpassed) == 0.0 and unpassed["solution"]
