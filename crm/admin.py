from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from crm.models import AgentPerformance, Interaction, Lead, LeadSource, Stage


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "order", "kind", "wip_limit"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(LeadSource)
class LeadSourceAdmin(admin.ModelAdmin):
    """What a manager edits about a source: its monthly cost (cost per won lead on the heatmap), active."""

    list_display = ["name", "monthly_cost", "active"]
    list_editable = ["monthly_cost", "active"]
    list_filter = ["active"]


@admin.register(AgentPerformance)
class AgentPerformanceAdmin(admin.ModelAdmin):
    """Hourly snapshots written by the scheduler: read only."""

    list_display = ["agent", "hour", "assigned", "contacted", "won", "lost", "overdue"]
    list_filter = ["agent"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Leads change only through crm.services (history, versions, live updates); the admin just shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["name", "company", "stage", "owner", "priority", "lead_score"]
    list_filter = ["stage", "source", "owner"]
    search_fields = ["name", "company", "email", "external_id"]


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdmin):
    list_display = ["lead", "kind", "agent", "occurred_at"]
    list_filter = ["kind"]
