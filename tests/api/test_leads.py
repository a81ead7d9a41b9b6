"""Leads through the API: the board's filters and pages, writes through the services, conflicts, retries."""

import pytest

from crm.models import Interaction, Lead
from tests.factories import LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


def names(response) -> list[str]:
    return [lead["name"] for lead in response.json()["results"]]


def test_the_list_takes_the_boards_filters(api, alice, stages, alices_lead, bobs_lead, unassigned_lead):
    referral = SourceFactory(name="Referral")
    LeadFactory(name="Rita Referred", stage=stages["contacted"], source=referral)
    client = api(alice)
    assert names(client.get(LEADS, {"mine": "1"})) == ["Ana Okafor"]
    assert names(client.get(LEADS, {"source": referral.pk})) == ["Rita Referred"]
    assert names(client.get(LEADS, {"q": "dubois"})) == ["Ben Dubois"]
    assert names(client.get(LEADS, {"stage": "contacted"})) == ["Rita Referred"]
    assert len(names(client.get(LEADS))) == 4


def test_cursor_pages_walk_every_lead_once_even_while_cards_move(api, alice, stages):
    leads = LeadFactory.create_batch(7, stage=stages["new"])
    client = api(alice)
    seen, url = [], f"{LEADS}?page_size=3"
    while url:
        page = client.get(url).json()
        seen += [lead["id"] for lead in page["results"]]
        # A card moved to the top of another column meanwhile keeps its place in the API's order.
        Lead.objects.filter(pk=leads[-1].pk).update(stage=stages["won"], position=-1)
        url = page["next"]
    assert seen == [lead.pk for lead in leads]


def test_listing_reads_a_fixed_number_of_queries(api, alice, stages, django_assert_max_num_queries):
    LeadFactory.create_batch(30, stage=stages["new"], owner=alice)
    client = api(alice)
    client.get(LEADS)  # the token's first use is written down
    with django_assert_max_num_queries(2):  # the token with its user, the page
        client.get(LEADS)


def test_a_created_lead_is_recorded_with_its_creator(api, alice, stages, source, published, on_commit):
    with on_commit():
        response = api(alice).post(
            LEADS,
            {"name": "Zoe Park", "stage": "contacted", "source": source.pk, "expected_value": "1500"},
            format="json",
        )
    assert response.status_code == 201
    lead = Lead.objects.get(pk=response.json()["id"])
    assert (lead.stage.slug, lead.source, lead.expected_value) == ("contacted", source, 1500)
    assert lead.history.get().history_user == alice
    assert [type(e).__name__ for e in published if getattr(e, "lead_id", None) == lead.pk] == ["LeadCreated"]


