"""Settings pages over HTTP: who may open them, errors in place, readable refusals, a bounded query count."""

import json
import re

import pytest
from django.contrib.auth import get_user_model

from crm.models import MANAGERS_GROUP, Lead, Stage
from crm.permissions import is_manager
from tests.factories import LeadFactory, UserFactory

User = get_user_model()
HTMX = {"HX-Request": "true"}
MANAGER_PAGES = ["/settings/stages/", "/settings/team/", "/settings/webhooks/"]


def text(response) -> str:
    return response.content.decode()


def order() -> list[str]:
    return list(Stage.objects.values_list("slug", flat=True))


@pytest.mark.parametrize("url", [*MANAGER_PAGES, "/settings/profile/", "/settings/"])
def test_settings_need_a_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/settings/stages/"),
        ("post", "/settings/stages/"),
        ("post", "/settings/stages/order/"),
        ("post", "/settings/stages/{stage}/"),
        ("post", "/settings/stages/{stage}/shift/"),
        ("post", "/settings/stages/{stage}/merge/"),
        ("post", "/settings/stages/{stage}/delete/"),
        ("get", "/settings/team/"),
        ("post", "/settings/team/"),
        ("post", "/settings/team/{bob}/role/"),
        ("post", "/settings/team/{bob}/deactivate/"),
        ("post", "/settings/team/{bob}/reactivate/"),
    ],
)
def test_agents_get_a_403_on_manager_pages(as_alice, stages, bob, method, url):
    url = url.format(stage=stages["new"].pk, bob=bob.pk)
    response = getattr(as_alice, method)(url, {"role": MANAGERS_GROUP, "into": stages["won"].pk})
    assert response.status_code == 403
    assert "by managers" in text(response)
    assert order() == ["new", "contacted", "proposal", "won", "lost"]
    assert not is_manager(User.objects.get(pk=bob.pk))


def test_the_settings_link_leads_each_user_to_their_first_page(as_alice, client, manager):
    assert as_alice.get("/settings/")["Location"] == "/settings/profile/"
    client.force_login(manager)
    assert client.get("/settings/")["Location"] == "/settings/stages/"


def test_the_nav_offers_an_agent_only_their_own_pages(as_alice):
    page = text(as_alice.get("/settings/profile/"))
    nav = page[page.index('<nav class="settings-nav"') : page.index("</nav>", page.index("settings-nav"))]
    assert "/settings/profile/" in nav and "/account/time-zone/" in nav and 'href="/profile/"' in nav
    assert (
        "/settings/stages/" not in nav and "/settings/team/" not in nav and "/settings/webhooks/" not in nav
    )


@pytest.mark.parametrize("url", ["/settings/webhooks/", "/profile/", "/account/time-zone/"])
def test_the_existing_settings_pages_share_the_nav(as_manager, url):
    page = text(as_manager.get(url))
    assert '<nav class="settings-nav"' in page and 'href="/settings/team/"' in page


# --- Stages -----------------------------------------------------------------------------------------------


def test_the_stages_page_lists_stages_with_their_lead_counts_in_few_queries(
    as_manager, stages, django_assert_max_num_queries
):
    for _ in range(3):
        LeadFactory(stage=stages["contacted"])
    with django_assert_max_num_queries(8):
        response = as_manager.get("/settings/stages/")
    page = text(response)
    assert re.findall(r'<li class="stage-row[^"]*" id="stage-(\d+)"', page) == [
        str(stages[slug].pk) for slug in ["new", "contacted", "proposal", "won", "lost"]
    ]
    contacted = page[page.index(f'id="stage-{stages["contacted"].pk}"') :]
    assert "<strong>3</strong> leads" in contacted[: contacted.index("</li>")]
    assert "Merge into" in contacted[: contacted.index("</li>")]


def test_adding_a_stage(as_manager, stages):
    response = as_manager.post(
        "/settings/stages/", {"new-name": "Demo", "new-kind": "open", "new-wip_limit": "5"}
    )
    assert response.status_code == 302
    demo = Stage.objects.get(name="Demo")
    assert (demo.slug, demo.wip_limit, order()[-1]) == ("demo", 5, "demo")
    assert "Stage “Demo” added." in text(as_manager.get("/settings/stages/"))


def test_a_bad_new_stage_comes_back_with_its_errors_in_place(as_manager, stages):
    response = as_manager.post(
        "/settings/stages/", {"new-name": "", "new-kind": "maybe", "new-wip_limit": "-2"}
    )
    assert response.status_code == 400
    page = text(response)
    assert page.count('class="field-error"') == 3
    assert 'aria-invalid="true"' in page
    assert Stage.objects.count() == 5


def test_renaming_and_limiting_a_stage(as_manager, stages):
    pk = stages["proposal"].pk
    data = {f"stage-{pk}-name": "Offer", f"stage-{pk}-kind": "open", f"stage-{pk}-wip_limit": ""}
    assert as_manager.post(f"/settings/stages/{pk}/", data).status_code == 302
    stage = Stage.objects.get(pk=pk)
    assert (stage.name, stage.slug, stage.wip_limit) == ("Offer", "proposal", None)


