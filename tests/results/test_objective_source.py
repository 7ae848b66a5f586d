"""Exports and tables say what a sweep's objective and threshold were computed on."""

from __future__ import annotations

import pandas as pd

from results.objective_source import chosen_on, synthetic_weight, threshold_rule


def test_wording_follows_the_synthetic_weight() -> None:
    assert chosen_on(0.0) == "the selection split"
    assert "weight 0.5" in chosen_on(0.5)
    assert "no labelled defect" in chosen_on(1.0)
    assert threshold_rule(0.0) == "best F1 on the selection split"
    assert threshold_rule(1.0).startswith("false-positive rate <= 1 %")
    assert synthetic_weight(pd.DataFrame({"x": [1]})) == 0.0  # rows of an older version

