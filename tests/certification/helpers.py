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


# Lab keys the role tracks name for the domain labs of the sample course (one course, six domains) that are
# written apart from the tracks: a track file may name one before its lab is in course_content/. The
# loader refuses such a track (a typo there would leave a requirement unmeetable), so until the lab lands
# that track does not load and the tests below allow exactly that; any other unknown key still fails.
# A key stops being pending by itself once course_content/ has the lab.
PENDING_LABS: frozenset[str] = frozenset()


def track_lab_keys(data: dict) -> set[str]:
    """Every lab key a track file names (``lab_passed`` and ``block_score``), initial and renewal requirements."""
    from xblocks.certification import rules  # pylint: disable=import-outside-toplevel

    items = [*(data.get("requirements") or []), *((data.get("renewal") or {}).get("requirements") or [])]
    leaves = [leaf for item in items for leaf in rules.RequirementSpec.from_json(item).leaves()]
    return {leaf.key for leaf in leaves if leaf.kind in ("lab_passed", "block_score")}


def missing_labs(data: dict) -> set[str]:
    """The lab keys of a track that no lab of the sample course has yet."""
    from xblocks.labs.catalog import known_lab_keys  # pylint: disable=import-outside-toplevel

    return track_lab_keys(data) - set(known_lab_keys([CHECKOUT / "course_content"]))


def loadable_tracks() -> list[str]:
    """``"slug v1"`` of every sample track whose labs are all in the sample course (what loads today)."""
    found = []
    for path in sorted(TRACKS_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not missing_labs(data):
            found.append(f"{data['slug']} v1")
    return sorted(found)


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


def complete_cloud_track(
    world: CertWorld,
    username: str,
    *,
    attest: bool = True,
    issue: bool = True,
    labs: tuple[str, ...] = ("cloud_reverse_proxy", "devops_make_hooks"),
) -> None:
    """Give a learner of ``cohort_a``/``cohort_b`` everything the cloud track asks for (of its labs,
    those named in ``labs``)."""
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    user = world.learners[username]
    cohort = world.cohort_a if username.endswith("_a") else world.cohort_b
    for lab in labs:
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
