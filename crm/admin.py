from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from crm import services
from crm.models import AgentPerformance, Delivery, FollowUp, Interaction, Lead, LeadSource, Stage


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    """Stages change through crm.services, so every open board re-reads its columns at once."""

    list_display = ["name", "slug", "order", "kind", "wip_limit"]
    prepopulated_fields = {"slug": ["name"]}
    actions = None  # the bulk delete action would bypass the service

    def save_model(self, request, obj, form, change):
        services.save_stage(obj, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        # A column with leads cannot go (their stage is PROTECTed); offering the button would end in an error.
        return super().has_delete_permission(request, obj) and not (obj and obj.leads.exists())

    def delete_model(self, request, obj):
        services.delete_stage(obj, actor=request.user)


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


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ["lead", "owner", "due_at", "state", "sequence"]
    list_filter = ["state"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Operators see what was sent, what waits and what failed (and why); crm.reminders writes them."""

    list_display = ["kind", "lead", "recipient", "state", "attempt_at", "attempts", "error"]
    list_filter = ["state", "kind"]
