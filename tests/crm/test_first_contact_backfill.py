"""The data migration that gives existing leads their first contact and interaction count."""

import importlib
from datetime import timedelta

from django.apps import apps
from django.utils import timezone

from crm.models import Lead
from tests.factories import InteractionFactory, LeadFactory

backfill = importlib.import_module("crm.migrations.0008_lead_first_contact_at").backfill


def test_the_backfill_reads_each_leads_earliest_interaction_and_counts_them(stages, alice):
    now = timezone.now()
    contacted, untouched = LeadFactory(owner=alice), LeadFactory(owner=alice)
    # Written around the service, as a bulk load does: the lead knows nothing of them yet.
    for days in (1, 3, 2):
        InteractionFactory(lead=contacted, agent=alice, occurred_at=now - timedelta(days=days))
    assert Lead.objects.get(pk=contacted.pk).first_contact_at is None

    backfill(apps, None)

    contacted.refresh_from_db()
    untouched.refresh_from_db()
    assert (contacted.first_contact_at, contacted.interaction_count) == (now - timedelta(days=3), 3)
    assert (untouched.first_contact_at, untouched.interaction_count) == (None, 0)
