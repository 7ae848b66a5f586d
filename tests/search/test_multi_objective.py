"""--objective quality,latency: every trial's latency recorded, a Pareto front in show, export within a budget."""

from __future__ import annotations

import optuna
import pytest
import yaml

from cli.main import main
from results.pareto import pareto_front
from results.ranking import config_summary
from results.store import ResultStore

pytestmark = pytest.mark.slow

TRIALS = 12


@pytest.fixture(scope="module")
def sweep(small_demo_root, tmp_path_factory):
    storage = tmp_path_factory.mktemp("pareto")
    space = storage / "sizes.yaml"
    # Sizes that differ in cost, so latencies spread; one epoch each, nothing pruned.
    space.write_text("parameters:\n  flow.coupling_blocks: {type: int, low: 1, high: 8}\n"
                     "  flow.hidden_channels: {type: choice, choices: [16, 32, 64, 128]}\n")
    code = main(["--dataset", "btad", "--data-root", str(small_demo_root), "--categories", "wood",
                 "--space", str(space), "--objective", "quality,latency", "--num-samples", str(TRIALS),
                 "--max-epochs", "1", "--finalists", "0", "--concurrency", "1", "--storage", str(storage),
                 "--name", "mo", "--set", "backbone.image_size=64", "--seed", "2"])
    return code, storage


def test_every_trial_is_told_quality_and_latency(sweep):
    code, storage = sweep
    assert code == 0
    rows = ResultStore(storage).read(experiment="mo")
    assert rows["latency_ms"].notna().all() and (rows["latency_ms"] > 0).all()
    study = optuna.load_study(study_name="mo-wood", storage=f"sqlite:///{storage}/optuna.db")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    done = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == TRIALS and all(len(trial.values) == 2 for trial in done)
    by_key = rows[rows["status"] == "finished"].set_index("trial_id")
    for trial in done:
        assert trial.values[1] == pytest.approx(by_key.loc[trial.user_attrs["key"], "latency_ms"])


def test_show_lists_the_pareto_front(sweep, capsys):
    _, storage = sweep
    rows = ResultStore(storage).read(experiment="mo")
    front = pareto_front(rows)
    assert len(front) >= 2  # a trade-off; how many more configs make the front depends on the measured latencies
    configs = config_summary(rows).set_index("trial_id")
    on_front = set(front["trial_id"])
    for trial_id, config in configs.iterrows():  # everything off the front is dominated by a front config
        if trial_id in on_front:
            continue
        assert ((front["selection_objective_mean"] >= config["selection_objective_mean"])
                & (front["latency_ms"] <= config["latency_ms"])).any(), trial_id
    capsys.readouterr()
    assert main(["show", "--storage", str(storage), "--name", "mo"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("quality against latency"):]
    assert all(trial_id in table for trial_id in on_front)
    assert not any(trial_id in table for trial_id in set(configs.index) - on_front)


def test_export_picks_the_best_config_within_a_latency_budget(sweep, tmp_path, capsys):
    _, storage = sweep
    front = pareto_front(ResultStore(storage).read(experiment="mo"))
    budget = float(front["latency_ms"].iloc[len(front) // 2])  # a front config in the middle
    out = tmp_path / "fast.yaml"
    assert main(["export", "--storage", str(storage), "--name", "mo", "--out", str(out),
                 "--max-latency-ms", f"{budget}"]) == 0
    entry = yaml.safe_load(out.read_text())["categories"]["wood"]
    within = front[front["latency_ms"] <= budget]
    assert entry["latency_ms"] <= budget
    best = within.sort_values("selection_objective_mean").iloc[-1]
    guard = entry["against_base"]
    if guard["base_kept"]:  # the base config is within the budget and the best was not ahead beyond the noise
        assert guard["gain"] == pytest.approx(best["selection_objective_mean"] - entry["selection_objective_mean"])
        assert guard["gain"] < guard["threshold"] and guard["threshold"] >= guard["noise"]
    else:
        assert entry["trial_id"] == best["trial_id"]
    assert main(["export", "--storage", str(storage), "--name", "mo", "--out", str(tmp_path / "none.yaml"),
                 "--max-latency-ms", "0.001"]) == 2
    assert "within 0.001 ms" in capsys.readouterr().err
