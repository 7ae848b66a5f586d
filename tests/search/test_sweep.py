"""A real sweep: local Ray, Optuna TPE, ASHA, rows in a real Parquet store."""

import pandas as pd
import pytest

from cli.main import main
from results.ranking import trial_summary
from results.store import ResultStore

SAMPLES = 5
MAX_EPOCHS = 3


@pytest.fixture(scope="module")
def sweep(small_demo_root, tmp_path_factory):
    storage = tmp_path_factory.mktemp("sweep")
    code = main([
        "--dataset", "btad", "--data-root", str(small_demo_root), "--categories", "wood", "fabric",
        "--num-samples", str(SAMPLES), "--max-epochs", str(MAX_EPOCHS), "--grace-period", "1",
        "--reduction-factor", "2", "--concurrency", "1", "--storage", str(storage), "--name", "t",
        "--set", "backbone.image_size=64", "--seed", "3",
    ])
    return code, ResultStore(storage).read(experiment="t")


def test_every_trial_of_every_category_has_rows(sweep):
    code, frame = sweep
    assert code == 0
    summary = trial_summary(frame)
    assert sorted(summary["category"].unique()) == ["fabric", "wood"]
    assert summary.groupby("category")["trial_id"].nunique().tolist() == [SAMPLES, SAMPLES]
    finals = frame[frame["status"] != "running"]
    assert finals.groupby("trial_id").size().eq(1).all()  # one final row per trial
    running = frame[frame["status"] == "running"]
    assert not running.duplicated(["trial_id", "epoch"]).any()
    assert running["selection_objective"].between(0, 1).all()
    assert running["report_image_auroc"].notna().all()


def test_asha_prunes_below_the_full_budget(sweep):
    _, frame = sweep
    summary = trial_summary(frame)
    assert set(summary["status"]) <= {"finished", "pruned", "failed"}
    finished = summary[summary["status"] == "finished"]
    pruned = summary[summary["status"] == "pruned"]
    assert (finished["last_epoch"] == MAX_EPOCHS).all()
    assert len(pruned) >= 1 and (pruned["last_epoch"] < MAX_EPOCHS).all()


def test_each_category_is_its_own_study_and_the_best_beats_the_median(sweep):
    _, frame = sweep
    summary = trial_summary(frame)
    for category, rows in summary.groupby("category"):
        objectives = rows["selection_objective"].dropna()
        assert objectives.max() > objectives.median(), category
        # Trial ids are per experiment folder: none is shared across categories.
    assert not set(summary[summary.category == "wood"].trial_id) & set(summary[summary.category == "fabric"].trial_id)


def test_store_reads_with_plain_pandas(sweep, tmp_path):
    _, frame = sweep
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    assert {"hp.flow.coupling_blocks", "hp.train.lr", "status", "seconds"} <= set(frame.columns)
