"""A sweep that searches the embedded backbones: one feature pass per (backbone, levels, input) seen."""

from __future__ import annotations

import pytest

from cli.main import main
from results.store import ResultStore

pytestmark = pytest.mark.slow

TRIALS = 5


def test_trials_of_one_backbone_share_its_feature_pass(small_demo_root, tmp_path, capsys):
    space = tmp_path / "backbones.yaml"
    space.write_text("parameters:\n"
                     "  backbone.name: {type: choice, choices: [tf_efficientnet_lite0, tf_efficientnet_lite1]}\n"
                     "  backbone.levels: {type: choice, choices: [[2, 3], [3]]}\n"
                     "  flow.coupling_blocks: {type: int, low: 2, high: 3}\n")
    code = main(["--dataset", "btad", "--data-root", str(small_demo_root), "--categories", "wood",
                 "--space", str(space), "--num-samples", str(TRIALS), "--max-epochs", "1", "--finalists", "0",
                 "--concurrency", "1", "--storage", str(tmp_path / "runs"), "--name", "bb",
                 "--set", "backbone.image_size=64", "--seed", "4"])
    assert code == 0
    rows = ResultStore(tmp_path / "runs").read(experiment="bb").drop_duplicates("trial_id")
    assert len(rows) == TRIALS
    combos = rows[["hp.backbone.name", "hp.backbone.levels"]].astype(str).drop_duplicates()
    passes = int(rows["features_computed"].astype(bool).sum())
    assert passes == len(combos) < TRIALS  # the other trials read the node's cache
    out = capsys.readouterr().out
    assert f"feature passes: {passes} for {len(combos)} (backbone, levels, input) combination" in out
