"""``safetwin pdm train`` / ``safetwin pdm evaluate``: a versioned model file with its held-out metrics.

Small fleets (the full-size acceptance figures come from ``bench/pdm_eval.py``): training writes
a model and its metadata, the held-out metrics beat the constant-life baseline, and evaluating
the saved model on another held-out fleet prints them again as a JSON last line. Refusals are
clean exits, never tracebacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.pdm_models import latest, load
from models.pdm.model import PdmModel

runner = CliRunner()
pytestmark = pytest.mark.slow


def test_train_saves_a_versioned_model_that_evaluate_scores_again(tmp_path: Path) -> None:
    trained = runner.invoke(app, ["pdm", "train", "--assets", "9", "--test-assets", "3", "--dir", str(tmp_path)])
    assert trained.exit_code == 0, trained.output
    assert "window features" in trained.output and "rmse_gain" in trained.output
    path = latest(tmp_path)
    assert path is not None and path.name.startswith("pdm-")
    saved = load(path)
    assert isinstance(saved.meta["model"], PdmModel)
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["version"] == saved.meta["model"].version and meta["train_assets"] == 9
    assert set(meta["classes"]) == {"pump", "compressor", "agitator"}
    assert meta["metrics"]["rmse"] < meta["metrics"]["baseline_rmse"]

    scored = runner.invoke(app, ["pdm", "evaluate", "--dir", str(tmp_path), "--test-assets", "3", "--seed", "7"])
    assert scored.exit_code == 0, scored.output
    metrics = json.loads(scored.output.strip().splitlines()[-1])
    assert metrics["test_assets"] == 3 and metrics["rmse"] < metrics["baseline_rmse"]
    assert 0.0 <= metrics["recall"] <= 1.0


def test_evaluate_refuses_cleanly(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["pdm", "evaluate", "--dir", str(tmp_path)])
    assert missing.exit_code == 2 and "safetwin pdm train" in missing.output
    junk = tmp_path / "pdm-20260101000000.joblib"
    junk.write_bytes(b"not a model")
    broken = runner.invoke(app, ["pdm", "evaluate", "--model", str(junk)])
    assert broken.exit_code == 1 and "cannot load" in broken.output
    bad = runner.invoke(app, ["pdm", "train", "--assets", "2"])
    assert bad.exit_code == 2
