"""Benchmark the ml package: feature building and scoring at 100,000 leads, training on the real bank data.

Run from the repository root: `.venv/bin/python bench/ml_training.py [path/to/bank-full.csv]`.
"""

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from ml.features import build_frame  # noqa: E402
from ml.registry import load_latest, save  # noqa: E402
from ml.scoring import explain, heuristic_scores, model_scores, source_conversion_rates  # noqa: E402
from ml.train import train  # noqa: E402
from tests.datasets import BANK_CSV, read_bank_csv, synthetic_records  # noqa: E402

N_LEADS = 100_000


def timed(label, func, *args, **kwargs):
    """Wall time, plus CPU time of this process: the latter barely moves when other work shares the box."""
    started, cpu = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label:<58} {wall:7.2f} s wall {used:7.2f} s cpu")
    return result


def main() -> None:
    now = datetime.now(UTC)
    print(f"CPUs: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (other work on the box slows this)")

    records, converted = timed(
        f"generate {N_LEADS:,} synthetic lead records", synthetic_records, N_LEADS, now
    )
    frame = timed(f"build_frame for {N_LEADS:,} records", build_frame, records, now)

    history = frame.head(10_000)
    synthetic_model = timed("train on 10,000 synthetic leads", train, history, converted[:10_000], seed=0)
    print(f"  winner {synthetic_model.metrics['model']}, held-out AUC {synthetic_model.metrics['roc_auc']}")
    timed(
        f"model_scores for {N_LEADS:,} leads ({synthetic_model.metrics['model']})",
        model_scores,
        synthetic_model,
        frame,
    )
    rates, base_rate = source_conversion_rates(history["source"], converted[:10_000])
    timed(f"heuristic_scores for {N_LEADS:,} leads", heuristic_scores, frame, rates, base_rate)
    timed("explain one lead", explain, synthetic_model, frame.iloc[[0]])

    bank_path = Path(sys.argv[1]) if len(sys.argv) > 1 else BANK_CSV
    if not bank_path.is_file():
        print(f"bank data not found at {bank_path.resolve()}; skipping the real-data benchmark")
        return
    bank_records, bank_converted = timed("read bank-full.csv", read_bank_csv, bank_path)
    bank_frame = timed(f"build_frame for {len(bank_records):,} bank records", build_frame, bank_records, now)
    many = (bank_records * 3)[:N_LEADS]
    timed(f"build_frame for {N_LEADS:,} bank records (15 text attributes)", build_frame, many, now)

    def progress(stage: str, fraction: float) -> None:
        print(f"  [{fraction:4.0%}] {stage}")

    model = timed(
        "train on the full bank data (seed 0)", train, bank_frame, bank_converted, seed=0, progress=progress
    )
    for key, value in model.metrics.items():
        print(f"  {key:<14} {value}")

    big = pd.concat([bank_frame] * 3, ignore_index=True).head(N_LEADS)
    timed(f"model_scores for {N_LEADS:,} bank leads ({model.metrics['model']})", model_scores, model, big)
    reasons = timed("explain one bank lead", explain, model, bank_frame.iloc[[83]])
    for label, effect in reasons:
        print(f"  {effect:+6.1f}  {label}")
    with tempfile.TemporaryDirectory() as directory:
        path = timed("registry.save", save, model, directory, b"bench-secret")
        print(f"  {path.name}: {path.stat().st_size / 1e6:.1f} MB")
        timed("registry.load_latest (verify + unpickle)", load_latest, directory, b"bench-secret")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
