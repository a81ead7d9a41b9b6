"""The profile page: a user's API tokens, made (shown once) and revoked by themselves."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api.tokens import issue_token, revoke_token


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    new_token = None
    if request.method == "POST":
        _, new_token = issue_token(request.user, request.POST.get("name", ""))
    tokens = request.user.api_tokens.all()
    return render(request, "api/profile.html", {"tokens": tokens, "new_token": new_token})


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    revoke_token(request.user, pk)
    return redirect("profile")
