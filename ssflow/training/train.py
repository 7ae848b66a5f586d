"""Training one flow on one category: ``fit`` prints nothing and returns numbers.

Each step feeds B normal images and their B synthetic counterparts through the
flow in one pass (paper, Sec. 3.3). The frozen backbone runs once over the
clean images of the run; during training only synthetic images go through it,
fresh every step or once for all epochs from a synthetic bank
(``synthesis.bank_rounds``, :mod:`ssflow.training.synthetic_bank`).
After every epoch both test splits are scored and ``on_epoch`` is called, so a
scheduler can prune on the *selection* split.
"""

from __future__ import annotations

import copy
import functools
import time
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np
import torch
from torch import nn

from ssflow_runtime.calibration import Calibration
from ssflow.evaluation.calibration import calibrate, label_free
from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import PreparedData, SplitData
from ssflow.evaluation.evaluate import Evaluation, SplitMetrics, UnhealthyMaps, evaluate, selection_objective
from ssflow.training.run_features import RunFeatures
from ssflow.model.features import extract_features, images_to_tensor
from ssflow.model.flow import MultiScaleFlow
from ssflow.model.loss import self_supervised_loss
from ssflow.datasets.photometric import augment
from ssflow.training.photometric_views import PhotometricViews, ViewPool, build_photometric_views
from ssflow.training.run_inputs import RunInputs, prepare_run
from ssflow.training.synthetic_bank import SyntheticBank, build_synthetic_bank, synthesize_for
from ssflow.evaluation.split_noise import objective_replicates
from ssflow.training.run_reports import EpochReport, FitResult, ThresholdCheck
from ssflow_runtime.thresholds import precision_recall

FINISHED, DIVERGED, STOPPED = "finished", "diverged", "stopped"
__all__ = ["DIVERGED", "FINISHED", "STOPPED", "Diverged", "EpochCallback", "EpochReport", "FitResult",
           "ThresholdCheck", "batch_indices", "fit"]


class Diverged(Exception):
    """Training produced NaN/Inf or a collapsed anomaly map."""


EpochCallback = Callable[[EpochReport], "bool | None"]


