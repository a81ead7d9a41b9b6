import json
from datetime import datetime

import numpy as np
import pytest

from ml.features import build_frame
from ml.train import MIN_CLOSED, NotEnoughData, train


def test_too_few_closed_leads_raise_not_enough_data_saying_how_many_more(synthetic_frame):
    converted = [True] * 3 + [False] * 9

    with pytest.raises(NotEnoughData) as caught:
        train(synthetic_frame.head(12), converted)

    assert caught.value.needed == MIN_CLOSED - 12
    assert str(caught.value) == (
        "Need at least 50 closed leads with both outcomes: have 12 (3 won, 9 lost); "
        "38 more closed leads needed to learn."
    )


def test_one_sided_outcomes_raise_not_enough_data_with_nothing_more_needed(synthetic_frame):
    with pytest.raises(NotEnoughData) as caught:
        train(synthetic_frame.head(80), [False] * 80)

    assert caught.value.needed == 0
    assert "both outcomes" in str(caught.value)
    assert "won" in str(caught.value)


def test_not_enough_data_is_a_value_error():
    assert issubclass(NotEnoughData, ValueError)


def test_metrics_are_present_and_sane(trained_model, synthetic):
    metrics = trained_model.metrics

    for key in ("roc_auc", "accuracy", "precision", "recall", "brier", "base_rate"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["roc_auc"] > 0.65
    assert metrics["n_train"] + metrics["n_test"] == metrics["n_leads"] == len(synthetic[1])
    assert metrics["n_test"] == pytest.approx(0.25 * metrics["n_leads"], abs=1)
    assert set(metrics["cv"]) == {"logreg", "forest", "hgb"}
    assert metrics["model"] in metrics["cv"]


def test_metrics_and_features_are_json_serialisable(trained_model):
    json.dumps({"metrics": trained_model.metrics, "features": trained_model.features}, allow_nan=False)


def test_features_list_names_with_kinds(trained_model):
    kinds = {f["name"]: f["kind"] for f in trained_model.features}

    assert kinds["n_meeting"] == "numeric"
    assert kinds["source"] == "categorical"
    assert kinds["attr_industry"] == "categorical"


def test_trained_at_is_iso_utc(trained_model):
    assert datetime.fromisoformat(trained_model.trained_at).utcoffset().total_seconds() == 0


def test_baseline_has_a_reference_for_every_feature(trained_model):
    assert set(trained_model.baseline) == {f["name"] for f in trained_model.features}


def test_calibrated_probabilities_lie_in_unit_interval(trained_model, synthetic_frame):
    proba = trained_model.pipeline.predict_proba(synthetic_frame)

    assert proba.shape == (len(synthetic_frame), 2)
    assert np.all((proba >= 0) & (proba <= 1))


def test_prediction_tolerates_missing_and_extra_columns(trained_model, synthetic_frame):
    frame = synthetic_frame.head(20).drop(columns=["attr_industry", "value"])
    frame["attr_new_column"] = "surprise"

    proba = trained_model.predict_proba(frame)

    assert proba.shape == (20,)
    assert np.all((proba >= 0) & (proba <= 1))


def test_unseen_category_is_ignored_at_prediction(trained_model, synthetic_frame):
    frame = synthetic_frame.head(5).copy()
    frame["source"] = "Carrier pigeon"

    assert trained_model.predict_proba(frame).shape == (5,)


def test_progress_is_reported_from_start_to_done(synthetic_frame, synthetic):
    calls = []

    train(synthetic_frame, synthetic[1], candidates=("logreg",), progress=lambda s, f: calls.append((s, f)))

    fractions = [f for _, f in calls]
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert any("logreg" in stage for stage, _ in calls)


def test_same_seed_gives_same_metrics(synthetic_frame, synthetic):
    first = train(synthetic_frame, synthetic[1], candidates=("logreg",), seed=3)
    second = train(synthetic_frame, synthetic[1], candidates=("logreg",), seed=3)

    assert {k: v for k, v in first.metrics.items() if k != "train_seconds"} == {
        k: v for k, v in second.metrics.items() if k != "train_seconds"
    }


def test_constant_imported_columns_are_not_features(now):
    records = [{"engagement_level": i % 4, "attributes": {"country": "PT"}} for i in range(60)]
    converted = [i % 4 >= 2 for i in range(60)]

    model = train(build_frame(records, now), converted, candidates=("logreg",))

    assert [f["name"] for f in model.features] == ["engagement_level"]


def test_unknown_candidate_is_rejected(synthetic_frame, synthetic):
    with pytest.raises(ValueError, match="Unknown candidates"):
        train(synthetic_frame, synthetic[1], candidates=("svm",))


def test_outcome_count_must_match_rows(synthetic_frame):
    with pytest.raises(ValueError, match="outcomes"):
        train(synthetic_frame, [True, False] * 10)
