import logging

from django.core.cache import cache

from crm import events, scoring, services
from crm.models import Lead
from realtime.models import BoardEvent
from tests.factories import LeadFactory


def test_record_scores_writes_only_changed_leads(stages, on_commit):
    same = LeadFactory(stage=stages["new"], lead_score=40, score_source="heuristic")
    changed = LeadFactory(stage=stages["new"], lead_score=40, score_source="heuristic")
    with on_commit():
        ids = services.record_scores({same.pk: (40, "heuristic"), changed.pk: (70, "model")})
    assert ids == [changed.pk]
    same.refresh_from_db()
    changed.refresh_from_db()
    assert (same.version, changed.version) == (1, 2)
    assert (changed.lead_score, changed.score_source) == (70, "model")


def test_a_score_change_is_kept_in_history(stages, on_commit):
    lead = LeadFactory(stage=stages["new"])
    with on_commit():
        services.record_scores({lead.pk: (55, "heuristic")})
    record = lead.history.latest()
    assert (record.lead_score, record.history_change_reason) == (55, "rescored")


def test_a_score_change_is_pushed_to_the_board(stages, on_commit):
    lead = LeadFactory(stage=stages["new"])
    with on_commit():
        services.record_scores({lead.pk: (88, "model")})
    frame = BoardEvent.objects.latest("pk").html
    assert f'id="lead-{lead.pk}"' in frame
    assert ">88<" in frame


def test_unchanged_scores_publish_nothing(stages, on_commit, published):
    lead = LeadFactory(stage=stages["new"], lead_score=10, score_source="heuristic")
    with on_commit():
        services.record_scores({lead.pk: (10, "heuristic")})
    assert not [e for e in published if isinstance(e, events.ScoresChanged)]


def test_without_enough_history_leads_get_the_heuristic(stages, source, on_commit):
    lead = LeadFactory(stage=stages["new"], source=source, engagement_level=3)
    with on_commit():
        scoring.rescore()
    lead.refresh_from_db()
    assert lead.score_source == "heuristic"
    assert 0 <= lead.lead_score <= 100


def test_closed_leads_are_not_rescored(stages, on_commit):
    lead = LeadFactory(stage=stages["won"], lead_score=12, score_source="heuristic")
    with on_commit():
        scoring.rescore()
    lead.refresh_from_db()
    assert lead.lead_score == 12


def test_training_below_the_minimum_says_how_many_more_are_needed(stages, history):
    Lead.objects.filter(pk__in=[lead.pk for lead in history[:20]]).delete()
    assert scoring.train() is None
    status = scoring.model_status()
    assert status["needed"] == 10
    assert "10 more closed leads needed" in status["training"]["message"]


def test_training_with_one_outcome_is_refused(stages, history):
    Lead.objects.filter(stage__kind="lost").update(stage=stages["won"])
    assert scoring.train() is None
    assert "both" in scoring.model_status()["training"]["message"]


def test_training_stores_a_model_and_rescores_open_leads_with_it(stages, history, on_commit):
    open_lead = LeadFactory(stage=stages["new"], engagement_level=3)
    with on_commit():
        model = scoring.train()
    assert model is not None
    status = scoring.model_status()
    assert status["model"]["metrics"]["n_leads"] == 60
    assert {"roc_auc", "accuracy", "precision", "recall", "brier", "base_rate"} <= set(model.metrics)
    assert status["training"]["state"] == "done"
    open_lead.refresh_from_db()
    assert open_lead.score_source == "model"


def test_a_second_training_request_while_one_runs_is_folded_in(history):
    cache.add(scoring.TRAINING_LOCK, 1)
    assert scoring.train() is None


def test_should_train_once_enough_closed_leads_and_again_after_growth(stages, history, on_commit):
    assert scoring.should_train()
    with on_commit():
        scoring.train()
    assert not scoring.should_train()
    for _ in range(20):
        LeadFactory(stage=stages["won"])
    assert scoring.should_train()


def test_a_corrupt_model_file_falls_back_to_the_heuristic(stages, live_model, on_commit, caplog):
    model_file = scoring.model_status()["model"]["path"]
    with open(model_file, "r+b") as handle:
        handle.write(b"garbage")
    lead = LeadFactory(stage=stages["new"])
    with caplog.at_level(logging.ERROR), on_commit():
        scoring.rescore()
    lead.refresh_from_db()
    assert lead.score_source == "heuristic"
    assert "model not loaded" in caplog.text
    assert scoring.model_status()["load_error"]  # the dashboard says why the heuristic is back


def test_explanations_name_factors_raising_and_lowering(stages, live_model, source):
    lead = LeadFactory(stage=stages["new"], source=source, engagement_level=3, lead_score=50)
    explanation = scoring.explain(lead)
    assert explanation.source == "model"
    assert explanation.raising or explanation.lowering
    assert all(effect > 0 for _, effect in explanation.raising)
    assert all(effect < 0 for _, effect in explanation.lowering)


def test_the_live_model_is_read_once_per_file_until_reset(stages, history, on_commit, monkeypatch):
    with on_commit():
        scoring.train()
    reads = []
    load = scoring.registry.load
    monkeypatch.setattr(scoring.registry, "load", lambda *args: reads.append(args) or load(*args))
    scoring.live_model.reset()

    first, again = scoring.current_model(), scoring.current_model()
    scoring.live_model.reset()
    after_reset = scoring.current_model()

    assert first is again is not None
    assert after_reset is not first
    assert len(reads) == 2
