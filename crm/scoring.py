"""Scoring and training: leads from the database through `ml` (a pure library), scores back through
`services.record_scores`. Actors call these; so do the commands and the lead page (for reasons).
"""

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from crm import events, score_reasons, services
from crm.lead_records import lead_records
from crm.models import Lead, Stage
from ml import features, registry
from ml import scoring as ml_scoring
from ml import train as ml_train

log = logging.getLogger(__name__)

TRAINING_KEY = "pipeline:training"
TRAINING_LOCK = "pipeline:training-lock"
# Retrain once the closed history has grown by this share since the live model was trained (at least 20).
RETRAIN_GROWTH = 0.2


def model_dir() -> Path:
    return Path(settings.MODEL_DIR)


class LiveModel:
    """The newest model this installation wrote, loaded once per file, and why it did not load: the module's
    only state, in one object that tests can reset.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._key: tuple | None = None
        self.model: ml_train.TrainedModel | None = None
        self.error = ""

    def get(self, path: str) -> ml_train.TrainedModel | None:
        stat = Path(path).stat()
        key = (path, stat.st_mtime_ns, stat.st_size)  # a file rewritten in place is read again
        with self._lock:
            if self._key != key:
                try:
                    self.model, self.error = registry.load(path, settings.SECRET_KEY), ""
                except registry.ModelLoadError as error:
                    log.error("model not loaded, scoring with the heuristic: %s", error)
                    self.model, self.error = None, str(error)
                self._key = key
            return self.model


live_model = LiveModel()


def current_model() -> ml_train.TrainedModel | None:
    """The newest model this installation wrote; None (heuristic) if there is none or it cannot load."""
    models = registry.list_models(model_dir())
    return live_model.get(models[0]["path"]) if models else None


def source_rates() -> tuple[dict[str, float], float]:
    rows = Lead.objects.closed().values_list("source__name", "stage__kind")
    sources, won = zip(*rows, strict=True) if rows else ((), ())
    return ml_scoring.source_conversion_rates(list(sources), [kind == Stage.Kind.WON for kind in won])


def _with_live_scorer(frame, by_model, by_heuristic) -> tuple:
    """Apply the live model's function to `frame`, or the heuristic's when no model loads; say which."""
    model = current_model()
    if model is not None:
        return by_model(model, frame), Lead.ScoreSource.MODEL
    return by_heuristic(frame, *source_rates()), Lead.ScoreSource.HEURISTIC


def rescore(lead_ids: list[int] | None = None) -> list[int]:
    """Score open leads (all of them, or these) and write the scores that changed; returns those ids."""
    leads = Lead.objects.open()
    if lead_ids is not None:
        leads = leads.filter(pk__in=lead_ids)
    data = lead_records(leads, timezone.now())
    if not data.ids:
        return []
    frame = features.build_frame(data.records, data.judged_at)
    values, source = _with_live_scorer(frame, ml_scoring.model_scores, ml_scoring.heuristic_scores)
    new = {pk: (int(v), source) for pk, v in zip(data.ids, values, strict=True)}
    return services.record_scores(new, current=data.scores)


@dataclass
class Explanation:
    score: int | None
    source: str
    groups: list[score_reasons.Group] = field(default_factory=list)

    @property
    def reasons(self) -> list[score_reasons.Reason]:
        return [reason for group in self.groups for reason in group.reasons]

    @property
    def raising(self) -> list[tuple[str, float]]:
        return [(r.text, r.effect) for r in self.reasons if r.effect > 0]

    @property
    def lowering(self) -> list[tuple[str, float]]:
        return [(r.text, r.effect) for r in self.reasons if r.effect < 0]


def explain(lead: Lead) -> Explanation:
    """Why this lead scores what it does, from the model that scores it now, as score_reasons words it."""
    data = lead_records(Lead.objects.filter(pk=lead.pk), timezone.now())
    frame = features.build_frame(data.records, data.judged_at)
    factors, source = _with_live_scorer(frame, ml_scoring.model_factors, ml_scoring.heuristic_factors)
    return Explanation(score=lead.lead_score, source=source, groups=score_reasons.group(factors))


def closed_counts() -> tuple[int, int]:
    """(won, lost) in one grouped query."""
    rows = dict(Lead.objects.closed().values_list("stage__kind").annotate(n=Count("id")).order_by())
    return rows.get(Stage.Kind.WON, 0), rows.get(Stage.Kind.LOST, 0)


def closed_needed() -> int:
    """How many more closed leads the model needs before it can learn (0 when there are enough)."""
    return max(0, ml_train.MIN_CLOSED - sum(closed_counts()))


def model_status() -> dict:
    """What the manager sees about learning: the live model's honest metrics, or how far from one we are."""
    won, lost = closed_counts()
    models = registry.list_models(model_dir())
    return {
        "won": won,
        "lost": lost,
        "closed": won + lost,
        "needed": max(0, ml_train.MIN_CLOSED - won - lost),
        "one_sided": bool(won + lost) and not (won and lost),
        "model": _with_date(models[0]) if models else None,
        "load_error": live_model.error if current_model() is None and models else "",
        "history": models[1:6],
        "training": cache.get(TRAINING_KEY),
        "min_closed": ml_train.MIN_CLOSED,
    }