def test_a_create_retried_with_the_same_idempotency_key_makes_one_lead(api, alice, stages):
    client = api(alice)
    body = {"name": "Zoe Park", "company": "Globex"}
    first = client.post(LEADS, body, format="json", headers={"Idempotency-Key": "order-17"})
    again = client.post(LEADS, body, format="json", headers={"Idempotency-Key": "order-17"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Lead.objects.filter(name="Zoe Park").count() == 1
    other = client.post(LEADS, body, format="json", headers={"Idempotency-Key": "order-18"})
    assert other.json()["id"] != first.json()["id"]


def test_a_key_reused_for_another_request_is_refused(api, alice, stages):
    client = api(alice)
    client.post(LEADS, {"name": "Zoe Park"}, format="json", headers={"Idempotency-Key": "k"})
    response = client.post(LEADS, {"name": "Someone Else"}, format="json", headers={"Idempotency-Key": "k"})
    assert response.status_code == 409
    assert "different request" in response.json()["detail"]
    assert not Lead.objects.filter(name="Someone Else").exists()


def test_idempotency_keys_are_per_user(api, alice, bob, stages):
    api(alice).post(LEADS, {"name": "Zoe Park"}, format="json", headers={"Idempotency-Key": "k"})
    response = api(bob).post(LEADS, {"name": "Zoe Park"}, format="json", headers={"Idempotency-Key": "k"})
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Lead.objects.filter(name="Zoe Park").count() == 2


def test_an_edit_with_a_stale_version_is_a_conflict_with_the_current_lead(api, alice, alices_lead, manager):
    response = api(alice).patch(
        f"{LEADS}{alices_lead.pk}/", {"company": "Globex", "version": 1}, format="json"
    )
    assert response.status_code == 200
    response = api(manager).patch(f"{LEADS}{alices_lead.pk}/", {"phone": "555", "version": 1}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["lead"]["company"] == "Globex" and body["lead"]["version"] == 2
    assert "Alice Martin edited it" in body["detail"]
    alices_lead.refresh_from_db()
    assert alices_lead.phone == ""


def test_a_move_with_a_stale_version_is_a_conflict(api, alice, alices_lead):
    client = api(alice)
    url = f"{LEADS}{alices_lead.pk}/move/"
    assert (
        client.post(url, {"stage": "contacted", "index": 0, "version": 1}, format="json").status_code == 200
    )
    response = client.post(url, {"stage": "won", "index": 0, "version": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["lead"]["stage"] == "contacted"


def test_a_move_lands_between_the_neighbours_given(api, alice, stages, alices_lead):
    first, second = LeadFactory(stage=stages["contacted"]), LeadFactory(stage=stages["contacted"])
    response = api(alice).post(
        f"{LEADS}{alices_lead.pk}/move/",
        {"stage": "contacted", "prev": first.pk, "version": alices_lead.version},
        format="json",
    )
    assert response.status_code == 200
    order = list(Lead.objects.filter(stage=stages["contacted"]).board_order().values_list("pk", flat=True))
    assert order == [first.pk, alices_lead.pk, second.pk]


def test_a_move_into_a_full_column_is_a_conflict(api, manager, stages):
    LeadFactory.create_batch(3, stage=stages["proposal"])
    lead = LeadFactory(stage=stages["new"])
    response = api(manager).post(
        f"{LEADS}{lead.pk}/move/", {"stage": "proposal", "index": 0, "version": lead.version}, format="json"
    )
    assert response.status_code == 409
    assert "full" in response.json()["detail"]


def test_an_interaction_is_logged_through_the_service(api, alice, alices_lead, published, on_commit):
    with on_commit():
        response = api(alice).post(
            f"{LEADS}{alices_lead.pk}/interactions/", {"kind": "meeting", "notes": "Demo"}, format="json"
        )
    assert response.status_code == 201
    alices_lead.refresh_from_db()
    assert (alices_lead.interaction_count, alices_lead.last_interaction_kind) == (1, "meeting")
    assert Interaction.objects.get().agent == alice
    assert any(type(e).__name__ == "InteractionLogged" for e in published)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "", {"company": "No name"}, "name"),
        ("post", "", {"name": "X", "email": "not-an-email"}, "email"),
        ("post", "", {"name": "X", "expected_value": "-5"}, "expected_value"),
        ("post", "", {"name": "X", "priority": 99}, "priority"),
        ("post", "", {"name": "X", "stage": "nowhere"}, "stage"),
        ("post", "", {"name": "X", "owner": 987654}, "owner"),
        ("post", "", {"name": "X", "source": "abc"}, "source"),
        ("post", "", {"name": "X" * 500}, "name"),
        ("post", "", {"name": "X", "attributes": [1, 2]}, "attributes"),
        ("patch", "{pk}/", {"company": "Globex"}, "version"),
        ("patch", "{pk}/", {"version": "latest"}, "version"),
        ("post", "{pk}/move/", {"stage": "contacted", "version": 1}, "index"),
        ("post", "{pk}/move/", {"stage": "contacted", "index": -1, "version": 1}, "index"),
        ("post", "{pk}/move/", {"stage": "no such stage!", "index": 0, "version": 1}, "stage"),
        ("post", "{pk}/interactions/", {"kind": "telepathy"}, "kind"),
    ],
)
def test_bad_input_is_a_400_with_a_message_for_the_field(api, alice, alices_lead, method, path, body, field):
    response = getattr(api(alice), method)(LEADS + path.format(pk=alices_lead.pk), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["fields"][field]
    assert field in response.json()["detail"]


@pytest.mark.parametrize("raw", ['{"name": ', "[]", '"just a string"', "null", '{"name": {"nested": true}}'])
def test_malformed_bodies_are_400_not_500(api, alice, stages, raw):
    response = api(alice).post(LEADS, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_move_to_an_unknown_stage_is_a_400(api, alice, alices_lead):
    response = api(alice).post(
        f"{LEADS}{alices_lead.pk}/move/", {"stage": "nowhere", "index": 0, "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "nowhere" in response.json()["detail"]


def test_an_unknown_lead_is_a_404(api, alice, stages):
    client = api(alice)
    assert client.get(f"{LEADS}424242/").status_code == 404
    response = client.post(f"{LEADS}424242/move/", {"stage": "new", "index": 0, "version": 1}, format="json")
    assert response.status_code == 404
    assert client.get(f"{LEADS}424242/interactions/").status_code == 404
    assert client.get(f"{LEADS}not-a-number/").status_code == 404
    assert client.get(f"{LEADS}{10**30}/").status_code == 404
    body = {"stage": "new", "index": 0, "version": 1}
    assert client.post(f"{LEADS}{10**30}/move/", body, format="json").status_code == 404
