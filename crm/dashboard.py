"""The managers' dashboard: pipeline totals and the scoring model, kept live over /ws/dashboard/."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from crm import queries, scoring
from crm.views import manager_required

DASHBOARD_REFUSAL = "The dashboard is for managers."


@require_GET
@manager_required(DASHBOARD_REFUSAL)
def dashboard(request: HttpRequest) -> HttpResponse:
    # Chart scripts load with the page only; panels swapped in later (button, socket) are redrawn by them.
    context = {"status": scoring.model_status(), "totals": queries.pipeline_totals(), "load_charts": True}
    return render(request, "crm/dashboard.html", context)


@require_POST
@manager_required(DASHBOARD_REFUSAL)
def train(request: HttpRequest) -> HttpResponse:
    """Start training in the background; progress and the result arrive over the dashboard socket."""
    scoring.request_training(request.user)
    return render(request, "crm/partials/model_panel.html", {"status": scoring.model_status()})