def _with_date(meta: dict) -> dict:
    trained = datetime.fromisoformat(meta["trained_at"]) if meta.get("trained_at") else None
    return {**meta, "trained": trained, "card": model_card(meta.get("metrics") or {})}


def model_card(metrics: dict) -> dict:
    """What the model card shows beyond the headline metrics (older models' metrics lack some: shown less)."""
    weight = metrics.get("model_weight")
    error = metrics.get("calibration_error")
    curve, points = metrics.get("learning_curve") or [], metrics.get("reliability") or []
    return {
        "model_share": None if weight is None else round(100 * weight),
        "heuristic_share": None if weight is None else 100 - round(100 * weight),
        "calibration": metrics.get("calibration"),
        "calibration_error": None if error is None else round(100 * error, 1),
        "dropped": metrics.get("dropped") or [],
        "pooled": metrics.get("pooled") or {},
        "charts": {"curve": curve, "reliability": points, "heuristic_auc": metrics.get("heuristic_auc")}
        if curve or points
        else None,
    }


def should_train() -> bool:
    won, lost = closed_counts()
    if won + lost < ml_train.MIN_CLOSED or not (won and lost):
        return False
    models = registry.list_models(model_dir())
    if not models:
        return True
    trained_on = int(models[0].get("metrics", {}).get("n_leads", 0))
    return won + lost - trained_on >= max(20, RETRAIN_GROWTH * trained_on)


def set_training(state: str, message: str = "", fraction: float = 0.0, metrics: dict | None = None) -> None:
    """Record the training run's state for the dashboard and announce it (the dashboard updates live)."""
    status = {"state": state, "message": message, "fraction": round(fraction, 3), "metrics": metrics}
    cache.set(TRAINING_KEY, status, timeout=24 * 3600)
    events.publish(events.TrainingUpdated(actor_id=None, state=state, message=message, fraction=fraction))


def request_training(actor) -> None:
    set_training("queued", f"Queued by {actor.get_username()}")
    events.publish(events.TrainingRequested(actor_id=actor.pk))


def train() -> ml_train.TrainedModel | None:
    """Train on every closed lead, store the model, rescore open leads. Returns None if it could not train."""
    if not cache.add(TRAINING_LOCK, 1, timeout=3600):
        log.info("training already running; this request is folded into it")
        return None
    try:
        set_training("running", "Reading closed leads", 0.02)
        data = lead_records(Lead.objects.closed(), timezone.now())
        frame = features.build_frame(data.records, data.judged_at)
        model = ml_train.train(
            frame,
            data.outcomes,
            seed=0,
            progress=lambda label, f: set_training("running", label, 0.05 + 0.8 * f),
        )
        registry.save(model, model_dir(), settings.SECRET_KEY)
        set_training("running", "Rescoring open leads", 0.9)
        rescore()
        set_training("done", "Trained and rescored", 1.0, model.metrics)
        return model
    except ml_train.NotEnoughData as error:
        set_training("failed", str(error))
        return None
    except Exception as error:
        log.exception("training failed")
        set_training("failed", f"Training failed: {error}")
        raise
    finally:
        cache.delete(TRAINING_LOCK)
