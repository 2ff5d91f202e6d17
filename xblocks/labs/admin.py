"""Django admin for operators: every lab session with its state log and check runs, and safe bulk actions.

Admin changes go through ``labs.api`` (stop) so the state machine and the teardown stay in one place;
rows are read-only here because a hand-edited state would drift from the sandbox it describes.
"""

from django.contrib import admin, messages

from xblocks.core.i18n import gettext_lazy as _
from xblocks.core.i18n import ngettext
from xblocks.labs import api
from xblocks.labs.data import LIVE_STATES
from xblocks.labs.models import CheckRun, LabHost, LabSession, OutboxMessage, PeriodicJob, SessionEvent


class SessionEventInline(admin.TabularInline):
    model = SessionEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "from_state", "to_state", "actor", "reason")

    def has_add_permission(self, request, obj=None):
        return False


class CheckRunInline(admin.TabularInline):
    model = CheckRun
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created",
        "step_id",
        "kind",
        "state",
        "checks_done",
        "checks_total",
        "passed",
        "graded",
        "points",
        "max_points",
        "duration",
        "started_at",
        "finished_at",
        "published_at",
        "attempt_refunded",
        "learner_message",
        "detail",
        "script_hash",
        "outcomes",
    )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LabSession)
class LabSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "usage_key", "state", "phase", "host", "created", "ready_at", "ends_at", "best_score")
    list_filter = ("state", "host", "course_key")
    search_fields = ("user__username", "usage_key", "course_key", "=id")
    date_hierarchy = "created"
    inlines = [SessionEventInline, CheckRunInline]
    actions = ["stop_sessions", "reconcile_now"]
    exclude = ("seed",)  # the seed derives the learner's secret values (flags)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name != "seed"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Stop the selected lab sessions"))
    def stop_sessions(self, request, queryset):
        stopped = 0
        for session_id in queryset.filter(state__in=[s.value for s in LIVE_STATES]).values_list("pk", flat=True):
            api.stop_session(session_id, actor=f"staff:{request.user.pk}", reason="stopped in the admin")
            stopped += 1
        self.message_user(
            request,
            ngettext("%(count)s lab session is stopping.", "%(count)s lab sessions are stopping.", stopped)
            % {"count": stopped},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reconcile sessions with the sandbox inventory now"))
    def reconcile_now(self, request, queryset):
        # Sandboxes live on the lab hosts, never in this web process: each host reconciles its own.
        queues = api.queue_reconciles()
        self.message_user(
            request,
            _("Each lab host reconciles its sandboxes now (queued on %(queues)s).") % {"queues": ", ".join(queues)},
            messages.INFO,
        )


@admin.register(LabHost)
class LabHostAdmin(admin.ModelAdmin):
    """Lab hosts as they last reported themselves; written only by their heartbeats, so read-only here.

    Deleting a host that was taken out of service removes it from placement for good.
    """

    list_display = ("name", "alive", "accepting", "live_sessions", "capacity", "sandboxes", "last_seen", "detail")
    list_filter = ("accepting",)
    search_fields = ("name",)

    def get_queryset(self, request):
        self._statuses = {status.name: status for status in api.lab_hosts()}
        return super().get_queryset(request)

    def _status(self, obj):
        statuses = getattr(self, "_statuses", None) or {status.name: status for status in api.lab_hosts()}
        return statuses.get(obj.name)

    @admin.display(boolean=True, description=_("alive"))
    def alive(self, obj):
        status = self._status(obj)
        return bool(status and status.alive)

    @admin.display(description=_("live sessions"))
    def live_sessions(self, obj):
        status = self._status(obj)
        return status.live_sessions if status else 0

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(PeriodicJob)
class PeriodicJobAdmin(admin.ModelAdmin):
    """When each periodic job last ran and how it ended (its error in full on the job's page)."""

    list_display = ("name", "last_started", "last_finished", "last_ok", "last_duration", "runs", "holder")
    list_filter = ("last_ok",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Messages to other apps (lab results to certification): what is pending, how often it failed, and why."""

    list_display = ("id", "topic", "key", "pending", "attempts", "next_attempt_at", "delivered_at", "short_error")
    list_filter = ("pending", "topic")
    search_fields = ("key", "=id")
    actions = ["deliver_now"]

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return (obj.last_error or "")[:120]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Deliver the selected messages now"))
    def deliver_now(self, request, queryset):
        delivered = api.deliver_now([message.pk for message in queryset.filter(pending=True)])
        self.message_user(
            request,
            ngettext("%(count)s message delivered.", "%(count)s messages delivered.", delivered) % {"count": delivered},
            messages.SUCCESS if delivered else messages.WARNING,
        )
