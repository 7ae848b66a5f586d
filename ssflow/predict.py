"""Scoring arbitrary image files with a trained model: paths in, decisions and maps out.

Torch-free: the model is any :data:`Scorer` (the torch ``model.pt`` path in
:mod:`ssflow.torch_scorer`, ONNX Runtime in :mod:`ssflow.onnx_model`, opened
by :func:`ssflow.model_files.open_model`). Images are read and resized by the
same code as in training (square, the model's image size) whatever the model
runs on, and judged against the threshold in use
(:func:`ssflow.calibration.choose_threshold`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Sequence

import numpy as np

from ssflow.calibration import Calibration
from ssflow.datasets.images import read_image
from ssflow.datasets.listing import IMAGE_SUFFIXES, is_hidden
from ssflow.errors import UserInputError
from ssflow.thresholds import normalized_scores

# images (N, S, S, 3) uint8 RGB -> (anomaly maps (N, S, S) float32, image scores (N,) float32)
Scorer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class OpenedModel(NamedTuple):
    """A model ready to score images, whatever file it came from."""

    path: str
    kind: str  # "model.pt" (torch) or "onnx" (ONNX Runtime)
    image_size: int  # S: images are resized to (S, S)
    calibration: Calibration
    scorer: Scorer
    runs_on: str  # for people: "cpu", "cuda", "onnxruntime CPUExecutionProvider", ...
    bit_depth: int = 0  # data.bit_depth the model was trained with: 16-bit files are read alike (0: per image)


class Prediction(NamedTuple):
    path: str
    score: float  # raw image score, higher = more anomalous
    normalized_score: float  # in [0, 1], 0.5 at the threshold (anomalib's min-max); NaN for old model files
    threshold: float  # the threshold in use
    anomalous: bool  # score >= threshold (equivalently normalized_score >= 0.5)


class ScoredImage(NamedTuple):
    prediction: Prediction
    image: np.ndarray  # (S, S, 3) uint8 RGB, as the model saw it
    anomaly_map: np.ndarray  # (S, S) float32


def find_images(inputs: Sequence[str | Path], recursive: bool = False,
                recursive_flag: str | None = "--recursive") -> list[Path]:
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
        hint = f" (add {recursive_flag} for subfolders)" if recursive_flag else ""
        where = "its subfolders" if recursive else f"the folders themselves{hint}"
        raise UserInputError(f"no images found in {', '.join(map(str, inputs))}: looked for "
                             f"{', '.join(IMAGE_SUFFIXES)} files in {where}")
    return unique


def _is_listed_image(path: Path, folder: Path) -> bool:
    """A file below ``folder`` with an image suffix, not hidden and not inside a hidden folder."""
    hidden = any(is_hidden(Path(part)) for part in path.relative_to(folder).parts)
    return not hidden and path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def decide(paths: Sequence[str | Path], scores: np.ndarray, threshold: float,
           calibration: Calibration) -> list[Prediction]:
    """The decision for each image score (N,) against ``threshold``, normalised on the calibration's range."""
    normalized = normalized_scores(scores, threshold, calibration.score_low, calibration.score_high)
    return [Prediction(str(path), float(score), float(value), float(threshold), bool(float(score) >= threshold))
            for path, score, value in zip(paths, scores, normalized)]


# Called with an image that cannot be read and the one-line reason; it is then left out.
OnUnreadable = Callable[[Path, str], None]


def score_images(model: OpenedModel, paths: Sequence[Path], threshold: float, batch_size: int = 16,
                 on_unreadable: OnUnreadable | None = None) -> Iterator[list[ScoredImage]]:
    """Score ``paths`` ``batch_size`` images at a time, yielding each batch's results in order.

    Only one batch of images and maps is held at a time, so folders of any size fit.

    Raises:
        UserInputError: an image that cannot be read, unless ``on_unreadable`` is given: it is then told
            the path and reason, and the image is left out of the results.
    """
    for start in range(0, len(paths), batch_size):
        batch, pixels = [], []
        for path in paths[start:start + batch_size]:
            try:
                pixels.append(read_image(path, model.image_size, model.bit_depth))
            except UserInputError as error:
                if on_unreadable is None:
                    raise
                on_unreadable(path, str(error))
                continue
            batch.append(path)
        if not batch:
            continue
        images = np.stack(pixels)
        maps, scores = model.scorer(images)
        predictions = decide(batch, scores, threshold, model.calibration)
        yield [ScoredImage(prediction, image, anomaly_map)
               for prediction, image, anomaly_map in zip(predictions, images, maps)]


def predict(model: OpenedModel, paths: Sequence[Path], threshold: float, batch_size: int = 16) -> list[Prediction]:
    """The decision for every path, in order (maps are dropped)."""
    return [scored.prediction for batch in score_images(model, paths, threshold, batch_size) for scored in batch]
