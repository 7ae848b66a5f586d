"""Building export content from result frames: choice on the selection split, skips, round trip."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from results.export import build_export
from results.schema import hp_column, to_table
from results.store import frame_from_table
from ssflow.settings.config_files import config_to_nested
from ssflow.errors import UserInputError
from ssflow.settings.exported import load_export_config, write_export
from ssflow.settings.flat_config import config_from_flat, config_to_flat

NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


def trial(trial_id: str, status: str, objective: float | None, report: float = 0.5, category: str = "a",
          dataset: str = "demo", experiment: str = "e", epochs: int = 3, **flat: Any) -> list[dict[str, Any]]:
    """A trial's epoch rows (objective rising to ``objective``) and its final row."""
    config = config_from_flat({"data.dataset": dataset, "data.category": category, "train.epochs": 3, **flat})
    shared = {"experiment": experiment, "dataset": dataset, "category": category, "trial_id": trial_id,
              "config_json": json.dumps(config_to_nested(config)), "code_version": "0.0.9",
              **{hp_column(key): value for key, value in config_to_flat(config).items()}}
    rows = [{**shared, "status": "running", "epoch": epoch, "selection_objective": objective,
             "report_image_auroc": report, "report_pixel_auroc": None, "report_aupro": report,
             "written_at": NOW + datetime.timedelta(seconds=epoch)} for epoch in range(1, epochs + 1)]
    return [*rows, {**rows[-1], "status": status, "written_at": NOW + datetime.timedelta(seconds=epochs + 1)}]


def frame(*trials: list[dict[str, Any]]) -> pd.DataFrame:
    return frame_from_table(to_table([row for rows in trials for row in rows]))


def test_chooses_on_selection_not_report_and_keeps_report_for_reading() -> None:
    df = frame(trial("chosen", "finished", 0.8, report=0.6, **{"flow.coupling_blocks": 6}),
               trial("report-best", "finished", 0.7, report=0.99),
               trial("pruned-high", "pruned", 0.95, epochs=1))
    content = build_export(df, "e", "1.2.3", NOW)
    entry = content.categories["a"]
    assert entry["trial_id"] == "chosen" and entry["selection_objective"] == 0.8
    assert entry["report"] == {"image_auroc": 0.6, "pixel_auroc": None, "aupro": 0.6, "aupro_05": None}
    assert entry["epochs"] == 3 and entry["dataset"] == "demo" and entry["trial_code_version"] == "0.0.9"
    assert entry["config"]["flow"]["coupling_blocks"] == 6
    assert content.header == {"experiment": "e", "exported_at": "2024-06-01T12:00:00+00:00", "code_version": "1.2.3"}
    assert content.notes == []


def test_only_rows_of_the_named_experiment_count() -> None:
    df = frame(trial("mine", "finished", 0.5), trial("theirs", "finished", 0.9, experiment="other"))
    assert build_export(df, "e", "1", NOW).categories["a"]["trial_id"] == "mine"


def test_category_without_finished_trial_is_skipped_with_a_note() -> None:
    df = frame(trial("ok", "finished", 0.5), trial("p", "pruned", 0.9, category="b", epochs=1),
               trial("f", "failed", None, category="b"))
    content = build_export(df, "e", "1", NOW)
    assert list(content.categories) == ["a"]
    assert content.notes == ["skipped demo/b: no finished trial (1 failed, 1 pruned)"]


def test_no_finished_trial_at_all_is_a_user_error() -> None:
    with pytest.raises(UserInputError, match="experiment 'e' has no finished trial"):
        build_export(frame(trial("p", "pruned", 0.9, epochs=1)), "e", "1", NOW)


def test_a_category_name_in_two_datasets_asks_for_dataset() -> None:
    df = frame(trial("x", "finished", 0.5, dataset="mvtec"), trial("y", "finished", 0.5, dataset="btad"))
    with pytest.raises(UserInputError, match="--dataset"):
        build_export(df, "e", "1", NOW)


def test_a_broken_stored_config_is_a_user_error() -> None:
    rows = trial("x", "finished", 0.5)
    for row in rows:
        row["config_json"] = "{not json"
    with pytest.raises(UserInputError, match="trial x: config_json is not valid JSON"):
        build_export(frame(rows), "e", "1", NOW)


def test_written_file_loads_back_into_the_trial_config(tmp_path: Path) -> None:
    flat = {"data.dataset": "demo", "data.category": "a", "train.epochs": 3, "backbone.levels": [1, 2],
            "train.lr": 3e-4, "synthesis.blend": "alpha"}
    content = build_export(frame(trial("x", "finished", 0.5, **flat)), "e", "1", NOW)
    path = tmp_path / "best.yaml"
    write_export(path, content.header, content.categories)
    assert load_export_config(path, "a") == config_from_flat(flat)


@pytest.mark.parametrize("weight, chosen_on, rule", [
    (0.0, "the selection split", "best F1 on the selection split"),
    (1.0, "synthetic validation anomalies (no labelled defect)", "false-positive rate <= 1 %"),
])
def test_the_entry_says_what_the_config_and_threshold_were_chosen_on(weight: float, chosen_on: str,
                                                                       rule: str) -> None:
    content = build_export(frame(trial("t", "finished", 0.8, **{"validation.synthetic_weight": weight})), "e", "1",
                           NOW)
    entry = content.categories["a"]
    assert entry["chosen_on"] == chosen_on and entry["threshold"]["rule"].startswith(rule)
