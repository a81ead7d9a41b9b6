from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from ml.features import BASE_COLUMNS, align_frame, build_frame, column_kinds


def lead(**fields):
    record = {
        "created_at": None,
        "interactions": {},
        "last_interaction_at": None,
        "engagement_level": 1,
        "source": "Referral",
        "owner": "alice",
        "priority": 2,
        "value": 1000.0,
        "attributes": {},
    }
    record.update(fields)
    return record


def test_one_row_per_record_with_base_columns_in_order(now):
    frame = build_frame([lead(), lead()], now)

    assert len(frame) == 2
    assert list(frame.columns) == list(BASE_COLUMNS)


def test_interaction_counts_are_integers_and_missing_kinds_are_zero(now):
    frame = build_frame([lead(interactions={"meeting": 2, "call": 1})], now)

    row = frame.iloc[0]
    assert (row["n_meeting"], row["n_call"], row["n_email"], row["n_note"]) == (2, 1, 0, 0)
    assert row["n_interactions"] == 3
    assert frame["n_meeting"].dtype == np.int64


def test_ages_are_days_before_now(now):
    record = lead(created_at=now - timedelta(days=10), last_interaction_at=now - timedelta(hours=36))

    row = build_frame([record], now).iloc[0]

    assert row["age_days"] == pytest.approx(10)
    assert row["days_since_last_interaction"] == pytest.approx(1.5)


def test_never_contacted_lead_has_nan_days_since_last_interaction(now):
    frame = build_frame([lead(last_interaction_at=None)], now)

    assert np.isnan(frame["days_since_last_interaction"].iloc[0])


def test_missing_values_become_nan(now):
    record = {"source": "", "owner": None, "value": None}

    row = build_frame([record], now).iloc[0]

    assert pd.isna(row["source"])
    assert pd.isna(row["owner"])
    assert np.isnan(row["value"])
    assert np.isnan(row["priority"])
    assert row["n_interactions"] == 0


def test_mostly_numeric_attribute_becomes_float_and_stray_text_nan(now):
    values = [str(i) for i in range(39)] + ["n/a"]
    frame = build_frame([lead(attributes={"balance": v}) for v in values], now)

    column = frame["attr_balance"]
    assert column.dtype == float
    assert column.iloc[5] == 5.0
    assert np.isnan(column.iloc[-1])


def test_numbers_as_spreadsheets_write_them_in_quoted_cells_are_numbers(now):
    values = ["1,234.50", "$1,200", "12%", "3,5", " 42 ", "-7"] * 10 + ["n/a"]
    frame = build_frame([lead(attributes={"balance": v}) for v in values], now)

    column = frame["attr_balance"]
    assert column.dtype == float
    assert column.tolist()[:6] == [1234.5, 1200.0, 12.0, 3.5, 42.0, -7.0]
    assert np.isnan(column.iloc[-1])


def test_text_attribute_stays_categorical_with_nan_for_empty(now):
    values = ["retired", " admin. ", "", None, "7"]
    frame = build_frame([lead(attributes={"job": v}) for v in values], now)

    assert frame["attr_job"].tolist()[:2] == ["retired", "admin."]
    assert frame["attr_job"].isna().tolist() == [False, False, True, True, False]
    assert frame["attr_job"].iloc[4] == "7"


def test_attribute_absent_on_some_records_is_nan(now):
    frame = build_frame([lead(attributes={"age": 41}), lead(attributes={})], now)

    assert frame["attr_age"].tolist()[0] == 41.0
    assert np.isnan(frame["attr_age"].iloc[1])


def test_outcome_keys_on_a_record_do_not_become_columns(now):
    record = lead(stage="won", won_at=now, lost_at=None, converted=True)

    frame = build_frame([record], now)

    assert list(frame.columns) == list(BASE_COLUMNS)


def test_drop_attributes_keeps_leaky_columns_out(now):
    record = lead(attributes={"job": "retired", "y": "yes", "duration": "261"})

    frame = build_frame([record], now, drop_attributes=("y", "duration"))

    assert "attr_job" in frame.columns
    assert "attr_y" not in frame.columns
    assert "attr_duration" not in frame.columns


def test_empty_input_gives_empty_frame_with_base_columns(now):
    frame = build_frame([], now)

    assert len(frame) == 0
    assert list(frame.columns) == list(BASE_COLUMNS)


def test_column_kinds_splits_numeric_from_categorical(now):
    frame = build_frame([lead(attributes={"job": "retired", "age": "61"})], now)

    numeric, categorical = column_kinds(frame)

    assert {"age_days", "n_meeting", "priority", "value", "attr_age"} <= set(numeric)
    assert set(categorical) == {"source", "owner", "attr_job"}


def test_per_record_now_measures_each_lead_at_its_own_time(now):
    created = now - timedelta(days=30)
    records = [lead(created_at=created), lead(created_at=created)]

    frame = build_frame(records, [now - timedelta(days=20), now])

    assert frame["age_days"].tolist() == pytest.approx([10, 30])


def test_naive_datetimes_are_taken_as_utc(now):
    naive = (now - timedelta(days=2)).replace(tzinfo=None)

    frame = build_frame([lead(created_at=naive)], now)

    assert frame["age_days"].iloc[0] == pytest.approx(2)


def test_align_frame_adds_missing_and_drops_extra_columns(now):
    frame = pd.DataFrame({"a": [1.0], "extra": ["x"], "c": [3.0]})

    aligned = align_frame(frame, ["a", "b"], ["c", "d"])

    assert list(aligned.columns) == ["a", "b", "c", "d"]
    assert np.isnan(aligned["b"].iloc[0])
    assert aligned["c"].iloc[0] == "3"
    assert pd.isna(aligned["d"].iloc[0])
