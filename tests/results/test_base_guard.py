"""The base config stays the exported answer unless a searched config beats it beyond the comparison's noise."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from results.base_guard import MIN_Z, expected_max_z, winners_curse_z
from results.export import build_export
from results.ranking import best_configs
from results.store import ResultStore
from tests.store_rows import EXPERIMENT, trial_rows

BASE_OBJECTIVE = 0.80


def _store(root: Path, gain: float, spread: float | None, others: int = 0, shared: float = 0.0) -> pd.DataFrame:
    """A carpet study: the base config and one searched config ``gain`` ahead on the selection objective whose
    paired replicates differ from the base's by noise of ``spread`` (None: no replicates, an older store), and
    ``others`` searched configs behind it (as good as the base) whose noise shares a fraction ``shared`` of its
    variance with the first one's (0: independent errors, 1: the same errors)."""
    rng = np.random.default_rng(0)
    base_replicates = BASE_OBJECTIVE + 0.05 * rng.normal(size=200)
    common = rng.normal(size=200)
    searched_replicates = base_replicates + gain + (spread or 0.0) * common
    trials = [("base", "base", BASE_OBJECTIVE, base_replicates),
              ("s1", "search", BASE_OBJECTIVE + gain, searched_replicates)]
    for index in range(others):
        error = np.sqrt(shared) * common + np.sqrt(1.0 - shared) * rng.normal(size=200)
        trials.append((f"o{index}", "search", BASE_OBJECTIVE, base_replicates + (spread or 0.0) * error))
    rows = []
    for number, (trial_id, role, objective, replicates) in enumerate(trials):
        trial = trial_rows(EXPERIMENT, "carpet", trial_id, "finished", [objective - 0.1, objective], objective,
                           {"flow.coupling_blocks": 4 if role == "base" else 8, "flow.hidden_channels": 8 + number})
        for row in trial:
            row["role"] = role
        if spread is not None:
            trial[-1]["selection_replicates"] = replicates.astype(np.float32).tolist()
        rows += trial
    store = ResultStore(root)
    store.write_rows(rows)
    return store.read()


def test_a_gain_within_the_split_noise_keeps_the_base_config(tmp_path):
    frame = _store(tmp_path, gain=0.04, spread=0.05)
    chosen = best_configs(frame).iloc[0]
    assert chosen["trial_id"] == "base" and chosen["base_kept"]
    assert chosen["gain_over_base"] == pytest.approx(0.04)
    assert 0.04 < chosen["gain_noise"] < 0.07  # the paired spread (0.05) and the seed prior (0.01) together
    entry = build_export(frame, EXPERIMENT, "test", pd.Timestamp.now(tz="UTC").to_pydatetime()).categories["carpet"]
    assert entry["trial_id"] == "base" and entry["against_base"]["base_kept"] is True
    assert best_configs(frame, guard_base=False).iloc[0]["trial_id"] == "s1"  # the raw ranking is unchanged


def test_a_gain_beyond_the_noise_replaces_the_base_config(tmp_path):
    frame = _store(tmp_path, gain=0.10, spread=0.02)
    chosen = best_configs(frame).iloc[0]
    assert chosen["trial_id"] == "s1" and not chosen["base_kept"]
    assert chosen["gain_threshold"] == pytest.approx(MIN_Z * chosen["gain_noise"])  # one searched config
    assert chosen["gain_over_base"] > chosen["gain_threshold"]


def test_the_best_of_many_configs_must_lead_by_more(tmp_path):
    # The same lead that replaces the base when one config was searched keeps it when ten were.
    alone = best_configs(_store(tmp_path / "one", gain=0.13, spread=0.1)).iloc[0]
    assert not alone["base_kept"] and alone["gain_over_base"] > alone["gain_threshold"]
    among_ten = best_configs(_store(tmp_path / "ten", gain=0.13, spread=0.1, others=9)).iloc[0]
    assert among_ten["trial_id"] == "base" and among_ten["base_kept"]
    assert among_ten["gain_threshold"] == pytest.approx(expected_max_z(10) * among_ten["gain_noise"], rel=0.05)


def test_configs_that_share_their_errors_cannot_win_by_luck(tmp_path):
    # Ten configs whose leads over the base share 95 % of their noise: the best of them is as good as one draw.
    among_ten = best_configs(_store(tmp_path, gain=0.045, spread=0.03, others=9, shared=0.95)).iloc[0]
    assert among_ten["trial_id"] == "s1" and not among_ten["base_kept"]
    assert among_ten["gain_threshold"] == pytest.approx(MIN_Z * among_ten["gain_noise"])


def test_the_winners_curse_term_is_the_expected_maximum_of_normals():
    # Closed forms: E[max of 2] = 1 / sqrt(pi), E[max of 3] = 3 / (2 sqrt(pi)); tables give 1.5388 for 10.
    assert expected_max_z(1) == 0.0
    assert expected_max_z(2) == pytest.approx(1 / math.sqrt(math.pi), abs=1e-6)
    assert expected_max_z(3) == pytest.approx(3 / (2 * math.sqrt(math.pi)), abs=1e-6)
    assert expected_max_z(10) == pytest.approx(1.5388, abs=1e-4)
    assert winners_curse_z(2) == MIN_Z and winners_curse_z(10) == pytest.approx(1.5388, abs=1e-4)
    assert winners_curse_z(50, correlation=0.75) == pytest.approx(max(MIN_Z, 0.5 * expected_max_z(50)))
    with pytest.raises(ValueError, match="correlation 1.5"):
        winners_curse_z(10, correlation=1.5)


def test_without_replicates_the_best_config_is_kept(tmp_path):
    frame = _store(tmp_path, gain=0.01, spread=None)
    chosen = best_configs(frame).iloc[0]
    assert chosen["trial_id"] == "s1" and not chosen["base_kept"] and np.isnan(chosen["gain_noise"])


def test_show_says_why_the_base_config_ships(tmp_path):
    from cli.show_configs import shipped_line

    line = shipped_line(_store(tmp_path, gain=0.04, spread=0.05))
    assert "export ships [bold]base[/]" in line
    assert "the base config stays: s1 was ahead by +0.040, short of the 0.05" in line
    assert "(1.00 x the comparison's noise 0.05" in line
