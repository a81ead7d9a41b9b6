"""Scores 0..100 for leads, from a trained model or, until there is one, from a transparent heuristic.

Reason effects are in score points (probability x 100 for the model), positive raising the score, so both
sources can be shown the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ml.features import ATTR_PREFIX, INTERACTION_KINDS, align_frame

if TYPE_CHECKING:  # ml.train imports this module for the heuristic prior
    from ml.train import TrainedModel

Reason = tuple[str, float]


@dataclass(frozen=True)
class Factor:
    """One feature's part in one lead's score: the column, the lead's value (NaN when missing), the wording,
    and the effect in score points. Callers that present reasons (grouping, thresholds) start from these."""

    feature: str
    value: object
    label: str
    effect: float


# --- Heuristic weights (points on the 0..100 scale) -------------------------------------------------------
# Start: a lead we know nothing about sits low; evidence has to earn the rest.
HEURISTIC_START = 20.0
# Per engagement level (none/low/medium/high = 0..3), so a highly engaged lead gets +30.
ENGAGEMENT_POINTS = 10.0
# Per interaction: a meeting shows far more intent than a note. Counts above the cap add nothing, so a
# flood of logged e-mails cannot max out the score.
INTERACTION_POINTS = {"meeting": 8.0, "call": 4.0, "email": 2.0, "note": 1.0}
INTERACTION_CAP = {"meeting": 3, "call": 3, "email": 4, "note": 3}
# Recency: +RECENCY_POINTS when contacted today, falling linearly to 0 at RECENCY_DAYS (two weeks without a
# word is where a lead starts to cool) and to -RECENCY_POINTS at twice that; never contacted gets 0 (no
# evidence either way).
RECENCY_POINTS = 10.0
RECENCY_DAYS = 14.0
# Per unit of (source conversion rate - overall rate): a source converting 34% against 12% overall adds 11.
SOURCE_POINTS = 50.0
# Per priority step away from normal: low -4, high +4, urgent +8 (the owner's own judgement counts a little).
PRIORITY_POINTS = 4.0
NORMAL_PRIORITY = 2

# Shrink per-source rates toward the overall rate as if each source had this many extra average leads.
SOURCE_PRIOR_LEADS = 10
# Explanations skip effects smaller than this many points: noise, not reasons.
MIN_EFFECT = 0.5

ENGAGEMENT_LABELS = ("none", "low", "medium", "high")
PRIORITY_LABELS = {1: "low", 2: "normal", 3: "high", 4: "urgent"}
_MISSING_LABELS = {"value": "No deal value", "source": "No source", "owner": "No owner"}


@dataclass
class Score:
    score: int
    source: str  # "model" or "heuristic"


def source_conversion_rates(
    sources: Sequence[str | None], converted: Sequence[bool | int]
) -> tuple[dict[str, float], float]:
    """(rate per source, overall rate) from closed leads, shrunk so a source with two wins is not "100%"."""
    y = np.asarray(converted, dtype=float)
    base_rate = float(y.mean()) if len(y) else 0.0
    frame = pd.DataFrame({"source": list(sources), "won": y}).dropna(subset=["source"])
    grouped = frame.groupby("source")["won"].agg(["sum", "count"])
    rates = (grouped["sum"] + SOURCE_PRIOR_LEADS * base_rate) / (grouped["count"] + SOURCE_PRIOR_LEADS)
    return {str(k): round(float(v), 4) for k, v in rates.items()}, round(base_rate, 4)


def heuristic_scores(
    frame: pd.DataFrame, source_rates: dict[str, float] | None = None, base_rate: float | None = None
) -> list[int]:
    """Vectorised heuristic score per row (see the weights above)."""
    parts = _heuristic_parts(frame, source_rates, base_rate)
    total = HEURISTIC_START + sum((points for points, _ in parts.values()), np.zeros(len(frame)))
    return np.clip(np.rint(total), 0, 100).astype(int).tolist()


def explain_heuristic(
    row_frame: pd.DataFrame,
    source_rates: dict[str, float] | None = None,
    base_rate: float | None = None,
    top: int = 3,
) -> list[Reason]:
    """The `top` contributions raising and the `top` lowering the heuristic score of the first row."""
    factors = heuristic_factors(row_frame, source_rates, base_rate)
    return _top([(f.label, f.effect) for f in factors], top)


def model_scores(model: TrainedModel, frame: pd.DataFrame) -> np.ndarray:
    """Calibrated probability x 100 as ints, in one predict_proba call."""
    return np.clip(np.rint(model.predict_proba(frame) * 100), 0, 100).astype(int)


def explain(model: TrainedModel, one_row_frame: pd.DataFrame, top: int = 3) -> list[Reason]:
    """Top factors raising and lowering one lead's probability, in score points."""
    return _top([(f.label, f.effect) for f in model_factors(model, one_row_frame)], top)


