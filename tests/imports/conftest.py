"""Fixtures for importing and exporting: CSV files on disk, the bank data, a clean cache and stub broker."""

import csv
import io
import random
from pathlib import Path

import pytest


@pytest.fixture
def write_csv(tmp_path):
    """`write_csv("a,b\\n1,2\\n")` -> the path of a file with that text (UTF-8, or the bytes given)."""

    def write(content: str | bytes, name: str = "leads.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return write


@pytest.fixture(scope="session")
def bank_rows(bank_csv) -> tuple[list[str], list[list[str]]]:
    with bank_csv.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file, delimiter=";")
        header = next(reader)
        return header, list(reader)


@pytest.fixture(scope="session")
def bank_sample(bank_rows) -> tuple[str, int, int]:
    """About 2,000 bank rows, stratified on `y` (11.7% yes), as the file's own `;`-quoted CSV text."""
    header, rows = bank_rows
    rng = random.Random(0)
    by_outcome = {y: [row for row in rows if row[-1] == y] for y in ("yes", "no")}
    sample = []
    for outcome in by_outcome.values():
        sample += rng.sample(outcome, round(2000 * len(outcome) / len(rows)))
    rng.shuffle(sample)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    writer.writerow(header)
    for row in sample:
        writer.writerow([int(value) if value.lstrip("-").isdigit() else value for value in row])
    yes = sum(row[-1] == "yes" for row in sample)
    return out.getvalue(), len(sample), yes
