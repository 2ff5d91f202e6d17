"""Who may see and change what, as the sister apps ask it: the named permissions and the operators' admin mixin.

The rules themselves live in ``xblocks.certification.permissions``; the credentials and exports apps
reach them only through these names.
"""

from __future__ import annotations

from xblocks.certification import numbers, permissions

visible_school_ids = permissions.visible_school_ids
managed_school_ids = permissions.managed_school_ids
can_view_cohort = permissions.can_view_cohort
allowed = permissions.allowed
normalise_number = numbers.normalise
SEE_OPERATIONS = permissions.SEE_OPERATIONS
CHANGE_OPERATIONS = permissions.CHANGE_OPERATIONS


class OperationsAdminMixin:
    """For the sister apps' admins (credentials, keys, verification log, exports, endpoints): platform staff only.

    Django's model permissions still apply on top; a coordinator is refused even when someone granted
    them one, because these rows span every school.
    """

    def _operator(self, request, permission=SEE_OPERATIONS) -> bool:
        return allowed(request.user, permission)

    def has_module_permission(self, request):
        return self._operator(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._operator(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return self._operator(request, CHANGE_OPERATIONS) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self._operator(request, CHANGE_OPERATIONS) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._operator(request, CHANGE_OPERATIONS) and super().has_delete_permission(request, obj)
