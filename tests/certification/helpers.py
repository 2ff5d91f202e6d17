"""Helpers the certification tests share: the sample tracks, a cohort world, a completed track, the block."""

from __future__ import annotations

import datetime
import json
import pathlib
import uuid
from dataclasses import dataclass, field

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]


TRACKS_DIR = CHECKOUT / "course_content" / "tracks"


COURSE_KEY = "course-v1:Kafaat+LABS101+2026"


@dataclass
class CertWorld:
    """Two schools (A, B), a coordinator each, platform staff, one cohort per school on the cloud track."""

    staff: object
    coordinator_a: object
    coordinator_b: object
    cohort_a: object  # CohortData
    cohort_b: object
    learners: dict = field(default_factory=dict)  # username -> user
    enrollments: dict = field(default_factory=dict)  # username -> enrollment id

    def learner(self, name: str):
        return self.learners[name]


def complete_cloud_track(world: CertWorld, username: str, *, attest: bool = True, issue: bool = True) -> None:
    """Give a learner of ``cohort_a``/``cohort_b`` everything the cloud track asks for."""
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    user = world.learners[username]
    cohort = world.cohort_a if username.endswith("_a") else world.cohort_b
    for lab in ("cloud_reverse_proxy", "devops_make_hooks"):
        api.record_lab_result(
            user,
            usage_key=f"block-v1:Kafaat+LABS101+2026+type@kafaat_lab+block@{lab}",
            course_key=COURSE_KEY,
            score=3,
            max_score=3,
            passed=True,
            completed_at=None,
        )
    api.on_course_grade_changed(user.pk, COURSE_KEY, 0.9, True)
    api.add_hours(
        world.staff, user, cohort.id, source="school", minutes=16 * 60, date=datetime.date(2026, 2, 1), category="cloud"
    )
    api.add_hours(
        world.staff,
        user,
        cohort.id,
        source="company",
        minutes=4 * 60,
        date=datetime.date(2026, 2, 2),
        category="security",
    )
    if attest:
        api.add_attestation(world.staff, user, cohort.id, "incident-response")
    # Tests run inside a transaction where on-commit evaluation never fires; evaluate as the task would.
    if issue:
        api.evaluate_and_issue(user.pk)


class BlockHarness:
    """A certification block in the workbench runtime, as one user."""

    def __init__(self, olx: str, student: str):
        from workbench.runtime import WorkbenchRuntime  # pylint: disable=import-outside-toplevel

        runtime = WorkbenchRuntime(student)
        runtime.id_generator.set_scenario(f"certtest-{uuid.uuid4().hex[:10]}")
        self.usage_id = runtime.parse_xml_string(olx)
        self.block = runtime.get_block(self.usage_id)

    def html(self) -> str:
        return self.block.render("student_view", {}).content

    def call(self, handler: str, data: dict | None = None) -> tuple[int, dict]:
        from webob import Request  # pylint: disable=import-outside-toplevel

        request = Request.blank("/", method="POST")
        request.body = json.dumps(data or {}).encode("utf-8")
        request.content_type = "application/json"
        response = self.block.runtime.handle(self.block, handler, request)
        return response.status_code, json.loads(response.body or b"null")

    def get(self, handler: str, query: str = ""):
        from webob import Request  # pylint: disable=import-outside-toplevel

        return self.block.runtime.handle(self.block, handler, Request.blank(f"/?{query}", method="GET"))
