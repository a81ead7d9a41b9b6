"""The API's JSON: what a lead, an interaction, a stage... look like, and what a write may carry.

Writes are validated here (types, lengths, choices, existing ids) and then handed to the crm services, which
check permissions and versions, record history and publish the event.
"""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from crm import lead_fields
from crm.models import Interaction, Lead, LeadSource, Stage
from crm.permissions import is_manager

User = get_user_model()


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "slug", "name", "order", "kind", "wip_limit"]


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadSource
        fields = ["id", "name"]


class UserSerializer(serializers.ModelSerializer):
    is_manager = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "is_manager"]

    def get_is_manager(self, user) -> bool:
        return is_manager(user)


class LeadSerializer(serializers.ModelSerializer):
    """A lead as the board knows it; `version` goes back with every change to it."""

    stage = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    source_name = serializers.CharField(source="source.name", read_only=True, allow_null=True, default=None)
    owner_username = serializers.CharField(
        source="owner.username", read_only=True, allow_null=True, default=None
    )
    score_band = serializers.CharField(read_only=True)
    is_snoozed = serializers.BooleanField(read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "version",
            "name",
            "company",
            "email",
            "phone",
            "external_id",
            "stage",
            "source",
            "source_name",
            "owner",
            "owner_username",
            "priority",
            "expected_value",
            "engagement_level",
            "lead_score",
            "score_band",
            "score_source",
            "follow_up_at",
            "snoozed_until",
            "is_snoozed",
            "is_overdue",
            "interaction_count",
            "last_interaction_kind",
            "last_interaction_at",
            "closed_at",
            "attributes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def _editable_fields(**extra_kwargs) -> dict:
    return {name: {"required": False, **extra_kwargs} for name in lead_fields.EDITABLE}


class LeadWriteFields(serializers.ModelSerializer):
    """The lead form's fields (crm.lead_fields.EDITABLE), validated as the model validates them."""

    source = serializers.PrimaryKeyRelatedField(
        queryset=LeadSource.objects.all(), required=False, allow_null=True
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )

    class Meta:
        model = Lead
        fields = list(lead_fields.EDITABLE)
        extra_kwargs = _editable_fields()


class LeadCreateSerializer(LeadWriteFields):
    stage = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Stage.objects.all(),
        required=False,
        help_text="The column's slug; the pipeline's first open column when left out.",
    )
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    attributes = serializers.DictField(required=False, help_text="Any other facts, kept with the lead.")

    class Meta(LeadWriteFields.Meta):
        fields = [*LeadWriteFields.Meta.fields, "stage", "external_id", "attributes"]
        extra_kwargs = {**_editable_fields(), "name": {"required": True}}


class LeadUpdateSerializer(LeadWriteFields):
    version = serializers.IntegerField(
        min_value=0, help_text="The version you last read; an older one is refused with 409."
    )

    class Meta(LeadWriteFields.Meta):
        fields = [*LeadWriteFields.Meta.fields, "version"]


class MoveSerializer(serializers.Serializer):
    """Where the card goes: like a drag, neighbours (`prev`/`next`) win over `index`."""

    stage = serializers.SlugField(help_text="The target column's slug.")
    index = serializers.IntegerField(
        min_value=0, max_value=1_000_000, required=False, help_text="0-based place in the column."
    )
    prev = serializers.IntegerField(required=False, allow_null=True, help_text="The lead to come after.")
    next = serializers.IntegerField(required=False, allow_null=True, help_text="The lead to come before.")
    version = serializers.IntegerField(min_value=0)

    def validate(self, data: dict) -> dict:
        if data.get("index") is None and data.get("prev") is None and data.get("next") is None:
            raise serializers.ValidationError({"index": ["Give an index, or the prev or next lead."]})
        return data


class InteractionSerializer(serializers.ModelSerializer):
    agent_username = serializers.CharField(
        source="agent.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Interaction
        fields = ["id", "lead", "agent", "agent_username", "kind", "notes", "outcome", "occurred_at"]
        read_only_fields = ["id", "lead", "agent", "agent_username"]
        extra_kwargs = {"occurred_at": {"required": False}}


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(required=False, max_length=80, help_text="What the token is for.")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; shown only this once.")


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    lead = LeadSerializer(
        required=False,
        help_text="The lead as it is now; absent when the conflict is a reused Idempotency-Key.",
    )


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="A message list per field that was refused.",
    )