def test_a_refused_kind_change_shows_on_that_stages_form(as_manager, stages):
    LeadFactory(stage=stages["proposal"])
    pk = stages["proposal"].pk
    data = {f"stage-{pk}-name": "Proposal", f"stage-{pk}-kind": "won", f"stage-{pk}-wip_limit": "3"}
    response = as_manager.post(f"/settings/stages/{pk}/", data)
    assert response.status_code == 400
    row = text(response)[text(response).index(f'id="stage-{pk}"') :]
    assert "merge them into another stage" in row[: row.index("</li>")]
    assert Stage.objects.get(pk=pk).kind == "open"


def test_shifting_answers_htmx_with_the_list_and_a_notice(as_manager, stages):
    response = as_manager.post(
        f"/settings/stages/{stages['won'].pk}/shift/", {"direction": "up"}, headers=HTMX
    )
    assert response.status_code == 200
    assert text(response).startswith('<ol id="stage-list"')
    notice = json.loads(response["HX-Trigger"])["pipeline:notice"]
    assert notice["message"] == "“Won” is now stage 3 of 5."
    assert order() == ["new", "contacted", "won", "proposal", "lost"]


def test_shifting_without_script_redirects_back(as_manager, stages):
    response = as_manager.post(f"/settings/stages/{stages['new'].pk}/shift/", {"direction": "down"})
    assert response.status_code == 302 and response["Location"] == "/settings/stages/"
    assert order()[:2] == ["contacted", "new"]


def test_a_drag_posts_the_whole_order(as_manager, stages):
    wanted = ["lost", "won", "proposal", "contacted", "new"]
    ids = ",".join(str(stages[slug].pk) for slug in wanted)
    response = as_manager.post("/settings/stages/order/", {"order": ids}, headers=HTMX)
    assert response.status_code == 200
    assert order() == wanted


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        ("/settings/stages/order/", {"order": "1,x"}, "must list the stages"),
        ("/settings/stages/order/", {"order": "{new}"}, "changed meanwhile"),
        ("/settings/stages/{new}/shift/", {"direction": "sideways"}, "up or down"),
        ("/settings/stages/{new}/merge/", {"into": ""}, "Pick the stage"),
        ("/settings/stages/{new}/merge/", {"into": "{new}"}, "another stage"),
        ("/settings/stages/{new}/delete/", {}, "still has leads"),
    ],
)
def test_bad_stage_input_is_a_readable_400(as_manager, stages, url, data, message):
    LeadFactory(stage=stages["new"])
    fill = {"new": stages["new"].pk}
    response = as_manager.post(
        url.format(**fill), {k: v.format(**fill) for k, v in data.items()}, headers=HTMX
    )
    assert response.status_code == 400
    assert message in text(response)
    assert order() == ["new", "contacted", "proposal", "won", "lost"]


def test_a_missing_stage_is_a_404(as_manager, stages):
    assert as_manager.post("/settings/stages/999999/merge/", {"into": stages["new"].pk}).status_code == 404
    assert as_manager.post("/settings/stages/999999/shift/", {"direction": "up"}).status_code == 404


def test_merging_and_deleting(as_manager, stages):
    lead = LeadFactory(stage=stages["contacted"])
    response = as_manager.post(
        f"/settings/stages/{stages['contacted'].pk}/merge/", {"into": stages["new"].pk}
    )
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).stage == stages["new"]
    assert as_manager.post(f"/settings/stages/{stages['proposal'].pk}/delete/").status_code == 302
    assert order() == ["new", "won", "lost"]


# --- Team -------------------------------------------------------------------------------------------------


def test_the_team_page_lists_everyone_in_few_queries(
    as_manager, alice, bob, stages, django_assert_max_num_queries
):
    for _ in range(2):
        LeadFactory(stage=stages["new"], owner=alice)
    for i in range(5):
        UserFactory(username=f"extra{i}")
    with django_assert_max_num_queries(8):
        response = as_manager.get("/settings/team/")
    page = text(response)
    alices = page[page.index(f'id="member-{alice.pk}"') :]
    assert "2 open leads" in alices[: alices.index("</li>")]
    assert f'<option value="{bob.pk}">Hand to Bob Nguyen</option>' in alices[: alices.index("</li>")]


def test_adding_an_agent_with_a_password(as_manager):
    data = {
        "full_name": "Dana Berg",
        "email": "dana@example.com",
        "username": "dana",
        "role": "agents",
        "password": "a-long-pass-phrase",
    }
    response = as_manager.post("/settings/team/", data)
    assert response.status_code == 302
    assert "Dana Berg can log in as dana." in text(as_manager.get("/settings/team/"))
    assert User.objects.get(username="dana").check_password("a-long-pass-phrase")


