"""Benchmark training on the real bank data, end to end, one fresh process per run.

    .venv/bin/python bench/ml_training.py [--sizes 200,1000,5000,45211] [--repeat 3] [--scoring] [--csv PATH]

For each size, a stratified sample (seed 0) of the bank file is written to a temporary CSV; a new Python
process then imports the libraries, reads that CSV as lead records, builds the frame, trains and saves the
signed model: what the `train_model` actor does after its database read, process start included. The clock
stops when the child says the model is saved (it also reports its CPU time so far, all threads); each size
runs `--repeat` times and the median is reported. After that the child also measures the model's ROC AUC on
the bank rows it did not get (the sample's own 25% held-out split is only 50 leads at 200), off the clock.

`--scoring` adds the older checks: building and scoring 100,000 leads, explaining one.
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from ml.features import build_frame  # noqa: E402
from ml.registry import save  # noqa: E402
from ml.scoring import explain, heuristic_scores, model_scores, source_conversion_rates  # noqa: E402
from ml.train import train  # noqa: E402
from tests.datasets import BANK_CSV, read_bank_csv, synthetic_records  # noqa: E402

SIZES = (200, 1000, 5000, 45_211)
N_LEADS = 100_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--csv", type=Path, default=BANK_CSV)
    parser.add_argument("--scoring", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("SAMPLE", "REST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    print(f"CPUs: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (other work on the box slows this)")
    if not args.csv.is_file():
        print(f"bank data not found at {args.csv.resolve()}")
        return
    training_table(args.csv, [int(s) for s in args.sizes.split(",")], args.repeat)
    if args.scoring:
        scoring_checks(args.csv)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def training_table(bank_csv: Path, sizes: list[int], repeat: int) -> None:
    with open(bank_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    header, body = rows[0], rows[1:]
    outcome = [row[header.index("y")] == "yes" for row in body]
    print(
        "| closed leads | end to end s (each run) | median s | CPU s (median) | load | train s | model "
        "| held-out AUC | AUC on the rest |"
    )
    print("|---:|---|---:|---:|---:|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        for size in sizes:
            sample, rest = _stratified(outcome, size)
            sample_path, rest_path = Path(directory) / "sample.csv", Path(directory) / "rest.csv"
            _write(sample_path, header, [body[i] for i in sample])
            # The rest, capped at 20,000 rows, so the off-the-clock check stays quick.
            _write(rest_path, header, [body[i] for i in rest[:20_000]])
            runs = [_run_child(sample_path, rest_path) for _ in range(repeat)]
            median = sorted(runs, key=lambda run: run["wall"])[len(runs) // 2]
            walls = " / ".join(f"{run['wall']:.2f}" for run in runs)
            cpu = statistics.median(run["cpu_seconds"] for run in runs)
            loads = "-".join(
                f"{load:.1f}" for load in (min(r["load"] for r in runs), max(r["load"] for r in runs))
            )
            rest_auc = "" if median["rest_auc"] is None else f"{median['rest_auc']:.3f}"
            print(
                f"| {size:,} | {walls} | {median['wall']:.2f} | {cpu:.2f} | {loads} "
                f"| {median['train_seconds']:.2f} | {median['model']} | {median['roc_auc']:.3f} "
                f"| {rest_auc} |",
                flush=True,
            )


def _stratified(outcome: list[bool], size: int) -> tuple[list[int], list[int]]:
    from sklearn.model_selection import train_test_split

    indices = list(range(len(outcome)))
    if size >= len(outcome):
        return indices, []
    sample, rest = train_test_split(indices, train_size=size, stratify=outcome, random_state=0)
    return sample, rest


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)


def _run_child(sample: Path, rest: Path) -> dict:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(sample), str(rest)], stdout=subprocess.PIPE, text=True
    )
    trained = json.loads(process.stdout.readline())
    wall = time.perf_counter() - started  # the child has saved its model: the actor's work is done
    evaluated = json.loads(process.stdout.readline())
    process.wait()
    return {"wall": wall, "load": load, **trained, **evaluated}


def child(sample: Path, rest: Path) -> None:
    """What the training actor does once it has the records: frame, train, save. Then, off the clock, AUC."""

    now = datetime.now(UTC)
    records, converted = read_bank_csv(sample)
    model = train(build_frame(records, now), converted, seed=0)
    with tempfile.TemporaryDirectory() as directory:
        save(model, directory, b"bench-secret")
        metrics = {k: model.metrics[k] for k in ("train_seconds", "model", "roc_auc")}
        # CPU time of this process since it started, all threads: what a busy machine moves least.
        print(json.dumps({**metrics, "cpu_seconds": time.process_time()}), flush=True)
    rest_records, rest_converted = read_bank_csv(rest)
    rest_auc = None
    if rest_records:
        from sklearn.metrics import roc_auc_score

        rest_auc = float(roc_auc_score(rest_converted, model.predict_proba(build_frame(rest_records, now))))
    print(json.dumps({"rest_auc": rest_auc}), flush=True)


def scoring_checks(bank_csv: Path) -> None:

    from ml.features import build_frame
    from tests.datasets import read_bank_csv

    now = datetime.now(UTC)
    records, converted = timed(
        f"generate {N_LEADS:,} synthetic lead records", synthetic_records, N_LEADS, now
    )
    frame = timed(f"build_frame for {N_LEADS:,} records", build_frame, records, now)
    history = frame.head(10_000)
    synthetic_model = timed("train on 10,000 synthetic leads", train, history, converted[:10_000], seed=0)
    print(f"  winner {synthetic_model.metrics['model']}, held-out AUC {synthetic_model.metrics['roc_auc']}")
    timed(f"model_scores for {N_LEADS:,} leads", model_scores, synthetic_model, frame)
    rates, base_rate = source_conversion_rates(history["source"], converted[:10_000])
    timed(f"heuristic_scores for {N_LEADS:,} leads", heuristic_scores, frame, rates, base_rate)
    timed("explain one lead", explain, synthetic_model, frame.iloc[[0]])

    bank_records, bank_converted = timed("read bank-full.csv", read_bank_csv, bank_csv)
    bank_frame = timed(f"build_frame for {len(bank_records):,} bank records", build_frame, bank_records, now)
    model = timed("train on the full bank data (in process)", train, bank_frame, bank_converted, seed=0)
    big = pd.concat([bank_frame] * 3, ignore_index=True).head(N_LEADS)
    timed(f"model_scores for {N_LEADS:,} bank leads ({model.metrics['model']})", model_scores, model, big)
    for label, effect in timed("explain one bank lead", explain, model, bank_frame.iloc[[83]]):
        print(f"  {effect:+6.1f}  {label}")


def timed(label, func, *args, **kwargs):
    """Wall time, plus CPU time of this process: the latter barely moves when other work shares the box."""
    started, cpu = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label:<58} {wall:7.2f} s wall {used:7.2f} s cpu")
    return result


if __name__ == "__main__":
    main()
