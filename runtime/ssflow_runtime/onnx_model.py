"""Exported ONNX models on ONNX Runtime: metadata, sessions, scoring. No torch, timm or FrEIA.

An exported file (``run_search.py export-model``, :mod:`ssflow.deployment.onnx_export`)
is one graph ``images`` (N, 3, S, S) uint8 RGB -> ``anomaly_map`` (N, S, S)
float32 and ``score`` (N,) float32 over a batch of model inputs (whole images
or the tiles of one, :mod:`ssflow_runtime.tiling`: the runtime tiles and stitches), with everything needed to judge the
scores in its metadata (string key -> string value, see :data:`METADATA_KEYS`).
OpenVINO reads the same file (``openvino.Core().read_model("model.onnx")``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import onnxruntime as ort

from ssflow_runtime.calibration import Calibration, calibration_from_dict
from ssflow_runtime.errors import UserInputError
from ssflow_runtime.scoring import OpenedModel, Scorer, model_settings

FORMAT = "ssflow-onnx/1"
INPUT, MAP_OUTPUT, SCORE_OUTPUT = "images", "anomaly_map", "score"
# Every exported file carries these metadata keys (values are strings; JSON where structured).
METADATA_KEYS = {
    "format": f"'{FORMAT}'",
    "ssflow_version": "the project version that exported the file",
    "image_size": "S: input images are S x S",
    "input": "what the input holds",
    "outputs": "what the outputs hold",
    "threshold": "default decision threshold (best F1 on the selection split): score >= threshold is anomalous",
    "fpr_thresholds": "JSON {rate: threshold} at false-positive rates 0.001, 0.01, 0.05 on normal images",
    "score_range": "JSON [low, high]: normalized_score = clip((score - threshold) / (high - low) + 0.5, 0, 1)",
    "map_range": "JSON [low, high]: fixed colour scale for heatmaps",
    "calibration": "JSON: the whole calibration (ssflow.evaluation.calibration.Calibration)",
    "config": "JSON: the resolved training config",
    "export_check": "JSON: images compared with the torch model at export and the largest differences",
}
TEXT_KEYS = ("format", "ssflow_version", "input", "outputs")
JSON_KEYS = tuple(key for key in METADATA_KEYS if key not in TEXT_KEYS)


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the platform has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def providers_for(device_name: str) -> list[str]:
    """ONNX Runtime execution providers for ``--device auto|cpu|cuda``."""
    available = ort.get_available_providers()
    if device_name == "cuda" and "CUDAExecutionProvider" not in available:
        raise UserInputError("--device cuda: this onnxruntime has no CUDA provider (install onnxruntime-gpu "
                             f"on a CUDA machine); available: {', '.join(available)}")
    if device_name in ("cuda", "auto") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """All graph optimisations on, ``threads`` intra-op threads (default: every usable CPU), quiet."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or usable_cpus()
    options.log_severity_level = 3  # errors only: no warnings on stderr
    return options


def create_session(path: str | Path, device_name: str = "cpu", threads: int | None = None) -> ort.InferenceSession:
    """An ONNX Runtime session on ``path``; a file ONNX Runtime cannot read is a one-line :class:`UserInputError`."""
    providers = providers_for(device_name)
    try:
        return ort.InferenceSession(str(path), session_options(threads), providers=providers)
    except Exception as error:  # onnxruntime raises its own types for unreadable, invalid and unsupported files
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        raise UserInputError(f"{path}: not a readable ONNX model ({reason})") from None


def read_metadata(session: ort.InferenceSession, path: str | Path) -> dict[str, Any]:
    """The ssflow metadata of a session's model, JSON values decoded; refuses other ONNX files."""
    raw: Mapping[str, str] = session.get_modelmeta().custom_metadata_map
    if raw.get("format") != FORMAT:
        raise UserInputError(f"{path}: an ONNX model without ssflow metadata (expected format {FORMAT}, "
                             "a file written by 'ssflow-search export-model')")
    try:
        return {key: json.loads(value) if key in JSON_KEYS else value for key, value in raw.items()}
    except json.JSONDecodeError as error:
        raise UserInputError(f"{path}: damaged ssflow metadata ({error})") from None


def onnx_scorer(session: ort.InferenceSession) -> Scorer:
    """A :data:`ssflow_runtime.scoring.Scorer` over a session: (N, S, S, 3) uint8 in, maps and scores out."""

    def score(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        maps, scores = session.run([MAP_OUTPUT, SCORE_OUTPUT], {INPUT: batch})
        return maps, scores

    return score


def open_onnx_model(path: str | Path, device_name: str = "auto", threads: int | None = None) -> OpenedModel:
    """An exported ``.onnx`` file on ONNX Runtime, with its calibration and image size from the metadata."""
    if not Path(path).is_file():
        raise UserInputError(f"model file not found: {path}")
    session = create_session(path, device_name, threads)
    metadata = read_metadata(session, path)
    try:
        calibration: Calibration = calibration_from_dict(metadata["calibration"])
        image_size = int(metadata["image_size"])
        config = dict(metadata.get("config") or {})
        config["backbone"] = {**(config.get("backbone") or {}), "image_size": image_size}
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise UserInputError(f"{path}: damaged ssflow metadata ({type(error).__name__}: {error})") from None
    inputs, rule = model_settings(config, path)
    check_signature(session, image_size, path)
    runs_on = f"onnxruntime {session.get_providers()[0]}"
    return OpenedModel(str(path), "onnx", inputs, calibration, onnx_scorer(session), runs_on, rule)


def check_signature(session: ort.InferenceSession, image_size: int, path: str | Path) -> None:
    """Raise ``UserInputError`` unless the graph takes ``images`` uint8 (N, 3, S, S) with S = ``image_size`` and
    gives ``anomaly_map`` (N, S, S) and ``score`` (N,): a file edited after export would score wrongly."""
    inputs = {item.name: item for item in session.get_inputs()}
    outputs = {item.name: item for item in session.get_outputs()}
    expected = (f"input {INPUT} uint8 [N, 3, {image_size}, {image_size}], outputs {MAP_OUTPUT} [N, S, S] and "
                f"{SCORE_OUTPUT} [N]")
    images = inputs.get(INPUT)
    fits = (len(inputs) == 1 and images is not None and images.type == "tensor(uint8)"
            and list(images.shape[1:]) == [3, image_size, image_size]
            and MAP_OUTPUT in outputs and len(outputs[MAP_OUTPUT].shape) == 3
            and SCORE_OUTPUT in outputs and len(outputs[SCORE_OUTPUT].shape) == 1)
    if not fits:
        found = ", ".join(f"{item.name} {item.type} {item.shape}" for item in [*inputs.values(), *outputs.values()])
        raise UserInputError(f"{path}: the graph does not match its ssflow metadata (expected {expected}; found "
                             f"{found}); export it again with export-model")
