"""The team as managers change it, and a user's own profile: the rules live in the services."""

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from crm import events, profiles, team
from crm.models import AGENTS_GROUP, MANAGERS_GROUP
from crm.permissions import is_manager
from tests.factories import LeadFactory, UserFactory

User = get_user_model()


def fresh(user):
    return User.objects.get(pk=user.pk)


def can_log_in(username: str, password: str) -> bool:
    """Through the login form, as a person would (django-axes wants the request)."""
    response = Client().post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


def test_adding_a_member_with_a_password_lets_them_log_in(manager):
    user = team.add_member(
        actor=manager,
        username="dana",
        full_name=" Dana  van Dijk ",
        email="dana@example.com",
        role=AGENTS_GROUP,
        password="a-long-pass-phrase",
    )
    assert (user.first_name, user.last_name, user.get_full_name()) == ("Dana van", "Dijk", "Dana van Dijk")
    assert list(user.groups.values_list("name", flat=True)) == [AGENTS_GROUP]
    assert can_log_in("dana", "a-long-pass-phrase")


def test_a_member_without_a_password_gets_a_link_that_sets_one(manager, on_commit):
    with on_commit():
        user = team.add_member(
            actor=manager, username="eli", full_name="Eli Berg", email="eli@example.com", role=MANAGERS_GROUP
        )
        team.send_set_password_link(user)
    assert not user.has_usable_password()
    assert is_manager(fresh(user))
    (message,) = mail.outbox
    assert message.to == ["eli@example.com"]
    link = next(line for line in message.body.splitlines() if "/accounts/set-password/" in line)
    browser = Client()
    form = browser.get(urlsplit(link.strip()).path, follow=True)
    assert form.status_code == 200 and "Choose your password" in form.content.decode()
    done = browser.post(
        form.redirect_chain[-1][0], {"new_password1": "fresh-pass-42", "new_password2": "fresh-pass-42"}
    )
    assert done.status_code == 302
    assert can_log_in("eli", "fresh-pass-42")


def test_every_problem_of_a_new_member_is_reported_at_once(manager, alice):
    with pytest.raises(ValidationError) as refused:
        team.add_member(
            actor=manager, username="Alice", full_name="  ", email="ALICE@example.com", role="boss"
        )
    assert set(refused.value.message_dict) == {"username", "full_name", "email", "role"}
    assert User.objects.count() == 2


def test_a_weak_password_is_refused(manager):
    with pytest.raises(ValidationError) as refused:
        team.add_member(
            actor=manager,
            username="fay",
            full_name="Fay",
            email="fay@example.com",
            role=AGENTS_GROUP,
            password="fay",
        )
    assert "password" in refused.value.message_dict
    assert not User.objects.filter(username="fay").exists()


def test_agents_cannot_change_the_team(alice, bob):
    with pytest.raises(PermissionDenied):
        team.add_member(actor=alice, username="x", full_name="X", email="x@example.com", role=AGENTS_GROUP)
    with pytest.raises(PermissionDenied):
        team.set_role(bob.pk, actor=alice, role=MANAGERS_GROUP)
    with pytest.raises(PermissionDenied):
        team.deactivate(bob.pk, actor=alice)
    assert fresh(bob).is_active and not is_manager(fresh(bob))


def test_changing_a_role_swaps_the_group(manager, alice):
    team.set_role(alice.pk, actor=manager, role=MANAGERS_GROUP)
    assert list(fresh(alice).groups.values_list("name", flat=True)) == [MANAGERS_GROUP]
    team.set_role(alice.pk, actor=manager, role=AGENTS_GROUP)
    assert list(fresh(alice).groups.values_list("name", flat=True)) == [AGENTS_GROUP]


def test_the_last_manager_keeps_the_role_and_stays_active(manager, alice):
    with pytest.raises(ValidationError, match="only manager"):
        team.set_role(manager.pk, actor=manager, role=AGENTS_GROUP)
    other = UserFactory(username="boss2", role=MANAGERS_GROUP)
    with pytest.raises(ValidationError, match="cannot deactivate yourself"):
        team.deactivate(manager.pk, actor=manager)
    team.deactivate(other.pk, actor=manager)
    with pytest.raises(ValidationError, match="only manager"):
        team.set_role(manager.pk, actor=manager, role=AGENTS_GROUP)
    assert is_manager(fresh(manager))


def test_deactivating_hands_their_open_leads_over_with_history(
    stages, manager, alice, bob, published, on_commit
):
    open_leads = [
        LeadFactory(stage=stages["new"], owner=alice),
        LeadFactory(stage=stages["proposal"], owner=alice),
    ]
    won = LeadFactory(stage=stages["won"], owner=alice)
    with on_commit():
        handed = team.deactivate(alice.pk, actor=manager, hand_over=True, hand_to=bob)
    assert handed == 2
    assert not fresh(alice).is_active
    for lead in open_leads:
        lead.refresh_from_db()
        assert lead.owner == bob
        change = lead.history.latest()
        assert (change.history_user, change.history_change_reason) == (manager, "edited")
        assert change.prev_record.owner == alice
    won.refresh_from_db()
    assert won.owner == alice  # a closed deal stays theirs: the numbers keep who won it
    assert {e.lead_id for e in published if isinstance(e, events.LeadChanged)} == {
        lead.pk for lead in open_leads
    }
    assert not can_log_in("alice", "demo")


def test_deactivating_can_leave_leads_unassigned_or_with_them(stages, manager, alice, bob):
    alices = LeadFactory(stage=stages["new"], owner=alice)
    bobs = LeadFactory(stage=stages["new"], owner=bob)
    team.deactivate(alice.pk, actor=manager, hand_over=True, hand_to=None)
    team.deactivate(bob.pk, actor=manager)
    alices.refresh_from_db(), bobs.refresh_from_db()
    assert (alices.owner, bobs.owner) == (None, bob)


def test_leads_go_only_to_an_active_colleague(stages, manager, alice, bob):
    LeadFactory(stage=stages["new"], owner=alice)
    team.deactivate(bob.pk, actor=manager)
    with pytest.raises(ValidationError, match="another active member"):
        team.deactivate(alice.pk, actor=manager, hand_over=True, hand_to=fresh(bob))
    assert fresh(alice).is_active


def test_reactivating_lets_them_back_in(manager, alice):
    team.deactivate(alice.pk, actor=manager)
    team.reactivate(alice.pk, actor=manager)
    assert can_log_in("alice", "demo")


def test_a_profile_saves_name_email_and_zone_together(alice):
    profiles.update_profile(
        alice, full_name="Alice B. Martin", email="am@example.com", time_zone="Europe/Paris"
    )
    alice = fresh(alice)
    assert (alice.get_full_name(), alice.email, alice.profile.time_zone) == (
        "Alice B. Martin",
        "am@example.com",
        "Europe/Paris",
    )


def test_a_bad_profile_saves_nothing_and_names_each_problem(alice, bob):
    with pytest.raises(ValidationError) as refused:
        profiles.update_profile(alice, full_name="", email="bob@example.com", time_zone="Mars/Olympus")
    assert set(refused.value.message_dict) == {"full_name", "email", "time_zone"}
    alice = fresh(alice)
    assert (alice.first_name, alice.email) == ("Alice", "alice@example.com")
    assert not hasattr(alice, "profile") or alice.profile.time_zone == ""


def test_a_new_password_is_checked_then_set(alice):
    with pytest.raises(ValidationError):
        profiles.set_password(alice, "123")
    profiles.set_password(alice, "a-much-better-one")
    assert can_log_in("alice", "a-much-better-one")
