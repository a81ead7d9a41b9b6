"""The analytics pages' tables as JSON: the same figures (crm.analytics), periods, defaults and permissions.

Periods are read in the caller's time zone, as the pages read them: `?period=7d|30d|90d|12m|all` or
`?from=YYYY-MM-DD&to=YYYY-MM-DD`, with each page's default when neither is given.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsManager
from api.views import errors
from crm import analytics
from crm.analytics_views import HEATMAP_REFUSAL, PERFORMANCE_PERIOD, SOURCES_PERIOD, rows_for
from crm.dashboard import DASHBOARD_REFUSAL
from crm.models import user_zone


class RateSerializer(serializers.Serializer):
    """A rate never without its n: `count` out of `n`, and their fraction (null when n is 0)."""

    count = serializers.IntegerField()
    n = serializers.IntegerField()
    value = serializers.FloatField(allow_null=True)


class PeriodSerializer(serializers.Serializer):
    preset = serializers.CharField(help_text="The preset asked for; empty for a from/to range.")
    start = serializers.DateField(allow_null=True, help_text="First day included; null for all time.")
    end = serializers.DateField(help_text="Last day included.")
    label = serializers.CharField()


class AgentRowSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()
    agent = serializers.CharField(help_text="The username.")
    name = serializers.CharField()
    assigned = serializers.IntegerField()
    contacted = serializers.IntegerField()
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    contact_rate = RateSerializer()
    conversion_rate = RateSerializer()
    win_rate = RateSerializer()
    median_hours_to_first_contact = serializers.FloatField(allow_null=True)
    interactions = serializers.IntegerField()
    interactions_per_lead = serializers.FloatField(allow_null=True)
    overdue = serializers.IntegerField()


class SourceRowSerializer(serializers.Serializer):
    source_id = serializers.IntegerField(allow_null=True, help_text="null: the leads without a source.")
    source = serializers.CharField()
    active = serializers.BooleanField()
    leads = serializers.IntegerField()
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    conversion_rate = RateSerializer()
    win_rate = RateSerializer()
    ci_low = serializers.SerializerMethodField(help_text="95% Wilson interval of the conversion rate.")
    ci_high = serializers.SerializerMethodField()
    avg_open_score = serializers.FloatField(allow_null=True)
    median_days_to_won = serializers.FloatField(allow_null=True)
    monthly_cost = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    cost = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    cost_per_won = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)

    def get_ci_low(self, row) -> float | None:
        return row.ci[0] if row.ci else None

    def get_ci_high(self, row) -> float | None:
        return row.ci[1] if row.ci else None


class CellSerializer(serializers.Serializer):
    month = serializers.DateField(format="%Y-%m")
    leads = serializers.IntegerField(source="rate.n")
    won = serializers.IntegerField(source="rate.count")
    conversion_rate = serializers.FloatField(source="rate.value", allow_null=True)
    band = serializers.ChoiceField(choices=["green", "yellow", "red", "grey"])


class MonthsRowSerializer(serializers.Serializer):
    source_id = serializers.IntegerField(allow_null=True)
    source = serializers.CharField()
    cells = CellSerializer(many=True)


class RecommendationSerializer(serializers.Serializer):
    source = serializers.CharField()
    direction = serializers.ChoiceField(choices=["above", "below"])
    conversion_rate = RateSerializer(source="rate")
    rest_rate = RateSerializer(source="rest", help_text="The other sources' rate, pooled.")
    p_value = serializers.FloatField()
    text = serializers.CharField()


class PerformanceSerializer(serializers.Serializer):
    period = PeriodSerializer()
    rows = AgentRowSerializer(many=True)


class SourcesSerializer(serializers.Serializer):
    period = PeriodSerializer()
    overall = RateSerializer()
    rows = SourceRowSerializer(many=True)


class MonthsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    overall = RateSerializer()
    months = serializers.ListField(child=serializers.DateField(format="%Y-%m"))
    rows = MonthsRowSerializer(many=True)


class RecommendationsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    recommendations = RecommendationSerializer(many=True)


class TilesSerializer(serializers.Serializer):
    open_leads = serializers.IntegerField()
    new_this_week = serializers.IntegerField()
    conversion_30d = RateSerializer()
    open_value = serializers.DecimalField(max_digits=16, decimal_places=2)
    average_score = serializers.FloatField(allow_null=True)
    scored = serializers.IntegerField(help_text="How many open leads the average score is over.")


def period_parameters(default: str) -> list[OpenApiParameter]:
    return [
        OpenApiParameter("period", str, enum=list(analytics.PRESETS), description=f"Default: {default}."),
        OpenApiParameter("from", str, description="First day (YYYY-MM-DD); overrides `period`."),
        OpenApiParameter("to", str, description="Last day (YYYY-MM-DD); today when left out."),
    ]


class AnalyticsView(APIView):
    """Runs in the caller's time zone (days and months are theirs, as on the pages)."""

    default_period = ""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        timezone.activate(user_zone(request.user))

    def finalize_response(self, request, response, *args, **kwargs):
        timezone.deactivate()
        return super().finalize_response(request, response, *args, **kwargs)

    def period(self) -> analytics.Period:
        try:
            return analytics.parse_period(self.request.query_params, self.default_period)
        except analytics.PeriodError as error:
            raise exceptions.ValidationError({"period": [str(error)]}) from None


