from datetime import timedelta

from django.utils import timezone

from crm.lead_records import lead_records
from crm.models import Lead
from tests.factories import InteractionFactory, LeadFactory


def test_open_lead_record_counts_interactions_by_kind(stages, alice, source):
    lead = LeadFactory(stage=stages["new"], owner=alice, source=source, attributes={"job": "retired"})
    InteractionFactory(lead=lead, kind="call")
    InteractionFactory(lead=lead, kind="call")
    InteractionFactory(lead=lead, kind="meeting")
    data = lead_records(Lead.objects.all(), timezone.now())
    record = data.records[0]
    assert record["interactions"] == {"call": 2, "meeting": 1}
    assert record["owner"] == "alice"
    assert record["source"] == "Referral"
    assert record["attributes"] == {"job": "retired"}
    assert data.outcomes == [None]


def test_closed_lead_is_described_as_it_stood_when_it_closed(stages):
    closed_at = timezone.now() - timedelta(days=10)
    lead = LeadFactory(stage=stages["won"], closed_at=closed_at)
    InteractionFactory(lead=lead, kind="call", occurred_at=closed_at - timedelta(days=1))
    InteractionFactory(lead=lead, kind="meeting", occurred_at=closed_at + timedelta(days=2))
    data = lead_records(Lead.objects.all(), timezone.now())
    assert data.records[0]["interactions"] == {"call": 1}
    assert data.records[0]["last_interaction_at"] == closed_at - timedelta(days=1)
    assert data.judged_at == [closed_at]
    assert data.outcomes == [True]


def test_records_carry_no_outcome_fields(stages):
    LeadFactory(stage=stages["lost"], closed_at=timezone.now())
    record = lead_records(Lead.objects.all(), timezone.now()).records[0]
    assert not {"stage", "closed_at", "stage__kind"} & set(record)


def test_records_take_two_queries_whatever_the_number_of_leads(stages, django_assert_num_queries):
    for _ in range(30):
        InteractionFactory(lead=LeadFactory(stage=stages["new"]))
    with django_assert_num_queries(2):
        data = lead_records(Lead.objects.all(), timezone.now())
    assert len(data.ids) == 30
