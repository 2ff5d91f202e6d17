"""The only place that knows about edx-platform: every platform import is lazy and lives here.

Outside Open edX (tests, the xblock-sdk workbench) each function falls back to plain Django, so
the apps run and test without the platform.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

log = logging.getLogger(__name__)

WORKBENCH_USER_ATTR = "xblock-workbench.user_id"


@dataclass(frozen=True)
class Requester:
    """Who is calling a block's view or handler, resolved to a Django user."""

    user: Any
    is_staff: bool
    anonymous_id: str


def running_in_openedx() -> bool:
    try:
        import lms  # noqa: F401  pylint: disable=import-outside-toplevel
    except ImportError:
        return False
    return True


def current_requester(block) -> Requester:
    """Resolve the block's current user to a Django user and a staff flag.

    Inside the LMS the user service carries ``edx-platform.*`` attributes; in the workbench the
    user is identified by the ``student`` query parameter and mapped to a Django user of that name
    (staff when listed in ``KAFAAT["DEMO_STAFF_IDS"]``).
    """
    user_model = get_user_model()
    service = block.runtime.service(block, "user")
    xb_user = service.get_current_user()
    attrs = getattr(xb_user, "opt_attrs", {}) or {}
    if "edx-platform.user_id" in attrs:
        user = user_model.objects.get(pk=attrs["edx-platform.user_id"])
        return Requester(
            user=user,
            is_staff=bool(attrs.get("edx-platform.user_is_staff")),
            anonymous_id=str(attrs.get("edx-platform.anonymous_user_id") or user.pk),
        )
    return _workbench_requester(block, attrs)


def is_course_staff(user, course_key: str) -> bool:
    """Whether ``user`` is staff of the course: global staff, or the course's staff or instructor role.

    Outside Open edX (the workbench) there are no course roles: global staff, superusers and the
    ``KAFAAT["DEMO_STAFF_IDS"]`` users count as staff.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or user.is_staff:
        return True
    if not running_in_openedx():
        return _workbench_staff(user)
    if not course_key:
        return False
    from common.djangoapps.student.roles import (  # pylint: disable=import-outside-toplevel
        CourseInstructorRole,
        CourseStaffRole,
    )
    from opaque_keys.edx.keys import CourseKey  # pylint: disable=import-outside-toplevel

    key = CourseKey.from_string(course_key)
    return CourseStaffRole(key).has_user(user) or CourseInstructorRole(key).has_user(user)


# --------------------------------------------------------------------------- outside Open edX
# The one branch with workbench rules, for the xblock-sdk workbench (``make demo``) and the tests: the
# learner is the runtime's student id, a Django user of that name is made on first use, and the ids in
# ``KAFAAT["DEMO_STAFF_IDS"]`` count as course staff. Inside Open edX none of it runs: the platform's
# user service and course roles answer.


def _workbench_staff_ids() -> set[str]:
    return set((getattr(settings, "KAFAAT", None) or {}).get("DEMO_STAFF_IDS", ["staff"]))


def _workbench_requester(block, attrs) -> Requester:
    uid = str(attrs.get(WORKBENCH_USER_ATTR) or getattr(block.runtime, "user_id", None) or "")
    if not uid or uid == "none":
        raise PermissionError("anonymous users cannot use this block")
    user, _ = get_user_model().objects.get_or_create(username=uid[:150], defaults={"email": f"{uid[:60]}@example.com"})
    return Requester(user=user, is_staff=uid in _workbench_staff_ids(), anonymous_id=uid)


def _workbench_staff(user) -> bool:
    return user.get_username() in _workbench_staff_ids()


# --------------------------------------------------------------------------- the platform


def in_studio() -> bool:
    """Whether this process is Studio (the CMS), whose handler views already require course author access."""
    return str(getattr(settings, "ROOT_URLCONF", "")).startswith("cms.")


def course_key(block) -> str:
    """The block's course key as a string ('' in the workbench, which has no courses)."""
    usage_id = block.scope_ids.usage_id
    key = getattr(usage_id, "course_key", None) or getattr(usage_id, "context_key", None)
    return str(key) if key else ""


def usage_key(block) -> str:
    return str(block.scope_ids.usage_id)


def block_id(block) -> str:
    """The block's own id within its course: its ``url_name`` in OLX (``block_id`` of the usage key)."""
    usage_id = block.scope_ids.usage_id
    return str(getattr(usage_id, "block_id", "") or "") or str(usage_id).rsplit("@", 1)[-1]


def course_lab_sources(course_key: str) -> list[tuple[str, str]]:
    """Inside Open edX: ``(usage key, OLX)`` of every ``kafaat_lab`` of one course (the lab catalogue); else ``[]``."""
    if not running_in_openedx() or not course_key:
        return []
    from opaque_keys.edx.keys import CourseKey  # pylint: disable=import-outside-toplevel
    from xmodule.modulestore.django import modulestore  # pylint: disable=import-outside-toplevel

    store = modulestore()
    blocks = store.get_items(CourseKey.from_string(course_key), qualifiers={"category": "kafaat_lab"})
    return [(str(block.location), str(getattr(block, "olx", "") or "")) for block in blocks]


def platform_lab_keys() -> dict[str, str]:
    """Inside Open edX: lab key -> usage key for every ``kafaat_lab`` of the platform's courses; ``{}`` outside.

    Read from the modulestore (published and draft branches as the store returns them), for commands
    such as ``kafaat cert tracks load`` that check a track's lab keys against real labs.
    """
    if not running_in_openedx():
        return {}
    from xmodule.modulestore.django import modulestore  # pylint: disable=import-outside-toplevel

    store = modulestore()
    found: dict[str, str] = {}
    for summary in store.get_course_summaries():
        for block in store.get_items(summary.id, qualifiers={"category": "kafaat_lab"}):
            key = getattr(block, "lab_key", "")
            if key:
                found.setdefault(str(key), str(block.location))
    return found