def test_adding_someone_without_a_password_emails_them_a_link(
    as_manager, mailoutbox, django_capture_on_commit_callbacks
):
    data = {"full_name": "Eli Moreau", "email": "eli@example.com", "username": "eli", "role": "managers"}
    with django_capture_on_commit_callbacks(execute=True):
        assert as_manager.post("/settings/team/", data).status_code == 302
    assert [m.to for m in mailoutbox] == [["eli@example.com"]]
    assert is_manager(User.objects.get(username="eli"))


def test_a_bad_new_member_comes_back_with_every_error_in_place(as_manager, alice):
    data = {
        "full_name": "Al",
        "email": "alice@example.com",
        "username": "alice",
        "role": "agents",
        "password": "1",
    }
    response = as_manager.post("/settings/team/", data)
    assert response.status_code == 400
    page = text(response)
    form = page[page.index('class="member-add"') :]
    assert "“alice” is taken." in form and "belongs to someone else" in form
    assert User.objects.count() == 2


def test_changing_a_role(as_manager, alice):
    assert as_manager.post(f"/settings/team/{alice.pk}/role/", {"role": "managers"}).status_code == 302
    assert is_manager(User.objects.get(pk=alice.pk))


def test_the_last_managers_demotion_is_refused_on_their_row(as_manager, manager):
    response = as_manager.post(f"/settings/team/{manager.pk}/role/", {"role": "agents"})
    assert response.status_code == 400
    row = text(response)[text(response).index(f'id="member-{manager.pk}"') :]
    assert "only manager" in row[: row.index("</li>")]


def test_deactivating_with_hand_over(as_manager, alice, bob, stages):
    lead = LeadFactory(stage=stages["new"], owner=alice)
    response = as_manager.post(f"/settings/team/{alice.pk}/deactivate/", {"hand_to": str(bob.pk)})
    assert response.status_code == 302
    assert "Alice Martin was deactivated. 1 open lead handed to Bob Nguyen." in text(
        as_manager.get("/settings/team/")
    )
    assert Lead.objects.get(pk=lead.pk).owner == bob
    assert not User.objects.get(pk=alice.pk).is_active


@pytest.mark.parametrize("hand_to", ["999999", "", "somebody"])
def test_a_bad_hand_over_choice_is_a_400_on_that_row(as_manager, alice, hand_to):
    response = as_manager.post(f"/settings/team/{alice.pk}/deactivate/", {"hand_to": hand_to})
    assert response.status_code == 400
    assert 'class="field-error"' in text(response)
    assert User.objects.get(pk=alice.pk).is_active


def test_team_actions_on_a_missing_user_are_404(as_manager):
    for action in ("role", "deactivate", "reactivate"):
        assert as_manager.post(f"/settings/team/999999/{action}/", {"role": "agents"}).status_code == 404


def test_reactivating(as_manager, alice):
    as_manager.post(f"/settings/team/{alice.pk}/deactivate/", {"hand_to": "keep"})
    assert as_manager.post(f"/settings/team/{alice.pk}/reactivate/").status_code == 302
    assert User.objects.get(pk=alice.pk).is_active


# --- Your profile -----------------------------------------------------------------------------------------


def test_any_user_edits_their_profile(as_alice, alice):
    data = {"full_name": "Alice Martin-Roy", "email": "amr@example.com", "time_zone": "Asia/Tokyo"}
    assert as_alice.post("/settings/profile/", data).status_code == 302
    alice = User.objects.get(pk=alice.pk)
    assert (alice.get_full_name(), alice.email, alice.profile.time_zone) == (
        "Alice Martin-Roy",
        "amr@example.com",
        "Asia/Tokyo",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"full_name": "A", "email": "bob@example.com", "time_zone": ""}, "belongs to someone else"),
        ({"full_name": "A", "email": "a@example.com", "time_zone": "X/Y"}, "Select a valid choice"),
        ({"full_name": "", "email": "not-an-address", "time_zone": ""}, "Enter a valid email address"),
    ],
)
def test_a_bad_profile_is_a_400_with_errors_in_place(as_alice, alice, bob, data, message):
    response = as_alice.post("/settings/profile/", data)
    assert response.status_code == 400
    page = text(response)
    form = page[page.index('class="profile-form"') : page.index('class="password-form"')]
    assert message in form and 'class="field-error"' in form
    assert User.objects.get(pk=alice.pk).email == "alice@example.com"


def test_changing_ones_password_keeps_this_browser_logged_in(as_alice, alice):
    data = {"old_password": "demo", "new_password1": "brand-new-secret", "new_password2": "brand-new-secret"}
    assert as_alice.post("/settings/password/", data).status_code == 302
    assert User.objects.get(pk=alice.pk).check_password("brand-new-secret")
    assert as_alice.get("/settings/profile/").status_code == 200


def test_a_wrong_current_password_is_refused_in_place(as_alice, alice):
    data = {"old_password": "nope", "new_password1": "brand-new-secret", "new_password2": "brand-new-secret"}
    response = as_alice.post("/settings/password/", data)
    assert response.status_code == 400
    assert "Your old password was entered incorrectly" in text(response)
    assert User.objects.get(pk=alice.pk).check_password("demo")
