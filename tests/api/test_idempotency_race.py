"""Two copies of one request at the same moment (a client that timed out and retried): one lead."""

import threading

import pytest
from django.db import connections

from crm.models import Lead
from tests.api.conftest import client_for

# Real transactions in real threads: each request commits (or rolls back) on its own connection.
pytestmark = pytest.mark.django_db(transaction=True)


def test_twin_requests_racing_with_one_key_make_one_lead(alice, stages):
    from api.tokens import issue_token

    _, raw = issue_token(alice, "retrying script")
    start = threading.Barrier(2)
    answers = []

    def send():
        try:
            start.wait(timeout=10)
            response = client_for(raw_token=raw).post(
                "/api/v1/leads/", {"name": "Zoe Park"}, format="json", headers={"Idempotency-Key": "twin"}
            )
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [status for status, _ in answers] == [201, 201]
    assert len({lead_id for _, lead_id in answers}) == 1
    assert Lead.objects.filter(name="Zoe Park").count() == 1
