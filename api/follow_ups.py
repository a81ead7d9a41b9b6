"""Follow-ups and snoozes through the API: the lead page's actions, on crm.follow_ups' services.

Times without an offset are read in the user's zone, as the pages read them (crm.follow_ups.parse_moment);
the services check permissions (crm.permissions), the future, the minutes, and publish what boards show.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.idempotency import idempotent
from api.serializers import LeadSerializer
from api.views import IDEMPOTENCY, errors
from crm import follow_up_queries, follow_ups, queries
from crm.models import FollowUp, Interaction, Lead, user_zone

MINUTES = {"min_value": 0, "max_value": follow_ups.MAX_MINUTES, "required": False}


def moment(value: str, user, field: str):
    """ISO 8601 as the pages read it, or a 400 naming `field`."""
    try:
        return follow_ups.parse_moment(value, user_zone(user))
    except DjangoValidationError as error:
        raise exceptions.ValidationError({field: error.messages}) from None


class FollowUpSerializer(serializers.ModelSerializer):
    lead_name = serializers.CharField(source="lead.name", read_only=True)
    owner_username = serializers.CharField(
        source="owner.username", read_only=True, allow_null=True, default=None
    )
    is_overdue = serializers.BooleanField(read_only=True)
    remind_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "lead",
            "lead_name",
            "owner",
            "owner_username",
            "due_at",
            "note",
            "duration_minutes",
            "remind_minutes_before",
            "remind_at",
            "state",
            "is_overdue",
            "sequence",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields


class FollowUpWriteSerializer(serializers.Serializer):
    """A new follow-up, or the fields of one to change (every field optional then)."""

    due_at = serializers.CharField(
        help_text="ISO 8601; without an offset, a wall-clock time in your time zone. In the future."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    duration_minutes = serializers.IntegerField(**MINUTES, help_text="How long; 30 when left out.")
    remind_minutes_before = serializers.IntegerField(
        **MINUTES, help_text="When the reminder email goes out; 15 when left out."
    )

    def validate_due_at(self, value: str):
        return moment(value, self.context["request"].user, "due_at")


class CompleteSerializer(serializers.Serializer):
    log_kind = serializers.ChoiceField(
        choices=Interaction.Kind.choices,
        required=False,
        allow_blank=True,
        help_text="Also log what happened as an interaction of this kind.",
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class SnoozeSerializer(serializers.Serializer):
    until = serializers.CharField(required=False, help_text="ISO 8601; without an offset, in your zone.")
    preset = serializers.ChoiceField(
        choices=list(follow_ups.SNOOZE_PRESETS.items()), required=False, help_text="Instead of `until`."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=follow_ups.MAX_REASON)

    def validate(self, data: dict) -> dict:
        user = self.context["request"].user
        if data.get("preset"):
            data["until"] = follow_ups.preset_moment(data["preset"], timezone.now(), user_zone(user))
        elif data.get("until"):
            data["until"] = moment(data["until"], user, "until")
        else:
            raise serializers.ValidationError({"until": ["Give `until` (ISO 8601) or a `preset`."]})
        return data


def _follow_up(pk: int, code: int = status.HTTP_200_OK) -> Response:
    return Response(FollowUpSerializer(follow_up_queries.one(pk)).data, status=code)


def _lead(pk: int) -> Response:
    return Response(LeadSerializer(queries.card(pk)).data)


@extend_schema(tags=["follow-ups"])
class LeadFollowUpViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`/leads/<id>/follow-ups/`: a lead's follow-ups (open and past), and scheduling one."""

    serializer_class = FollowUpSerializer

    def lead(self) -> Lead:
        return get_object_or_404(Lead, pk=self.kwargs["lead_pk"])

    def get_queryset(self):
        return FollowUp.objects.filter(lead=self.lead()).select_related("lead", "owner")

    @extend_schema(responses={200: FollowUpSerializer, **errors(404)})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=FollowUpWriteSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: FollowUpSerializer, **errors(400, 403, 404, 409)},
        description="Schedule a follow-up; its owner is the lead's owner (or you, on an unassigned lead).",
    )
    @idempotent
    def create(self, request, lead_pk=None):
        lead = self.lead()
        data = FollowUpWriteSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        follow_up = follow_ups.schedule_follow_up(lead.pk, actor=request.user, **data.validated_data)
        return _follow_up(follow_up.pk, status.HTTP_201_CREATED)


