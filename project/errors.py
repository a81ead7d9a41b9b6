"""What a request answers when something below Django fails: a database that cannot be reached is a 503 page
that says so (and asks to retry), not a 500; anything else stays Django's plain 500 page.

Wired as `handler500`, so it also covers errors raised in middleware (loading the session or the user), where
the database is touched first. The page renders without the database: no base template, no user.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.template.loader import render_to_string
from django.views.defaults import server_error

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = (OperationalError, InterfaceError)


def database_unavailable(exc: BaseException | None) -> bool:
    """True when `exc` (or what caused it) says the database could not be reached."""
    while exc is not None:
        if isinstance(exc, UNAVAILABLE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def unavailable_response(request):
    from django.http import HttpResponse, JsonResponse

    message = "The database cannot be reached right now. Your last change may not be saved; try again."
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"detail": message, "code": "database_unavailable"}, status=503)
    elif request.headers.get("HX-Request") or request.headers.get("X-Requested-With") == "fetch":
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    else:
        html = render_to_string("503.html", {"message": message, "retry": RETRY_AFTER_SECONDS})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def handler500(request, *args, **kwargs):
    exc = sys.exc_info()[1]
    if database_unavailable(exc):
        log.warning("database unavailable: %s %s answered 503 (%s)", request.method, request.path, exc)
        return unavailable_response(request)
    return server_error(request, *args, **kwargs)
