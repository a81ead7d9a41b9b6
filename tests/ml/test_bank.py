"""The real UCI bank marketing data (see shared/data/README.md); `duration` and `y` never reach the model."""

import pytest
from sklearn.model_selection import train_test_split

from ml.features import build_frame
from ml.train import train


def test_bank_rows_become_records_without_outcome_or_duration(bank_data):
    records, converted = bank_data

    assert len(records) == len(converted) == 45_211
    assert sum(converted) == 5_289
    assert "y" not in records[0]["attributes"]
    assert "duration" not in records[0]["attributes"]


def test_bank_numeric_columns_are_detected_from_text(bank_data, now):
    frame = build_frame(bank_data[0][:500], now)

    assert frame["attr_balance"].dtype == float
    assert frame["attr_pdays"].dtype == float
    assert frame["attr_job"].dtype == object


def test_stratified_bank_sample_trains_a_useful_model(bank_data, now):
    records, converted = bank_data
    sample, _ = train_test_split(range(len(records)), train_size=5000, stratify=converted, random_state=0)

    model = train(build_frame([records[i] for i in sample], now), [converted[i] for i in sample], seed=0)

    assert model.metrics["roc_auc"] >= 0.74
    assert model.metrics["base_rate"] == pytest.approx(0.117, abs=0.002)


@pytest.mark.slow
def test_full_bank_data_reaches_held_out_auc_of_0_79(bank_data, now):
    records, converted = bank_data

    model = train(build_frame(records, now), converted, seed=0)

    assert model.metrics["roc_auc"] >= 0.79
    assert model.metrics["n_leads"] == 45_211