def model_factors(model: TrainedModel, one_row_frame: pd.DataFrame) -> list[Factor]:
    """Every feature's effect on one lead's probability, in score points, largest first.

    Each feature in turn is reset to its typical value (`model.baseline`); the change in probability is that
    feature's effect. All variants go through one predict_proba call.
    """
    names = [f["name"] for f in model.features]
    row = align_frame(one_row_frame.iloc[:1], model.numeric, model.categorical)
    variants = pd.concat([row] * (len(names) + 1), ignore_index=True)
    for i, name in enumerate(names, start=1):
        reference = model.baseline.get(name)
        variants.iat[i, variants.columns.get_loc(name)] = np.nan if reference is None else reference
    proba = model.predict_proba(variants)
    factors = [
        Factor(
            name,
            row[name].iloc[0],
            _feature_label(name, row[name].iloc[0]),
            round(float(proba[0] - proba[i]) * 100, 1),
        )
        for i, name in enumerate(names, start=1)
    ]
    return sorted(factors, key=lambda f: -abs(f.effect))


def score_leads(
    frame: pd.DataFrame,
    model: TrainedModel | None,
    source_rates: dict[str, float] | None = None,
    base_rate: float | None = None,
) -> list[Score]:
    """Batch scores: the model when there is one, the heuristic otherwise.

    No reasons here, to keep 100,000 leads fast: `explain`/`explain_heuristic` give them for one lead.
    """
    if model is not None:
        return [Score(int(s), "model") for s in model_scores(model, frame)]
    return [Score(s, "heuristic") for s in heuristic_scores(frame, source_rates, base_rate)]


def _top(reasons: list[Reason], top: int) -> list[Reason]:
    raising = sorted((r for r in reasons if r[1] >= MIN_EFFECT), key=lambda r: -r[1])[:top]
    lowering = sorted((r for r in reasons if r[1] <= -MIN_EFFECT), key=lambda r: r[1])[:top]
    return raising + lowering


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _heuristic_parts(
    frame: pd.DataFrame, source_rates: dict[str, float] | None, base_rate: float | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Points per component per row, with the raw value each label is written from."""
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    engagement = np.nan_to_num(np.clip(_column(frame, "engagement_level"), 0, 3))
    parts["engagement_level"] = (ENGAGEMENT_POINTS * engagement, engagement)
    for kind in INTERACTION_KINDS:
        count = np.nan_to_num(np.maximum(_column(frame, f"n_{kind}"), 0))
        points = INTERACTION_POINTS[kind] * np.minimum(count, INTERACTION_CAP[kind])
        parts[f"n_{kind}"] = (points, count)
    days = _column(frame, "days_since_last_interaction")
    recency = np.nan_to_num(RECENCY_POINTS * np.clip(1 - days / RECENCY_DAYS, -1, 1))
    parts["days_since_last_interaction"] = (recency, days)
    priority = _column(frame, "priority")
    parts["priority"] = (np.nan_to_num(PRIORITY_POINTS * (priority - NORMAL_PRIORITY)), priority)
    if source_rates:
        reference = base_rate if base_rate is not None else float(np.mean(list(source_rates.values())))
        source = frame["source"] if "source" in frame.columns else pd.Series(np.nan, index=frame.index)
        rate = source.map(source_rates).to_numpy(dtype=float)
        parts["source"] = (np.nan_to_num(SOURCE_POINTS * (rate - reference)), rate)
    return parts


def heuristic_factors(
    row_frame: pd.DataFrame, source_rates: dict[str, float] | None = None, base_rate: float | None = None
) -> list[Factor]:
    """The heuristic's components for the first row that move its score, largest first."""
    row = row_frame.iloc[:1]
    factors = []
    for name, (points, value) in _heuristic_parts(row, source_rates, base_rate).items():
        effect = round(float(points[0]), 1)
        if effect == 0:
            continue
        if name == "source":
            label = f"Source: {row['source'].iloc[0]} converts {value[0]:.0%}"
            raw = row["source"].iloc[0]
        else:
            label = _feature_label(name, value[0])
            raw = row[name].iloc[0] if name in row.columns else value[0]
        factors.append(Factor(name, raw, label, effect))
    return sorted(factors, key=lambda f: -abs(f.effect))


def _feature_label(name: str, value: object) -> str:
    """Human wording for one feature value, e.g. "3 meetings", "No contact for 21 days", "job = retired"."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if name == "days_since_last_interaction":
        if missing:
            return "Never contacted"
        days = int(value)
        if days < 1:
            return "Contacted today"
        return (
            f"Last contact {_plural(days, 'day')} ago"
            if days < RECENCY_DAYS
            else f"No contact for {days} days"
        )
    if name.startswith(ATTR_PREFIX):
        key = name[len(ATTR_PREFIX) :]
        return f"{key} unknown" if missing else f"{key} = {_format(value)}"
    if missing:
        return _MISSING_LABELS.get(name, f"{name} unknown")
    if name.startswith("n_"):
        noun = name[2:].replace("interactions", "interaction")
        return _plural(int(value), noun) if value else f"No {noun}s"
    if name == "age_days":
        return f"Lead is {_plural(int(value), 'day')} old"
    if name == "engagement_level":
        return f"Engagement: {ENGAGEMENT_LABELS[int(np.clip(value, 0, 3))]}"
    if name == "priority":
        return f"Priority: {PRIORITY_LABELS.get(int(value), _format(value))}"
    if name == "value":
        return f"Deal value {float(value):,.0f}"
    if name in ("source", "owner"):
        return f"{name.capitalize()}: {value}"
    return f"{name} = {_format(value)}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _format(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{float(value):.4g}"
    return str(value)
