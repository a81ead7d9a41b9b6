import json
import pickle

import numpy as np
import pytest

from ml import registry
from ml.registry import ModelLoadError, list_models, load, load_latest, save

SECRET = b"django-insecure-test-secret"


def test_saved_model_loads_back_and_predicts_the_same(trained_model, synthetic_frame, tmp_path):
    path = save(trained_model, tmp_path, SECRET)

    loaded = load(path, SECRET)

    assert loaded.version == trained_model.version
    assert loaded.metrics == trained_model.metrics
    assert np.array_equal(loaded.predict_proba(synthetic_frame), trained_model.predict_proba(synthetic_frame))


def test_sidecar_holds_metadata_readable_without_unpickling(trained_model, tmp_path):
    path = save(trained_model, tmp_path, SECRET)

    meta = json.loads(path.with_suffix(".json").read_text())

    assert meta["version"] == trained_model.version
    assert meta["trained_at"] == trained_model.trained_at
    assert meta["metrics"]["roc_auc"] == trained_model.metrics["roc_auc"]
    assert meta["features"] == trained_model.features
    assert len(meta["signature"]) == 64


def test_str_secret_like_django_secret_key_works(trained_model, tmp_path):
    path = save(trained_model, tmp_path, SECRET.decode())

    assert load(path, SECRET).version == trained_model.version


def test_list_models_is_newest_first_without_signatures(trained_model, tmp_path):
    older = save(_copy(trained_model, "v1", "2025-01-01T00:00:00+00:00"), tmp_path, SECRET)
    newer = save(_copy(trained_model, "v2", "2025-02-01T00:00:00+00:00"), tmp_path, SECRET)

    models = list_models(tmp_path)

    assert [m["path"] for m in models] == [str(newer), str(older)]
    assert "signature" not in models[0]


def test_load_latest_returns_the_newest_model(trained_model, tmp_path):
    save(_copy(trained_model, "v1", "2025-01-01T00:00:00+00:00"), tmp_path, SECRET)
    save(_copy(trained_model, "v2", "2025-02-01T00:00:00+00:00"), tmp_path, SECRET)

    assert load_latest(tmp_path, SECRET).version == "v2"


def test_missing_directory_gives_no_model(tmp_path):
    assert load_latest(tmp_path / "nowhere", SECRET) is None
    assert list_models(tmp_path / "nowhere") == []


def test_tampered_file_is_rejected(trained_model, tmp_path):
    path = save(trained_model, tmp_path, SECRET)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(ModelLoadError, match="corrupt or was modified"):
        load(path, SECRET)


def test_tampered_file_is_never_unpickled(trained_model, tmp_path, monkeypatch):
    path = save(trained_model, tmp_path, SECRET)
    path.write_bytes(pickle.dumps({"evil": True}))
    unpickled = []
    monkeypatch.setattr(registry.pickle, "loads", lambda *a, **k: unpickled.append(a))

    with pytest.raises(ModelLoadError):
        load(path, SECRET)
    assert unpickled == []


def test_model_signed_with_another_secret_is_rejected(trained_model, tmp_path):
    save(trained_model, tmp_path, b"another-secret")

    with pytest.raises(ModelLoadError, match="different secret key"):
        load_latest(tmp_path, SECRET)


def test_truncated_file_is_rejected(trained_model, tmp_path):
    path = save(trained_model, tmp_path, SECRET)
    path.write_bytes(path.read_bytes()[:100])

    with pytest.raises(ModelLoadError):
        load(path, SECRET)


def test_signed_but_unreadable_file_is_rejected(trained_model, tmp_path):
    path = save(trained_model, tmp_path, SECRET)
    garbage = b"not a pickle at all"
    path.write_bytes(garbage)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["signature"] = registry._sign(registry._key(SECRET), garbage)
    meta_path.write_text(json.dumps(meta))

    with pytest.raises(ModelLoadError, match="could not be loaded"):
        load(path, SECRET)


def test_model_from_another_scikit_learn_version_is_rejected(trained_model, tmp_path):
    path = save(trained_model, tmp_path, SECRET)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["sklearn_version"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))

    with pytest.raises(ModelLoadError, match=r"scikit-learn 0\.24\.2"):
        load(path, SECRET)


def test_model_without_its_sidecar_is_rejected(trained_model, tmp_path):
    path = save(trained_model, tmp_path, SECRET)
    path.with_suffix(".json").unlink()

    with pytest.raises(ModelLoadError, match="missing"):
        load(path, SECRET)


def test_missing_model_file_is_rejected(trained_model, tmp_path):
    path = save(trained_model, tmp_path, SECRET)
    path.unlink()

    with pytest.raises(ModelLoadError, match="cannot be read"):
        load(path, SECRET)


def test_save_leaves_only_the_model_and_its_sidecar(trained_model, tmp_path):
    path = save(trained_model, tmp_path / "models", SECRET)

    assert {p.name for p in path.parent.iterdir()} == {path.name, path.with_suffix(".json").name}


def _copy(model, version, trained_at):
    return type(model)(
        pipeline=model.pipeline,
        metrics=model.metrics,
        features=model.features,
        trained_at=trained_at,
        baseline=model.baseline,
        version=version,
    )
