"""What a training run reports: after each epoch (:class:`EpochReport`) and at its end (:class:`FitResult`)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ssflow.evaluation.evaluate import SplitMetrics
from ssflow.model.flow import MultiScaleFlow
from ssflow_runtime.calibration import Calibration


class EpochReport(NamedTuple):
    epoch: int  # epochs completed, from 1
    loss: float
    nll_normal: float
    nll_synthetic: float
    objective: float  # what a search maximises (ssflow.evaluation.evaluate.selection_objective)
    selection: SplitMetrics | None  # None where a split lacks normal or anomalous images
    report: SplitMetrics | None
    validation: SplitMetrics | None  # the synthetic validation set's; None without one
    seconds: float  # training time so far, this run and resumed ones
    epoch_seconds: float
    checkpoint: Callable[[], dict[str, Any]]  # the state to resume from after this epoch
    threshold: ThresholdCheck | None = None  # the calibrated threshold after this epoch, judged on the report split
    flow: MultiScaleFlow | None = None  # the flow after this epoch: read it, do not train it
    # Bootstrap replicates (R,) of ``objective`` over the selection split's images (ssflow.evaluation.split_noise),
    # computed when called; None where the objective rests on no real selection split.
    selection_replicates: Callable[[], np.ndarray | None] | None = None


class ThresholdCheck(NamedTuple):
    """The best-F1 threshold a model would ship with, and how it does on the report split."""

    value: float  # image score at or above which an image is flagged
    report_precision: float | None  # None when nothing is flagged
    report_recall: float | None  # None when the report split holds no defect


class FitResult(NamedTuple):
    status: str  # finished | diverged | stopped
    reason: str  # why it diverged or stopped; empty when finished
    epochs: int
    seconds: float
    selection: SplitMetrics | None
    report: SplitMetrics | None
    flow: MultiScaleFlow | None
    calibration: Calibration | None
    validation: SplitMetrics | None = None
    objective: float | None = None  # the selection objective at the last epoch; None unless finished/stopped
