"""Actors on Dramatiq's stub broker with a real worker thread (so: transactional database)."""

import pytest
from django.core.management import call_command

from crm import services
from crm.models import Lead
from crm.services import Placement
from tests.factories import LeadFactory
from workers import actors
from workers.models import ScoreRequest

pytestmark = pytest.mark.django_db(transaction=True)


def drain(broker):
    broker.join("default.DQ", timeout=20_000)
    broker.join("default", timeout=20_000)


def test_a_burst_of_changes_asks_for_one_scoring_run(stages, alice, broker):
    lead = services.create_lead(actor=alice, name="Ada", owner=alice)
    for _ in range(4):
        services.log_interaction(lead.pk, actor=alice, kind="call")
    assert ScoreRequest.objects.count() == 1
    assert broker.queues["default.DQ"].qsize() == 1


def test_only_a_move_back_among_the_open_leads_asks_for_a_score(stages, alice, broker):
    """Only open leads are scored and the stage is no feature: a move changes no score, except a reopening."""
    lead = LeadFactory(stage=stages["new"], owner=alice)
    for slug in ("contacted", "won"):
        version = Lead.objects.get(pk=lead.pk).version
        services.move_lead(lead.pk, actor=alice, stage_slug=slug, placement=Placement(0), version=version)
    assert not ScoreRequest.objects.exists()

    version = Lead.objects.get(pk=lead.pk).version
    services.move_lead(lead.pk, actor=alice, stage_slug="new", placement=Placement(0), version=version)

    assert list(ScoreRequest.objects.values_list("lead_id", flat=True)) == [lead.pk]
    assert broker.queues["default.DQ"].qsize() == 1


def test_the_scoring_run_scores_what_was_asked_and_clears_the_requests(stages, alice, broker, worker):
    lead = services.create_lead(actor=alice, name="Ada", owner=alice)
    services.log_interaction(lead.pk, actor=alice, kind="meeting")
    drain(broker)
    lead.refresh_from_db()
    assert lead.score_source == "heuristic"
    assert lead.lead_score is not None
    assert not ScoreRequest.objects.exists()


def test_a_redelivered_scoring_run_scores_the_lead_once(stages, alice, broker, start_worker):
    """Dramatiq delivers at least once: the run a change asked for may arrive twice."""
    lead = services.create_lead(actor=alice, name="Ada", owner=alice)
    delayed = broker.queues["default.DQ"]
    assert delayed.qsize() == 1
    delayed.put(delayed.queue[0])  # the same message again, as a redelivery brings it
    start_worker()
    drain(broker)
    lead.refresh_from_db()
    assert lead.lead_score is not None
    assert lead.version == 2
    assert lead.history.filter(history_change_reason="rescored").count() == 1
    assert not ScoreRequest.objects.exists()


def test_rescore_open_leads_scores_every_open_lead(stages, alice, broker, worker):
    from tests.factories import LeadFactory

    leads = [LeadFactory(stage=stages["new"]) for _ in range(5)]
    actors.rescore_open_leads.send()
    drain(broker)
    assert all(Lead.objects.get(pk=lead.pk).lead_score is not None for lead in leads)


def test_the_train_model_actor_reports_too_little_history(stages, broker, worker):
    from crm import scoring

    actors.train_model.send()
    drain(broker)
    assert scoring.model_status()["training"]["state"] == "failed"


def test_train_model_command_refuses_with_too_few_closed_leads(stages):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="50 more closed leads needed"):
        call_command("train_model")


def test_train_model_command_prints_the_held_out_metrics(stages, history, capsys):
    call_command("train_model")
    out = capsys.readouterr().out
    assert "roc_auc" in out
    assert "on 60 closed leads" in out


def test_train_model_command_prints_json_for_machines(stages, history, capsys):
    import json

    call_command("train_model", "--json")
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n_leads"] == 60


def test_a_change_made_after_a_scoring_run_started_gets_a_run_of_its_own(stages, alice, broker, worker):
    lead = services.create_lead(actor=alice, name="Ada", owner=alice)
    drain(broker)  # the first run has started (and finished): its window is closed
    first = Lead.objects.get(pk=lead.pk).lead_score
    services.log_interaction(lead.pk, actor=alice, kind="meeting")
    # Not the delay queue's size: the running worker may already have taken the message from it.
    drain(broker)
    lead.refresh_from_db()
    assert not ScoreRequest.objects.exists()  # a second run came and took the new request
    assert lead.lead_score > first
    assert lead.history.filter(history_change_reason="rescored").count() == 2


class WorkerDied(BaseException):
    """What a killed worker's run amounts to: it stops in the middle, and nothing after that line runs."""


def test_a_worker_that_dies_mid_batch_leaves_the_requests_for_the_next_run(stages, alice, monkeypatch):
    leads = [services.create_lead(actor=alice, name=f"Lead {i}", owner=alice) for i in range(3)]
    assert ScoreRequest.objects.count() == 3

    def dies(lead_ids):
        raise WorkerDied

    monkeypatch.setattr(actors.scoring, "rescore", dies)
    with pytest.raises(WorkerDied):
        actors.score_pending()
    assert ScoreRequest.objects.count() == 3  # nothing lost
    monkeypatch.undo()

    actors.score_pending()  # the next run: the schedule's safety net, or the retry

    assert not ScoreRequest.objects.exists()
    for lead in leads:
        lead.refresh_from_db()
        assert lead.lead_score is not None
        assert lead.history.filter(history_change_reason="rescored").count() == 1  # scored exactly once


def test_a_lead_asking_again_while_its_run_scores_keeps_its_request(stages, alice, monkeypatch):
    lead = services.create_lead(actor=alice, name="Ada", owner=alice)
    rescore = actors.scoring.rescore

    def meanwhile(lead_ids):
        scored = rescore(lead_ids)
        services.log_interaction(lead.pk, actor=alice, kind="meeting")  # after the run read the lead
        return scored

    monkeypatch.setattr(actors.scoring, "rescore", meanwhile)
    actors.score_pending()

    assert list(ScoreRequest.objects.values_list("lead_id", flat=True)) == [lead.pk]
