"""sweep -> show -> export -> train --config best.yaml -> predict, all through the command line."""

import csv
import json

import pytest
import torch
import yaml

from cli.main import main
from ssflow.settings.exported import load_export_config
from ssflow.deployment.model_io import load_model

pytestmark = pytest.mark.slow


def test_sweep_show_export_train_predict(small_demo_root, tmp_path, capsys):
    storage, best, model_dir, predictions = (tmp_path / name for name in ("runs", "best.yaml", "model", "pred"))
    common = ["--dataset", "btad", "--data-root", str(small_demo_root)]
    assert main([*common, "--categories", "wood", "--num-samples", "3", "--max-epochs", "2",
                 "--storage", str(storage), "--name", "rt", "--set", "backbone.image_size=64", "--seed", "1",
                 "--finalists", "1", "--finalist-seeds", "1"]) == 0

    assert main(["show", "--storage", str(storage), "--name", "rt", "--plot", str(tmp_path / "plots")]) == 0
    shown = capsys.readouterr().out
    assert "wood" in shown and "objective" in shown.lower()
    assert any(p.stat().st_size > 0 for p in (tmp_path / "plots").glob("*.png"))

    assert main(["export", "--storage", str(storage), "--name", "rt", "--out", str(best)]) == 0
    exported = yaml.safe_load(best.read_text())
    entry = exported["categories"]["wood"]
    assert entry["trial_id"] and 0.0 <= entry["selection_objective"] <= 1.0
    config = load_export_config(best, "wood")
    assert config.backbone.image_size == 64 and config.train.epochs == 2

    assert main(["train", "--config", str(best), "--category", "wood", "--data-root", str(small_demo_root),
                 "--out", str(model_dir)]) == 0
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished"
    assert set(metrics["report"]) == {"image_auroc", "pixel_auroc", "aupro", "aupro_05"}
    trained = load_model(model_dir / "model.pt")
    assert trained.config.flow == config.flow  # the exported hyperparameters were used
    torch.load(model_dir / "model.pt", weights_only=True)

    test_images = small_demo_root / "wood" / "test"
    assert main(["predict", "--model", str(model_dir / "model.pt"), str(test_images / "ok"), str(test_images / "ko"),
                 "--out", str(predictions)]) == 0
    with open(predictions / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16
    flagged = {row["path"].split("/")[-2]: [] for row in rows}
    for row in rows:
        flagged[row["path"].split("/")[-2]].append(row["anomalous"] in ("True", "true", "1"))
    # The threshold came from the selection split: it must flag more defective images than good ones.
    assert sum(flagged["ko"]) > sum(flagged["ok"])
