"""The managers' dashboard: tiles, insights, charts, recent activity and the scoring model, kept live over
/ws/dashboard/ (the live part is `live_context`, rendered by the page and by realtime.broadcast alike)."""

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from crm import analytics, scoring
from crm.views import manager_required

DASHBOARD_REFUSAL = "The dashboard is for managers."
LIVE_TEMPLATE = "crm/analytics/_dashboard_live.html"


def live_context(now: datetime | None = None, insights: bool = True) -> dict:
    """What the live part of the page shows, with the charts as Chart.js data; a socket frame leaves the
    insights out (`insights=False`: see analytics.dashboard) and the page keeps the ones it was drawn with."""
    board = analytics.dashboard(now, insights=insights)
    charts = {
        name: {"labels": chart["labels"], "datasets": [{"label": label, "data": chart["values"]}]}
        for name, label in [("stages", "Leads"), ("agents", "Open leads")]
        for chart in [board.charts[name]]
    }
    conversion = board.charts["conversion"]
    charts["conversion"] = {
        "labels": conversion["labels"],
        "datasets": [
            {"label": "Conversion rate (%) of leads created that week", "data": conversion["values"]}
        ],
        "n": conversion["n"],
    }
    return {"board": board, "charts": charts, "insights": insights}


@require_GET
@manager_required(DASHBOARD_REFUSAL)
def dashboard(request: HttpRequest) -> HttpResponse:
    # Chart scripts load with the page only; panels swapped in later (button, socket) are redrawn by them.
    context = {"status": scoring.model_status(), **live_context(), "load_charts": True}
    return render(request, "crm/dashboard.html", context)


@require_POST
@manager_required(DASHBOARD_REFUSAL)
def train(request: HttpRequest) -> HttpResponse:
    """Start training in the background; progress and the result arrive over the dashboard socket."""
    scoring.request_training(request.user)
    return render(request, "crm/partials/model_panel.html", {"status": scoring.model_status()})
