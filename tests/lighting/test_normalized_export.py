"""A model trained on normalised inputs ships them: ONNX Runtime and predict normalise as training did."""

from pathlib import Path

import pandas as pd
import pytest

from cli.main import main


@pytest.mark.slow
# per_channel at 128 px and 2 epochs: where float32 statistics once put ONNX Runtime 1.1e-4 off torch.
@pytest.mark.parametrize(("normalize", "size", "epochs"), [("per_channel", 128, 2), ("features", 64, 1), ("shading", 64, 1),
                                                         ("lighting", 64, 1)])
def test_normalised_models_export_and_predict_as_trained(normalize: str, size: int, epochs: int,
                                                         small_demo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    # train --export onnx refuses (exit 1) a graph whose scores and maps differ from torch's on report images.
    assert main(["train", "--dataset", "btad", "--data-root", str(small_demo_root), "--category", "wood",
                 "--image-size", str(size), "--epochs", str(epochs), "--set", f"data.normalize={normalize}", "--set",
                 "train.photometric=0.5", "--set", "train.photometric_views=1", "--out", str(out),
                 "--export", "onnx"]) == 0
    images = small_demo_root / "wood" / "test" / "ko"
    for model in ("model.pt", "model.onnx"):
        assert main(["predict", "--model", str(out / model), "--out", str(tmp_path / model), str(images)]) == 0
    torch_scores = pd.read_csv(tmp_path / "model.pt" / "predictions.csv")["score"]
    onnx_scores = pd.read_csv(tmp_path / "model.onnx" / "predictions.csv")["score"]
    assert onnx_scores.to_numpy() == pytest.approx(torch_scores.to_numpy(), rel=1e-4)
