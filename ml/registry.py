"""Store trained models on disk, signed, so a swapped or edited file is never unpickled.

Each model is `model-<version>.pkl` plus a `model-<version>.json` sidecar holding its metadata and an
HMAC-SHA256 of the pickle bytes. Unpickling runs code, so the signature is checked first, on the same bytes
that are then loaded. Both files are written atomically (temp file + os.replace); the sidecar goes last, so
a model only becomes visible once it is complete.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import re
import tempfile
import time
from pathlib import Path

import sklearn

from ml.train import TrainedModel

MODEL_SUFFIX = ".pkl"
META_SUFFIX = ".json"
FORMAT = 1
_KEY_CONTEXT = b"pipeline.ml.registry\x00"


class ModelLoadError(Exception):
    """The stored model cannot be trusted or read; the caller should fall back to the heuristic."""


def save(model: TrainedModel, directory: Path | str, secret: bytes | str) -> Path:
    """Write model + signed metadata sidecar into `directory` (created if needed); returns the model path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    key = _key(secret)
    stem = "model-" + re.sub(r"[^A-Za-z0-9_.-]", "-", str(model.version))
    path = directory / f"{stem}{MODEL_SUFFIX}"
    meta = {
        "format": FORMAT,
        "version": model.version,
        "trained_at": model.trained_at,
        "saved_at": time.time(),
        "metrics": model.metrics,
        "features": model.features,
        "sklearn_version": sklearn.__version__,
        "file": path.name,
        "size": len(payload),
        "key_id": _key_id(key),
        "signature": _sign(key, payload),
    }
    _atomic_write(path, payload)
    _atomic_write(path.with_suffix(META_SUFFIX), json.dumps(meta, indent=2).encode())
    return path


def load(path: Path | str, secret: bytes | str) -> TrainedModel:
    """Verify the signature, then unpickle; any doubt raises ModelLoadError."""
    path = Path(path)
    meta = _read_meta(path.with_suffix(META_SUFFIX))
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"Model file {path} cannot be read: {exc.strerror or exc}") from exc
    key = _key(secret)
    if not hmac.compare_digest(_sign(key, payload), str(meta.get("signature", ""))):
        if meta.get("key_id") != _key_id(key):
            raise ModelLoadError(
                f"Model {path.name} was signed with a different secret key (was SECRET_KEY changed?); "
                "retrain to replace it."
            )
        raise ModelLoadError(
            f"Model {path.name} does not match its signature: it is corrupt or was modified."
        )
    trained_with = meta.get("sklearn_version")
    if trained_with != sklearn.__version__:
        # Pickled estimators are only guaranteed to behave the same under the version that fitted them.
        raise ModelLoadError(
            f"Model {path.name} was trained with scikit-learn {trained_with}, this is {sklearn.__version__}; "
            "retrain it."
        )
    try:
        model = pickle.loads(payload)
    except Exception as exc:  # signed but unreadable, e.g. saved by an incompatible version of this code
        raise ModelLoadError(f"Model {path.name} could not be loaded: {exc}") from exc
    if not isinstance(model, TrainedModel):
        raise ModelLoadError(f"Model {path.name} holds a {type(model).__name__}, not a TrainedModel.")
    return model


def load_latest(directory: Path | str, secret: bytes | str) -> TrainedModel | None:
    """The newest stored model, or None when there is none (also when the directory does not exist)."""
    models = list_models(directory)
    if not models:
        return None
    return load(Path(directory) / models[0]["file"], secret)


def list_models(directory: Path | str) -> list[dict]:
    """Metadata of stored models, newest first; unreadable sidecars and orphans are skipped, none verified."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for meta_path in directory.glob(f"model-*{META_SUFFIX}"):
        try:
            meta = _read_meta(meta_path)
        except ModelLoadError:
            continue
        model_path = directory / str(meta.get("file", ""))
        if not model_path.is_file():
            continue
        meta.pop("signature", None)
        meta["path"] = str(model_path)
        found.append(meta)
    found.sort(key=lambda m: (str(m.get("trained_at", "")), float(m.get("saved_at", 0))), reverse=True)
    return found


def _read_meta(meta_path: Path) -> dict:
    try:
        meta = json.loads(meta_path.read_bytes())
    except FileNotFoundError as exc:
        raise ModelLoadError(
            f"Metadata {meta_path.name} is missing, so the model cannot be verified."
        ) from exc
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Metadata {meta_path.name} is unreadable: {exc}") from exc
    if not isinstance(meta, dict):
        raise ModelLoadError(f"Metadata {meta_path.name} is not a JSON object.")
    return meta


def _key(secret: bytes | str) -> bytes:
    """Derive a registry-only key so the signature cannot be replayed anywhere else SECRET_KEY is used."""
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not raw:
        raise ValueError("An empty secret cannot sign models")
    return hashlib.sha256(_KEY_CONTEXT + raw).digest()


def _sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    """Short public fingerprint of the key: tells "other secret" apart from "modified file" in errors."""
    return hmac.new(key, b"key-id", hashlib.sha256).hexdigest()[:16]


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; web and worker may run as different users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
