"""Exporting a trained model to one ONNX graph, checked against torch before it is written.

The graph is :class:`ssflow.deployment.pipeline.AnomalyPipeline`: ``images`` (N, 3, S, S)
uint8 RGB, N dynamic -> ``anomaly_map`` (N, S, S) and ``score`` (N,) float32,
with the backbone, the standardisers, the flows (forward only), level scores,
bilinear upsampling, fusion, Gaussian smoothing (two MatMuls) and the image
score inside. It is exported with torch's ``torch.export``-based exporter
(``dynamo=True``): on this model its graph has a third of the nodes of the
TorchScript exporter's (the backbone's "same" padding becomes constant pads
that ONNX Runtime folds into the convolutions) and ran ~15 % faster.

The file is written to a temporary sibling, run on ONNX Runtime with the same
session options as ``predict``, compared with the torch model on the given
images (scores within :data:`SCORE_RTOL` relative, maps within
:data:`MAP_ATOL` absolute, at batch N and batch 1), and only then renamed
to its destination; a file that disagrees never appears there.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import onnx
import onnxruntime as ort
import torch

import ssflow
from ssflow.model.backbone import FeatureExtractor, configured_backbone
from ssflow_runtime.calibration import calibration_to_dict
from ssflow.settings.config import DataConfig
from ssflow.settings.config_files import config_to_nested
from ssflow.deployment.model_io import LoadedModel
from ssflow_runtime.onnx_model import FORMAT, INPUT, MAP_OUTPUT, SCORE_OUTPUT, create_session, onnx_scorer
from ssflow.deployment.pipeline import AnomalyPipeline
from ssflow.deployment.torch_scorer import check_backbone

SCORE_RTOL = 1e-4  # largest relative difference of an image score, ONNX Runtime against torch
MAP_ATOL = 1e-3  # largest absolute difference of an anomaly-map pixel
OPSET = 18


class ExportCheck(NamedTuple):
    images: int  # images compared
    score_relative_difference: float  # largest |ort - torch| / |torch| over the image scores
    map_absolute_difference: float  # largest |ort - torch| over every map pixel


class ExportMismatch(Exception):
    """The ONNX graph's outputs differ from the torch model's beyond the tolerances; nothing was written."""


def build_pipeline(model: LoadedModel, backbone: FeatureExtractor | None = None) -> AnomalyPipeline:
    """The model's whole pipeline on CPU in eval mode; ``model`` and ``backbone`` are left as they are.

    ``backbone`` is used when it is on the CPU, else one is built from the config.
    """
    config = model.config
    if backbone is None or backbone.mean.device.type != "cpu":
        backbone = configured_backbone(config, "cpu")
    check_backbone(model, backbone)
    flow = copy.deepcopy(model.flow).cpu()
    return AnomalyPipeline(backbone, flow, config.backbone.image_size, config.map).eval()


def check_images(image_size: int, count: int = 4, seed: int = 0) -> np.ndarray:
    """``count`` seeded test images (N, S, S, 3) uint8: smooth random textures, one with a bright square.

    Used when the caller has no real images for the export check.
    """
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 216, (count, 8, 8, 3)).astype(np.float32)
    cells = image_size // 8
    images = np.kron(coarse, np.ones((1, cells, cells, 1), np.float32))
    images += rng.normal(0.0, 12.0, images.shape)
    images[-1, image_size // 4: image_size // 2, image_size // 4: image_size // 2] = 250.0
    return np.clip(images, 0, 255).astype(np.uint8)


def _export_graph(pipeline: AnomalyPipeline, path: Path) -> None:
    example = torch.zeros(2, 3, pipeline.image_size, pipeline.image_size, dtype=torch.uint8)
    batch = torch.export.Dim("batch", min=1, max=4096)
    # The exporter reports its steps on stdout and warns about internals: neither is for the user.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.inference_mode(False):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(pipeline, (example,), dynamo=True, input_names=[INPUT],
                                    output_names=[MAP_OUTPUT, SCORE_OUTPUT], dynamic_shapes=({0: batch},),
                                    opset_version=OPSET, optimize=True, verbose=False)
    program.save(str(path))


def _input_layout(data: DataConfig, size: int) -> str:
    """How an image becomes this graph's inputs, for people reading the file's metadata (ssflow_runtime.tiling)."""
    scaled = f"resized by data.scale {data.scale:g}, then " if data.scale != 1.0 else ""
    if data.tile_size:
        return (f"{scaled}cut into {data.tile_size} x {data.tile_size} px tiles (data.tile_overlap "
                f"{data.tile_overlap:g}, last row and column aligned to the border), each resized to {size} x {size}; "
                "N = the tiles of one image")
    if data.keep_aspect:
        return f"{scaled}reflect-padded to a centred square, resized to {size} x {size}; N images"
    return f"{scaled}resized to {size} x {size} (aspect ratio not kept); N images"


def _image_decision(data: DataConfig) -> str:
    if data.tile_size:
        return ("an image's score is read from the tiles' maps stitched together (ssflow_runtime.tiling); anomalous when "
                ">= threshold")
    return "the image score, anomalous when >= threshold"


def _metadata(model: LoadedModel) -> dict[str, str]:
    """The file's metadata (:data:`ssflow_runtime.onnx_model.METADATA_KEYS`): text as it is, the rest as JSON."""
    calibration, size = model.calibration, model.config.backbone.image_size
    text = {
        "format": FORMAT,
        "ssflow_version": ssflow.__version__,
        "input": f"{INPUT}: uint8 (N, 3, {size}, {size}) RGB, 0-255: {_input_layout(model.config.data, size)}",
        "outputs": f"{MAP_OUTPUT}: float32 (N, {size}, {size}) per input, higher = more anomalous; "
                   f"{SCORE_OUTPUT}: float32 (N,) per input; {_image_decision(model.config.data)}",
    }
    structured = {
        "image_size": size,
        "threshold": calibration.threshold,
        "fpr_thresholds": {f"{rate:g}": value for rate, value in calibration.fpr_thresholds},
        "score_range": [calibration.score_low, calibration.score_high],
        "map_range": [calibration.map_low, calibration.map_high],
        "calibration": calibration_to_dict(calibration),
        "config": config_to_nested(model.config),
    }
    return text | {key: json.dumps(_without_nan(value), allow_nan=False) for key, value in structured.items()}


