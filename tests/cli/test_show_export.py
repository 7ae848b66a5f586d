"""``run_search.py show`` and ``export`` on a real results store built from hand-made rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from cli.main import main
from results.store import ResultStore
from ssflow.settings.exported import load_export_config
from ssflow.settings.flat_config import config_from_flat
from store_rows import EPOCHS, EXPERIMENT, TRIALS, build_store, trial_flat, trial_rows

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    build_store(tmp_path / "runs")
    return tmp_path / "runs"


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich wraps tables to 80 columns when not on a terminal; wide output keeps cells on one line.
    monkeypatch.setenv("COLUMNS", "200")


def test_show_lists_ranked_trials_varying_hyperparameters_and_rung_counts(storage: Path,
                                                                           capsys: pytest.CaptureFixture) -> None:
    assert main(["show", "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    assert "sweep1  mvtec/carpet" in out and "sweep1  mvtec/grid" in out
    carpet = out[out.index("mvtec/carpet"):out.index("mvtec/grid")]
    # ranked by selection objective: c-best (0.9) before c-report (0.85) despite its worse report AUROC
    assert carpet.index("c-best") < carpet.index("c-report") < carpet.index("c-early") < carpet.index("c-fail")
    for header in ("coupling_blocks", "lr", "blend"):
        assert header in carpet
    assert "0.9000" in carpet and "0.7000" in carpet  # objective, report image AUROC of c-best
    assert "4 trials, 2 finished, 1 pruned (1 at epoch 1), 1 failed" in carpet
    assert "loss diverged [nan]" in carpet
    grid = out[out.index("mvtec/grid"):]
    assert "2 pruned (1 at epoch 1, 1 at epoch 3)" in grid
    # only coupling_blocks varies within grid
    assert "coupling_blocks" in grid and "blend" not in grid
    compute = 4.0 * (6 + 6 + 1 + 2)
    assert f"compute {compute:.0f} s" in carpet


def test_show_top_limits_rows_and_says_how_many_are_hidden(storage: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["show", "--storage", str(storage), "--name", EXPERIMENT, "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "c-best" in out and "c-report" not in out and "g-best" in out
    assert "3 more not listed" in out


def test_show_on_a_narrow_terminal_moves_hyperparameters_to_their_own_table(
        storage: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["show", "--storage", str(storage), "--dataset", "mvtec"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    carpet = out[out.index("mvtec/carpet"):out.index("mvtec/grid")]
    assert "0.9000" in carpet and "coupling_blocks" in carpet and "poisson" in carpet and "0.0001" in carpet


def test_show_with_two_experiments_lists_both(storage: Path, capsys: pytest.CaptureFixture) -> None:
    build_store(storage, "sweep2", {"carpet": {"x1": TRIALS["carpet"]["c-best"]}})
    assert main(["show", "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    assert "experiments" in out and "sweep2  mvtec/carpet" in out and "sweep1  mvtec/grid" in out
    assert main(["show", "--storage", str(storage), "--name", "sweep2"]) == 0
    assert "sweep1" not in capsys.readouterr().out


def test_show_plot_writes_png_files(storage: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plots = tmp_path / "plots"
    assert main(["show", "--storage", str(storage), "--plot", str(plots)]) == 0
    written = sorted(plots.glob("*.png"))
    assert [p.name for p in written] == [
        "sweep1__mvtec__carpet__curves.png", "sweep1__mvtec__carpet__hyperparameters.png",
        "sweep1__mvtec__grid__curves.png", "sweep1__mvtec__grid__hyperparameters.png",
    ]
    for path in written:
        assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 5000
    assert "wrote 4 plots" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, expected", [
    (["--name", "nope"], "no such experiment in"),
    (["--dataset", "btad"], "found mvtec"),
    (["--top", "0"], "--top 0"),
])
def test_show_mistakes_are_one_line_errors(storage: Path, capsys: pytest.CaptureFixture,
                                           arguments: list[str], expected: str) -> None:
    assert main(["show", "--storage", str(storage), *arguments]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1
    if arguments[0] == "--name":
        assert "it holds sweep1" in err


def test_show_on_an_empty_store_names_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["show", "--storage", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "no results" in err and str(tmp_path / "nothing") in err


def test_export_picks_the_best_selection_trial_and_loads_back(storage: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "best.yaml"
    assert main(["export", "--storage", str(storage), "--name", EXPERIMENT, "--out", str(out)]) == 0
    content = yaml.safe_load(out.read_text())
    assert content["experiment"] == EXPERIMENT and content["code_version"] == "0.1.0"
    carpet = content["categories"]["carpet"]
    # c-report has the better report AUROC; the choice must not look at it
    assert carpet["trial_id"] == "c-best" and carpet["selection_objective"] == pytest.approx(0.9)
    assert carpet["report"]["image_auroc"] == pytest.approx(0.70)
    assert carpet["dataset"] == "mvtec" and carpet["started_at"].startswith("2024-05-01")
    assert content["categories"]["grid"]["trial_id"] == "g-best"
    for category, trial_id in (("carpet", "c-best"), ("grid", "g-best")):
        expected = config_from_flat(trial_flat(category, TRIALS[category][trial_id][3]))
        loaded = load_export_config(out, category)
        assert loaded == expected
        assert loaded.train.epochs == EPOCHS
    assert "c-best" in capsys.readouterr().out


def test_export_skips_a_category_without_finished_trials(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    trials = {"carpet": {"c-best": TRIALS["carpet"]["c-best"]},
              "grid": {k: TRIALS["grid"][k] for k in ("g-rung1", "g-fail")}}
    build_store(tmp_path / "runs", trials=trials)
    out = tmp_path / "best.yaml"
    assert main(["export", "--storage", str(tmp_path / "runs"), "--name", EXPERIMENT, "--out", str(out)]) == 0
    assert list(yaml.safe_load(out.read_text())["categories"]) == ["carpet"]
    assert "skipped mvtec/grid: no finished trial (1 failed, 1 pruned)" in capsys.readouterr().out


def test_export_without_any_finished_trial_is_an_error_and_writes_nothing(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    build_store(tmp_path / "runs", trials={"grid": {"g-rung1": TRIALS["grid"]["g-rung1"]}})
    out = tmp_path / "best.yaml"
    assert main(["export", "--storage", str(tmp_path / "runs"), "--name", EXPERIMENT, "--out", str(out)]) == 2
    assert "no finished trial" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("column, values", [
    ("selection_objective", ["high", "low"]),  # text where the schema holds numbers
    ("epoch", [1.5, None]),  # fractional epochs where the schema holds integers
])
def test_a_file_of_other_column_types_is_named_and_skipped(storage: Path, capsys: pytest.CaptureFixture,
                                                           column: str, values: list) -> None:
    # Written by hand with pandas beside the store's own files.
    folder = storage / "results" / "dataset=mvtec" / "category=carpet"
    stray = folder / "by-hand.parquet"
    rows = pd.DataFrame({"experiment": [EXPERIMENT] * 2, "trial_id": ["h1", "h2"], "status": ["running"] * 2,
                         "epoch": [1, 2], "selection_objective": [0.5, 0.6]})
    rows[column] = values
    rows.to_parquet(stray, index=False)
    before = len(list(folder.iterdir()))
    assert main(["show", "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    note = next(line for line in out.splitlines() if "by-hand.parquet" in line)
    assert f"'{column}'" in note and "skipped" in note
    assert "c-best" in out and "h1" not in out  # the store's own rows still show
    assert main(["export", "--storage", str(storage), "--name", EXPERIMENT, "--out", str(storage / "b.yaml")]) == 0
    assert "by-hand.parquet" in capsys.readouterr().out
    assert len(list(folder.iterdir())) == before and stray.exists()  # nothing in the store was touched


def test_image_level_only_categories_show_a_dash_and_export_null(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    rows = trial_rows(EXPERIMENT, "panel", "p-best", "finished", [0.6, 0.8], 0.75, {"flow.coupling_blocks": 4})
    for row in rows:  # no masks: the pixel metrics are absent, never 0
        row.update(report_pixel_auroc=None, report_aupro=None, selection_pixel_auroc=None, selection_aupro=None)
    ResultStore(tmp_path / "runs").write_rows(rows)
    assert main(["show", "--storage", str(tmp_path / "runs")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "p-best" in line)
    assert line.split()[-4:] == ["0.7500", "-", "-", "-"] and "nan" not in line  # AUPRO and AUPRO@0.05 absent
    out = tmp_path / "best.yaml"
    assert main(["export", "--storage", str(tmp_path / "runs"), "--name", EXPERIMENT, "--out", str(out)]) == 0
    report = yaml.safe_load(out.read_text())["categories"]["panel"]["report"]
    assert report == {"image_auroc": pytest.approx(0.75), "pixel_auroc": None, "aupro": None, "aupro_05": None}
    assert "0.7500" in capsys.readouterr().out


def test_a_diverged_trial_is_shown_as_diverged_with_its_reason(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    rows = trial_rows(EXPERIMENT, "panel", "p-ok", "finished", [0.6, 0.8], 0.75, {"flow.coupling_blocks": 4})
    bad = trial_rows(EXPERIMENT, "panel", "p-nan", "finished", [0.5], 0.5, {"flow.coupling_blocks": 8})
    bad[-1].update(status="diverged", error="non-finite loss at epoch 2", selection_objective=None)
    ResultStore(tmp_path / "runs").write_rows(rows + bad)
    assert main(["show", "--storage", str(tmp_path / "runs"), "--name", EXPERIMENT]) == 0
    out = capsys.readouterr().out
    assert "1 diverged, 0 failed" in out and "diverged p-nan at epoch 1: non-finite loss at epoch 2" in out


def test_export_config_is_the_name_of_export(tmp_path: Path) -> None:
    build_store(tmp_path / "runs")
    outs = [tmp_path / "old.yaml", tmp_path / "new.yaml"]
    for command, out in zip(("export", "export-config"), outs):
        assert main([command, "--storage", str(tmp_path / "runs"), "--name", EXPERIMENT, "--out", str(out)]) == 0
    old, new = (yaml.safe_load(out.read_text()) for out in outs)
    old.pop("exported_at", None), new.pop("exported_at", None)
    assert old == new and old["categories"]
