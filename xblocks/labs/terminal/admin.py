"""Admin views of the terminal: who watched whose terminal, transcripts, and tokens (all read-only)."""

from django.contrib import admin

from xblocks.labs.terminal import api
from xblocks.labs.terminal.models import StaffAttach, TerminalToken, Transcript


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit data: nobody edits it through the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StaffAttach)
class StaffAttachAdmin(ReadOnlyAdmin):
    list_display = ("staff", "learner_id", "session_id", "started_at", "ended_at")
    list_filter = ("started_at",)
    search_fields = ("staff__username", "=session_id", "=learner_id")
    date_hierarchy = "started_at"


@admin.register(Transcript)
class TranscriptAdmin(ReadOnlyAdmin):
    list_display = ("session_id", "machine", "started_at", "updated_at", "size", "truncated")
    search_fields = ("=session_id", "machine")
    readonly_fields = ("command_lines",)

    @admin.display(description="command history")
    def command_lines(self, obj):
        return api.command_history(obj.session_id, obj.machine).decode("utf-8", "replace")


@admin.register(TerminalToken)
class TerminalTokenAdmin(ReadOnlyAdmin):
    list_display = ("session_id", "user", "mode", "attached_by", "created_at", "expires_at", "consumed_at")
    search_fields = ("user__username", "=session_id")
    exclude = ("digest",)
