"""A real sweep of two categories at once: local Ray, Optuna TPE in SQLite, ASHA, finalists, a Parquet store."""

import json

import optuna
import pandas as pd
import pytest

from cli.main import main
from results.export import build_export
from results.ranking import trial_summary
from results.store import ResultStore
from ssflow.settings.flat_config import config_from_flat, config_to_flat

pytestmark = pytest.mark.slow

SAMPLES = 5
MAX_EPOCHS = 3
FINALISTS = 2
BASE = {"backbone.image_size": 64, "seed": 3}


@pytest.fixture(scope="module")
def sweep(small_demo_root, tmp_path_factory):
    storage = tmp_path_factory.mktemp("sweep")
    code = main([
        "--dataset", "btad", "--data-root", str(small_demo_root), "--categories", "wood", "fabric",
        "--num-samples", str(SAMPLES), "--max-epochs", str(MAX_EPOCHS), "--grace-period", "1",
        "--reduction-factor", "2", "--concurrency", "2", "--storage", str(storage), "--name", "t",
        "--set", "backbone.image_size=64", "--seed", "3", "--finalists", str(FINALISTS), "--finalist-seeds", "1",
    ])
    return code, ResultStore(storage).read(experiment="t"), storage


def searched(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary["role"] != "finalist"]


def test_every_searched_trial_of_every_category_has_rows(sweep):
    code, frame, _ = sweep
    assert code == 0
    summary = trial_summary(frame)
    assert sorted(summary["category"].unique()) == ["fabric", "wood"]
    assert searched(summary).groupby("category")["trial_id"].nunique().tolist() == [SAMPLES, SAMPLES]
    finals = frame[frame["status"] != "running"]
    assert finals.groupby("trial_id").size().eq(1).all()  # one final row per trial
    running = frame[frame["status"] == "running"]
    assert not running.duplicated(["trial_id", "epoch"]).any()
    assert running["selection_objective"].between(0, 1).all()
    assert running["report_image_auroc"].notna().all()


def test_first_trial_of_every_study_is_the_base_config_at_the_full_budget(sweep):
    _, frame, storage = sweep
    summary = trial_summary(frame)
    for category in ("wood", "fabric"):
        study = optuna.load_study(study_name=f"t-{category}", storage=f"sqlite:///{storage}/optuna.db")
        first = study.trials[0]
        assert first.user_attrs["role"] == "base"
        row = summary.set_index("trial_id").loc[first.user_attrs["key"]]
        expected = config_to_flat(config_from_flat({**BASE, "data.dataset": "btad", "data.category": category,
                                                    "train.epochs": MAX_EPOCHS}))
        for key in ("flow.coupling_blocks", "flow.hidden_channels", "loss.kind", "train.lr", "synthesis.blend"):
            assert row[f"hp.{key}"] == expected[key], key
        assert row["status"] == "finished" and row["last_epoch"] == MAX_EPOCHS  # never pruned


def test_asha_prunes_searched_trials_below_the_full_budget(sweep):
    _, frame, _ = sweep
    summary = searched(trial_summary(frame))
    assert set(summary["status"]) <= {"finished", "pruned", "failed"}
    finished = summary[summary["status"] == "finished"]
    pruned = summary[summary["status"] == "pruned"]
    assert (finished["last_epoch"] == MAX_EPOCHS).all()
    assert len(pruned) >= 1 and (pruned["last_epoch"] < MAX_EPOCHS).all()


def test_finalists_retrain_the_top_configs_with_other_seeds_and_export_picks_by_the_mean(sweep):
    _, frame, _ = sweep
    summary = trial_summary(frame)
    content = build_export(frame, "t", "test", pd.Timestamp.now(tz="UTC").to_pydatetime())
    for category, rows in summary.groupby("category"):
        done = searched(rows)[searched(rows)["status"] == "finished"]
        top = done.sort_values("selection_objective", ascending=False).head(FINALISTS)
        finalists = rows[rows["role"] == "finalist"]
        assert sorted(finalists["parent_trial"]) == sorted(top["trial_id"]), category
        hp = [c for c in rows.columns if c.startswith("hp.") and c != "hp.seed"]
        for _, finalist in finalists.iterrows():
            parent = rows.set_index("trial_id").loc[finalist["parent_trial"]]
            assert finalist["seed"] == parent["seed"] + 1 and finalist["last_epoch"] == MAX_EPOCHS
            assert all(finalist[column] == parent[column] for column in hp)
        runs = rows[rows["status"] == "finished"].assign(
            config=lambda r: r["parent_trial"].where(r["parent_trial"].notna(), r["trial_id"]))
        means = runs[runs["config"].isin(finalists["parent_trial"])].groupby("config")["selection_objective"].mean()
        entry = content.categories[category]
        if entry["against_base"]["base_kept"]:  # the best mean was within the noise of the base config
            base = rows[rows["role"] == "base"]["trial_id"].item()
            assert entry["trial_id"] == base and entry["against_base"]["gain"] == pytest.approx(
                means.max() - runs[runs["config"] == base]["selection_objective"].mean())
            continue
        assert entry["trial_id"] == means.idxmax() and entry["seeds"] == 2
        assert entry["selection_objective_mean"] == pytest.approx(means.max())
        assert entry["selection_objective_std"] is not None


def test_each_category_is_its_own_study(sweep):
    _, frame, storage = sweep
    summary = trial_summary(frame)
    for category, rows in summary.groupby("category"):
        objectives = rows["selection_objective"].dropna()
        assert objectives.max() > objectives.median(), category
    assert not set(summary[summary.category == "wood"].trial_id) & set(summary[summary.category == "fabric"].trial_id)
    names = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(f"sqlite:///{storage}/optuna.db")}
    assert set(names) == {"t-wood", "t-fabric"}
    assert names == summary.groupby("category").size().rename(lambda c: f"t-{c}").to_dict()


def test_store_reads_with_plain_pandas(sweep):
    _, frame, _ = sweep
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    assert {"hp.flow.coupling_blocks", "hp.train.lr", "status", "seconds", "role"} <= set(frame.columns)


def test_trials_at_the_full_budget_record_their_split_noise_replicates(sweep):
    """Every trial that ran the full budget stored its paired bootstrap replicates (results.base_guard reads them)."""
    _, frame, _ = sweep
    full = frame[(frame["status"] == "finished") & (frame["epoch"] == MAX_EPOCHS)]
    assert len(full) > 0
    assert all(len(value) == 200 and 0.0 <= min(value) <= max(value) <= 1.0 for value in full["selection_replicates"])
    assert frame[frame["epoch"] < MAX_EPOCHS]["selection_replicates"].isna().all()


def test_trials_at_the_full_budget_record_their_training_outliers(sweep):
    """Every trial that reached the last epoch checked its own training images (a JSON list, often empty)."""
    _, frame, _ = sweep
    last = frame[(frame["status"] == "running") & (frame["epoch"] == MAX_EPOCHS)]
    assert len(last) > 0 and last["train_outliers"].notna().all()
    assert all(isinstance(json.loads(value), list) for value in last["train_outliers"])
    earlier = frame[(frame["status"] == "running") & (frame["epoch"] < MAX_EPOCHS)]
    assert earlier["train_outliers"].isna().all()  # only a full budget's model is asked
