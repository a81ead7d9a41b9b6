"""Fixtures for the ml package: synthetic leads, one trained model shared by the session, the bank data."""

from datetime import UTC, datetime

import pytest

from ml.features import build_frame
from ml.train import train
from tests.datasets import read_bank_csv, synthetic_records

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def now():
    return NOW


@pytest.fixture(scope="session")
def synthetic():
    """(records, converted) with a learnable signal; session-wide because training on it is the slow part."""
    return synthetic_records(1500, NOW, seed=7)


@pytest.fixture(scope="session")
def synthetic_frame(synthetic):
    return build_frame(synthetic[0], NOW)


@pytest.fixture(scope="session")
def trained_model(synthetic_frame, synthetic):
    return train(synthetic_frame, synthetic[1], seed=0)


@pytest.fixture(scope="session")
def bank_data(bank_csv):
    return read_bank_csv(bank_csv)