DUE = OpenApiParameter(
    "due",
    str,
    enum=list(follow_up_queries.DUE_FILTERS),
    description="overdue, today (in your time zone) or attention (both); all of yours when left out.",
)
STATE = OpenApiParameter("state", str, enum=FollowUp.State.values, description="Only in this state.")


@extend_schema_view(
    list=extend_schema(parameters=[DUE, STATE], responses={200: FollowUpSerializer, **errors(400)}),
    retrieve=extend_schema(responses={200: FollowUpSerializer, **errors(404)}),
)
@extend_schema(tags=["follow-ups"])
class FollowUpViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/follow-ups/`: your own follow-ups; one follow-up, changed as its lead's page changes it."""

    serializer_class = FollowUpSerializer
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if self.action != "list":
            return FollowUp.objects.select_related("lead", "owner")
        due, state = self.request.query_params.get("due", ""), self.request.query_params.get("state", "")
        if due and due not in follow_up_queries.DUE_FILTERS:
            choices = ", ".join(follow_up_queries.DUE_FILTERS)
            raise exceptions.ValidationError({"due": [f"“{due[:20]}” is not one of {choices}."]})
        if state and state not in FollowUp.State.values:
            choices = ", ".join(FollowUp.State.values)
            raise exceptions.ValidationError({"state": [f"“{state[:20]}” is not one of {choices}."]})
        mine = follow_up_queries.owned_by(self.request.user, due).select_related("owner")
        return mine.filter(state=state) if state else mine

    @extend_schema(
        request=FollowUpWriteSerializer(partial=True),
        responses={200: FollowUpSerializer, **errors(400, 403, 404)},
        description="Edit or reschedule an open follow-up; a calendar that has its invite gets the update.",
    )
    def partial_update(self, request, pk=None):
        data = FollowUpWriteSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        follow_up = follow_ups.edit_follow_up(int(pk), actor=request.user, **data.validated_data)
        return _follow_up(follow_up.pk)

    @extend_schema(
        request=CompleteSerializer,
        parameters=[IDEMPOTENCY],
        responses={200: FollowUpSerializer, **errors(400, 403, 404, 409)},
        description="Mark it done, optionally logging an interaction in the same step.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def complete(self, request, pk=None):
        data = CompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        follow_up = follow_ups.complete_follow_up(int(pk), actor=request.user, **data.validated_data)
        return _follow_up(follow_up.pk)

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY],
        responses={200: FollowUpSerializer, **errors(400, 403, 404, 409)},
        description="Cancel it; a calendar that has its invite gets the cancellation.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, pk=None):
        follow_up = follow_ups.cancel_follow_up(int(pk), actor=request.user)
        return _follow_up(follow_up.pk)


@extend_schema(tags=["leads"])
class SnoozeViewSet(viewsets.GenericViewSet):
    """`/leads/<id>/snooze/` and `/leads/<id>/unsnooze/`: routed beside the leads' own viewset."""

    serializer_class = LeadSerializer
    lookup_value_regex = r"\d+"

    @extend_schema(
        request=SnoozeSerializer,
        parameters=[IDEMPOTENCY],
        responses={200: LeadSerializer, **errors(400, 403, 404, 409)},
        description="Hide the lead from the boards until a time (`until`) or a `preset`.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def snooze(self, request, pk=None):
        data = SnoozeSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        until, reason = data.validated_data["until"], data.validated_data.get("reason", "")
        lead = follow_ups.snooze_lead(int(pk), actor=request.user, until=until, reason=reason)
        return _lead(lead.pk)

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY],
        responses={200: LeadSerializer, **errors(403, 404, 409)},
        description="Bring a snoozed lead back to the board now.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def unsnooze(self, request, pk=None):
        lead = follow_ups.unsnooze_lead(int(pk), actor=request.user)
        return _lead(lead.pk)
