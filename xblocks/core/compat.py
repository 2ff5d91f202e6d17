"""The only place that knows about edx-platform: every platform import is lazy and lives here.

Outside Open edX (tests, the xblock-sdk workbench) each function falls back to plain Django, so
the apps run and test without the platform.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

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
        import lms  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return False
    return True


def _demo_staff_ids() -> set[str]:
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    return set((getattr(settings, "KAFAAT", None) or {}).get("DEMO_STAFF_IDS", ["staff"]))


def current_requester(block) -> Requester:
    """Resolve the block's current user to a Django user and a staff flag.

    Inside the LMS the user service carries ``edx-platform.*`` attributes; in the workbench the
    user is identified by the ``student`` query parameter and mapped to a Django user of that name
    (staff when listed in ``KAFAAT["DEMO_STAFF_IDS"]``).
    """
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel

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
    uid = str(attrs.get(WORKBENCH_USER_ATTR) or getattr(block.runtime, "user_id", None) or "")
    if not uid or uid == "none":
        raise PermissionError("anonymous users cannot use this block")
    user, _ = user_model.objects.get_or_create(username=uid[:150], defaults={"email": f"{uid[:60]}@example.com"})
    return Requester(user=user, is_staff=uid in _demo_staff_ids(), anonymous_id=uid)


def course_key(block) -> str:
    """The block's course key as a string ('' in the workbench, which has no courses)."""
    usage_id = block.scope_ids.usage_id
    key = getattr(usage_id, "course_key", None) or getattr(usage_id, "context_key", None)
    return str(key) if key else ""


def usage_key(block) -> str:
    return str(block.scope_ids.usage_id)
