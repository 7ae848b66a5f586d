"""Where the defects are: connected regions of a thresholded anomaly map, in the image's own pixels."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np


class Region(NamedTuple):
    """One 8-connected region of map pixels at or above the threshold; box in the image's pixels."""

    region: int  # 1 = the region holding the highest score, then by descending max_score
    x: int  # left column of the bounding box
    y: int  # top row
    width: int
    height: int
    area_px: int  # pixels of the region (not of its box)
    max_score: float  # the highest map value inside it


def find_regions(anomaly_map: np.ndarray, threshold: float, min_region_px: int = 1) -> list[Region]:
    """The regions of ``anomaly_map`` (H, W) float where it is >= ``threshold``, largest score first.

    Regions smaller than ``min_region_px`` pixels (specks) are dropped. The map
    must be at the image's own size for the boxes to be in its coordinates
    (``predict`` passes the full-size stitched map).
    """
    above = (anomaly_map >= threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(above, connectivity=8)
    if count <= 1:
        return []
    peaks = np.full(count, -np.inf)
    np.maximum.at(peaks, labels.ravel(), anomaly_map.ravel())
    peaks = peaks[1:]  # label 0 is the background
    kept = [label for label in range(1, count) if stats[label, cv2.CC_STAT_AREA] >= max(1, min_region_px)]
    kept.sort(key=lambda label: -peaks[label - 1])
    return [Region(rank, int(stats[label, cv2.CC_STAT_LEFT]), int(stats[label, cv2.CC_STAT_TOP]),
                   int(stats[label, cv2.CC_STAT_WIDTH]), int(stats[label, cv2.CC_STAT_HEIGHT]),
                   int(stats[label, cv2.CC_STAT_AREA]), float(peaks[label - 1]))
            for rank, label in enumerate(kept, start=1)]
