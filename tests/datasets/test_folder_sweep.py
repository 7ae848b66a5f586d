"""A sweep on a folder dataset of one's own: every category at once, image-level-only ones included."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cli.main import main
from results.ranking import trial_summary
from results.store import ResultStore

pytestmark = pytest.mark.slow


def test_sweep_on_a_folder_dataset(folder_root: Path, tmp_path: Path, capsys) -> None:
    storage = tmp_path / "runs"
    assert main(["--dataset", "folder", "--data-root", str(folder_root), "--num-samples", "2", "--max-epochs", "1",
                 "--finalists", "0", "--concurrency", "2", "--storage", str(storage), "--name", "own",
                 "--set", "backbone.image_size=64"]) == 0
    summary = trial_summary(ResultStore(storage).read(experiment="own"))
    assert sorted(summary["category"].unique()) == ["bracket", "housing", "panel"]
    assert (summary["status"] == "finished").all() and summary.groupby("category").size().eq(2).all()
    panel = summary[summary["category"] == "panel"]
    assert panel["report_aupro"].isna().all() and panel["report_pixel_auroc"].isna().all()  # no masks: null, not 0
    # Its objective is image AUROC alone.
    assert (panel["selection_objective"] == panel["selection_image_auroc"]).all()
    located = summary[summary["category"] != "panel"]
    expected = 0.5 * (located["selection_image_auroc"] + located["selection_aupro"])
    pd.testing.assert_series_equal(located["selection_objective"], expected, check_names=False)
