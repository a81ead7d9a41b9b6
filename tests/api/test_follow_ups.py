"""Follow-ups and snoozes through the API: the lead page's services, its time rules, and readable refusals."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm import follow_ups
from crm.models import Delivery, FollowUp, Interaction, Lead, UserProfile

pytestmark = pytest.mark.django_db

FOLLOW_UPS = "/api/v1/follow-ups/"


def lead_follow_ups(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/follow-ups/"


def test_scheduling_a_follow_up_plans_its_reminder_and_moves_the_cards_due_time(
    api, alice, alices_lead, published, on_commit
):
    with on_commit():
        response = api(alice).post(
            lead_follow_ups(alices_lead),
            {"due_at": "2099-03-02T10:00:00Z", "note": "Prices", "remind_minutes_before": 60},
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["due_at"], body["note"], body["state"], body["owner"]) == (
        "2099-03-02T10:00:00Z",
        "Prices",
        "open",
        alice.pk,
    )
    assert body["remind_at"] == "2099-03-02T09:00:00Z" and body["duration_minutes"] == 30
    follow_up = FollowUp.objects.get(pk=body["id"])
    assert follow_up.deliveries.get().kind == Delivery.Kind.REMINDER
    alices_lead.refresh_from_db()
    assert alices_lead.follow_up_at == datetime(2099, 3, 2, 10, tzinfo=UTC)
    assert [type(e).__name__ for e in published] == ["FollowUpChanged"]


def test_a_time_without_an_offset_is_read_in_the_users_zone(api, alice, alices_lead):
    UserProfile.objects.update_or_create(user=alice, defaults={"time_zone": "America/New_York"})
    response = api(alice).post(lead_follow_ups(alices_lead), {"due_at": "2099-07-01T09:30"}, format="json")
    assert response.json()["due_at"] == "2099-07-01T13:30:00Z"  # 9:30 in New York, in summer


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "due_at", "required"),
        ({"due_at": "next tuesday"}, "due_at", "is not a date and time"),
        ({"due_at": "2001-01-01T09:00:00Z"}, "due_at", "must be in the future"),
        ({"due_at": "2099-01-01T09:00:00Z", "duration_minutes": -5}, "duration_minutes", "greater than"),
        (
            {"due_at": "2099-01-01T09:00:00Z", "remind_minutes_before": "soon"},
            "remind_minutes_before",
            "integer",
        ),
    ],
)
def test_a_bad_follow_up_is_refused_with_a_message_on_its_field(api, alice, alices_lead, body, field, words):
    response = api(alice).post(lead_follow_ups(alices_lead), body, format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()["fields"][field])
    assert not FollowUp.objects.exists()


def test_a_retried_schedule_with_the_same_key_makes_one_follow_up(api, alice, alices_lead):
    client, body = api(alice), {"due_at": "2099-03-02T10:00:00Z", "note": "Prices"}
    first = client.post(
        lead_follow_ups(alices_lead), body, format="json", headers={"Idempotency-Key": "fu-1"}
    )
    again = client.post(
        lead_follow_ups(alices_lead), body, format="json", headers={"Idempotency-Key": "fu-1"}
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert FollowUp.objects.count() == 1
    assert Delivery.objects.count() == 1  # one reminder planned, not two


def test_rescheduling_edits_and_records_who_did_it(api, alice, manager, alices_lead):
    follow_up = follow_ups.schedule_follow_up(
        alices_lead.pk, actor=alice, due_at=timezone.now() + timedelta(days=1)
    )
    response = api(manager).patch(
        f"{FOLLOW_UPS}{follow_up.pk}/", {"due_at": "2099-05-01T08:00:00Z", "note": "Moved"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["note"], response.json()["sequence"]) == ("Moved", 1)
    assert follow_up.history.latest().history_user == manager
    assert alices_lead.history.latest().history_change_reason == "rescheduled a follow-up"


def test_completing_can_log_the_interaction_and_twice_is_refused(api, alice, alices_lead):
    follow_up = follow_ups.schedule_follow_up(
        alices_lead.pk, actor=alice, due_at=timezone.now() + timedelta(days=1), note="Call"
    )
    client, url = api(alice), f"{FOLLOW_UPS}{follow_up.pk}/complete/"
    done = client.post(url, {"log_kind": "call", "notes": "Will sign"}, format="json")
    assert (done.status_code, done.json()["state"]) == (200, "done")
    assert Interaction.objects.get(lead=alices_lead).notes == "Will sign"
    again = client.post(url, {}, format="json")
    assert again.status_code == 400 and "done already" in again.json()["detail"]


def test_a_bad_kind_to_log_is_refused_on_its_field(api, alice, alices_lead):
    follow_up = follow_ups.schedule_follow_up(
        alices_lead.pk, actor=alice, due_at=timezone.now() + timedelta(days=1)
    )
    response = api(alice).post(f"{FOLLOW_UPS}{follow_up.pk}/complete/", {"log_kind": "fax"}, format="json")
    assert response.status_code == 400 and response.json()["fields"]["log_kind"]


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("patch", ""), ("post", "complete/"), ("post", "cancel/")]
)
def test_an_unknown_follow_up_is_404(api, alice, stages, method, suffix):
    response = getattr(api(alice), method)(f"{FOLLOW_UPS}99999/{suffix}", {}, format="json")
    assert response.status_code == 404 and response.json()["detail"]


def test_an_unknown_lead_has_no_follow_ups_to_list_or_schedule(api, alice, stages):
    client = api(alice)
    assert client.get("/api/v1/leads/99999/follow-ups/").status_code == 404
    body = {"due_at": "2099-01-01T09:00:00Z"}
    assert client.post("/api/v1/leads/99999/follow-ups/", body, format="json").status_code == 404


def noon_zone(now: datetime) -> str:
    """A zone where it is now around noon: "today" is hours long on both sides, whenever the test runs."""
    offset = 12 - now.astimezone(UTC).hour
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # signs inverted


@pytest.fixture
def due_mix(alice, bob, alices_lead, bobs_lead):
    """Alice's follow-ups: overdue since yesterday, later today, tomorrow, done; and one of Bob's."""
    now = timezone.now()
    UserProfile.objects.update_or_create(user=alice, defaults={"time_zone": noon_zone(now)})

    def schedule(lead, actor, due):
        return follow_ups.schedule_follow_up(lead.pk, actor=actor, due_at=due, now=due - timedelta(hours=1))

    mix = {
        "overdue": schedule(alices_lead, alice, now - timedelta(days=1)),
        "today": schedule(alices_lead, alice, now + timedelta(hours=2)),
        "tomorrow": schedule(alices_lead, alice, now + timedelta(days=1)),
        "done": schedule(alices_lead, alice, now + timedelta(days=2)),
    }
    follow_ups.complete_follow_up(mix["done"].pk, actor=alice)
    schedule(bobs_lead, bob, now + timedelta(hours=1))
    return mix


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_the_users_own_list_filters_as_the_top_bar_does(api, alice, due_mix):
    client = api(alice)
    mix = {name: follow_up.pk for name, follow_up in due_mix.items()}
    assert ids(client.get(FOLLOW_UPS, {"due": "overdue"})) == [mix["overdue"]]
    assert ids(client.get(FOLLOW_UPS, {"due": "today"})) == [mix["today"]]
    assert ids(client.get(FOLLOW_UPS, {"due": "attention"})) == [mix["overdue"], mix["today"]]
    assert ids(client.get(FOLLOW_UPS, {"state": "done"})) == [mix["done"]]
    assert sorted(ids(client.get(FOLLOW_UPS))) == sorted(mix.values())  # Bob's is not in Alice's list


def test_a_lead_lists_every_follow_up_whoever_asks(api, bob, alices_lead, due_mix):
    assert sorted(ids(api(bob).get(lead_follow_ups(alices_lead)))) == sorted(f.pk for f in due_mix.values())


@pytest.mark.parametrize(("param", "value"), [("due", "yesterday"), ("state", "snoozed")])
def test_an_unknown_filter_is_refused_on_its_field(api, alice, stages, param, value):
    response = api(alice).get(FOLLOW_UPS, {param: value})
    assert response.status_code == 400 and response.json()["fields"][param]


# --- Snooze ---------------------------------------------------------------------------------------


def snooze(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/snooze/"


def test_snoozing_until_a_time_hides_the_lead_and_says_why(api, alice, alices_lead, published, on_commit):
    with on_commit():
        response = api(alice).post(
            snooze(alices_lead), {"until": "2099-01-05T09:00:00Z", "reason": "On holiday"}, format="json"
        )
    assert response.status_code == 200
    assert (response.json()["snoozed_until"], response.json()["is_snoozed"]) == ("2099-01-05T09:00:00Z", True)
    alices_lead.refresh_from_db()
    assert (alices_lead.snooze_reason, alices_lead.snoozed_by) == ("On holiday", alice)
    assert [type(e).__name__ for e in published] == ["LeadSnoozed"]


def test_a_preset_is_read_in_the_users_zone(api, alice, alices_lead):
    UserProfile.objects.update_or_create(user=alice, defaults={"time_zone": "Asia/Tokyo"})
    response = api(alice).post(snooze(alices_lead), {"preset": "tomorrow"}, format="json")
    until = datetime.fromisoformat(response.json()["snoozed_until"])
    assert (until.astimezone(ZoneInfo("Asia/Tokyo")).hour, until.minute) == (9, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "until"),
        ({"until": "2001-01-01T00:00:00Z"}, "until"),
        ({"until": "soon"}, "until"),
        ({"preset": "2h"}, "preset"),
    ],
)
def test_a_bad_snooze_is_refused_on_its_field(api, alice, alices_lead, body, field):
    response = api(alice).post(snooze(alices_lead), body, format="json")
    assert response.status_code == 400 and response.json()["fields"][field]
    assert Lead.objects.get(pk=alices_lead.pk).snoozed_until is None


def test_unsnoozing_brings_the_lead_back(api, alice, alices_lead):
    follow_ups.snooze_lead(alices_lead.pk, actor=alice, until=timezone.now() + timedelta(hours=4))
    response = api(alice).post(f"/api/v1/leads/{alices_lead.pk}/unsnooze/")
    assert (response.status_code, response.json()["snoozed_until"]) == (200, None)
    assert alices_lead.history.latest().history_change_reason == "unsnoozed"


def test_snoozing_an_unknown_lead_is_404(api, alice, stages):
    assert api(alice).post("/api/v1/leads/99999/snooze/", {"preset": "1h"}, format="json").status_code == 404
    assert api(alice).post("/api/v1/leads/99999/unsnooze/").status_code == 404


def test_listing_follow_ups_reads_a_fixed_number_of_queries(
    api, alice, alices_lead, django_assert_max_num_queries
):
    for day in range(1, 21):
        follow_ups.schedule_follow_up(
            alices_lead.pk, actor=alice, due_at=timezone.now() + timedelta(days=day)
        )
    client = api(alice)
    client.get(FOLLOW_UPS)  # the token's first use is written down
    with django_assert_max_num_queries(3):  # the token with its user, the profile's zone, the page
        assert len(client.get(FOLLOW_UPS).json()["results"]) == 20
    with django_assert_max_num_queries(3):  # the token with its user, the lead, the page
        assert len(client.get(lead_follow_ups(alices_lead)).json()["results"]) == 20