def _without_nan(value: object) -> object:
    """NaN (an unknown range from an older model file) as JSON null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nan(item) for item in value]
    return value


def _set_metadata(path: Path, metadata: dict[str, str]) -> None:
    graph = onnx.load(str(path))
    onnx.helper.set_model_props(graph, metadata)
    graph.doc_string = "ssflow anomaly detector: uint8 RGB images to anomaly maps and image scores"
    onnx.save(graph, str(path))


def compare_with_torch(pipeline: AnomalyPipeline, path: Path, images: np.ndarray) -> ExportCheck:
    """Run the ONNX file at ``path`` on ``images`` (N, S, S, 3) uint8 at batch N and batch 1 against torch."""
    with torch.inference_mode():
        expected = pipeline(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))))
    want_maps, want_scores = expected.anomaly_map.numpy(), expected.score.numpy()
    score = onnx_scorer(create_session(path, "cpu"))
    got_maps, got_scores = score(images)
    single_maps, single_scores = score(images[:1])
    map_gap = max(float(np.abs(got_maps - want_maps).max()), float(np.abs(single_maps - want_maps[:1]).max()))
    scale = np.maximum(np.abs(want_scores), np.finfo(np.float32).tiny)
    score_gap = max(float((np.abs(got_scores - want_scores) / scale).max()),
                    float((np.abs(single_scores - want_scores[:1]) / scale[:1]).max()))
    return ExportCheck(len(images), score_gap, map_gap)


def export_onnx(model: LoadedModel, out: str | Path, images: np.ndarray | None = None,
                backbone: FeatureExtractor | None = None) -> ExportCheck:
    """Write ``model`` as one ONNX graph to ``out``, only if ONNX Runtime agrees with torch on ``images``.

    ``images`` (N, S, S, 3) uint8 RGB at the model's image size (default:
    :func:`check_images`). Returns the check; raises :class:`ExportMismatch`
    (and leaves ``out`` untouched) when a score or a map pixel is off by more
    than the tolerances.
    """
    out = Path(out)
    size = model.config.backbone.image_size
    images = check_images(size) if images is None else images
    if images.ndim != 4 or images.shape[1:] != (size, size, 3) or images.dtype != np.uint8:
        raise ValueError(f"check images must be (N, {size}, {size}, 3) uint8, got {images.shape} {images.dtype}")
    pipeline = build_pipeline(model, backbone)
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        _export_graph(pipeline, temporary)
        _set_metadata(temporary, _metadata(model))
        check = compare_with_torch(pipeline, temporary, images)
        if not (check.score_relative_difference <= SCORE_RTOL and check.map_absolute_difference <= MAP_ATOL):
            raise ExportMismatch(
                f"ONNX Runtime disagrees with the torch model on {check.images} images: scores differ by "
                f"{check.score_relative_difference:.2g} relative (limit {SCORE_RTOL:g}), maps by "
                f"{check.map_absolute_difference:.2g} (limit {MAP_ATOL:g})")
        _set_metadata(temporary, _metadata(model) | {"export_check": json.dumps(
            check._asdict() | {"onnxruntime": ort.__version__, "torch": torch.__version__})})
        temporary.replace(out)
    finally:
        temporary.unlink(missing_ok=True)
    return check
