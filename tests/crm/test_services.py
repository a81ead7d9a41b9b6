"""The services are the only writers: moves keep a strict order, refusals are explicit, history follows."""

from datetime import timedelta
from itertools import pairwise

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crm import events, positions, services
from crm.models import Interaction, Lead, Stage
from crm.services import Conflict, Placement
from tests.factories import STAGES, LeadFactory


def move(lead, actor, stage_slug, index=0, prev_id=None, next_id=None, version=None):
    """Move as a browser would: with the version the card shows now unless told otherwise."""
    if version is None:
        version = Lead.objects.get(pk=lead.pk).version
    return services.move_lead(
        lead.pk,
        actor=actor,
        stage_slug=stage_slug,
        placement=Placement(index, prev_id=prev_id, next_id=next_id),
        version=version,
    )


def column(stage) -> list[int]:
    return list(Lead.objects.filter(stage=stage).order_by("position", "id").values_list("id", flat=True))


# --- Ordering under any sequence of moves -----------------------------------------------------------

WIP_LIMITS = {slug: wip for slug, _name, _kind, wip in STAGES}


class BoardMoves(RuleBasedStateMachine):
    """A model of the board (each column a list of lead ids, top first) that the database must always match.

    Each example runs in a savepoint rolled back at teardown, so examples never see each other's leads.
    """

    stages: dict = {}
    actor = None

    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.columns: dict[str, list[int]] = {slug: [] for slug in self.stages}
        self.versions: dict[int, int] = {}

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    @initialize(layout=st.lists(st.sampled_from(sorted(WIP_LIMITS)), min_size=2, max_size=10))
    def arrange(self, layout):
        for slug in layout:
            if len(self.columns[slug]) == WIP_LIMITS[slug]:
                slug = "new"  # a board is never set up over a column's limit
            key = len(self.columns[slug]) * positions.STEP
            lead = LeadFactory(stage=self.stages[slug], owner=None, position=key)
            self.columns[slug].append(lead.pk)
            self.versions[lead.pk] = lead.version

    def ids(self) -> list[int]:
        return sorted(self.versions)

    def stage_of(self, lead_id: int) -> str:
        return next(slug for slug, ids in self.columns.items() if lead_id in ids)

    @rule(data=st.data())
    def move_anywhere(self, data):
        """A random card to a random column and index, with random (often stale or foreign) neighbours."""
        hint = st.none() | st.sampled_from(self.ids())
        lead_id = data.draw(st.sampled_from(self.ids()), label="lead")
        slug = data.draw(st.sampled_from(sorted(self.columns)), label="stage")
        placement = Placement(
            index=data.draw(st.integers(min_value=0, max_value=12), label="index"),
            prev_id=data.draw(hint, label="prev"),
            next_id=data.draw(hint, label="next"),
        )
        self.check_move(lead_id, slug, placement)

    @precondition(lambda self: len(self.versions) >= 2)
    @rule(data=st.data())
    def crowd_one_gap(self, data):
        """Drop cards again and again just below a column's top card: that gap halves until a rebalance."""
        slug = data.draw(st.sampled_from(sorted(s for s, ids in self.columns.items() if ids)), label="stage")
        top = self.columns[slug][0]
        lead_id = data.draw(st.sampled_from([i for i in self.ids() if i != top]), label="lead")
        self.check_move(lead_id, slug, Placement(index=1, prev_id=top))

    def check_move(self, lead_id: int, slug: str, placement: Placement) -> None:
        source = self.stage_of(lead_id)
        target = [i for i in self.columns[slug] if i != lead_id]
        limit = WIP_LIMITS[slug]
        if slug != source and limit is not None and len(target) >= limit:
            with pytest.raises(Conflict):
                services.move_lead(
                    lead_id,
                    actor=self.actor,
                    stage_slug=slug,
                    placement=placement,
                    version=self.versions[lead_id],
                )
            return
        lead = services.move_lead(
            lead_id, actor=self.actor, stage_slug=slug, placement=placement, version=self.versions[lead_id]
        )
        if placement.next_id in target:
            index = target.index(placement.next_id)
        elif placement.prev_id in target:
            index = target.index(placement.prev_id) + 1
        else:
            index = min(placement.index, len(target))
        self.columns[source].remove(lead_id)
        self.columns[slug].insert(index, lead_id)
        self.versions[lead_id] += 1
        assert lead.version == self.versions[lead_id]

        # The mover's intent, stated directly: the neighbour they named is adjacent, on the side they chose.
        now = column(self.stages[slug])
        at = now.index(lead_id)
        if placement.next_id in target:
            assert now[at + 1] == placement.next_id
        elif placement.prev_id in target:
            assert now[at - 1] == placement.prev_id
        else:
            assert at == min(placement.index, len(target))

    @invariant()
    def board_matches_the_model(self):
        for slug, ids in self.columns.items():
            rows = list(
                Lead.objects.filter(stage__slug=slug)
                .order_by("position", "id")
                .values_list("id", "position", "version")
            )
            assert [pk for pk, _, _ in rows] == ids
            keys = [key for _, key, _ in rows]
            assert all(a < b for a, b in pairwise(keys)), f"keys tie in {slug}: {keys}"
            assert {pk: version for pk, _, version in rows} == {pk: self.versions[pk] for pk in ids}
        assert Lead.objects.count() == len(self.versions)


