import json
from datetime import datetime

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ml.features import build_frame
from ml.scoring import heuristic_scores, source_conversion_rates
from ml.train import (
    MIN_CLOSED,
    NotEnoughData,
    Platt,
    calibration_error,
    informative_columns,
    reliability,
    train,
)
from tests.datasets import synthetic_records


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
    assert set(metrics["cv"]) == {"logreg", "forest", "hgb", "ensemble"}
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


def test_mostly_empty_and_unique_per_lead_columns_are_dropped_with_the_reason(now):
    records = [
        {
            "engagement_level": i % 4,
            "attributes": {
                "email": f"person{i}@example.com",
                "customer_id": 1000 + i,
                "fax": "555-0100" if i < 2 else "",
                "city": ("Lisbon", "Porto")[i % 2],
            },
        }
        for i in range(80)
    ]

    numeric, categorical, dropped = informative_columns(build_frame(records, now))

    reasons = {d["label"]: d["reason"] for d in dropped}
    assert reasons["email"] == "80 different values in 80 leads: an id, a name or free text"
    assert reasons["customer_id"] == "a different number on every lead: an id"
    assert reasons["fax"] == "empty on 98% of leads"
    assert "attr_city" in categorical
    assert "engagement_level" in numeric


def test_dropped_columns_and_their_reasons_reach_the_metrics(now):
    records = [{"engagement_level": i % 4, "attributes": {"email": f"p{i}@example.com"}} for i in range(60)]
    converted = [i % 4 >= 2 for i in range(60)]

    model = train(build_frame(records, now), converted, candidates=("logreg",))

    assert {
        "name": "attr_email",
        "label": "email",
        "reason": "60 different values in 60 leads: an id, a name or free text",
    } in model.metrics["dropped"]
    assert "attr_email" not in {f["name"] for f in model.features}


def test_rare_categories_are_pooled_and_counted(now):
    cities = ["Lisbon"] * 40 + ["Porto"] * 30 + [f"Village {i}" for i in range(10)]
    records = [{"engagement_level": i % 4, "attributes": {"city": city}} for i, city in enumerate(cities)]
    converted = [i % 4 >= 2 for i in range(80)]

    model = train(build_frame(records, now), converted, candidates=("logreg",))

    assert model.metrics["pooled"] == {"city": 10}
    encoder = model.pipeline.estimators[0].named_steps["prepare"].named_transformers_["categorical"]
    assert len(encoder.get_feature_names_out()) == 3  # Lisbon, Porto, and one column for the ten villages


@pytest.fixture(scope="module")
def small_model(synthetic_frame, synthetic):
    return train(synthetic_frame.head(300), synthetic[1][:300], seed=0)


def test_calibration_is_sigmoid_on_small_histories_and_isotonic_on_large(small_model, trained_model):
    assert small_model.metrics["calibration"] == "sigmoid"
    assert trained_model.metrics["calibration"] == "isotonic"


def test_small_histories_are_cross_validated_with_repeated_folds(small_model, trained_model):
    assert small_model.metrics["cv_folds"] == 15  # 5 folds, three times
    assert trained_model.metrics["cv_folds"] == 3


def test_learning_curve_grows_to_the_training_split(small_model):
    curve = small_model.metrics["learning_curve"]

    assert [point["n"] for point in curve] == [50, 100, 225]  # sizes up to 80% of the split, then it
    assert curve[-1]["auc"] == small_model.metrics["roc_auc"]
    assert all(0.0 <= point["auc"] <= 1.0 for point in curve)


def test_reliability_bins_cover_the_held_out_leads_in_equal_groups(small_model):
    bins = small_model.metrics["reliability"]

    assert sum(b["n"] for b in bins) == small_model.metrics["n_test"]
    assert max(b["n"] for b in bins) - min(b["n"] for b in bins) <= 1
    assert [b["predicted"] for b in bins] == sorted(b["predicted"] for b in bins)


def test_calibration_error_is_zero_when_predictions_match_outcome_rates():
    y = [0, 0, 0, 1] * 25 + [1, 1, 1, 0] * 25
    proba = [0.25] * 100 + [0.75] * 100

    assert calibration_error(y, proba, bins=2) == pytest.approx(0.0)
    assert calibration_error(y, [0.5] * 200, bins=2) == pytest.approx(0.25)
    assert len(reliability(y, proba)) == 10


def test_the_heuristic_weighs_in_on_small_histories_and_not_on_large(synthetic_frame, synthetic, monkeypatch):
    small = train(synthetic_frame.head(120), synthetic[1][:120], seed=0, candidates=("logreg",))
    monkeypatch.setattr("ml.train.BLEND_MAX_CLOSED", 100)
    large = train(synthetic_frame.head(120), synthetic[1][:120], seed=0, candidates=("logreg",))

    assert small.metrics["model_weight"] < 1.0
    assert small.metrics["heuristic_auc"] is not None
    assert large.metrics["model_weight"] == 1.0
    assert large.pipeline.prior is None


@pytest.mark.xfail(
    strict=True,
    reason="not yet: mean 0.728 against the heuristic's 0.732 (seed 4: 0.70 against 0.72). On these "
    "histories the heuristic already has the signal a model can find in 45 training leads: a fixed "
    "model share of 0.1, 0.25, 0.5 gives 0.733, 0.727, 0.709; stacking (the heuristic's log-odds as a "
    "feature of a penalised logistic regression) at best 0.733: within 0.001, mostly by breaking ties",
)
def test_sixty_closed_leads_score_better_than_the_heuristic_alone(now):
    """Averaged over 5 histories of 60 leads, judged on 3,000 other leads (the heuristic uses the same
    source rates it would use in production, from the 60)."""
    model_aucs, heuristic_aucs = [], []
    test_records, test_converted = synthetic_records(3000, now, seed=99)
    test_frame = build_frame(test_records, now)
    for seed in range(5):
        records, converted = synthetic_records(60, now, seed=seed)
        frame = build_frame(records, now)
        model = train(frame, converted, seed=0)
        rates, base_rate = source_conversion_rates(frame["source"], converted)
        model_aucs.append(roc_auc_score(test_converted, model.predict_proba(test_frame)))
        heuristic_aucs.append(roc_auc_score(test_converted, heuristic_scores(test_frame, rates, base_rate)))

    assert np.mean(model_aucs) > np.mean(heuristic_aucs)


def test_sigmoid_calibration_never_turns_the_ranking_around():
    scores = np.linspace(-3, 3, 100)
    y = (scores < 0).astype(int)  # out-of-fold scores that ranked backwards by bad luck

    proba = Platt().fit(scores, y).predict(scores)

    assert np.all(np.diff(proba) > 0)
    assert proba.mean() == pytest.approx(0.5, abs=0.02)
