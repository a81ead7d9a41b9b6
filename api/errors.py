"""Every refusal as JSON: `{"detail": "...", "fields": {"name": ["..."]}}`, never an HTML page or a 500.

The crm services speak Django (ValidationError, PermissionDenied, Conflict, DoesNotExist); this turns them
into the API's statuses: 400, 403, 409 (with the lead as it is now), 404.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm import queries, services


def exception_handler(exc, context):
    if isinstance(exc, services.Conflict):
        from api.serializers import LeadSerializer

        lead = LeadSerializer(queries.card(exc.lead.pk)).data
        return Response({"detail": exc.message, "lead": lead}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = validation_body(response.data)
    return response


def validation_body(data) -> dict:
    """DRF's field->messages dict, or a bare list, as {"detail", "fields"}; non-field messages in detail."""
    if isinstance(data, list):
        return {"detail": " ".join(str(m) for m in data) or "Invalid input.", "fields": {}}
    fields = {name: _messages(value) for name, value in data.items()}
    general = fields.pop("non_field_errors", []) + fields.pop("detail", [])
    if general:
        detail = " ".join(general)
    else:
        detail = " ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()) or "Invalid input."
    return {"detail": detail, "fields": fields}


def _messages(value) -> list[str]:
    if isinstance(value, dict):  # a nested field (attributes): flatten with the inner key
        return [f"{key}: {m}" for key, inner in value.items() for m in _messages(inner)]
    if isinstance(value, list):
        return [m for item in value for m in _messages(item)]
    return [str(value)]
