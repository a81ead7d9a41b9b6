"""A URL configuration for tests/ops: the project's, plus views that fail as an unreachable database does."""

from django.db import OperationalError
from django.urls import path

from project.urls import handler500, urlpatterns

__all__ = ["handler500", "urlpatterns"]


def database_gone(request):
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')


def broken(request):
    raise ValueError("a bug")


urlpatterns = [path("database-gone/", database_gone), path("broken/", broken), *urlpatterns]
