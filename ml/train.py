"""Train a lead-conversion model from closed leads.

Built for small histories first (a team's first few hundred closed leads) and for speed at any size:

1. Columns that cannot generalise are dropped with a reason (constant, almost all empty, an id or free text).
2. On a training split, candidates regularised for small data are compared by cross-validated ROC AUC:
   repeated stratified folds while the history is small (one split of 150 leads is noise), fewer folds as it
   grows, one validation split when it is large. The held-out split is never used for the choice.
3. Below BLEND_MAX_CLOSED the heuristic is a prior: the model's logit is shrunk towards the heuristic's with a
   weight chosen on the same out-of-fold predictions, so the model earns its share as the history grows.
4. The out-of-fold predictions also fit the calibration (sigmoid on small data, isotonic on large), so no
   model is refitted only to calibrate. The winner is fitted once on the training split (judged on the
   held-out split) and once on everything (the model that is shipped).
5. A learning curve (held-out AUC against history size) tells a manager whether more history will help.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
    train_test_split,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

from ml.features import ATTR_PREFIX, align_frame, column_kinds
from ml.scoring import heuristic_scores, source_conversion_rates

MIN_CLOSED = 50
# Each outcome needs a few examples so every CV fold and the held-out split contain both.
MIN_PER_OUTCOME = 5
TEST_SIZE = 0.25
CANDIDATES = ("logreg", "forest", "hgb")
# The mean of the two best candidates' probabilities: shipped on small histories, a candidate on larger ones.
ENSEMBLE = "ensemble"

# --- How hard to search, by the size of the training split ------------------------------------------------
# Below REPEATED_BELOW training leads, 5 folds repeated (3 times below HEAVY_REPEATS_BELOW, else twice): with
# ~20 wins in 150 leads one 5-fold split ranks the candidates by luck. Below ONE_SPLIT_FROM, 3 folds; from
# there on one 20% validation split measures AUC to about +-0.01, and the random forest (never the winner
# on large data here, and the slowest to fit) is left out.
HEAVY_REPEATS_BELOW = 250
REPEATED_BELOW = 1000
ONE_SPLIT_FROM = 10_000
VALIDATION_SIZE = 0.2

# --- The heuristic as a prior -------------------------------------------------------------------------------
# Histories of this many closed leads and more train without it: the model has long outgrown it.
BLEND_MAX_CLOSED = 5000
# Candidate shares of the model in the blend (1.0 = the model alone).
MODEL_WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))
PRIOR_LEADS = 150

# --- Calibration --------------------------------------------------------------------------------------------
# Isotonic needs many out-of-fold predictions to not overfit; below this many closed leads, sigmoid.
ISOTONIC_FROM = 1000
# Probabilities are clipped away from 0 and 1 before taking logits: a forest says 0.0 and 1.0, and a logit of
# -9 would outvote the heuristic prior in any blend.
_EPS = 0.005

# --- Columns ------------------------------------------------------------------------------------------------
# A column empty on at least this share of leads is dropped: what little it says is mostly noise.
MAX_EMPTY_SHARE = 0.95
# A text column with a distinct value on at least this share of the leads that have one (and at least
# UNIQUE_MIN_VALUES values) is an id, a name or free text: memorising it is all a model could do.
UNIQUE_SHARE = 0.5
UNIQUE_MIN_VALUES = 20
# A numeric column named like an id and different on every lead is a row number, not a property of the lead.
_ID_NAME = re.compile(r"(^|_)(id|ids|uuid|number|no|nr|ref|reference|key)$", re.IGNORECASE)
# Categories seen fewer times than this share one "infrequent" column; caps junk like e-mail addresses.
MIN_CATEGORY_COUNT = 10
MAX_CATEGORIES = 30

# --- Candidates ---------------------------------------------------------------------------------------------
# Boosted trees switch from a fixed small ensemble to early stopping once a fit sees this many leads: below
# it, the 10% validation split that early stopping holds back is a few wins, so it stops at random.
HGB_EARLY_STOPPING_FROM = 2000
# The forest is capped (trees, rows per tree) so it trains and scores 100k leads in seconds on two cores.
FOREST_TREES = 100
FOREST_MAX_SAMPLES = 15_000
# Threads for the forest (plain threads: they just slow down gracefully when the box is busy).
N_JOBS = 2
# Native pools (OpenMP for gradient boosting, BLAS) spin-wait: next to busy web/worker processes a two-thread
# boosting fit measured ~10x slower than a one-thread fit, so training and scoring stay at one native thread.
NATIVE_THREADS = 1

# The logistic regression's inverse penalty strengths, chosen by the same cross-validation as the candidates
# (a nested LogisticRegressionCV costs ten times more for the same choice).
LOGREG_C = (0.01, 0.03, 0.1, 0.3, 1.0)

# --- Learning curve -----------------------------------------------------------------------------------------
CURVE_SIZES = (50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000)
# Small points are averaged over this many samples; a single sample of 50 leads is mostly luck.
CURVE_REPEATS_BELOW = 200
CURVE_REPEATS = 2
RELIABILITY_BINS = 10

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


class PooledOneHot(TransformerMixin, BaseEstimator):
    """One-hot text columns; missing is a value of its own, and values seen fewer than `min_frequency` times
    (or beyond the `max_categories - 1` most frequent) share one "infrequent" column, as unseen values do.

    What OneHotEncoder(min_frequency, max_categories, handle_unknown="infrequent_if_exist") does, counted by
    pandas instead of its per-value Python loop over object arrays (about 2 s a fit on 45,000 leads).
    """

    def __init__(self, min_frequency: int = MIN_CATEGORY_COUNT, max_categories: int = MAX_CATEGORIES):
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    def fit(self, X, y=None):
        frame = self._frame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.categories_, self.infrequent_ = [], []
        for name in frame.columns:
            counts = frame[name].value_counts(sort=False)
            frequent = counts[counts >= self.min_frequency]
            kept = frequent.sort_values(ascending=False, kind="stable").index[: self.max_categories - 1]
            self.categories_.append(np.asarray(sorted(kept), dtype=object))
            self.infrequent_.append(len(kept) < len(counts))
        return self

    def transform(self, X) -> np.ndarray:
        frame = self._frame(X)
        widths = [len(c) + int(i) for c, i in zip(self.categories_, self.infrequent_, strict=True)]
        out = np.zeros((len(frame), sum(widths)))
        rows, offset = np.arange(len(frame)), 0
        for name, categories, infrequent, width in zip(
            frame.columns, self.categories_, self.infrequent_, widths, strict=True
        ):
            codes = pd.Categorical(frame[name], categories=categories).codes.astype(np.intp)
            if infrequent:
                codes = np.where(codes < 0, len(categories), codes)
            known = codes >= 0
            out[rows[known], offset + codes[known]] = 1.0
            offset += width
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = []
        for name, categories, infrequent in zip(
            self.feature_names_in_, self.categories_, self.infrequent_, strict=True
        ):
            names += [f"{name}_{value}" for value in categories]
            names += [f"{name}_infrequent"] if infrequent else []
        return np.asarray(names, dtype=object)

    @staticmethod
    def _frame(X) -> pd.DataFrame:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=object))
        return frame.astype(object).fillna("(missing)")


class HeuristicPrior(BaseEstimator):
    """The heuristic score turned into a log-odds by a one-feature logistic fit on the same leads.

    Source conversion rates are learnt from the leads it is fitted on, like the heuristic's in production.
    """

    def __init__(self, numeric: Sequence[str] = (), categorical: Sequence[str] = ()):
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y):
        frame = align_frame(X, self.numeric, self.categorical)
        sources = frame["source"] if "source" in frame.columns else pd.Series(np.nan, index=frame.index)
        self.rates_, self.base_rate_ = source_conversion_rates(sources.tolist(), y)
        self.logistic_ = LogisticRegression().fit(self._points(frame), y)
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.logistic_.decision_function(self._points(align_frame(X, self.numeric, self.categorical)))

    def _points(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(heuristic_scores(frame, self.rates_, self.base_rate_), dtype=float)[:, None] / 10


class ScoreModel(ClassifierMixin, BaseEstimator):
    """What is shipped: fitted candidate(s), shrunk towards the heuristic prior, then calibrated.

    score = w * logit(mean of candidates) + (1 - w) * prior log-odds, w = model_weight; then the calibrator.
    """

    def __init__(self, estimators=(), prior=None, model_weight: float = 1.0, calibrator=None):
        self.estimators = estimators
        self.prior = prior
        self.model_weight = model_weight
        self.calibrator = calibrator

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        proba = np.mean([e.predict_proba(X)[:, 1] for e in self.estimators], axis=0)
        return _blend(_logit(proba), self._prior(X), self.model_weight)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = _calibrate(self.calibrator, self.decision_function(X))
        return np.column_stack([1 - proba, proba])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def _prior(self, X: pd.DataFrame) -> np.ndarray | None:
        return None if self.prior is None or self.model_weight >= 1 else self.prior.decision_function(X)


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


def _one_native_thread(func):
    """For work run on a pool thread: OpenMP's thread count is per calling thread, so the limit set by
    `train` on the main thread does not reach the pool's threads (each boosting fit there ran two spinning
    OpenMP threads, four on two cores)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with native_threads():
            return func(*args, **kwargs)

    return wrapper


