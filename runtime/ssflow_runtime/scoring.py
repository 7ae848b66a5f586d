"""Scoring arbitrary image files with a trained model: paths in, decisions and maps out.

Torch-free: the model is any :data:`Scorer` (the torch ``model.pt`` path in
:mod:`ssflow.deployment.torch_scorer`, ONNX Runtime in :mod:`ssflow_runtime.onnx_model`).
Images are read, laid out and cut into the model's inputs by the same code as
in training (:func:`ssflow_runtime.model_inputs.image_inputs`: squash, keep
aspect or tiles) whatever the model runs on; the inputs' maps are stitched
(:func:`ssflow_runtime.tiling.stitch`) at the model's resolution, where the
image score is read as in training, and resized to the image's own size. Each
image is judged against the threshold in use
(:func:`ssflow_runtime.calibration.choose_threshold`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np

from ssflow_runtime.calibration import Calibration
from ssflow_runtime.images import decode, to_rgb
from ssflow_runtime.model_inputs import InputSettings, image_inputs
from ssflow_runtime.errors import UserInputError
from ssflow_runtime.thresholds import normalized_scores
from ssflow_runtime.tiling import TileLayout, image_map, scaled_shape

# model inputs (T, S, S, 3) uint8 RGB -> (anomaly maps (T, S, S) float32, input scores (T,) float32)
Scorer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class ImageScoreRule(NamedTuple):
    """How an image score is read from its stitched map (``map.image_score`` and ``map.topk``)."""

    kind: str = "topk_mean"  # max | topk_mean
    topk: float = 0.01


class OpenedModel(NamedTuple):
    """A model ready to score images, whatever file it came from."""

    path: str
    kind: str  # "model.pt" (torch) or "onnx" (ONNX Runtime)
    inputs: InputSettings  # how images become the model's inputs (size, tiles, scale, aspect, bit depth)
    calibration: Calibration
    scorer: Scorer
    runs_on: str  # for people: "cpu", "cuda", "onnxruntime CPUExecutionProvider", ...
    score_rule: ImageScoreRule = ImageScoreRule()

    @property
    def image_size(self) -> int:
        """S: every model input is S x S."""
        return self.inputs.image_size


class Prediction(NamedTuple):
    path: str
    score: float  # raw image score, higher = more anomalous
    normalized_score: float  # in [0, 1], 0.5 at the threshold (anomalib's min-max); NaN for old model files
    threshold: float  # the threshold in use
    anomalous: bool  # score >= threshold (equivalently normalized_score >= 0.5)


class ScoredImage(NamedTuple):
    prediction: Prediction
    image: np.ndarray  # (H, W, 3) uint8 RGB at the file's own size
    anomaly_map: np.ndarray  # (H, W) float32, the stitched map at the file's own size


def decide(paths: Sequence[str | Path], scores: np.ndarray, threshold: float,
           calibration: Calibration) -> list[Prediction]:
    """The decision for each image score (N,) against ``threshold``, normalised on the calibration's range."""
    normalized = normalized_scores(scores, threshold, calibration.score_low, calibration.score_high)
    return [Prediction(str(path), float(score), float(value), float(threshold), bool(float(score) >= threshold))
            for path, score, value in zip(paths, scores, normalized)]


# Called with an image that cannot be read and the one-line reason; it is then left out.
OnUnreadable = Callable[[Path, str], None]


def model_settings(config: dict[str, Any], path: str | Path) -> tuple[InputSettings, ImageScoreRule]:
    """How a model reads images and scores them, from its nested config (``model.pt`` or ONNX metadata).

    Keys missing from files written before they existed take their defaults
    (whole image, squashed). Raises ``UserInputError`` naming ``path`` for
    values of the wrong type.
    """
    data, backbone, score_map = (config.get(section) or {} for section in ("data", "backbone", "map"))
    try:
        inputs = InputSettings(int(backbone["image_size"]), int(data.get("tile_size", 0)),
                               float(data.get("tile_overlap", 0.25)), float(data.get("scale", 1.0)),
                               bool(data.get("keep_aspect", False)), int(data.get("bit_depth", 0)))
        rule = ImageScoreRule(str(score_map.get("image_score", "topk_mean")), float(score_map.get("topk", 0.01)))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserInputError(f"{path}: damaged model config ({type(error).__name__}: {error})") from None
    return inputs, rule


class _Read(NamedTuple):
    path: Path
    image: np.ndarray  # (H, W, 3) uint8 RGB, the file's own size
    tiles: np.ndarray  # (T, S, S, 3) uint8 model inputs
    layout: TileLayout


def _read(path: Path, inputs: InputSettings) -> _Read:
    image = to_rgb(decode(path), inputs.bit_depth, path)
    height, width = scaled_shape(*image.shape[:2], inputs.scale)
    if inputs.tile_size > min(height, width):
        raise UserInputError(f"image {path} is {width}x{height} px (after the model's data.scale {inputs.scale:g}), "
                             f"smaller than the model's {inputs.tile_size} px tiles; score images at least that "
                             "large, or train a model with a smaller data.tile_size")
    tiles, layout = image_inputs(image, inputs, str(path))
    return _Read(path, image, tiles, layout)


def _run_scorer(scorer: Scorer, tiles: np.ndarray, batch_size: int) -> np.ndarray:
    """The maps (T, S, S) of ``tiles``, ``batch_size`` inputs per call."""
    return np.concatenate([scorer(tiles[start:start + batch_size])[0] for start in range(0, len(tiles), batch_size)])


def score_images(model: OpenedModel, paths: Sequence[Path], threshold: float, batch_size: int = 16,
                 on_unreadable: OnUnreadable | None = None) -> Iterator[list[ScoredImage]]:
    """Score ``paths``, yielding results in order, a group of images at a time.

    A group holds images until their model inputs reach ``batch_size`` (one image
    at a time in tiled mode, where one image has many tiles), so memory stays
    bounded for folders of any size and images of any resolution.

    Raises:
        UserInputError: an image that cannot be read, unless ``on_unreadable`` is given: it is then told
            the path and reason, and the image is left out of the results.
    """
    group: list[_Read] = []
    for index, path in enumerate(paths):
        try:
            group.append(_read(path, model.inputs))
        except UserInputError as error:
            if on_unreadable is None:
                raise
            on_unreadable(path, str(error))
        if group and (sum(len(item.tiles) for item in group) >= batch_size or index == len(paths) - 1):
            yield _score_group(model, group, threshold, batch_size)
            group = []


def _score_group(model: OpenedModel, group: list[_Read], threshold: float, batch_size: int) -> list[ScoredImage]:
    tile_maps = _run_scorer(model.scorer, np.concatenate([item.tiles for item in group]), batch_size)
    maps, scores, start = [], [], 0
    for item in group:
        full, score = image_map(tile_maps[start:start + len(item.tiles)], item.layout, item.image.shape[:2],
                                model.score_rule.kind, model.score_rule.topk)
        start += len(item.tiles)
        maps.append(full)
        scores.append(score)
    predictions = decide([item.path for item in group], np.asarray(scores, dtype=np.float32), threshold,
                         model.calibration)
    return [ScoredImage(prediction, item.image, full) for prediction, item, full in zip(predictions, group, maps)]
