"""Named permissions of the credentials app (django-rules, as in ``xblocks.certification.permissions``).

A learner manages their own public profile and nobody else's (staff included: switching a learner's
page on is their choice, decision 0082). Anyone sees a profile its owner switched on; nobody sees one
that is off, and the answer is the same 404 as for a link that never existed.
"""

from __future__ import annotations

import rules

MANAGE_PUBLIC_PROFILE = "kafaat.manage_public_profile"
SEE_PUBLIC_PROFILE = "kafaat.see_public_profile"


@rules.predicate
def _signed_in(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


@rules.predicate
def _owns(user, profile) -> bool:
    return profile is None or getattr(profile, "user_id", None) == getattr(user, "pk", object())


@rules.predicate
def _switched_on(user, profile) -> bool:
    return bool(profile is not None and profile.enabled and profile.user.is_active)


RULES = {
    MANAGE_PUBLIC_PROFILE: _signed_in & _owns,
    SEE_PUBLIC_PROFILE: _switched_on,
}

for _name, _predicate in RULES.items():
    rules.set_perm(_name, _predicate)


def allowed(user, permission: str, obj=None) -> bool:
    return bool(rules.has_perm(permission, user, obj))
