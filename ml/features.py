"""Turn lead records into a feature frame.

A `LeadRecord` is a plain dict describing a lead *as it looks while still open*:

    created_at           tz-aware datetime or None
    interactions         {"call": n, "email": n, "meeting": n, "note": n}; missing kinds count 0
    last_interaction_at  tz-aware datetime or None
    engagement_level     int 0..3 (none/low/medium/high)
    source               str or None
    owner                str (username) or None
    priority             int 1..4 (low/normal/high/urgent)
    value                float or None (expected deal value)
    attributes           {str: str | int | float | None}, free-form imported CSV columns

No leakage by construction: the outcome (stage, won/lost dates, ...) is not part of a record, and
`build_frame` reads only the keys above, so extra keys such as `stage` or `won_at` are ignored. The caller
must still keep outcome-revealing columns out of `attributes` (e.g. the bank data's `y` and `duration`);
`drop_attributes` exists for that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

LeadRecord = dict

INTERACTION_KINDS = ("call", "email", "meeting", "note")
ATTR_PREFIX = "attr_"
BASE_COLUMNS = (
    "age_days",
    "n_call",
    "n_email",
    "n_meeting",
    "n_note",
    "n_interactions",
    "days_since_last_interaction",
    "engagement_level",
    "source",
    "owner",
    "priority",
    "value",
)
# An attribute column is numeric when at least this share of its non-empty values parse as numbers:
# imported CSVs often have a stray "n/a" in an otherwise numeric column.
NUMERIC_SHARE = 0.95
# Numeric detection looks at this many non-empty values (evenly spaced) so text columns stay cheap.
NUMERIC_SAMPLE = 1000

_SECONDS_PER_DAY = 86400.0
# A number with an optional sign, currency symbol and percent sign around it ("-$1,234.50", "12 %").
_SPREADSHEET_NUMBER = re.compile(r"(?P<sign>[-+])?\s*[$€£]?\s*(?P<digits>[\d.,]+)\s*%?")
# "1,234" and "1,234,567.5": comma thousands separators (taken before the decimal-comma reading of "1,234").
_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
# "3,5" and "1234,56": a decimal comma, as Portuguese or German spreadsheets write it.
_DECIMAL_COMMA = re.compile(r"\d+,\d+")


def build_frame(
    records: Sequence[LeadRecord],
    now: datetime | Sequence[datetime],
    *,
    drop_attributes: Iterable[str] = (),
) -> pd.DataFrame:
    """One row per record; columns as in `BASE_COLUMNS` plus `attr_<key>` per attribute key.

    `now` is the moment ages are measured from. It may also be one datetime per record, so training rows
    can be measured at the time each lead closed instead of today (otherwise old closed leads look stale).
    Column-wise list comprehensions and per-distinct-value conversion keep 100,000 records near 0.5 s.
    """
    n = len(records)
    nows = _normalise_now(now, n)
    interactions = [r.get("interactions") or {} for r in records]
    counts = {kind: _counts([d.get(kind) or 0 for d in interactions]) for kind in INTERACTION_KINDS}
    columns: dict[str, object] = {
        "age_days": _days_since([r.get("created_at") for r in records], nows),
        **{f"n_{kind}": counts[kind] for kind in INTERACTION_KINDS},
        "n_interactions": sum(counts.values(), np.zeros(n, dtype=np.int64)),
        "days_since_last_interaction": _days_since([r.get("last_interaction_at") for r in records], nows),
        "engagement_level": _floats([r.get("engagement_level") for r in records]),
        "source": _as_text(pd.Series([r.get("source") for r in records], dtype=object)),
        "owner": _as_text(pd.Series([r.get("owner") for r in records], dtype=object)),
        "priority": _floats([r.get("priority") for r in records]),
        "value": _floats([r.get("value") for r in records]),
    }
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))

    dropped = set(drop_attributes)
    attributes = [r.get("attributes") or {} for r in records]
    if any(attributes):
        raw = pd.DataFrame.from_records(attributes, index=pd.RangeIndex(n))
        extra = {
            f"{ATTR_PREFIX}{key}": _convert_attribute(raw[key]) for key in raw.columns if key not in dropped
        }
        if extra:
            frame = pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)
    return frame


def column_kinds(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split columns into (numeric, categorical) by dtype; the model preprocesses each kind differently."""
    numeric, categorical = [], []
    for name in frame.columns:
        dtype = frame[name].dtype
        is_number = ptypes.is_numeric_dtype(dtype) and not ptypes.is_bool_dtype(dtype)
        (numeric if is_number else categorical).append(name)
    return numeric, categorical