class ManagersOnly(IsManager):
    message = HEATMAP_REFUSAL


@extend_schema(
    tags=["analytics"],
    parameters=period_parameters(PERFORMANCE_PERIOD),
    responses={200: PerformanceSerializer, **errors(400)},
)
class PerformanceView(AnalyticsView):
    """The performance table: managers get every agent's row, an agent their own."""

    default_period = PERFORMANCE_PERIOD

    def get(self, request):
        period = self.period()
        rows = analytics.agent_rows(period, agent_id=rows_for(request.user))
        return Response(PerformanceSerializer({"period": period, "rows": rows}).data)


class SourceView(AnalyticsView):
    permission_classes = [ManagersOnly]
    default_period = SOURCES_PERIOD


@extend_schema(
    tags=["analytics"],
    parameters=period_parameters(SOURCES_PERIOD),
    responses={200: SourcesSerializer, **errors(400, 403)},
)
class SourcesView(SourceView):
    """The sources table (managers): leads, conversion with its interval, score, time to won, cost."""

    def get(self, request):
        report = analytics.source_report(self.period(), with_months=False)
        return Response(SourcesSerializer(report).data)


@extend_schema(
    tags=["analytics"],
    parameters=period_parameters(SOURCES_PERIOD),
    responses={200: MonthsSerializer, **errors(400, 403)},
)
class MonthsView(SourceView):
    """The heatmap (managers): a cell per source and month, banded against the team's rate."""

    def get(self, request):
        report = analytics.source_report(self.period())
        rows = [
            {"source_id": row.source_id, "source": row.source, "cells": report.cells[row.source_id]}
            for row in report.rows
        ]
        body = {"period": report.period, "overall": report.overall, "months": report.months, "rows": rows}
        return Response(MonthsSerializer(body).data)


@extend_schema(
    tags=["analytics"],
    parameters=period_parameters(SOURCES_PERIOD),
    responses={200: RecommendationsSerializer, **errors(400, 403)},
)
class RecommendationsView(SourceView):
    """Sources converting significantly above or below the others (managers), most significant first."""

    def get(self, request):
        report = analytics.source_report(self.period(), with_months=False)
        return Response(RecommendationsSerializer(report).data)


class DashboardManagersOnly(IsManager):
    message = DASHBOARD_REFUSAL


@extend_schema(tags=["analytics"], responses={200: TilesSerializer, **errors(403)})
class TilesView(AnalyticsView):
    """The dashboard's tiles (managers): open leads and their value, new this week, 30-day conversion."""

    permission_classes = [DashboardManagersOnly]

    def get(self, request):
        return Response(TilesSerializer(analytics.dashboard().tiles).data)
