"""The REST API's views: parse with a serializer, call a crm service or query, answer with a serializer.

Who may change which lead is decided by the services (crm.permissions), as for the pages: any signed-in user
reads the board; agents change their own and unassigned leads, managers any.
"""

from django.contrib.auth import authenticate, get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.idempotency import idempotent
from api.pagination import NewestFirst
from api.throttling import LoginRateThrottle
from api.tokens import issue_token
from crm import queries, services
from crm.models import Interaction, Lead, LeadSource, Stage

User = get_user_model()

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Invalid input: a message per field."),
    401: OpenApiResponse(s.ErrorSerializer, description="No valid token or session."),
    403: OpenApiResponse(s.ErrorSerializer, description="You may not do this."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such object."),
    409: OpenApiResponse(s.ErrorSerializer, description="The Idempotency-Key was used for another request."),
    429: OpenApiResponse(s.ErrorSerializer, description="Too many requests; see Retry-After."),
}
CONFLICT = {
    409: OpenApiResponse(
        s.ConflictSerializer, description="A stale version or a full column: the lead as it is now."
    )
}


def errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in (401, 429, *codes)}


IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Retrying a POST with the same key answers as the first time, without writing again.",
)
BOARD_FILTERS = [
    OpenApiParameter("mine", bool, description="Only leads you own."),
    OpenApiParameter("source", int, description="Only leads from this source id."),
    OpenApiParameter("q", str, description="Text in the name, company or email."),
    OpenApiParameter("stage", str, description="Only leads in this stage (slug)."),
]


class ObtainToken(APIView):
    """A username and password for a new API token: for scripts (people make tokens on their profile)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=s.TokenRequestSerializer,
        responses={201: s.TokenSerializer, 400: ERRORS[400], 429: ERRORS[429]},
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        data = s.TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:  # wrong password and deactivated user alike: authenticate() refuses both
            raise exceptions.ValidationError({"detail": ["Unknown username or wrong password."]})
        _, raw = issue_token(user, data.validated_data.get("name") or "Script")
        return Response({"token": raw}, status=status.HTTP_201_CREATED)


@extend_schema_view(
    # 404: a cursor that is not one of ours.
    list=extend_schema(parameters=BOARD_FILTERS, responses={200: s.LeadSerializer, **errors(400, 404)}),
    retrieve=extend_schema(responses={200: s.LeadSerializer, **errors(404)}),
)
@extend_schema(tags=["leads"])
class LeadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.LeadSerializer
    lookup_value_regex = r"\d+"  # ids only: anything else is not a lead (404), never a 500
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        leads = queries.card_queryset()
        if self.action == "list":
            leads = queries.BoardFilter.from_request(self.request).apply(leads)
            stage = self.request.query_params.get("stage")
            if stage:
                leads = leads.filter(stage__slug=stage)
        return leads

    def _answer(self, lead_id: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.LeadSerializer(queries.card(lead_id)).data, status=code)

    @extend_schema(
        request=s.LeadCreateSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: s.LeadSerializer, **errors(400, 403, 409)},
    )
    @idempotent
    def create(self, request):
        data = s.LeadCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lead = services.create_lead(actor=request.user, **data.validated_data)
        return self._answer(lead.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.LeadUpdateSerializer,
        responses={200: s.LeadSerializer, **errors(400, 403, 404), **CONFLICT},
        description="Change some fields; `version` must be the one you read.",
    )
    def partial_update(self, request, pk=None):
        lead = get_object_or_404(Lead, pk=pk)
        data = s.LeadUpdateSerializer(lead, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        version = changes.pop("version", None)
        if version is None:
            raise exceptions.ValidationError({"version": ["This field is required."]})
        services.update_lead(lead.pk, actor=request.user, version=version, changes=changes)
        return self._answer(lead.pk)

    @extend_schema(
        request=s.MoveSerializer,
        parameters=[IDEMPOTENCY],
        responses={200: s.LeadSerializer, **errors(400, 403, 404), **CONFLICT},
        description="Move the card as a drag does: every board shows it at once.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def move(self, request, pk=None):
        # No read first: the service locks the row, and an unknown id is its DoesNotExist, answered 404.
        data = s.MoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        move = data.validated_data
        placement = services.Placement(
            index=move.get("index") or 0, prev_id=move.get("prev"), next_id=move.get("next")
        )
        stage, version = move["stage"], move["version"]
        lead = services.move_lead(
            int(pk), actor=request.user, stage_slug=stage, placement=placement, version=version
        )
        return self._answer(lead.pk)


@extend_schema_view(
    list=extend_schema(
        responses={200: s.InteractionSerializer, **errors(404)},
        description="The lead's interactions, newest first.",
    ),
    create=extend_schema(
        parameters=[IDEMPOTENCY],
        responses={201: s.InteractionSerializer, **errors(400, 403, 404)},
        description="Log a call, email, meeting or note with the lead.",
    ),
)
@extend_schema(tags=["leads"])
class InteractionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`/leads/<id>/interactions/`: a lead's interactions; logging one is services.log_interaction."""

    serializer_class = s.InteractionSerializer
    pagination_class = NewestFirst

    def lead(self) -> Lead:
        return get_object_or_404(Lead, pk=self.kwargs["lead_pk"])

    def get_queryset(self):
        return Interaction.objects.filter(lead=self.lead()).select_related("agent")

    @idempotent
    def create(self, request, lead_pk=None):
        lead = self.lead()
        data = s.InteractionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        interaction = services.log_interaction(lead.pk, actor=request.user, **data.validated_data)
        return Response(s.InteractionSerializer(interaction).data, status=status.HTTP_201_CREATED)


class ReadOnly(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = r"\d+"
    pagination_class = None  # short lists: the whole pipeline, every source, every colleague


@extend_schema_view(list=extend_schema(responses={200: s.StageSerializer(many=True), **errors()}))
@extend_schema(tags=["pipeline"], responses={200: s.StageSerializer, **errors(404)})
class StageViewSet(ReadOnly):
    queryset = Stage.objects.all()
    serializer_class = s.StageSerializer


@extend_schema_view(list=extend_schema(responses={200: s.SourceSerializer(many=True), **errors()}))
@extend_schema(tags=["pipeline"], responses={200: s.SourceSerializer, **errors(404)})
class SourceViewSet(ReadOnly):
    queryset = LeadSource.objects.all()
    serializer_class = s.SourceSerializer


@extend_schema_view(list=extend_schema(responses={200: s.UserSerializer(many=True), **errors()}))
@extend_schema(tags=["pipeline"], responses={200: s.UserSerializer, **errors(404)})
class UserViewSet(ReadOnly):
    queryset = User.objects.filter(is_active=True).order_by("username")
    serializer_class = s.UserSerializer
