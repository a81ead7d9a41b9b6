"""An unreachable database answers a 503 that says so and asks to retry: a page, plain text for the board's
fetch and htmx requests, JSON for the API. Other errors stay a plain 500."""

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.errors_urls")]


@pytest.fixture
def anonymous():
    return Client(raise_request_exception=False)


def test_database_unavailable_is_a_503_page_without_a_traceback(anonymous, settings):
    settings.DEBUG = False
    response = anonymous.get("/database-gone/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    text = response.content.decode()
    assert "Pipeline is briefly unavailable" in text
    assert "database cannot be reached" in text
    assert "Traceback" not in text and "5432" not in text


def test_database_unavailable_to_fetch_and_api_callers(anonymous):
    fetched = anonymous.get("/database-gone/", headers={"X-Requested-With": "fetch"})
    assert fetched.status_code == 503
    assert fetched["Content-Type"].startswith("text/plain")
    api = anonymous.get("/database-gone/", headers={"Accept": "application/json"})
    assert api.status_code == 503
    assert api.json()["code"] == "database_unavailable"


def test_other_errors_stay_a_500(anonymous):
    response = anonymous.get("/broken/")
    assert response.status_code == 500
    assert "briefly unavailable" not in response.content.decode()
