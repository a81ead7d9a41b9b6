"""The daily prune: old webhook deliveries and expired Idempotency-Keys go; what may still be used stays."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from api import idempotency
from api.models import IdempotencyKey
from webhooks import delivery, services
from webhooks.models import Delivery
from workers.schedule import SCHEDULE

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(manager):
    endpoint, _ = services.register_endpoint(
        actor=manager, url="http://127.0.0.1:9/hook", events=["lead.won"]
    )
    return endpoint


def make_delivery(endpoint, days_old: float, status=Delivery.Status.SUCCEEDED) -> Delivery:
    created = timezone.now() - timedelta(days=days_old)
    return Delivery.objects.create(
        endpoint=endpoint, event_type="lead.won", body="{}", status=status, created_at=created
    )


def make_key(user, key: str, hours_old: float) -> IdempotencyKey:
    stored = IdempotencyKey.objects.create(user=user, key=key, fingerprint="f", status_code=201, body={})
    IdempotencyKey.objects.filter(pk=stored.pk).update(created_at=timezone.now() - timedelta(hours=hours_old))
    return stored


def test_finished_deliveries_past_the_retention_are_deleted(hook, settings):
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    old_ok = make_delivery(hook, 31)
    old_failed = make_delivery(hook, 45, Delivery.Status.FAILED)
    recent = make_delivery(hook, 29)
    assert delivery.prune() == 2
    assert list(Delivery.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Delivery.objects.filter(pk__in=[old_ok.pk, old_failed.pk]).exists()


def test_a_pending_delivery_is_kept_whatever_its_age(hook, settings):
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 1
    pending = make_delivery(hook, 3, Delivery.Status.PENDING)
    assert delivery.prune() == 0
    assert Delivery.objects.get().pk == pending.pk


def test_the_retention_is_a_setting(hook, settings):
    make_delivery(hook, 10)
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 11
    assert delivery.prune() == 0
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 9
    assert delivery.prune() == 1


def test_a_big_backlog_goes_in_batches(hook, settings, monkeypatch):
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    monkeypatch.setattr(delivery, "PRUNE_BATCH", 2)
    for _ in range(5):
        make_delivery(hook, 40)
    assert delivery.prune() == 5 and not Delivery.objects.exists()


def test_expired_idempotency_keys_are_deleted_and_live_ones_kept(alice, settings):
    settings.API_IDEMPOTENCY_HOURS = 24
    make_key(alice, "old", 25)
    live = make_key(alice, "live", 23)
    assert idempotency.prune() == 1
    assert list(IdempotencyKey.objects.all()) == [live]


def test_the_prune_job_runs_daily_and_does_both(hook, alice, settings):
    assert dict(SCHEDULE)["prune_records"] == timedelta(days=1)
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    make_delivery(hook, 31)
    make_key(alice, "old", settings.API_IDEMPOTENCY_HOURS + 1)
    out = StringIO()
    call_command("run_job", "prune_records", stdout=out)
    assert "prune_records: done" in out.getvalue()
    assert not Delivery.objects.exists() and not IdempotencyKey.objects.exists()
