"""A sweep that searches the lighting keys and optimises MVTec AD 2's aupro_05."""

from __future__ import annotations

import pytest

from cli.main import main
from results.store import ResultStore

pytestmark = pytest.mark.slow

TRIALS = 3


def test_a_sweep_searches_photometric_strength_and_normalisation_on_aupro_05(small_demo_root, tmp_path, capsys):
    space = tmp_path / "lighting.yaml"
    space.write_text("parameters:\n"
                     "  train.photometric: {type: float, low: 0.0, high: 1.0}\n"
                     "  train.photometric_views: 1\n"
                     "  data.normalize: {type: choice, choices: [none, per_channel]}\n")
    code = main(["--dataset", "btad", "--data-root", str(small_demo_root), "--categories", "wood",
                 "--space", str(space), "--num-samples", str(TRIALS), "--max-epochs", "1", "--finalists", "0",
                 "--concurrency", "1", "--storage", str(tmp_path / "runs"), "--name", "lit", "--seed", "2",
                 "--set", "backbone.image_size=64", "--set", "validation.localization=aupro_05"])
    assert code == 0
    rows = ResultStore(tmp_path / "runs").read(experiment="lit")
    finished = rows[rows["status"] == "finished"].drop_duplicates("trial_id", keep="last")
    assert len(finished) == TRIALS
    assert finished["hp.train.photometric"].nunique() > 1
    for _, row in finished.iterrows():
        assert 0.0 <= row["report_aupro_05"] <= 1.0 and row["report_aupro_05"] != row["report_aupro"]
        expected = 0.5 * (row["selection_image_auroc"] + row["selection_aupro_05"])
        assert row["selection_objective"] == pytest.approx(expected)
    assert main(["show", "--storage", str(tmp_path / "runs"), "--name", "lit"]) == 0
    assert "FPR 0.05" in capsys.readouterr().out
