"""The files a predict run writes: predictions table, ``regions.csv``, ``skipped.csv``, overlays and maps.

Tables are UTF-8 whatever bytes the image names hold (:func:`ssflow_runtime.text.plain`); CSV needs only
the standard library, Parquet needs pyarrow (checked before scoring, :mod:`ssflow_runtime.predict_request`).
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import cv2
import numpy as np

from ssflow_runtime.calibration import Calibration
from ssflow_runtime.overlay import heatmap_overlay, side_by_side, write_png
from ssflow_runtime.predict_request import MAPS, OVERLAYS
from ssflow_runtime.regions import Region
from ssflow_runtime.scoring import Prediction, ScoredImage
from ssflow_runtime.text import plain, safe_part

REGION_COLUMNS = ("path", *Region._fields)
TABLE_COLUMNS = (*Prediction._fields, "overlay", "map", "regions")


class Unreadable(NamedTuple):
    path: str
    reason: str


class Scored(NamedTuple):
    prediction: Prediction
    regions: list[Region]  # of a flagged image; [] for the others
    squashed: bool  # a non-square image resized to the model's square input (its aspect ratio lost)


def overlay_names(paths: Sequence[Path]) -> list[str]:
    """Per path, its overlay's name below ``overlays/``: ``<folder>/<stem>.png``, the folder relative to the
    common folder of all inputs, so ``a/x.png`` and ``b/x.png`` keep apart; stems shared within one folder get
    their suffix, then a counter, added."""
    parents = [Path(os.path.normpath(path.absolute())).parent for path in paths]  # a/../b is b: never '..'
    root = Path(os.path.commonpath(parents)) if parents else Path()
    folders = [Path(*map(safe_part, parent.relative_to(root).parts)) for parent in parents]
    stems = [safe_part(path.stem) for path in paths]
    shared = Counter(zip(folders, stems))
    names = [folder / (stem if shared[(folder, stem)] == 1 else f"{stem}_{safe_part(path.suffix.lstrip('.'))}")
             for folder, stem, path in zip(folders, stems, paths)]
    counts = Counter(names)
    taken: Counter[Path] = Counter()
    unique = []
    for name in names:
        taken[name] += 1
        unique.append(name if counts[name] == 1 else name.with_name(f"{name.name}_{taken[name]}"))
    return [f"{name.as_posix()}.png" for name in unique]


def map_name(overlay_name: str) -> str:
    """The ``maps/`` file of the image whose overlay is ``overlay_name``: same folder and name, ``.npy``."""
    return Path(overlay_name).with_suffix(".npy").as_posix()


def capped(pixels: np.ndarray, longest: int) -> np.ndarray:
    """``pixels`` (H, W[, C]) shrunk so its longer side is at most ``longest`` (0: unchanged)."""
    height, width = pixels.shape[:2]
    if not longest or max(height, width) <= longest:
        return pixels
    factor = longest / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def write_image_outputs(folder: Path, scored: ScoredImage, name: str, calibration: Calibration,
                        overlay_size: int, save_maps: bool) -> None:
    """The overlay ``folder/overlays/name`` (and with ``save_maps`` the map) of one scored image."""
    image, anomaly_map = capped(scored.image, overlay_size), capped(scored.anomaly_map, overlay_size)
    # The calibration's fixed range keeps colours comparable across images and runs.
    overlay = heatmap_overlay(image, anomaly_map, calibration.map_low, calibration.map_high)
    (folder / OVERLAYS / name).parent.mkdir(parents=True, exist_ok=True)
    write_png(folder / OVERLAYS / name, side_by_side(image, overlay))
    if save_maps:
        (folder / MAPS / map_name(name)).parent.mkdir(parents=True, exist_ok=True)
        np.save(folder / MAPS / map_name(name), scored.anomaly_map.astype(np.float32, copy=False))


def table_rows(scored: Sequence[Scored], names: dict[str, str], save_maps: bool) -> list[tuple[Any, ...]]:
    """The predictions table's rows (:data:`TABLE_COLUMNS`); ``names``: each prediction path's overlay name."""
    rows = []
    for item in scored:
        name = names[item.prediction.path]
        rows.append((*item.prediction._replace(path=plain(item.prediction.path)), f"{OVERLAYS}/{name}",
                     f"{MAPS}/{map_name(name)}" if save_maps else "", len(item.regions)))
    return rows


def write_table(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]], file_format: str = "csv") -> None:
    """``rows`` under ``columns`` as CSV (NaN as an empty field, as pandas writes it) or Parquet (pyarrow)."""
    if file_format == "parquet":
        import pyarrow as pa  # checked before scoring: PredictRequest.check
        import pyarrow.parquet as pq

        pq.write_table(pa.table({column: [row[index] for row in rows] for index, column in enumerate(columns)}),
                       path)
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([_csv_field(value) for value in row] for row in rows)


def _csv_field(value: Any) -> Any:
    return "" if isinstance(value, float) and math.isnan(value) else value


def region_rows(scored: Sequence[Scored]) -> list[tuple[Any, ...]]:
    """``regions.csv``'s rows (:data:`REGION_COLUMNS`): one per region of every flagged image."""
    return [(plain(item.prediction.path), *region) for item in scored for region in item.regions]


def skipped_rows(skipped: Sequence[Unreadable]) -> list[tuple[str, str]]:
    """``skipped.csv``'s rows: path and one-line reason of each image left out."""
    return [(plain(item.path), plain(item.reason)) for item in skipped]