@functools.cache
def _thread_controller() -> ThreadpoolController:
    return ThreadpoolController()  # inspecting the loaded libraries takes milliseconds: do it once


class _Reporter:
    """Progress in units of work (rows fitted), the work that takes the time, so the bar moves as time passes.

    Calls are thinned to a new stage or 5% more, since each one may update every manager's dashboard.
    """

    def __init__(self, progress: Progress | None, total_fits: int):
        self.progress = progress
        self.total = max(total_fits, 1)
        self.done = 0
        self.last: tuple[str, float] = ("", -1.0)

    def fitted(self, stage: str, units: int = 1) -> None:
        self.done += units
        self.say(stage)

    def say(self, stage: str, fraction: float | None = None) -> None:
        fraction = min(self.done / self.total, 0.99) if fraction is None else fraction
        if self.progress and (stage != self.last[0] or fraction - self.last[1] >= 0.05 or fraction == 1.0):
            self.progress(stage, round(fraction, 3))
            self.last = (stage, fraction)


def _train(
    frame: pd.DataFrame,
    converted: Sequence[bool | int],
    seed: int,
    candidates: Sequence[str],
    progress: Progress | None,
) -> TrainedModel:
    started = time.perf_counter()
    unknown = [name for name in candidates if name not in CANDIDATES]
    if unknown or not candidates:
        raise ValueError(f"Unknown candidates {unknown}; choose from {CANDIDATES}")
    y = (np.asarray(converted, dtype=float) > 0).astype(int)
    if len(y) != len(frame):
        raise ValueError(f"{len(frame)} rows but {len(y)} outcomes")
    check_enough(y)
    if progress:
        progress("Preparing data", 0.0)

    frame = frame.reset_index(drop=True)
    numeric, categorical, dropped = informative_columns(frame)
    if not numeric and not categorical:
        raise ValueError("Every feature column is constant: nothing to learn from")
    columns = (numeric, categorical)
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=TEST_SIZE, stratify=y, random_state=seed
    )
    x_train, y_train = frame.iloc[train_idx].reset_index(drop=True), y[train_idx]
    x_test, y_test = frame.iloc[test_idx].reset_index(drop=True), y[test_idx]
    n_train = len(y_train)
    splits = list(_splitter(n_train, seed).split(x_train, y_train))
    repeats = _repeats(n_train)
    names = [n for n in candidates if not (n == "forest" and n_train >= ONE_SPLIT_FROM)] or list(candidates)
    variants = [(name, option) for name in names for option in _options(name, n_train)]
    use_prior = len(y) < BLEND_MAX_CLOSED and _heuristic_varies(frame)
    curve_sizes = _curve_sizes(n_train)
    # Progress counts rows fitted (roughly what fits cost); what follows the search is re-estimated once the
    # choice says how many models it takes.
    reporter = _Reporter(
        progress,
        sum(len(fit_rows) for fit_rows, _ in splits) * len(names)
        + sum(rows for rows, _ in _remaining_fits(names[:2], n_train, len(y), curve_sizes)),
    )

    # Preprocessing is fitted once on the training split (it never sees an outcome), so the many fits of the
    # search below are plain array fits.
    reporter.say("Preparing data")
    design = _Design(columns, x_train, x_test)

    # 1. Out-of-fold logits of every candidate variant and of the prior, on the training split only.
    oof = {variant: np.full((repeats, n_train), np.nan) for variant in variants}
    prior_oof = np.full((repeats, n_train), np.nan) if use_prior else None
    iterations: dict[tuple, list[int]] = {variant: [] for variant in variants}
    fold_of = np.zeros((repeats, n_train))
    for i, (fit_rows, val_rows) in enumerate(splits):
        repeat = i * repeats // len(splits)
        fold_of[repeat, val_rows] = i
        if prior_oof is not None:
            prior = HeuristicPrior(*columns).fit(x_train.iloc[fit_rows], y_train[fit_rows])
            prior_oof[repeat, val_rows] = prior.decision_function(x_train.iloc[val_rows])

    @_one_native_thread
    def cross_validate(task):
        i, name = task
        fit_rows, val_rows = splits[i]
        results = []
        for option in _options(name, n_train):
            model = _model(name, option, seed, len(fit_rows), n_jobs=1)
            X = design.train(name)
            model.fit(X[fit_rows], y_train[fit_rows])
            results.append(((name, option), _logit(model.predict_proba(X[val_rows])[:, 1]), _n_iter(model)))
        return i, results

    tasks = [(i, name) for i in range(len(splits)) for name in names]
    with ThreadPoolExecutor(N_JOBS) as pool:  # array fits release the GIL: both cores, no process start
        for i, results in pool.map(cross_validate, tasks):
            repeat = i * repeats // len(splits)
            for variant, logits, n_iter in results:
                oof[variant][repeat, splits[i][1]] = logits
                iterations[variant].append(n_iter)
            reporter.fitted(f"Cross-validating {results[0][0][0]}", len(splits[i][0]))

    # 2. The choice: variant and its share against the prior, by pooled out-of-fold AUC per repeat. With
    # repeats, a family's option (the penalty) is picked on the first and the families compared on the
    # others, so the one with five options does not win by the luck of the best of five.
    tune, judge = (slice(0, 1), slice(1, None)) if repeats > 1 else (slice(None), slice(None))
    prior_judge = None if prior_oof is None else prior_oof[judge]
    cv_scores: dict[str, float | None] = {}
    best_variant: dict[str, tuple] = {}
    choices: dict = {}
    for name in names:
        variant = max(
            ((name, option) for option in _options(name, n_train)),
            key=lambda v: _pooled_auc(oof[v][tune], y_train, fold_of[tune]) or -1.0,
        )
        best_variant[name] = variant
        choices[variant] = _best_weight(oof[variant][judge], prior_judge, y_train, fold_of[judge])
        auc = choices[variant][1]
        cv_scores[name] = None if auc is None else round(auc, 4)
    ranked = sorted(
        names, key=lambda name: -1.0 if cv_scores[name] is None else cv_scores[name], reverse=True
    )
    pair = ranked[:2]
    if len(pair) > 1:
        # The mean of the two best candidates' probabilities: its out-of-fold predictions cost nothing more,
        # so it competes like any candidate.
        oof[ENSEMBLE] = _logit(np.mean([expit(oof[best_variant[name]]) for name in pair], axis=0))
        choices[ENSEMBLE] = _best_weight(oof[ENSEMBLE][judge], prior_judge, y_train, fold_of[judge])
        cv_scores[ENSEMBLE] = None if choices[ENSEMBLE][1] is None else round(choices[ENSEMBLE][1], 4)
    best = max(cv_scores, key=lambda name: -1.0 if cv_scores[name] is None else cv_scores[name])
    if len(pair) > 1 and n_train < REPEATED_BELOW:
        # On small histories the ranking is mostly luck (on 200 bank leads the CV winner was the worse of the
        # two best on the rest of the file in 4 samples of 5); the mean of the two is never far from the
        # better one and steadier than either.
        best = ENSEMBLE
    members = [best_variant[name] for name in pair] if best == ENSEMBLE else [best_variant[best]]
    chosen = ENSEMBLE if best == ENSEMBLE else best_variant[best]
    # The share chosen by CV, shrunk towards the heuristic as if the prior were worth PRIOR_LEADS leads: on
    # 45 training leads the CV's choice of share is itself mostly noise.
    weight = round(choices[chosen][0] * n_train / (n_train + PRIOR_LEADS), 3) if use_prior else 1.0
    n_iters = {m: int(np.mean(iterations[m])) if any(iterations[m]) else None for m in members}
    scores_oof = _blend(oof[chosen], prior_oof, weight)
    method = "isotonic" if len(y) >= ISOTONIC_FROM else "sigmoid"
    heuristic_cv = _pooled_auc(prior_oof, y_train, fold_of) if prior_oof is not None else None

    # 3-5. Every fit left, on both cores at once (largest first): the winner on the training split (judged on
    # the held-out split), on samples of it (the learning curve) and on all leads (the model that is shipped).
    remaining = _remaining_fits(members, n_train, len(y), curve_sizes)
    reporter.total = reporter.done + sum(rows for rows, _ in remaining)
    reporter.say(f"Fitting {best}")
    curve_rows = _curve_samples(seed, y_train, curve_sizes)

    @_one_native_thread
    def fit_judged(m):
        model = _model(*m, seed, n_train, n_iter=n_iters[m]).fit(design.train(m[0]), y_train)
        return design.pipeline(m[0], model)

    @_one_native_thread
    def fit_final(m):
        return _pipeline(columns, m[0], _model(*m, seed, len(y), n_iter=n_iters[m])).fit(frame, y)

    @_one_native_thread
    def fit_curve(m, rows):
        model = _model(*m, seed, len(rows)).fit(design.train(m[0])[rows], y_train[rows])
        return model.predict_proba(design.test(m[0]))[:, 1]

    jobs = [(len(y), ("final", m), functools.partial(fit_final, m)) for m in members]
    jobs += [(n_train, ("judged", m), functools.partial(fit_judged, m)) for m in members]
    jobs += [
        (len(rows), ("curve", point, sample, m), functools.partial(fit_curve, m, rows))
        for point, samples in enumerate(curve_rows)
        for sample, rows in enumerate(samples)
        for m in members
    ]
    done = {}
    with ThreadPoolExecutor(N_JOBS) as pool:
        futures = {pool.submit(job): (rows, key) for rows, key, job in sorted(jobs, key=lambda j: -j[0])}
        for future in as_completed(futures):
            rows, key = futures[future]
            done[key] = future.result()
            reporter.fitted(f"Fitting {best}", rows)

    reporter.say("Evaluating on held-out leads")
    prior_train = HeuristicPrior(*columns).fit(x_train, y_train) if use_prior else None
    judged = ScoreModel(
        [done["judged", m] for m in members],
        prior_train if weight < 1 else None,
        weight,
        _calibrator(method, scores_oof.ravel(), np.tile(y_train, repeats)),
    )
    test_scores = judged.decision_function(x_test)
    proba = _calibrate(judged.calibrator, test_scores)
    predicted = (proba >= 0.5).astype(int)
    prior_test = prior_train.decision_function(x_test) if prior_train is not None else None
    metrics = {
        "model": best,
        "roc_auc": round(float(roc_auc_score(y_test, proba)), 4),
        "accuracy": round(float(accuracy_score(y_test, predicted)), 4),
        "precision": round(float(precision_score(y_test, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(y_test, predicted, zero_division=0)), 4),
        "brier": round(float(brier_score_loss(y_test, proba)), 4),
        "calibration_error": round(calibration_error(y_test, proba), 4),
        "base_rate": round(float(y.mean()), 4),
        "n_train": n_train,
        "n_test": len(y_test),
        "n_leads": len(y),
        "cv": cv_scores,
        "cv_folds": len(splits),
        "options": {name: _describe(best_variant[name]) for name in names},
        "members": [m[0] for m in members],
        "calibration": method,
        "model_weight": weight,
        "heuristic_auc": None if prior_test is None else round(_auc(y_test, prior_test), 4),
        "heuristic_cv": None if heuristic_cv is None else round(heuristic_cv, 4),
        "reliability": reliability(y_test, proba),
        "dropped": dropped,
        "pooled": _pooled_categories(frame, categorical),
    }

    def curve_auc(point: int, sample: int) -> float:
        return _auc(y_test, np.mean([done["curve", point, sample, m] for m in members], axis=0))

    metrics["learning_curve"] = [
        {"n": size, "auc": round(float(np.mean([curve_auc(point, i) for i in range(samples)])), 4)}
        for point, (size, samples) in enumerate(curve_sizes)
    ] + [{"n": n_train, "auc": metrics["roc_auc"]}]

    final = ScoreModel(
        [done["final", m] for m in members],
        HeuristicPrior(*columns).fit(frame, y) if weight < 1 else None,
        weight,
        _calibrator(
            method,
            np.concatenate([scores_oof.ravel(), test_scores]),
            np.concatenate([np.tile(y_train, repeats), y_test]),
        ),
    )
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
    reporter.say("Done", 1.0)
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


def informative_columns(frame: pd.DataFrame) -> tuple[list[str], list[str], list[dict]]:
    """(numeric, categorical, dropped): columns worth learning from, and the others with the reason why.

    Imported attributes are free-form; at a few hundred leads an id, a name or a mostly empty column is
    where a model finds patterns that are not there.
    """
    numeric, categorical = column_kinds(frame)
    dropped: list[dict] = []
    n = len(frame)

    def keep(name: str) -> bool:
        col = frame[name]
        present = int(col.notna().sum())
        distinct = col.nunique(dropna=True)
        reason = ""
        if col.nunique(dropna=False) <= 1:
            reason = "the same on every lead"
        elif n and present <= (1 - MAX_EMPTY_SHARE) * n:
            reason = f"empty on {1 - present / n:.0%} of leads"
        elif name in categorical and distinct >= max(UNIQUE_MIN_VALUES, UNIQUE_SHARE * present):
            reason = f"{distinct} different values in {present} leads: an id, a name or free text"
        elif name in numeric and distinct == present >= UNIQUE_MIN_VALUES and _ID_NAME.search(_label(name)):
            reason = "a different number on every lead: an id"
        if reason:
            dropped.append({"name": name, "label": _label(name), "reason": reason})
        return not reason

    return [c for c in numeric if keep(c)], [c for c in categorical if keep(c)], dropped


def calibration_error(y_true, proba, bins: int = RELIABILITY_BINS) -> float:
    """Expected calibration error: |mean predicted - observed rate| per quantile bin, weighted by its size."""
    points = reliability(y_true, proba, bins)
    total = sum(p["n"] for p in points)
    return float(sum(p["n"] * abs(p["predicted"] - p["observed"]) for p in points) / total) if total else 0.0


def reliability(y_true, proba, bins: int = RELIABILITY_BINS) -> list[dict]:
    """Mean predicted vs observed conversion per bin of equal size (fewer for few leads): the plot's data.

    Equal-size bins: with a 12% base rate most leads sit below 0.2, and fixed-width bins would be empty.
    """
    y_true, proba = np.asarray(y_true, dtype=float), np.asarray(proba, dtype=float)
    bins = int(np.clip(len(proba) // 20, 1, bins))
    order = np.argsort(proba, kind="stable")
    points = []
    for chunk in np.array_split(order, bins):
        if len(chunk):
            points.append(
                {
                    "predicted": round(float(proba[chunk].mean()), 4),
                    "observed": round(float(y_true[chunk].mean()), 4),
                    "n": len(chunk),
                }
            )
    return points


def _label(name: str) -> str:
    return name[len(ATTR_PREFIX) :] if name.startswith(ATTR_PREFIX) else name


def _pooled_categories(frame: pd.DataFrame, categorical: list[str]) -> dict[str, int]:
    """How many rare values (seen fewer than MIN_CATEGORY_COUNT times) each text column pools into one."""
    pooled = {}
    for name in categorical:
        counts = align_frame(frame[[name]], [], [name])[name].value_counts()
        rare = int((counts < MIN_CATEGORY_COUNT).sum())
        if rare:
            pooled[_label(name)] = rare
    return pooled


def _heuristic_varies(frame: pd.DataFrame) -> bool:
    """Without interactions, engagement or sources (a bare import) the heuristic is one number: no prior."""
    return len(set(heuristic_scores(frame))) > 1 or (
        "source" in frame.columns and frame["source"].nunique(dropna=True) > 1
    )


def _splitter(n_train: int, seed: int):
    if n_train < REPEATED_BELOW:
        return RepeatedStratifiedKFold(n_splits=5, n_repeats=_repeats(n_train), random_state=seed)
    if n_train < ONE_SPLIT_FROM:
        return StratifiedKFold(3, shuffle=True, random_state=seed)
    return StratifiedShuffleSplit(1, test_size=VALIDATION_SIZE, random_state=seed)


def _repeats(n_train: int) -> int:
    if n_train < HEAVY_REPEATS_BELOW:
        return 3
    return 2 if n_train < REPEATED_BELOW else 1


def _logit(proba: np.ndarray) -> np.ndarray:
    proba = np.clip(proba, _EPS, 1 - _EPS)
    return np.log(proba / (1 - proba))


def _blend(model: np.ndarray, prior: np.ndarray | None, weight: float) -> np.ndarray:
    return model if prior is None or weight >= 1 else weight * model + (1 - weight) * prior


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by ranks (Mann-Whitney): what roc_auc_score returns, without its checks, which dominated the
    search's cost on small histories (hundreds of calls)."""
    y = np.asarray(y)
    ranks = rankdata(scores)
    wins = int(y.sum())
    return float((ranks[y == 1].sum() - wins * (wins + 1) / 2) / (wins * (len(y) - wins)))


def _pooled_auc(scores: np.ndarray, y: np.ndarray, folds: np.ndarray) -> float | None:
    """Mean over repeats of the AUC of all out-of-fold scores together, each fold's scores as ranks first.

    Per-fold AUCs of 4 wins are noise; pooling raw scores would also judge how comparable the folds' models'
    scales are, which the shipped (single, calibrated) model does not need and which penalises forests.
    """
    aucs = []
    for row, fold_of in zip(scores, folds, strict=True):
        seen = ~np.isnan(row)
        if seen.any() and len(set(y[seen])) == 2:
            ranked = np.full(len(row), np.nan)
            for fold in np.unique(fold_of[seen]):
                members = seen & (fold_of == fold)
                ranked[members] = rankdata(row[members]) / members.sum()
            aucs.append(_auc(y[seen], ranked[seen]))
    return float(np.mean(aucs)) if aucs else None


def _best_weight(
    model: np.ndarray, prior: np.ndarray | None, y: np.ndarray, folds: np.ndarray
) -> tuple[float, float | None]:
    """The model's share in the blend with the best out-of-fold AUC; ties go to the larger share."""
    if np.isnan(model).all():
        return 1.0, None
    if prior is None:
        return 1.0, _pooled_auc(model, y, folds)
    results = [(_pooled_auc(_blend(model, prior, w), y, folds) or 0.0, w) for w in MODEL_WEIGHTS]
    auc, weight = max(results)
    return weight, auc


def _n_iter(model) -> int:
    """Rounds kept by early stopping (0 for other models): the final fits reuse them."""
    stopped = isinstance(model, HistGradientBoostingClassifier) and model.early_stopping
    return int(model.n_iter_) if stopped else 0


def _calibrator(method: str, scores: np.ndarray, y: np.ndarray):
    seen = ~np.isnan(scores)
    scores, y = scores[seen], y[seen]
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, y)
    return Platt().fit(scores, y)


class Platt(BaseEstimator):
    """Sigmoid calibration, sigmoid(a * score + b), that never turns the ranking around.

    On 150 leads the out-of-fold scores can rank worse than chance by bad luck (seen on a bank sample whose
    model ranked at 0.71 on the rest of the file); a free fit then makes a < 0 and inverts every score.
    Then only b is fitted, on the model's own scale.
    """

    def fit(self, scores: np.ndarray, y: np.ndarray):
        fitted = LogisticRegression(C=1e4).fit(np.asarray(scores)[:, None], y)
        self.a_, self.b_ = float(fitted.coef_[0, 0]), float(fitted.intercept_[0])
        if self.a_ <= 0:
            self.a_ = 1.0
            self.b_ = float(minimize_scalar(lambda b: log_loss(y, expit(scores + b), labels=[0, 1])).x)
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        return expit(self.a_ * np.asarray(scores) + self.b_)


def _calibrate(calibrator, scores: np.ndarray) -> np.ndarray:
    return np.clip(calibrator.predict(scores), 0.0, 1.0)


def _curve_sizes(n_train: int) -> list[tuple[int, int]]:
    """(size, samples) below the training split's size; the training split itself is the last point."""
    return [
        (size, CURVE_REPEATS if size < CURVE_REPEATS_BELOW else 1)
        for size in CURVE_SIZES
        if size <= 0.8 * n_train
    ]


def _curve_samples(seed: int, y_train: np.ndarray, sizes: list[tuple[int, int]]) -> list[list[np.ndarray]]:
    """Rows of the training split per learning-curve point and sample (stratified, reproducible by seed)."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(y_train))
    return [
        [
            train_test_split(rows, train_size=size, stratify=y_train, random_state=int(rng.integers(2**31)))[
                0
            ]
            for _ in range(samples)
        ]
        for size, samples in sizes
    ]


def _remaining_fits(members, n_train: int, n_leads: int, curve_sizes) -> list[tuple[int, int]]:
    """(rows, fits) after the search: progress counts rows fitted, which is roughly what a fit costs."""
    per_member = [(n_leads, 1), (n_train, 1), *((size * samples, samples) for size, samples in curve_sizes)]
    return per_member * len(members)


class _Design:
    """The training and held-out splits as arrays, once per preprocessing kind (linear or trees)."""

    def __init__(self, columns: tuple[list[str], list[str]], x_train: pd.DataFrame, x_test: pd.DataFrame):
        self.columns = columns
        self.prepared: dict[str, tuple[Pipeline, np.ndarray, np.ndarray]] = {}
        self.x_train, self.x_test = x_train, x_test

    def train(self, name: str) -> np.ndarray:
        return self._prepared(name)[1]

    def test(self, name: str) -> np.ndarray:
        return self._prepared(name)[2]

    def pipeline(self, name: str, model) -> Pipeline:
        """A fitted pipeline from the fitted preprocessing and a model fitted on its arrays."""
        prepare = self._prepared(name)[0]
        return Pipeline([*prepare.steps, ("model", model)])

    def _prepared(self, name: str):
        kind = _kind(name)
        if kind not in self.prepared:
            prepare = _preprocessing(self.columns, kind)
            self.prepared[kind] = (
                prepare,
                prepare.fit_transform(self.x_train),
                prepare.transform(self.x_test),
            )
        return self.prepared[kind]


def _kind(name: str) -> str:
    return "linear" if name == "logreg" else "trees"


def _options(name: str, n_train: int) -> tuple:
    """Hyperparameter values tried in the same cross-validation: the penalty of the logistic regression.

    From ONE_SPLIT_FROM training leads the penalty hardly matters (and each fit takes a second): C=1 only.
    """
    if name != "logreg":
        return (None,)
    return LOGREG_C if n_train < ONE_SPLIT_FROM else (1.0,)


def _describe(variant: tuple) -> str:
    name, option = variant
    return f"C={option:g}" if name == "logreg" else ""


def _pipeline(columns: tuple[list[str], list[str]], name: str, model) -> Pipeline:
    return Pipeline([*_preprocessing(columns, _kind(name)).steps, ("model", model)])


def _preprocessing(columns: tuple[list[str], list[str]], kind: str) -> Pipeline:
    """Align; numbers imputed and scaled (linear) or as they are (trees: NaN is information); text one-hot
    with rare values pooled into one column."""
    numeric, categorical = columns
    numeric_steps = make_pipeline(_imputer(), StandardScaler()) if kind == "linear" else "passthrough"
    categories = PooledOneHot(MIN_CATEGORY_COUNT, MAX_CATEGORIES)
    transformers = []
    if numeric:
        transformers.append(("numeric", numeric_steps, list(numeric)))
    if categorical:
        transformers.append(("categorical", categories, list(categorical)))
    return Pipeline(
        [
            ("align", FrameAligner(list(numeric), list(categorical))),
            ("prepare", ColumnTransformer(transformers)),
        ]
    )


def _model(name: str, option, seed: int, n_rows: int, *, n_iter: int | None = None, n_jobs: int = 1):
    """The classifier, regularised for `n_rows` leads.

    `n_iter` (boosted trees): the rounds early stopping found in cross-validation, used instead of holding
    back another validation split.
    """
    if name == "hgb":
        if n_rows >= HGB_EARLY_STOPPING_FROM:
            model = HistGradientBoostingClassifier(
                learning_rate=0.1,
                max_iter=500,
                early_stopping=True,
                validation_fraction=0.1,
                n_iter_no_change=15,
                min_samples_leaf=int(np.clip(n_rows // 500, 20, 100)),
                l2_regularization=1.0,
                random_state=seed,
            )
            if n_iter:
                # 10% more rounds for the 25% more data the final fits see.
                model.set_params(early_stopping=False, max_iter=max(10, int(n_iter * 1.1)))
            return model
        # Shallow trees with big leaves and a slow rate: at 150 leads a leaf of 6 leads is memorisation.
        return HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=100,
            max_depth=3,
            max_leaf_nodes=6,
            early_stopping=False,
            min_samples_leaf=max(10, n_rows // 25),
            l2_regularization=1.0,
            random_state=seed,
        )
    if name == "forest":
        return RandomForestClassifier(
            n_estimators=FOREST_TREES,
            max_samples=FOREST_MAX_SAMPLES if n_rows > FOREST_MAX_SAMPLES else None,
            min_samples_leaf=3 if n_rows < 2000 else 5,
            max_features="sqrt",
            n_jobs=n_jobs,
            random_state=seed,
        )
    return LogisticRegression(C=option if option is not None else 1.0, max_iter=1000)


def _imputer() -> SimpleImputer:
    return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)


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
