"""The lead page: its history in the form's words, moves from the page, and only what the viewer may do."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm import follow_ups, history, services
from crm.models import Lead
from tests.factories import SourceFactory

HTMX = {"HX-Request": "true"}


def page(client, user, lead) -> str:
    client.force_login(user)
    response = client.get(f"/leads/{lead.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def page_move(client, user, lead, stage: str, version: int):
    client.force_login(user)
    data = {"stage": stage, "index": 0, "version": version, "in": "page"}
    return client.post(f"/leads/{lead.pk}/move/", data, headers=HTMX)


def edit(lead: Lead, actor, **changes) -> None:
    lead = Lead.objects.get(pk=lead.pk)
    services.update_lead(lead.pk, actor=actor, version=lead.version, changes=changes)


# --- History in the words of the form ---------------------------------------------------------------------


def test_history_names_fields_by_their_labels_and_choices_by_theirs(stages, alice, alices_lead):
    edit(alices_lead, alice, priority=Lead.Priority.HIGH, engagement_level=Lead.Engagement.MEDIUM)
    newest = history.lead_history(alices_lead)[0]
    assert (newest.who, newest.reason) == ("Alice Martin", "edited")
    assert sorted(newest.fields) == [("Engagement level", "None", "Medium"), ("Priority", "Normal", "High")]


def test_history_names_the_owner_the_source_and_the_stage(stages, manager, alice, bob, unassigned_lead):
    referral = SourceFactory(name="Referral")
    edit(unassigned_lead, manager, owner=bob, source=referral, expected_value=Decimal("12500"))
    services.move_lead(
        unassigned_lead.pk,
        actor=manager,
        stage_slug="contacted",
        placement=services.Placement(0),
        version=None,
    )
    moved, edited = history.lead_history(unassigned_lead)[:2]
    assert moved.fields == [("Stage", "New", "Contacted")]
    assert ("Owner", "—", "Bob Nguyen") in edited.fields
    assert ("Source", "—", "Referral") in edited.fields
    assert ("Expected value", "0.00", "12,500.00") in edited.fields


def test_history_shows_times_in_the_readers_zone_to_the_minute(stages, alice, alices_lead):
    until = timezone.now().replace(microsecond=123456) + timedelta(days=1)
    follow_ups.snooze_lead(alices_lead.pk, actor=alice, until=until, reason="")
    with timezone.override("Asia/Tokyo"):
        snoozed = history.lead_history(alices_lead)[0]
        shown = history.moment(until)
    assert ("Snoozed until", "—", shown) in snoozed.fields
    assert shown == timezone.localtime(until, timezone.get_fixed_timezone(9 * 60)).strftime(
        "%b %-d, %Y %H:%M"
    )


def test_history_hides_bookkeeping(stages, alice, alices_lead):
    services.move_lead(
        alices_lead.pk, actor=alice, stage_slug="new", placement=services.Placement(9), version=None
    )
    services.log_interaction(alices_lead.pk, actor=alice, kind="call")
    logged, moved = history.lead_history(alices_lead)[:2]
    assert (logged.reason, logged.fields, moved.fields) == ("logged a call", [], [])


def test_the_page_shows_history_in_the_forms_words(client, stages, alice, alices_lead):
    edit(alices_lead, alice, priority=Lead.Priority.LOW)
    html = re.search(r'<section id="history".*?</section>', page(client, alice, alices_lead), re.S).group(0)
    assert "<li>Priority: <del>Normal</del> → <ins>Low</ins></li>" in html
    assert "priority:" not in html and "version" not in html


def test_an_empty_interaction_list_says_so_without_a_number(client, stages, alice, alices_lead):
    html = page(client, alice, alices_lead)
    assert '<h2 id="interactions-title">Interactions</h2>' in html
    assert "Nothing logged yet." in html and "(0)" not in html


# --- A move from the page -----------------------------------------------------------------------------


def test_a_move_from_the_page_answers_with_the_pages_head(client, stages, alice, alices_lead):
    response = page_move(client, alice, alices_lead, "contacted", version=1)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="lead-stage">Contacted</span>' in html
    # The edit form on the same page moves on to the new version: its own move is no conflict.
    assert '<input type="hidden" name="version" id="id_version" value="2" hx-swap-oob="true">' in html
    assert '<input type="hidden" name="version" id="lead-move-version" value="2" hx-swap-oob="true">' in html
    assert Lead.objects.get(pk=alices_lead.pk).stage.slug == "contacted"


def test_a_stale_move_from_the_page_is_a_409_with_the_lead_as_it_is_now(
    client, stages, alice, manager, alices_lead
):
    services.move_lead(
        alices_lead.pk, actor=manager, stage_slug="proposal", placement=services.Placement(0), version=1
    )
    response = page_move(client, alice, alices_lead, "contacted", version=1)
    assert response.status_code == 409
    assert '<span class="lead-stage">Proposal</span>' in response.content.decode()
    assert "Manager moved it to Proposal" in response["HX-Trigger"]
    assert Lead.objects.get(pk=alices_lead.pk).stage.slug == "proposal"


def test_a_move_from_the_page_of_someone_elses_lead_is_a_403(client, stages, bob, alices_lead):
    assert page_move(client, bob, alices_lead, "contacted", version=1).status_code == 403


# --- Only what the viewer may do ----------------------------------------------------------------------


def owner_options(html: str) -> list[str]:
    select = re.search(r'<select name="owner"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r"<option[^>]*>([^<]*)</option>", select)


def test_an_agent_is_offered_only_themselves_as_owner(client, stages, alice, bob, unassigned_lead):
    assert owner_options(page(client, alice, unassigned_lead)) == ["---------", "Alice Martin"]


def test_a_manager_is_offered_every_active_member_by_name(
    client, stages, alice, bob, manager, unassigned_lead
):
    assert {"Alice Martin", "Bob Nguyen"} <= set(owner_options(page(client, manager, unassigned_lead)))


def test_a_lead_the_viewer_may_not_edit_shows_its_fields_as_text(client, stages, bob, alices_lead):
    html = page(client, bob, alices_lead)
    details = re.search(r'<dl id="lead-details".*?</dl>', html, re.S).group(0)
    assert "<dt>Name</dt><dd>Ana Okafor</dd>" in details and "<dt>Owner</dt><dd>Alice Martin</dd>" in details
    assert 'id="lead-form"' not in html and 'name="company"' not in html and 'class="lead-move' not in html
    assert "Only Alice Martin or a manager can edit this lead." in html


def test_the_owner_sees_the_form_and_the_move_control(client, stages, alice, alices_lead):
    html = page(client, alice, alices_lead)
    assert 'id="lead-form"' in html and 'class="lead-move row"' in html and 'id="lead-details"' not in html


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_the_page_names_people_by_their_full_name(client, stages, alice, bob, alices_lead, viewer):
    services.log_interaction(alices_lead.pk, actor=alice, kind="call")
    html = page(client, {"alice": alice, "bob": bob}[viewer], alices_lead)
    assert 'owned by <span class="lead-owner">Alice Martin</span>' in html
    assert "<strong>Call</strong> by Alice Martin" in html
    assert ">alice<" not in html