# A failure shrinks for up to Hypothesis' five minutes before it reports the shortest sequence of moves.
@pytest.mark.timeout(600)
def test_moves_keep_every_column_in_a_strict_order_where_the_mover_put_the_card(stages, manager, monkeypatch):
    """STEP=4 makes gaps run out after two moves, so rebalancing happens all the time."""
    monkeypatch.setattr(positions, "STEP", 4)
    rebalances = []
    real_rebalance = services.rebalance_stage

    def counting_rebalance(stage):
        rebalances.append(stage.slug)
        real_rebalance(stage)

    monkeypatch.setattr(services, "rebalance_stage", counting_rebalance)
    monkeypatch.setattr(BoardMoves, "stages", stages)
    monkeypatch.setattr(BoardMoves, "actor", manager)
    run_state_machine_as_test(
        BoardMoves,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert rebalances, "no move ever used up a gap: the rebalance path went untested"


def test_a_move_into_a_used_up_gap_rebalances_the_column_and_lands_in_place(stages, manager, monkeypatch):
    monkeypatch.setattr(positions, "STEP", 4)
    top, second = (LeadFactory(stage=stages["new"], position=key) for key in (0, 1))
    card = LeadFactory(stage=stages["contacted"])
    move(card, manager, "new", index=1, prev_id=top.pk)
    assert column(stages["new"]) == [top.pk, card.pk, second.pk]
    assert sorted(Lead.objects.filter(stage=stages["new"]).values_list("position", flat=True)) == [0, 2, 4]


# --- Versions ---------------------------------------------------------------------------------------


def test_a_move_bumps_the_version_by_one(stages, alice, unassigned_lead):
    before = unassigned_lead.version
    assert move(unassigned_lead, alice, "contacted").version == before + 1


def test_a_stale_version_is_a_conflict_carrying_the_current_lead(stages, alice, bob, unassigned_lead):
    seen = unassigned_lead.version
    move(unassigned_lead, alice, "contacted", version=seen)
    with pytest.raises(Conflict) as conflict:
        move(unassigned_lead, bob, "proposal", version=seen)
    assert conflict.value.lead.pk == unassigned_lead.pk
    assert conflict.value.lead.version == seen + 1
    assert conflict.value.lead.stage.slug == "contacted"


def test_a_conflict_message_names_who_moved_the_card_and_where(stages, alice, bob, unassigned_lead):
    seen = unassigned_lead.version
    move(unassigned_lead, alice, "contacted", version=seen)
    with pytest.raises(Conflict, match="Alice Martin moved it to Contacted"):
        move(unassigned_lead, bob, "proposal", version=seen)


def test_a_conflicting_move_changes_nothing(stages, alice, bob, unassigned_lead):
    seen = unassigned_lead.version
    move(unassigned_lead, alice, "contacted", version=seen)
    with pytest.raises(Conflict):
        move(unassigned_lead, bob, "won", version=seen)
    unassigned_lead.refresh_from_db()
    assert (unassigned_lead.stage.slug, unassigned_lead.version) == ("contacted", seen + 1)


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


# --- WIP limits ---------------------------------------------------------------------------------------


def test_moving_into_a_full_column_is_refused_with_its_limit(stages, alice, unassigned_lead):
    LeadFactory.create_batch(3, stage=stages["proposal"])
    with pytest.raises(Conflict, match="“Proposal” is full: its limit is 3 leads"):
        move(unassigned_lead, alice, "proposal")
    unassigned_lead.refresh_from_db()
    assert unassigned_lead.stage.slug == "new"


def test_moving_within_a_full_column_is_allowed(stages, alice):
    first, second, third = LeadFactory.create_batch(3, stage=stages["proposal"])
    move(third, alice, "proposal", index=0)
    assert column(stages["proposal"]) == [third.pk, first.pk, second.pk]


def test_a_column_below_its_limit_takes_a_card(stages, alice, unassigned_lead):
    LeadFactory.create_batch(2, stage=stages["proposal"])
    assert move(unassigned_lead, alice, "proposal", index=5).stage.slug == "proposal"


# --- Permissions ----------------------------------------------------------------------------------------


def test_an_agent_moves_their_own_lead(stages, alice, alices_lead):
    assert move(alices_lead, alice, "contacted").stage.slug == "contacted"


def test_an_agent_moves_an_unassigned_lead(stages, bob, unassigned_lead):
    assert move(unassigned_lead, bob, "contacted").stage.slug == "contacted"


def test_an_agent_may_not_move_another_agents_lead(stages, alice, bobs_lead):
    with pytest.raises(PermissionDenied, match="“Ben Dubois” belongs to bob; only they or a manager"):
        move(bobs_lead, alice, "contacted")
    bobs_lead.refresh_from_db()
    assert bobs_lead.stage.slug == "new"


def test_a_manager_moves_any_agents_lead(stages, manager, bobs_lead):
    assert move(bobs_lead, manager, "contacted").stage.slug == "contacted"


def test_an_agent_may_not_edit_another_agents_lead(stages, alice, bobs_lead):
    with pytest.raises(PermissionDenied):
        services.update_lead(bobs_lead.pk, actor=alice, version=bobs_lead.version, changes={"phone": "1"})


def test_an_agent_may_not_log_on_another_agents_lead(stages, alice, bobs_lead):
    with pytest.raises(PermissionDenied):
        services.log_interaction(bobs_lead.pk, actor=alice, kind="call")
    assert not Interaction.objects.exists()


def test_moving_to_an_unknown_stage_is_refused(stages, alice, alices_lead):
    with pytest.raises(ValidationError, match="There is no stage “nowhere”"):
        move(alices_lead, alice, "nowhere")


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


# --- History ---------------------------------------------------------------------------------------------


def test_a_move_records_one_history_row_by_the_mover(stages, alice, alices_lead):
    before = alices_lead.history.count()
    move(alices_lead, alice, "contacted")
    assert alices_lead.history.count() == before + 1
    record = alices_lead.history.latest()
    assert (record.history_user, record.history_change_reason, record.stage_id) == (
        alice,
        "moved",
        stages["contacted"].pk,
    )


def test_an_edit_records_one_history_row_by_the_editor(stages, manager, alices_lead):
    before = alices_lead.history.count()
    services.update_lead(
        alices_lead.pk, actor=manager, version=alices_lead.version, changes={"phone": "+1 5"}
    )
    assert alices_lead.history.count() == before + 1
    assert (alices_lead.history.latest().history_user, alices_lead.history.latest().phone) == (
        manager,
        "+1 5",
    )


def test_an_interaction_records_one_history_row_by_the_agent(stages, alice, alices_lead):
    before = alices_lead.history.count()
    services.log_interaction(alices_lead.pk, actor=alice, kind="call")
    assert alices_lead.history.count() == before + 1
    assert alices_lead.history.latest().history_user == alice


# --- Won and lost ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("closed", ["won", "lost"])
def test_moving_to_a_closed_stage_records_when(stages, alice, alices_lead, closed):
    assert move(alices_lead, alice, closed).closed_at is not None


def test_moving_back_to_an_open_stage_clears_closed_at(stages, alice, alices_lead):
    move(alices_lead, alice, "won")
    assert move(alices_lead, alice, "proposal").closed_at is None
    alices_lead.refresh_from_db()
    assert alices_lead.closed_at is None


def test_moving_from_won_to_lost_keeps_the_first_close_time(stages, alice, alices_lead):
    closed_at = move(alices_lead, alice, "won").closed_at
    assert move(alices_lead, alice, "lost").closed_at == closed_at


# --- Interactions ----------------------------------------------------------------------------------------


def test_logging_an_interaction_counts_it_and_remembers_the_latest(stages, alice, alices_lead):
    when = timezone.now() - timedelta(hours=1)
    services.log_interaction(alices_lead.pk, actor=alice, kind="meeting", notes="Demo", occurred_at=when)
    alices_lead.refresh_from_db()
    assert (alices_lead.interaction_count, alices_lead.last_interaction_kind) == (1, "meeting")
    assert alices_lead.last_interaction_at == when


def test_an_older_interaction_counts_but_does_not_replace_the_latest(stages, alice, alices_lead):
    now = timezone.now()
    services.log_interaction(alices_lead.pk, actor=alice, kind="email", occurred_at=now)
    services.log_interaction(alices_lead.pk, actor=alice, kind="call", occurred_at=now - timedelta(days=2))
    alices_lead.refresh_from_db()
    assert (alices_lead.interaction_count, alices_lead.last_interaction_kind) == (2, "email")
    assert alices_lead.last_interaction_at == now


def test_the_earliest_interaction_is_the_leads_first_contact_whatever_order_they_are_logged_in(
    stages, alice, alices_lead
):
    now = timezone.now()
    assert alices_lead.first_contact_at is None
    services.log_interaction(alices_lead.pk, actor=alice, kind="email", occurred_at=now)
    alices_lead.refresh_from_db()
    assert alices_lead.first_contact_at == now
    services.log_interaction(alices_lead.pk, actor=alice, kind="call", occurred_at=now - timedelta(days=2))
    services.log_interaction(alices_lead.pk, actor=alice, kind="note", occurred_at=now - timedelta(days=1))
    alices_lead.refresh_from_db()
    assert alices_lead.first_contact_at == now - timedelta(days=2)


def test_an_interaction_of_an_unknown_kind_is_refused(stages, alice, alices_lead):
    with pytest.raises(ValidationError, match="“fax” is not a kind of interaction"):
        services.log_interaction(alices_lead.pk, actor=alice, kind="fax")
    alices_lead.refresh_from_db()
    assert alices_lead.interaction_count == 0
    assert alices_lead.first_contact_at is None


# --- Edits and creation ----------------------------------------------------------------------------------


def test_an_edit_saves_the_changes_and_bumps_the_version(stages, alice, alices_lead):
    lead = services.update_lead(
        alices_lead.pk, actor=alice, version=alices_lead.version, changes={"company": "Globex"}
    )
    alices_lead.refresh_from_db()
    assert (alices_lead.company, alices_lead.version) == ("Globex", lead.version)
    assert lead.version == 2


def test_an_edit_that_changes_nothing_writes_nothing(stages, alice, alices_lead):
    before = alices_lead.history.count()
    lead = services.update_lead(
        alices_lead.pk, actor=alice, version=alices_lead.version, changes={"company": alices_lead.company}
    )
    assert (lead.version, alices_lead.history.count()) == (alices_lead.version, before)


@pytest.mark.parametrize("field", ["stage", "version", "position", "closed_at"])
def test_an_edit_of_a_field_the_form_does_not_own_is_refused(stages, alice, alices_lead, field):
    with pytest.raises(ValidationError, match=f"cannot be edited here: {field}"):
        services.update_lead(alices_lead.pk, actor=alice, version=alices_lead.version, changes={field: 7})


def test_an_edit_with_a_stale_version_is_refused_and_saves_nothing(stages, alice, manager, alices_lead):
    seen = alices_lead.version
    services.update_lead(alices_lead.pk, actor=manager, version=seen, changes={"phone": "+1 555"})
    with pytest.raises(Conflict, match="Manager edited it"):
        services.update_lead(alices_lead.pk, actor=alice, version=seen, changes={"company": "Hooli"})
    alices_lead.refresh_from_db()
    assert (alices_lead.company, alices_lead.phone) == ("Acme", "+1 555")


def test_an_edit_with_an_invalid_email_is_refused(stages, alice, alices_lead):
    with pytest.raises(ValidationError):
        services.update_lead(
            alices_lead.pk, actor=alice, version=alices_lead.version, changes={"email": "not-an-email"}
        )


def test_a_new_lead_joins_the_end_of_the_first_open_column(stages, alice):
    existing = LeadFactory(stage=stages["new"])
    lead = services.create_lead(actor=alice, name="Eva Haddad", owner=alice)
    assert (lead.stage.slug, lead.version) == ("new", 1)
    assert column(stages["new"]) == [existing.pk, lead.pk]
    assert lead.history.get().history_user == alice


def test_a_new_lead_with_an_unknown_field_is_refused(stages, alice):
    with pytest.raises(ValidationError, match="Unknown lead fields: version"):
        services.create_lead(actor=alice, name="Eva Haddad", version=9)
    assert not Lead.objects.exists()


# --- Events on commit ------------------------------------------------------------------------------------


def test_a_move_announces_itself_once_committed(stages, alice, alices_lead, on_commit, published):
    with on_commit():
        move(alices_lead, alice, "contacted")
    assert published == [
        events.LeadMoved(
            actor_id=alice.pk,
            lead_id=alices_lead.pk,
            from_stage_id=stages["new"].pk,
            to_stage_id=stages["contacted"].pk,
        )
    ]


def test_a_rolled_back_move_announces_nothing(stages, alice, alices_lead, on_commit, published):
    with on_commit(), pytest.raises(RuntimeError), transaction.atomic():
        move(alices_lead, alice, "contacted")
        raise RuntimeError("the caller's transaction fails after the move")
    assert published == []
    alices_lead.refresh_from_db()
    assert alices_lead.stage.slug == "new"


def test_a_refused_move_announces_nothing(stages, alice, bobs_lead, on_commit, published):
    with on_commit(), pytest.raises(PermissionDenied):
        move(bobs_lead, alice, "contacted")
    assert published == []


@pytest.mark.django_db(transaction=True)
def test_nothing_is_announced_before_the_commit(stages, alice, alices_lead, published):
    """A real commit, not a captured one: subscribers must not hear of a write that may still roll back."""
    with transaction.atomic():
        move(alices_lead, alice, "contacted")
        services.log_interaction(alices_lead.pk, actor=alice, kind="note")
        assert published == []
    assert [type(event) for event in published] == [events.LeadMoved, events.InteractionLogged]


def test_edits_interactions_and_new_leads_announce_themselves(
    stages, alice, alices_lead, on_commit, published
):
    with on_commit():
        services.update_lead(alices_lead.pk, actor=alice, version=alices_lead.version, changes={"phone": "9"})
        services.log_interaction(alices_lead.pk, actor=alice, kind="call")
        created = services.create_lead(actor=alice, name="Wen Berg")
    assert [(type(e), e.lead_id) for e in published] == [
        (events.LeadChanged, alices_lead.pk),
        (events.InteractionLogged, alices_lead.pk),
        (events.LeadCreated, created.pk),
    ]
    assert published[0].fields == ("phone",)


def test_a_rebalance_announces_the_column(stages, manager, monkeypatch, on_commit, published):
    monkeypatch.setattr(positions, "STEP", 4)
    top, _second = (LeadFactory(stage=stages["new"], position=key) for key in (0, 1))
    card = LeadFactory(stage=stages["contacted"])
    with on_commit():
        move(card, manager, "new", prev_id=top.pk)
    assert events.ColumnRebalanced(actor_id=None, stage_id=stages["new"].pk) in published


def test_saving_a_stage_goes_through_the_service_and_tells_boards(stages, manager, published, on_commit):
    stage = stages["new"]
    stage.name = "Fresh"
    with on_commit():
        services.save_stage(stage, actor=manager)
    assert Stage.objects.get(pk=stage.pk).name == "Fresh"
    assert published == [events.StagesChanged(actor_id=manager.pk)]


def test_a_stage_with_leads_cannot_be_deleted(stages, manager, published, on_commit):
    LeadFactory(stage=stages["new"])
    with on_commit(), pytest.raises(ValidationError, match="still has leads"):
        services.delete_stage(stages["new"], actor=manager)
    assert Stage.objects.filter(pk=stages["new"].pk).exists()
    assert published == []


def test_create_lead_can_backdate_the_lead_and_its_history(stages, alice):
    when = timezone.now() - timedelta(days=30)
    lead = services.create_lead(actor=alice, name="Ada", created_at=when)
    lead.refresh_from_db()
    assert lead.created_at == when
    assert lead.history.get().history_date == when


def test_source_named_finds_a_source_whatever_its_letter_case(db):
    referral = services.source_named("Referral")
    assert services.source_named("  referral ") == referral
    with pytest.raises(ValidationError):
        services.source_named("x" * 81)
