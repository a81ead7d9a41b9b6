"""Fixtures for the ml package: synthetic leads, one trained model shared by the session, the bank data."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ml.datasets import read_bank_csv, synthetic_records
from ml.features import build_frame
from ml.train import train

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
# CI places shared/ beside the repository clone; a git worktree may sit one level deeper.
_REPO = Path(__file__).resolve().parents[2]
BANK_CSV = next(
    (
        p / "shared" / "data" / "bank-full.csv"
        for p in _REPO.parents
        if (p / "shared/data/bank-full.csv").is_file()
    ),
    _REPO.parent / "shared" / "data" / "bank-full.csv",
)


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
def bank_data():
    if not BANK_CSV.is_file():
        pytest.skip(f"bank data not found at {BANK_CSV.resolve()} (CI places shared/ beside the repo)")
    return read_bank_csv(BANK_CSV)
