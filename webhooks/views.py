"""Settings > Webhooks, for managers: register endpoints (secret shown once), delivery logs, test events."""

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from crm.views import manager_required
from webhooks import services
from webhooks.models import EVENT_TYPES, Endpoint

REFUSAL = "Webhooks are managed by managers."


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=500, label="URL", assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(max_length=200, required=False)


@require_http_methods(["GET", "POST"])
@manager_required(REFUSAL)
def endpoints(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    context = {"endpoints": Endpoint.objects.all(), "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.register_endpoint(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return render(request, "webhooks/endpoint.html", _detail(endpoint, secret=secret), status=201)
    status = 400 if request.method == "POST" else 200
    return render(request, "webhooks/endpoints.html", context, status=status)


def _detail(endpoint: Endpoint, secret: str = "") -> dict:
    return {"endpoint": endpoint, "deliveries": endpoint.deliveries.all()[:50], "secret": secret}


@require_http_methods(["GET"])
@manager_required(REFUSAL)
def endpoint(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "webhooks/endpoint.html", _detail(get_object_or_404(Endpoint, pk=pk)))


@require_POST
@manager_required(REFUSAL)
def send_test(request: HttpRequest, pk: int) -> HttpResponse:
    services.send_test(get_object_or_404(Endpoint, pk=pk), actor=request.user)
    return redirect("webhook-endpoint", pk=pk)


@require_POST
@manager_required(REFUSAL)
def toggle(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk)
    services.set_active(endpoint, actor=request.user, active=not endpoint.is_active)
    return redirect("webhook-endpoint", pk=pk)


@require_POST
@manager_required(REFUSAL)
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.delete_endpoint(get_object_or_404(Endpoint, pk=pk), actor=request.user)
    return redirect("webhook-endpoints")
