"""The pipeline's shape as managers change it: add, reorder, merge, delete, each one event for the boards."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm import events, services
from crm.models import Lead, Stage
from tests.factories import LeadFactory, StageFactory


def order() -> list[str]:
    return list(Stage.objects.values_list("slug", flat=True))


def test_a_new_stage_gets_a_free_slug_and_goes_last(stages, manager, published, on_commit):
    with on_commit():
        stage = services.save_stage(Stage(name="Won"), actor=manager)  # "won" is taken
    assert stage.slug == "won-2"
    assert order()[-1] == "won-2"
    assert published == [events.StagesChanged(actor_id=manager.pk)]


def test_an_agent_cannot_change_the_pipeline(stages, alice):
    with pytest.raises(PermissionDenied):
        services.save_stage(Stage(name="Mine"), actor=alice)
    with pytest.raises(PermissionDenied):
        services.reorder_stages([s.pk for s in stages.values()], actor=alice)
    with pytest.raises(PermissionDenied):
        services.merge_stage(stages["contacted"].pk, into_id=stages["new"].pk, actor=alice)
    assert not Stage.objects.filter(name="Mine").exists()


def test_reordering_puts_every_stage_in_the_given_order(stages, manager, published, on_commit):
    wanted = ["won", "new", "lost", "contacted", "proposal"]
    with on_commit():
        services.reorder_stages([stages[slug].pk for slug in wanted], actor=manager)
    assert order() == wanted
    assert published == [events.StagesChanged(actor_id=manager.pk)]


def test_an_order_from_a_stale_page_is_refused(stages, manager, published, on_commit):
    missing_one = [stages[slug].pk for slug in ["won", "new", "lost", "contacted"]]
    with on_commit(), pytest.raises(ValidationError, match="changed meanwhile"):
        services.reorder_stages(missing_one, actor=manager)
    assert order() == ["new", "contacted", "proposal", "won", "lost"]
    assert published == []


@pytest.mark.parametrize(
    ("slug", "by", "expected"),
    [
        ("proposal", -1, ["new", "proposal", "contacted", "won", "lost"]),
        ("proposal", 1, ["new", "contacted", "won", "proposal", "lost"]),
        ("new", -1, ["new", "contacted", "proposal", "won", "lost"]),  # already first: stays
        ("lost", 1, ["new", "contacted", "proposal", "won", "lost"]),
    ],
)
def test_shifting_a_stage_moves_it_one_place(stages, manager, slug, by, expected):
    services.shift_stage(stages[slug].pk, actor=manager, by=by)
    assert order() == expected


def test_merging_moves_every_lead_to_the_end_of_the_target_with_history(
    stages, manager, alice, published, on_commit
):
    kept = LeadFactory(stage=stages["new"], position=0)
    merged = [LeadFactory(stage=stages["contacted"], position=p, owner=alice) for p in (10, 20)]
    with on_commit():
        services.merge_stage(stages["contacted"].pk, into_id=stages["new"].pk, actor=manager)
    assert not Stage.objects.filter(slug="contacted").exists()
    column = list(Lead.objects.filter(stage=stages["new"]).board_order().values_list("pk", flat=True))
    assert column == [kept.pk, *(lead.pk for lead in merged)]
    for lead in merged:
        latest = lead.history.latest()
        assert latest.history_change_reason == "moved: “Contacted” merged into “New”"
        assert latest.history_user == manager
        assert latest.owner == alice
    moved = [e for e in published if isinstance(e, events.LeadMoved)]
    assert {e.lead_id for e in moved} == {lead.pk for lead in merged}
    assert published[-1] == events.StagesChanged(actor_id=manager.pk)


def test_merging_into_won_closes_the_leads(stages, manager):
    lead = LeadFactory(stage=stages["contacted"])
    services.merge_stage(stages["contacted"].pk, into_id=stages["won"].pk, actor=manager)
    lead.refresh_from_db()
    assert lead.stage == stages["won"] and lead.closed_at is not None


def test_a_merge_that_would_overflow_the_targets_limit_is_refused(stages, manager):
    for _ in range(2):
        LeadFactory(stage=stages["proposal"])  # limit 3
    for _ in range(2):
        LeadFactory(stage=stages["new"])
    with pytest.raises(ValidationError, match="at most 3 leads; the merge would make 4"):
        services.merge_stage(stages["new"].pk, into_id=stages["proposal"].pk, actor=manager)
    assert Lead.objects.filter(stage=stages["new"]).count() == 2


def test_a_stage_cannot_merge_into_itself_or_a_missing_one(stages, manager):
    with pytest.raises(ValidationError, match="another stage"):
        services.merge_stage(stages["new"].pk, into_id=stages["new"].pk, actor=manager)
    with pytest.raises(ValidationError, match="does not exist"):
        services.merge_stage(stages["new"].pk, into_id=999_999, actor=manager)


def test_the_last_open_stage_cannot_go(manager, published, on_commit):
    only = StageFactory(slug="only", kind=Stage.Kind.OPEN)
    won = StageFactory(slug="won", kind=Stage.Kind.WON)
    with on_commit(), pytest.raises(ValidationError, match="at least one open stage"):
        services.delete_stage(Stage.objects.get(pk=only.pk), actor=manager)
    with pytest.raises(ValidationError, match="at least one open stage"):
        services.merge_stage(only.pk, into_id=won.pk, actor=manager)
    only.kind = Stage.Kind.LOST
    with pytest.raises(ValidationError, match="at least one open stage"):
        services.save_stage(only, actor=manager)
    assert Stage.objects.get(pk=only.pk).kind == Stage.Kind.OPEN
    assert published == []


def test_a_stage_with_leads_keeps_its_kind(stages, manager):
    LeadFactory(stage=stages["proposal"])
    stage = Stage.objects.get(slug="proposal")
    stage.kind = Stage.Kind.WON
    with pytest.raises(ValidationError) as refused:
        services.save_stage(stage, actor=manager)
    assert "merge them into another stage" in refused.value.message_dict["kind"][0]
    stage = Stage.objects.get(slug="proposal")
    stage.name, stage.wip_limit = "Offer", 10  # renaming and limiting are fine
    services.save_stage(stage, actor=manager)
    assert Stage.objects.get(slug="proposal").name == "Offer"
