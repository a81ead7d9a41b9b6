"""Train a lead-conversion model from closed leads.

Candidates are compared by cross-validated ROC AUC on a training split, the winner is calibrated so its
probabilities can be shown as scores, judged once on a held-out split, then refitted on everything.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import ThreadpoolController

from ml.features import align_frame, column_kinds

MIN_CLOSED = 50
# Each outcome needs a few examples so every CV fold and the held-out split contain both.
MIN_PER_OUTCOME = 5
TEST_SIZE = 0.25
CV_FOLDS = 3
CANDIDATES = ("logreg", "forest", "hgb")
# Categories seen fewer times than this share one "infrequent" column; caps junk like e-mail addresses.
MIN_CATEGORY_COUNT = 10
MAX_CATEGORIES = 30
# The forest is capped (trees, rows per tree) so it trains and scores 100k leads in seconds on two cores;
# on the bank data the caps halve its time at no measurable AUC cost.
FOREST_TREES = 100
FOREST_MAX_SAMPLES = 15_000
# Threads for the forest (plain threads: they just slow down gracefully when the box is busy).
N_JOBS = 2
# Native pools (OpenMP for gradient boosting, BLAS) spin-wait: next to busy web/worker processes a two-thread
# boosting fit measured ~10x slower than a one-thread fit, so training and scoring stay at one native thread.
NATIVE_THREADS = 1

Progress = Callable[[str, float], None]


class NotEnoughData(ValueError):
    """Raised instead of training a model that would only echo noise; `needed` drives the UI message."""

    def __init__(self, message: str, needed: int):
        super().__init__(message)
        self.needed = needed


@dataclass
class TrainedModel:
    """A fitted, calibrated model plus what the UI needs to describe and explain it (all plain data)."""

    pipeline: object
    metrics: dict
    features: list[dict]
    trained_at: str
    baseline: dict
    version: str

    @property
    def numeric(self) -> list[str]:
        return [f["name"] for f in self.features if f["kind"] == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f["name"] for f in self.features if f["kind"] == "categorical"]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Conversion probability per row; extra columns are ignored, missing ones count as unknown."""
        if len(frame) == 0:
            return np.zeros(0)
        with native_threads():
            return self.pipeline.predict_proba(frame)[:, 1]


class FrameAligner(TransformerMixin, BaseEstimator):
    """First pipeline step: reshape any lead frame to the training columns (see `align_frame`)."""

    def __init__(self, numeric: Sequence[str] = (), categorical: Sequence[str] = ()):
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return align_frame(X, self.numeric, self.categorical)


def train(
    frame: pd.DataFrame,
    converted: Sequence[bool | int],
    *,
    seed: int = 0,
    candidates: Sequence[str] = CANDIDATES,
    progress: Progress | None = None,
) -> TrainedModel:
    """Fit, compare, calibrate and evaluate; raises NotEnoughData when the history cannot support a model."""
    with native_threads():
        return _train(frame, converted, seed, candidates, progress)


def native_threads():
    """Context manager capping native thread pools at NATIVE_THREADS (see there for why)."""
    return _thread_controller().limit(limits=NATIVE_THREADS)


@functools.cache
def _thread_controller() -> ThreadpoolController:
    return ThreadpoolController()  # inspecting the loaded libraries takes milliseconds: do it once


