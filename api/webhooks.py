"""`/api/v1/webhooks/`: managers register endpoints, read their delivery logs and send test events."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.idempotency import idempotent
from api.pagination import Latest
from api.permissions import IsManager
from api.views import IDEMPOTENCY, errors
from webhooks import services
from webhooks.models import EVENT_TYPES, Delivery, Endpoint


class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), allow_empty=False)

    class Meta:
        model = Endpoint
        fields = ["id", "url", "events", "description", "is_active", "disabled_reason", "created_at"]
        read_only_fields = ["id", "is_active", "disabled_reason", "created_at"]


class NewEndpointSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Verifies X-Pipeline-Signature; shown only in this answer."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_type",
            "status",
            "attempts",
            "response_code",
            "response_excerpt",
            "error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
        ]


@extend_schema_view(
    list=extend_schema(responses={200: EndpointSerializer, **errors(403)}),
    retrieve=extend_schema(responses={200: EndpointSerializer, **errors(403, 404)}),
    destroy=extend_schema(responses={204: None, **errors(403, 404)}),
)
@extend_schema(tags=["webhooks"])
class WebhookViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    queryset = Endpoint.objects.all()
    serializer_class = EndpointSerializer
    lookup_value_regex = r"\d+"
    permission_classes = [IsManager]

    @extend_schema(
        request=EndpointSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: NewEndpointSerializer, **errors(400, 403)},
        description="Register an endpoint; the answer holds its signing secret, shown this once.",
    )
    @idempotent
    def create(self, request):
        data = EndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.register_endpoint(actor=request.user, **data.validated_data)
        answer = NewEndpointSerializer(endpoint).data
        answer["secret"] = secret
        return Response(answer, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Endpoint) -> None:
        services.delete_endpoint(instance, actor=self.request.user)

    @extend_schema(
        request=None,
        responses={202: DeliverySerializer, **errors(403, 404)},
        description="Queue an `endpoint.test` delivery to this endpoint.",
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        endpoint = get_object_or_404(Endpoint, pk=pk)
        delivery = services.send_test(endpoint, actor=request.user)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(list=extend_schema(responses={200: DeliverySerializer, **errors(403, 404)}))
@extend_schema(tags=["webhooks"])
class DeliveryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """An endpoint's delivery log, newest first: status, attempts, the answer's code and first bytes."""

    serializer_class = DeliverySerializer
    permission_classes = [IsManager]
    pagination_class = Latest

    def get_queryset(self):
        endpoint = get_object_or_404(Endpoint, pk=self.kwargs["endpoint_pk"])
        return endpoint.deliveries.all()
