"""Who may see what of the labs outside a lab block: named django-rules permissions.

The catalogue of labs (domain, machines, duration, points, languages, the last harness result) is for
platform staff and for the authors and staff of a course: it shows every lab's shape, never a learner.
Inside a lab block the block itself checks its requester (``LabBlock._staff``).
"""

from __future__ import annotations

import rules

from xblocks.core import compat


def _active(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


@rules.predicate
def is_platform_staff(user) -> bool:
    return _active(user) and bool(user.is_staff or user.is_superuser)


@rules.predicate
def is_course_staff(user, course_key) -> bool:
    """Staff or instructor of the course asked about (its authors); outside Open edX, the demo's staff."""
    return _active(user) and bool(course_key) and compat.is_course_staff(user, str(course_key))


SEE_CATALOGUE = "kafaat.see_lab_catalogue"

RULES = {
    # obj: the course key the catalogue is asked for, or None for every lab the platform is configured with
    SEE_CATALOGUE: is_platform_staff | is_course_staff,
}
for _name, _predicate in RULES.items():
    rules.set_perm(_name, _predicate)


def allowed(user, permission: str, obj=None) -> bool:
    if permission not in RULES:
        raise KeyError(f"unknown permission {permission!r}")
    return bool(rules.has_perm(permission, user, obj))
