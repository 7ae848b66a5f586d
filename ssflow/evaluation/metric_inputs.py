"""Checking what the metrics are given: shapes that pair, finite scores, binary ground truth with both classes.

Every refusal is one :class:`~ssflow.errors.UserInputError` naming the argument and what was expected.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ssflow.errors import UserInputError


def raveled(maps: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    return maps.ravel() if isinstance(maps, np.ndarray) else np.concatenate([m.ravel() for m in maps])


def checked_pair(
    values: np.ndarray, values_name: str, truth: np.ndarray, truth_name: str, ndim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate scores against binary ground truth; returns (float scores, bool truth)."""
    values = np.asarray(values)
    truth = np.asarray(truth)
    layout = "(N,)" if ndim == 1 else "(N, H, W)"
    if values.shape != truth.shape:
        raise UserInputError(
            f"{values_name} has shape {values.shape} but {truth_name} has shape {truth.shape}; "
            f"expected the same {layout} shape for both"
        )
    if values.ndim != ndim:
        raise UserInputError(
            f"{values_name} and {truth_name} have shape {values.shape}; expected {layout} "
            f"(stack single items with np.stack or add an axis with [None])"
        )
    if values.dtype.kind not in "biuf":
        raise UserInputError(f"{values_name} has dtype {values.dtype}; expected real numbers")
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    bad = values.size - int(np.count_nonzero(np.isfinite(values)))
    if bad:
        raise UserInputError(
            f"{values_name} contain {bad} NaN/Inf value(s) out of {values.size}; "
            "metrics need finite scores (a diverged model produces these)"
        )
    return values, binary(truth, truth_name)


def checked_ragged(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Validate per-image maps against masks of the same sizes; both classes must occur over all images."""
    if len(maps) != len(masks):
        raise UserInputError(f"{len(maps)} maps but {len(masks)} masks; expected one mask per map")
    checked_maps, checked_masks = [], []
    for index, (image_map, mask) in enumerate(zip(maps, masks)):
        image_map, mask = np.asarray(image_map), np.asarray(mask)
        if image_map.shape != mask.shape or image_map.ndim != 2:
            raise UserInputError(f"map {index} has shape {image_map.shape} but its mask {mask.shape}; expected "
                                 "the same (H, W) for both")
        checked_maps.append(image_map)
        checked_masks.append(mask)
    checked_pair(raveled(checked_maps)[None, None], "maps", raveled(checked_masks)[None, None], "masks", ndim=3)
    return checked_maps, [mask.astype(bool) for mask in checked_masks]


def binary(truth: np.ndarray, name: str) -> np.ndarray:
    """Check ground truth holds only 0/1 (or bools) and both classes; returns bools."""
    if truth.dtype != bool:
        if not np.issubdtype(truth.dtype, np.number):
            raise UserInputError(f"{name} has dtype {truth.dtype}; expected 0/1 or booleans")
        unexpected = np.setdiff1d(np.unique(truth), [0, 1])
        if unexpected.size:
            raise UserInputError(
                f"{name} contain values {unexpected[:5].tolist()} besides 0 and 1; "
                "expected 0 (normal) / 1 (anomalous); for 0/255 masks pass mask > 0"
            )
        truth = truth.astype(bool)
    positives = int(np.count_nonzero(truth))
    if positives == 0 or positives == truth.size:
        present = "1 (anomalous)" if positives else "0 (normal)"
        raise UserInputError(
            f"{name} contain only class {present} ({truth.size} entries); AUROC/AUPRO is undefined "
            "with a single class: evaluate on a set with both normal and anomalous samples"
        )
    return truth