@dataclass(frozen=True)
class LearnerProfile:
    """What the certification app needs to print a learner's name and speak their language."""

    full_name: str
    legal_name: str  # the platform's verified name, "" when none
    language: str


def learner_profiles(users) -> dict[int, LearnerProfile]:
    """Profiles for many users in a constant number of queries (``users``: Django user objects).

    Inside Open edX: ``UserProfile.name``, the approved ``VerifiedName`` (edx-name-affirmation) and
    the ``pref-lang`` preference; outside: the Django user's first and last name and English.
    """
    users = list(users)
    ids = [user.pk for user in users]
    names: dict[int, str] = {}
    verified: dict[int, str] = {}
    languages: dict[int, str] = {}
    if ids and running_in_openedx():
        try:
            from common.djangoapps.student.models import UserProfile  # pylint: disable=import-outside-toplevel
            from openedx.core.djangoapps.user_api.models import UserPreference  # pylint: disable=import-outside-toplevel

            names = dict(UserProfile.objects.filter(user_id__in=ids).values_list("user_id", "name"))
            languages = dict(
                UserPreference.objects.filter(user_id__in=ids, key="pref-lang").values_list("user_id", "value")
            )
        except ImportError:  # pragma: no cover - platform layout changed
            log.warning("Open edX profile models not importable; using Django user names")
        try:
            from edx_name_affirmation.models import VerifiedName  # pylint: disable=import-outside-toplevel

            for user_id, name in (
                VerifiedName.objects.filter(user_id__in=ids, status="approved")
                .order_by("created")
                .values_list("user_id", "verified_name")
            ):
                verified[user_id] = name  # the latest approved wins
        except ImportError:
            pass
    result = {}
    for user in users:
        full = names.get(user.pk) or f"{user.first_name} {user.last_name}".strip() or user.username
        lang = (languages.get(user.pk) or "en").split("-")[0].lower()
        result[user.pk] = LearnerProfile(full_name=full, legal_name=verified.get(user.pk, ""), language=lang)
    return result


def connect_platform_learning_events(on_grade_changed, on_passing_status) -> bool:
    """Connect receivers to openedx-events' grade signals when openedx-events is installed.

    ``on_grade_changed`` receives ``PERSISTENT_GRADE_SUMMARY_CHANGED`` (kwarg ``grade``:
    ``PersistentCourseGradeData``); ``on_passing_status`` receives ``COURSE_PASSING_STATUS_UPDATED`` and
    ``CCX_COURSE_PASSING_STATUS_UPDATED`` (kwarg ``course_passing_status``: ``CoursePassingStatusData`` or
    ``CcxCoursePassingStatusData``). Every receiver also gets ``metadata`` (``EventsMetadata``, with the
    event's ``time``). Returns whether any was connected.
    """
    try:
        from openedx_events.learning import signals  # pylint: disable=import-outside-toplevel
    except ImportError:
        return False
    connected = False
    for name, receiver in (
        ("PERSISTENT_GRADE_SUMMARY_CHANGED", on_grade_changed),
        ("COURSE_PASSING_STATUS_UPDATED", on_passing_status),
        ("CCX_COURSE_PASSING_STATUS_UPDATED", on_passing_status),
    ):
        signal = getattr(signals, name, None)  # older openedx-events releases lack the newer signals
        if signal is not None:
            signal.connect(receiver, dispatch_uid=f"kafaat_certification.{name.lower()}")
            connected = True
    return connected


@dataclass(frozen=True)
class BadgeEvent:
    """What Kafaat tells the platform about a credential: openedx-events ``BadgeData`` in plain values."""

    credential_uuid: str
    user_id: int
    username: str
    email: str
    full_name: str
    is_active: bool
    template_uuid: str
    template_name: str
    template_description: str
    image_url: str = ""


BADGE_ORIGIN = "kafaat"


def send_badge_event(kind: str, event: BadgeEvent, at=None) -> bool:
    """Send openedx-events ``BADGE_AWARDED`` (``kind="awarded"``) or ``BADGE_REVOKED`` (``"revoked"``).

    Credentials are badges in the platform's vocabulary (Open Badges 3.0); ``CERTIFICATE_CREATED`` is
    about course certificates and stays the platform's. Without openedx-events (the workbench) nothing
    is sent; a failing receiver is logged by openedx-events and never breaks issuance. Returns whether
    the event was sent.
    """
    try:
        from openedx_events.learning import data, signals  # pylint: disable=import-outside-toplevel
    except ImportError:
        return False
    signal = getattr(signals, {"awarded": "BADGE_AWARDED", "revoked": "BADGE_REVOKED"}[kind], None)
    if signal is None:
        return False
    badge = data.BadgeData(
        uuid=event.credential_uuid,
        user=data.UserData(
            id=event.user_id,
            is_active=event.is_active,
            pii=data.UserPersonalData(username=event.username, email=event.email, name=event.full_name),
        ),
        template=data.BadgeTemplateData(
            uuid=event.template_uuid,
            origin=BADGE_ORIGIN,
            name=event.template_name,
            description=event.template_description,
            image_url=event.image_url or None,
        ),
    )
    signal.send_event(time=at, badge=badge)
    return True