def batch_indices(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """A shuffled pass over ``n`` items; a lone leftover joins the previous batch (synthesis needs pairs)."""
    order = rng.permutation(n)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else n
        yield order[start:end]


def _schedule(optimizer: torch.optim.Optimizer, config: SSFlowConfig) -> torch.optim.lr_scheduler.LRScheduler:
    if config.train.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.train.epochs, eta_min=config.train.min_lr
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


class _Evaluations(NamedTuple):
    selection: Evaluation
    report: Evaluation
    validation: Evaluation | None


class _Trainer:
    """The state of one run: flow, optimiser, schedule, generator; one method per phase."""

    def __init__(self, config: SSFlowConfig, data: PreparedData, device: torch.device,
                 backbone: nn.Module, features: RunFeatures, bank: SyntheticBank | None,
                 views: PhotometricViews | None = None) -> None:
        self.config, self.data, self.device = config, data, device
        self.backbone, self.features, self.bank = backbone, features, bank
        self.normal = ViewPool(features.train, views)  # each image's clean features, or one of its relit views
        self.flow = MultiScaleFlow(backbone.channels, config.flow, config.seed).to(device)
        self.flow.fit_standardization(features.train)
        self.parameters = [p for p in self.flow.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(
            self.parameters, lr=config.train.lr, eps=config.train.adam_eps,
            weight_decay=config.train.weight_decay,
        )
        self.scheduler = _schedule(self.optimizer, config)
        self.rng = np.random.default_rng(config.seed)
        self.epoch = 0
        self.seconds = 0.0

    def state(self) -> dict[str, Any]:
        """A snapshot (copied: training goes on mutating the live tensors in place)."""
        return copy.deepcopy({
            "epoch": self.epoch,
            "seconds": self.seconds,
            "flow": self.flow.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        })

    def restore(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.seconds = float(state["seconds"])
        self.flow.load_state_dict(state["flow"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])

    def train_epoch(self) -> tuple[float, float, float]:
        """One pass over the training images; mean loss and NLLs."""
        self.flow.train()
        totals = np.zeros(3)
        steps = 0
        for index in batch_indices(len(self.data.train), self.config.train.batch_size, self.rng):
            totals += self._step(index)
            steps += 1
        self.scheduler.step()
        return tuple(totals / max(steps, 1))

    def _synthetic(self, index: np.ndarray) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Features and (B, 1, H, W) masks of the synthetic counterparts of the batch."""
        if self.bank is not None:
            return self.bank.entries(self.epoch, index)
        targets = self.data.train[index]
        if self.config.train.photometric:
            targets = augment(targets, self.config.train.photometric, self.rng)
        synthetic, masks = synthesize_for(targets, self.config.synthesis, self.rng)
        features = extract_features(self.backbone, synthetic, self.device)
        return features, images_to_tensor(masks[..., None].astype(np.uint8) * 255, self.device)

    def _step(self, index: np.ndarray) -> np.ndarray:
        synthetic_features, mask_tensor = self._synthetic(index)
        inputs = [torch.cat([normal, syn]) for normal, syn in zip(self.normal.batch(index, self.rng),
                                                                  synthetic_features)]
        output = self.flow(inputs)
        result = self_supervised_loss(output, len(index), mask_tensor, self.config.loss)
        if not torch.isfinite(result.loss):
            raise Diverged(f"non-finite loss at epoch {self.epoch + 1}")
        self.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.parameters, self.config.train.grad_clip)
        if not torch.isfinite(grad_norm):
            raise Diverged(f"non-finite gradient at epoch {self.epoch + 1}")
        self.optimizer.step()
        return np.array([result.loss.item(), result.nll_normal, result.nll_synthetic])

    def evaluate_splits(self) -> _Evaluations:
        """Score every split; unhealthy maps (non-finite, constant) are a divergence, never a metric error."""
        try:
            selection = evaluate(self.flow, self.features.selection, self.data.selection, self.config.map,
                                 "selection")
            report = evaluate(self.flow, self.features.report, self.data.report, self.config.map, "report")
            validation = None
            if self.data.validation is not None:
                validation = evaluate(self.flow, self.features.validation, self.data.validation, self.config.map,
                                      "synthetic validation")
        except UnhealthyMaps as error:
            raise Diverged(str(error)) from None
        return _Evaluations(selection, report, validation)

    @property
    def tuned_label_free(self) -> bool:
        """Tuned on synthetic validation anomalies only: no labelled defect may set the threshold either."""
        return self.config.validation.label_free

    def objective(self, evaluations: _Evaluations) -> float:
        validation = evaluations.validation.metrics if evaluations.validation else None
        return selection_objective(evaluations.selection.metrics, validation,
                                   self.config.validation.synthetic_weight, self.config.validation.localization)

    def replicates(self, evaluations: _Evaluations) -> np.ndarray | None:
        """:meth:`objective` over bootstrap resamples of the selection split (the synthetic side held fixed)."""
        weight, localization = self.config.validation.synthetic_weight, self.config.validation.localization
        if weight >= 1.0 or evaluations.selection.metrics is None:
            return None
        selection, split = evaluations.selection, self.data.selection
        real = objective_replicates(selection.scores, split.labels, selection.maps, split.masks, localization)
        synthetic = evaluations.validation.metrics if weight > 0 and evaluations.validation else None
        return (real if synthetic is None else (1.0 - weight) * real
                + weight * synthetic.objective_with(localization)).astype(np.float32)


def fit(config: SSFlowConfig, data: PreparedData, device: torch.device | str = "cpu",
        on_epoch: EpochCallback | None = None, resume: dict[str, Any] | None = None,
        inputs: RunInputs | None = None) -> FitResult:
    """Train for ``config.train.epochs`` epochs; never raises for divergence.

    ``on_epoch`` gets an :class:`EpochReport` after every epoch and may return
    True to stop early. ``resume`` is a state from ``EpochReport.checkpoint()``.
    ``inputs`` (backbone, clean features, synthetic bank, photometric views)
    come from :func:`ssflow.training.run_inputs.prepare_run`, which is called here when
    they are not given; a bank or views the config asks for and ``inputs``
    lacks are built here.
    """
    device = torch.device(device)
    inputs = inputs or prepare_run(config, data, device)
    bank = inputs.bank if config.synthesis.bank_rounds else None  # a bank given for a config without one is unused
    if config.synthesis.bank_rounds and bank is None:
        bank = build_synthetic_bank(inputs.backbone, data, config, device)
    views = inputs.views if config.train.photometric else None
    if config.train.photometric and views is None:
        views = build_photometric_views(inputs.backbone, data.train, config, device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        trainer = _Trainer(config, data, device, inputs.backbone, inputs.features, bank, views)
        if resume is not None:
            trainer.restore(resume)
        return _run(trainer, on_epoch)


def _calibration(data: PreparedData, evaluations: _Evaluations, label_free_tuning: bool) -> Calibration:
    """Fitted on the selection split; the synthetic validation set's held-out normal images join the
    false-positive thresholds where the selection split has few normal images. A category whose
    selection split holds no defect, or a model tuned label-free (synthetic weight 1: the user asked
    that no labelled defect choose anything), is calibrated on the synthetic validation set, its
    selection split's normal images joining the false-positive thresholds.
    """
    validation = evaluations.validation
    if (label_free_tuning or not data.selection.scorable) and validation is not None:
        # Good parts held out for testing join only where the test set has no defect at all (so no label
        # is needed to know they are good).
        normal_tests = None if data.selection.scorable else evaluations.selection.scores[data.selection.labels == 0]
        return label_free(calibrate(validation, data.validation, normal_tests), "held-out normal")
    held_out = validation.scores[data.validation.labels == 0] if validation is not None else None
    return calibrate(evaluations.selection, data.selection, held_out)


def _threshold_check(calibration: Calibration, report: Evaluation, split: SplitData) -> ThresholdCheck:
    judged = precision_recall(report.scores, split.labels, calibration.threshold).as_dict()
    return ThresholdCheck(calibration.threshold, judged["precision"], judged["recall"])


def _metrics(evaluation: Evaluation | None) -> SplitMetrics | None:
    return evaluation.metrics if evaluation is not None else None


def _run(trainer: _Trainer, on_epoch: EpochCallback | None) -> FitResult:
    config = trainer.config
    evaluations: _Evaluations | None = None
    status, reason = FINISHED, ""
    try:
        while trainer.epoch < config.train.epochs:
            started = time.perf_counter()
            loss, nll_normal, nll_synthetic = trainer.train_epoch()
            evaluations = trainer.evaluate_splits()
            trainer.epoch += 1
            epoch_seconds = time.perf_counter() - started
            trainer.seconds += epoch_seconds
            threshold = _threshold_check(_calibration(trainer.data, evaluations, trainer.tuned_label_free),
                                         evaluations.report, trainer.data.report)
            report = EpochReport(
                trainer.epoch, loss, nll_normal, nll_synthetic, trainer.objective(evaluations),
                evaluations.selection.metrics, evaluations.report.metrics, _metrics(evaluations.validation),
                trainer.seconds, epoch_seconds, trainer.state, threshold, trainer.flow,
                functools.partial(trainer.replicates, evaluations),
            )
            if on_epoch is not None and on_epoch(report) and trainer.epoch < config.train.epochs:
                status, reason = STOPPED, f"stopped by the caller after epoch {trainer.epoch}"
                break
        if evaluations is None:  # resumed after the last epoch: score once more
            evaluations = trainer.evaluate_splits()
    except Diverged as error:
        return FitResult(DIVERGED, str(error), trainer.epoch, trainer.seconds, None, None, None, None)
    calibration = _calibration(trainer.data, evaluations, trainer.tuned_label_free)
    return FitResult(status, reason, trainer.epoch, trainer.seconds, evaluations.selection.metrics,
                     evaluations.report.metrics, trainer.flow, calibration, _metrics(evaluations.validation),
                     trainer.objective(evaluations))
