"""Lead records for tests and benchmarks: the real bank data and a synthetic generator (no production use)."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

# The UCI bank marketing data (see shared/data/README.md); CI places shared/ beside the repository clone.
BANK_CSV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "bank-full.csv"

# `y` is the outcome and `duration` (length of the last call) is only known once the call is over and
# almost decides `y`; a model that scores leads before contact must see neither.
BANK_OUTCOME = "y"
BANK_LEAKY = ("y", "duration")

SOURCES = ("Referral", "Website", "Trade show", "Cold call", "Partner")
_SOURCE_LIFT = (1.2, 0.3, 0.5, -0.8, 0.6)
OWNERS = ("alice", "bob", "carol", None)
INDUSTRIES = ("retail", "finance", "health", "education", "manufacturing", "logistics")


def read_bank_csv(path: Path | str) -> tuple[list[dict], list[bool]]:
    """Bank marketing rows as lead records: every column but y/duration goes into `attributes`.

    Values stay strings as a CSV import would store them, so `build_frame`'s numeric detection is exercised.
    """
    records: list[dict] = []
    converted: list[bool] = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            converted.append(row[BANK_OUTCOME].strip().lower() == "yes")
            attributes = {key: value for key, value in row.items() if key not in BANK_LEAKY}
            records.append(_record(attributes))
    return records, converted


def _record(attributes: dict) -> dict:
    return {
        "created_at": None,
        "interactions": {},
        "last_interaction_at": None,
        "engagement_level": 0,
        "source": None,
        "owner": None,
        "priority": 2,
        "value": None,
        "attributes": attributes,
    }


def synthetic_records(n: int, now: datetime, seed: int = 0) -> tuple[list[dict], list[bool]]:
    """Plausible CRM leads with a learnable signal (engaged, met, referred leads convert more)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    source_idx = rng.integers(len(SOURCES), size=n)
    meetings = rng.poisson(np.exp(-0.5 + 0.6 * z))
    calls = rng.poisson(np.exp(0.5 + 0.3 * z))
    emails = rng.poisson(np.exp(1.0 + 0.1 * z))
    notes = rng.poisson(1.0, size=n)
    engagement = np.clip(np.round(1.5 + 0.9 * z + rng.normal(scale=0.6, size=n)), 0, 3).astype(int)
    age = rng.uniform(1, 365, size=n)
    since = np.minimum(age, rng.exponential(np.exp(2.5 - 0.5 * z)))
    contacted = (meetings + calls + emails + notes) > 0
    priority = rng.integers(1, 5, size=n)
    value = np.round(rng.lognormal(8.5, 1.0, size=n), 2)
    has_value = rng.random(n) < 0.7
    industry = rng.integers(len(INDUSTRIES), size=n)
    employees = rng.lognormal(4, 1.5, size=n).astype(int) + 1
    owner = rng.integers(len(OWNERS), size=n)
    logit = -1.6 + 1.3 * z + np.take(_SOURCE_LIFT, source_idx) + 0.15 * (priority - 2)
    converted = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))

    records = []
    for i in range(n):
        created = now - timedelta(days=float(age[i]))
        records.append(
            {
                "created_at": created,
                "interactions": {
                    "call": int(calls[i]),
                    "email": int(emails[i]),
                    "meeting": int(meetings[i]),
                    "note": int(notes[i]),
                },
                "last_interaction_at": now - timedelta(days=float(since[i])) if contacted[i] else None,
                "engagement_level": int(engagement[i]),
                "source": SOURCES[source_idx[i]],
                "owner": OWNERS[owner[i]],
                "priority": int(priority[i]),
                "value": float(value[i]) if has_value[i] else None,
                "attributes": {
                    "industry": INDUSTRIES[industry[i]],
                    "employees": str(employees[i]) if i % 17 else "",
                },
            }
        )
    return records, [bool(c) for c in converted]
