"""Scoring arbitrary image files with a trained model: paths in, decisions and maps out.

The images are read and resized exactly as in training (square, the model's
``backbone.image_size``), scored with the model's map settings, and judged
against the threshold fitted on the selection split (see
:mod:`ssflow.calibration`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import torch

from ssflow.backbone import FeatureExtractor
from ssflow.calibration import Calibration
from ssflow.datasets.images import read_image
from ssflow.datasets.listing import IMAGE_SUFFIXES, is_hidden
from ssflow.errors import UserInputError
from ssflow.evaluate import score_features
from ssflow.features import extract_features
from ssflow.model_io import LoadedModel


class Prediction(NamedTuple):
    path: str
    score: float  # image score, higher = more anomalous
    normalized_score: float  # (score - mean) / std of the normal selection images' scores
    threshold: float
    anomalous: bool  # score >= threshold


class ScoredImage(NamedTuple):
    prediction: Prediction
    image: np.ndarray  # (S, S, 3) uint8 RGB, as the model saw it
    anomaly_map: np.ndarray  # (S, S) float32


def find_images(inputs: Sequence[str | Path], recursive: bool = False) -> list[Path]:
    """Image files named by ``inputs``, in the given order, each file once.

    A file is taken as it is, whatever its suffix; a folder contributes its
    files with an image suffix (:data:`IMAGE_SUFFIXES`, any case), sorted by
    path, from the folder itself or, with ``recursive``, from all its subfolders.
    Inside a folder, dot-files and dot-folders and macOS's ``__MACOSX/`` are
    skipped, as the dataset readers skip them.
    """
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_file():
            found.append(item)
        elif item.is_dir():
            candidates = item.rglob("*") if recursive else item.iterdir()
            found.extend(sorted(path for path in candidates if _is_listed_image(path, item)))
        else:
            raise UserInputError(f"{item}: no such image file or folder")
    unique = list(dict.fromkeys(found))
    if not unique:
        where = "its subfolders" if recursive else "the folders themselves (add --recursive for subfolders)"
        raise UserInputError(f"no images found in {', '.join(map(str, inputs))}: looked for "
                             f"{', '.join(IMAGE_SUFFIXES)} files in {where}")
    return unique


def _is_listed_image(path: Path, folder: Path) -> bool:
    """A file below ``folder`` with an image suffix, not hidden and not inside a hidden folder."""
    hidden = any(is_hidden(Path(part)) for part in path.relative_to(folder).parts)
    return not hidden and path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def decide(path: str | Path, score: float, calibration: Calibration) -> Prediction:
    """The decision for one image score under ``calibration``."""
    # A zero spread (identical normal scores) has no meaningful z-score.
    normalized = (score - calibration.score_mean) / calibration.score_std if calibration.score_std > 0 else math.nan
    return Prediction(str(path), float(score), float(normalized), float(calibration.threshold),
                      bool(score >= calibration.threshold))


def check_backbone(model: LoadedModel, backbone: FeatureExtractor) -> None:
    """The backbone must give the feature channels the flow was trained on."""
    if tuple(backbone.channels) != tuple(model.flow.channels):
        raise UserInputError(
            f"backbone '{backbone.name}' levels {list(backbone.levels)} give channels {list(backbone.channels)}, "
            f"but the model's flow was trained on {list(model.flow.channels)}; the model file and its "
            "backbone config do not belong together")


def score_images(model: LoadedModel, backbone: FeatureExtractor, paths: Sequence[Path],
                 device: torch.device, batch_size: int = 16) -> Iterator[list[ScoredImage]]:
    """Score ``paths`` ``batch_size`` images at a time, yielding each batch's results in order.

    Only one batch of images and maps is held at a time, so folders of any size fit.
    """
    check_backbone(model, backbone)
    size = model.config.backbone.image_size
    for start in range(0, len(paths), batch_size):
        batch = paths[start:start + batch_size]
        images = np.stack([read_image(path, size) for path in batch])
        features = extract_features(backbone, images, device, batch_size)
        maps, scores = score_features(model.flow, features, size, model.config.map, batch_size)
        yield [ScoredImage(decide(path, score, model.calibration), image, anomaly_map)
               for path, score, image, anomaly_map in zip(batch, scores, images, maps)]


def predict(model: LoadedModel, backbone: FeatureExtractor, paths: Sequence[Path],
            device: torch.device, batch_size: int = 16) -> list[Prediction]:
    """The decision for every path, in order (maps are dropped)."""
    return [scored.prediction for batch in score_images(model, backbone, paths, device, batch_size)
            for scored in batch]
