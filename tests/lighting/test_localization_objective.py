"""aupro_05 (MVTec AD 2's AucPro_0.05) as the objective's localisation term: validation.localization."""

import pytest

from ssflow.datasets.prepared import prepare_data
from ssflow.evaluation.evaluate import SplitMetrics, selection_objective
from ssflow.settings.flat_config import config_from_flat
from ssflow.training.train import fit


def test_the_localisation_term_is_chosen_by_name() -> None:
    metrics = SplitMetrics(image_auroc=0.8, pixel_auroc=0.9, aupro=0.6, aupro_05=0.4)
    assert metrics.objective == pytest.approx(0.7)
    assert metrics.objective_with("aupro_05") == pytest.approx(0.6)
    assert selection_objective(metrics, None, 0.0, "aupro_05") == pytest.approx(0.6)
    assert SplitMetrics(0.8, None, None).objective_with("aupro_05") == pytest.approx(0.8)  # no masks: detection


def test_training_reports_aupro_05_and_optimises_it_when_asked() -> None:
    config = config_from_flat({"data.dataset": "demo", "data.category": "washer", "backbone.image_size": 64,
                               "train.epochs": 1, "flow.coupling_blocks": 1, "flow.hidden_channels": 16,
                               "validation.localization": "aupro_05"})
    result = fit(config, prepare_data(config))
    selection = result.selection
    assert 0.0 <= selection.aupro_05 <= 1.0 and selection.aupro_05 != selection.aupro
    assert result.objective == pytest.approx(0.5 * (selection.image_auroc + selection.aupro_05))
