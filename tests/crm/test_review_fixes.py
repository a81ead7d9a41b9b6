"""Holes found in review: each test failed before its fix."""

import pytest
from django.core.exceptions import PermissionDenied

from crm import importing, services
from tests.crm.test_views import edit_data, move


def test_an_agent_cannot_give_her_lead_to_another_agent(alices_lead, alice, bob):
    with pytest.raises(PermissionDenied, match="Only a manager"):
        services.update_lead(alices_lead.pk, actor=alice, version=alices_lead.version, changes={"owner": bob})


def test_an_agent_cannot_create_a_lead_for_another_agent(stages, alice, bob):
    with pytest.raises(PermissionDenied, match="Only a manager"):
        services.create_lead(actor=alice, name="Gift", owner=bob)


def test_an_agent_may_take_an_unassigned_lead(unassigned_lead, alice):
    lead = services.update_lead(
        unassigned_lead.pk, actor=alice, version=unassigned_lead.version, changes={"owner": alice}
    )
    assert lead.owner == alice


def test_a_manager_may_give_a_lead_to_anyone(alices_lead, manager, bob):
    lead = services.update_lead(
        alices_lead.pk, actor=manager, version=alices_lead.version, changes={"owner": bob}
    )
    assert lead.owner == bob


def test_a_background_rescore_does_not_make_an_open_edit_form_stale(alices_lead, alice, on_commit):
    seen = alices_lead.version
    with on_commit():
        services.record_scores({alices_lead.pk: (77, "heuristic")})
    lead = services.update_lead(alices_lead.pk, actor=alice, version=seen, changes={"company": "Globex"})
    assert lead.company == "Globex"


def test_a_rescore_does_not_hide_a_real_change_made_before_it(alices_lead, alice, manager, on_commit):
    seen = alices_lead.version
    services.update_lead(alices_lead.pk, actor=manager, version=seen, changes={"company": "Initech"})
    with on_commit():
        services.record_scores({alices_lead.pk: (12, "heuristic")})
    with pytest.raises(services.Conflict):
        services.update_lead(alices_lead.pk, actor=alice, version=seen, changes={"company": "Globex"})


def test_an_edit_without_a_version_is_refused_not_applied(client, alice, alices_lead):
    client.force_login(alice)
    data = edit_data(alices_lead, company="Globex")
    data.pop("version")
    response = client.post(f"/leads/{alices_lead.pk}/", data, headers={"HX-Request": "true"})
    assert response.status_code == 400
    alices_lead.refresh_from_db()
    assert alices_lead.company != "Globex"


def test_logging_an_interaction_refreshes_the_edit_forms_version(client, alice, alices_lead):
    client.force_login(alice)
    response = client.post(
        f"/leads/{alices_lead.pk}/interactions/", {"kind": "call"}, headers={"HX-Request": "true"}
    )
    alices_lead.refresh_from_db()
    assert f'id="id_version" value="{alices_lead.version}" hx-swap-oob="true"' in response.content.decode()


@pytest.mark.parametrize("source", ["²", "99999999999999999999999", "-1", "abc"])
def test_a_strange_source_filter_is_ignored_not_a_500(client, alice, stages, source):
    client.force_login(alice)
    assert client.get("/leads/kanban/", {"source": source}).status_code == 200


def test_a_huge_move_index_is_a_readable_400(client, alice, alices_lead):
    client.force_login(alice)
    response = move(client, alices_lead, index=10**20)
    assert response.status_code == 400
    assert "index" in response.content.decode()


def test_a_file_with_only_a_byte_order_mark_is_refused_as_empty():
    with pytest.raises(importing.ImportRefused, match="empty"):
        importing.read_csv(b"\xef\xbb\xbf\r\n")