def _train(
    frame: pd.DataFrame,
    converted: Sequence[bool | int],
    seed: int,
    candidates: Sequence[str],
    progress: Progress | None,
) -> TrainedModel:
    report = progress or (lambda stage, fraction: None)
    started = time.perf_counter()
    unknown = [name for name in candidates if name not in CANDIDATES]
    if unknown or not candidates:
        raise ValueError(f"Unknown candidates {unknown}; choose from {CANDIDATES}")
    y = (np.asarray(converted, dtype=float) > 0).astype(int)
    if len(y) != len(frame):
        raise ValueError(f"{len(frame)} rows but {len(y)} outcomes")
    check_enough(y)

    report("Preparing data", 0.0)
    frame = frame.reset_index(drop=True)
    numeric, categorical = _informative_columns(frame)
    if not numeric and not categorical:
        raise ValueError("Every feature column is constant: nothing to learn from")
    x_train, x_test, y_train, y_test = train_test_split(
        frame, y, test_size=TEST_SIZE, stratify=y, random_state=seed
    )
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)

    cv_scores: dict[str, float | None] = {}
    steps = len(candidates) + 3
    for i, name in enumerate(candidates):
        report(f"Cross-validating {name}", (i + 0.5) / steps)
        estimator = _candidate(name, numeric, categorical, seed, len(x_train))
        scores = cross_val_score(estimator, x_train, y_train, cv=folds, scoring="roc_auc", error_score=np.nan)
        # None, not NaN, when every fold failed: the metrics must stay valid JSON.
        cv_scores[name] = None if np.isnan(scores).all() else round(float(np.nanmean(scores)), 4)
    best = max(candidates, key=lambda name: -1.0 if cv_scores[name] is None else cv_scores[name])

    report(f"Calibrating {best}", (len(candidates) + 0.5) / steps)
    calibrated = _calibrated(_candidate(best, numeric, categorical, seed, len(x_train)), folds)
    calibrated.fit(x_train, y_train)

    report("Evaluating on held-out leads", (len(candidates) + 1.5) / steps)
    proba = calibrated.predict_proba(x_test)[:, 1]
    predicted = (proba >= 0.5).astype(int)
    metrics = {
        "model": best,
        "roc_auc": round(float(roc_auc_score(y_test, proba)), 4),
        "accuracy": round(float(accuracy_score(y_test, predicted)), 4),
        "precision": round(float(precision_score(y_test, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(y_test, predicted, zero_division=0)), 4),
        "brier": round(float(brier_score_loss(y_test, proba)), 4),
        "base_rate": round(float(y.mean()), 4),
        "n_train": len(y_train),
        "n_test": len(y_test),
        "n_leads": len(y),
        "cv": cv_scores,
    }

    report("Refitting on all leads", (len(candidates) + 2.5) / steps)
    final = _calibrated(_candidate(best, numeric, categorical, seed, len(frame)), folds).fit(frame, y)
    metrics["train_seconds"] = round(time.perf_counter() - started, 2)
    now = datetime.now(UTC)
    model = TrainedModel(
        pipeline=final,
        metrics=metrics,
        features=[{"name": c, "kind": "numeric"} for c in numeric]
        + [{"name": c, "kind": "categorical"} for c in categorical],
        trained_at=now.isoformat(timespec="seconds"),
        baseline=_baseline(frame, numeric, categorical),
        version=f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
    )
    report("Done", 1.0)
    return model


def check_enough(converted: Sequence[bool | int]) -> None:
    """Raise NotEnoughData unless there are MIN_CLOSED closed leads with enough of each outcome."""
    y = np.asarray(converted, dtype=float)
    total, won = len(y), int(np.sum(y > 0))
    lost = total - won
    have = f"have {total} ({won} won, {lost} lost)"
    if total < MIN_CLOSED:
        needed = MIN_CLOSED - total
        raise NotEnoughData(
            f"Need at least {MIN_CLOSED} closed leads with both outcomes: {have}; "
            f"{needed} more closed lead{'s' if needed != 1 else ''} needed to learn.",
            needed=needed,
        )
    if min(won, lost) < MIN_PER_OUTCOME:
        missing = "won" if won < MIN_PER_OUTCOME else "lost"
        raise NotEnoughData(
            f"Need at least {MIN_CLOSED} closed leads with both outcomes: {have}; "
            f"at least {MIN_PER_OUTCOME} {missing} leads are needed to learn what separates the two.",
            needed=0,
        )


def _informative_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Drop columns that are the same on every row (e.g. no interactions at all in imported data)."""
    numeric, categorical = column_kinds(frame)
    varying = {name for name in frame.columns if frame[name].nunique(dropna=False) > 1}
    return [c for c in numeric if c in varying], [c for c in categorical if c in varying]


def _candidate(name: str, numeric: list[str], categorical: list[str], seed: int, n_rows: int) -> Pipeline:
    """Preprocessing + classifier; linear models get scaled inputs, trees do not need them."""
    if name == "hgb":
        numeric_steps = "passthrough"  # handles NaN natively, and learns from missingness
        large = n_rows >= 2000  # early stopping's 10% validation split is noise on small histories
        model = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=600 if large else 100,
            early_stopping=large,
            min_samples_leaf=int(np.clip(n_rows // 500, 10, 50)),  # bigger leaves generalise on big data
            l2_regularization=1.0,
            random_state=seed,
        )
    elif name == "forest":
        numeric_steps = _imputer()
        model = RandomForestClassifier(
            n_estimators=FOREST_TREES,
            max_samples=FOREST_MAX_SAMPLES if n_rows > FOREST_MAX_SAMPLES else None,
            min_samples_leaf=5,
            max_features="sqrt",
            n_jobs=N_JOBS,
            random_state=seed,
        )
    else:
        numeric_steps = make_pipeline(_imputer(), StandardScaler())
        model = LogisticRegression(max_iter=2000)
    categories = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(
            handle_unknown="ignore",
            min_frequency=MIN_CATEGORY_COUNT,
            max_categories=MAX_CATEGORIES,
            sparse_output=False,
        ),
    )
    transformers = []
    if numeric:
        transformers.append(("numeric", numeric_steps, list(numeric)))
    if categorical:
        transformers.append(("categorical", categories, list(categorical)))
    return Pipeline(
        [
            ("align", FrameAligner(list(numeric), list(categorical))),
            ("prepare", ColumnTransformer(transformers)),
            ("model", model),
        ]
    )


def _imputer() -> SimpleImputer:
    return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)


def _calibrated(estimator: Pipeline, folds: StratifiedKFold) -> CalibratedClassifierCV:
    """Sigmoid keeps the ranking (so the AUC) of the winner and is stable on small histories."""
    return CalibratedClassifierCV(clone(estimator), method="sigmoid", cv=folds, ensemble=False)


def _baseline(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict:
    """Typical values (median/mode) that explanations swap in to measure each feature's effect."""
    baseline: dict[str, object] = {}
    for name in numeric:
        values = pd.to_numeric(frame[name], errors="coerce")
        median = values.median()
        baseline[name] = None if pd.isna(median) else float(median)
    for name in categorical:
        modes = align_frame(frame[[name]], [], [name])[name].mode(dropna=True)
        baseline[name] = None if modes.empty else str(modes.iloc[0])
    return baseline
