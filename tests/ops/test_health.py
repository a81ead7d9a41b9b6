"""/healthz: what a load balancer and an operator read; the worker heartbeat it reports."""

import time

import pytest
from django.core.cache import cache

from workers import actors
from workers.lease import LEASE_KEY

pytestmark = pytest.mark.django_db


def test_healthy_process_answers_200_with_each_check(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_unreachable_redis_is_a_503_that_names_it(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["redis"]["ok"] is False
    assert "ConnectionError" in body["redis"]["error"]
    assert body["database"]["ok"] is True


def test_worker_heartbeat_is_reported_and_goes_stale(client, broker):
    assert client.get("/healthz").json()["worker"] == {"ok": False, "error": "no heartbeat yet"}
    actors.heartbeat()  # as a worker runs it
    worker_check = client.get("/healthz").json()["worker"]
    assert worker_check["ok"] is True
    assert worker_check["heartbeat_age_seconds"] < 60
    cache.set(actors.HEARTBEAT_KEY, time.time() - 600)
    response = client.get("/healthz")
    assert response.json()["worker"] == {"ok": False, "heartbeat_age_seconds": pytest.approx(600, abs=60)}
    assert response.status_code == 200  # a stopped worker does not take the web process out of rotation


def test_scheduler_lease_holder_is_reported(client, settings):
    scheduler = client.get("/healthz").json()["scheduler"]
    if not settings.REDIS_URL:
        assert scheduler == {"ok": True, "lease_holder": "embedded"}
        return
    from project.health import redis_client

    redis_client().delete(LEASE_KEY)
    assert client.get("/healthz").json()["scheduler"] == {"ok": False, "lease_holder": None}
    redis_client().set(LEASE_KEY, "web-1:4242:abc", ex=30)
    try:
        assert client.get("/healthz").json()["scheduler"] == {"ok": True, "lease_holder": "web-1:4242:abc"}
    finally:
        redis_client().delete(LEASE_KEY)


def test_healthz_only_reads(client):
    assert client.post("/healthz").status_code == 405