def align_frame(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """Exactly the given columns with the given kinds: missing ones become NaN, extra ones are dropped.

    Attributes come and go between imports, so a model must accept frames that differ from its training frame.
    """
    n = len(frame)
    out: dict[str, object] = {}
    for name in numeric:
        if name in frame.columns:
            col = pd.to_numeric(frame[name], errors="coerce").astype(float)
            out[name] = col.where(np.isfinite(col), np.nan)
        else:
            out[name] = np.full(n, np.nan)
    for name in categorical:
        out[name] = _as_text(frame[name]) if name in frame.columns else np.full(n, np.nan, dtype=object)
    return pd.DataFrame(out, index=frame.index, columns=[*numeric, *categorical])


def _normalise_now(now: datetime | Sequence[datetime], n: int) -> datetime | list[datetime]:
    if isinstance(now, datetime):
        return _aware(now)
    nows = [_aware(t) for t in now]
    if len(nows) != n:
        raise ValueError(f"now has {len(nows)} values for {n} records")
    return nows


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC rather than crashing on a mixed subtraction."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _days_since(moments: list, now: datetime | list[datetime]) -> np.ndarray:
    nan = math.nan
    nows = [now] * len(moments) if isinstance(now, datetime) else now
    try:
        seconds = [
            (t - m).total_seconds() if m is not None else nan for m, t in zip(moments, nows, strict=True)
        ]
    except TypeError:  # a naive datetime slipped in: slow path, only then
        seconds = [
            (t - _aware(m)).total_seconds() if m is not None else nan
            for m, t in zip(moments, nows, strict=True)
        ]
    return np.asarray(seconds, dtype=float) / _SECONDS_PER_DAY


def _counts(values: list) -> np.ndarray:
    counts = np.nan_to_num(_floats(values), nan=0.0)
    return counts.astype(np.int64)


def _floats(values: list) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):  # a stray string: coerce it to NaN instead of failing the batch
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


def _as_text(col: pd.Series) -> pd.Series:
    """Stripped strings with NaN for missing (None and "" too): the one shape the encoder sees.

    Works on the distinct values only, so a 100,000-row column with a dozen categories costs a dozen strips.
    """
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return _text_from_codes(codes, uniques, col.index)


def _text_from_codes(codes: np.ndarray, uniques, index: pd.Index) -> pd.Series:
    cleaned = np.empty(len(uniques) + 1, dtype=object)  # the extra last slot is what code -1 (missing) picks
    cleaned[:-1] = [_clean_text(value) for value in uniques]
    cleaned[-1] = np.nan
    return pd.Series(cleaned[codes], index=index, dtype=object)


def _clean_text(value: object) -> object:
    """5.0 -> "5" so a code read as a number in one import matches the same code read as text in another."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text if text else np.nan


def _convert_attribute(col: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(col.dtype) or ptypes.is_numeric_dtype(col.dtype):
        numbers = col.to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(np.where(np.isfinite(numbers), numbers, np.nan), index=col.index)
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    if _mostly_numeric(codes, uniques):
        numbers = np.empty(len(uniques) + 1)
        numbers[:-1] = [_number(value) for value in uniques]
        numbers[-1] = np.nan
        return pd.Series(numbers[codes], index=col.index)
    return _text_from_codes(codes, uniques, col.index)


def _number(value: object) -> float:
    """The finite number a value stands for, else NaN ("n/a", "", "inf" all count as missing).

    Text is read the way spreadsheets write numbers into CSV cells (quoted, since they may hold the
    delimiter): "1,234.50", "$1,200", "12%", "3,5" (a decimal comma) are numbers too.
    """
    if isinstance(value, str):
        value = _spreadsheet_number(value.strip())
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _spreadsheet_number(text: str) -> str:
    match = _SPREADSHEET_NUMBER.fullmatch(text)
    if not match:
        return text
    sign, digits = match["sign"] or "", match["digits"]
    if _THOUSANDS.fullmatch(digits):
        digits = digits.replace(",", "")
    elif _DECIMAL_COMMA.fullmatch(digits):
        digits = digits.replace(",", ".")
    return sign + digits


def _mostly_numeric(codes: np.ndarray, uniques) -> bool:
    """Judged on up to NUMERIC_SAMPLE evenly spaced non-empty rows, so wide text columns stay cheap."""
    present = codes[codes >= 0]
    if len(present) > NUMERIC_SAMPLE:
        present = present[np.linspace(0, len(present) - 1, NUMERIC_SAMPLE).astype(int)]
    numbers = blanks = 0
    for code, count in zip(*np.unique(present, return_counts=True), strict=True):
        value = uniques[code]
        if isinstance(value, str) and not value.strip():
            blanks += count
        elif not math.isnan(_number(value)):
            numbers += count
    non_empty = len(present) - blanks
    # An all-empty column carries nothing; float NaN is the cheapest shape for it.
    return non_empty == 0 or numbers >= NUMERIC_SHARE * non_empty
