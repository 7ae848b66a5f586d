"""Few-shot training subsets and the selection/report split of a test set.

Both are pure functions of the records and a seed, independent of the order
the records come in (they are sorted by path first).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np

from ssflow.datasets.records import ImageRecord
from ssflow.errors import UserInputError


def _sorted(records: Iterable[ImageRecord]) -> list[ImageRecord]:
    return sorted(records, key=lambda record: str(record.image_path))


def few_shot(records: Sequence[ImageRecord], k: int, seed: int) -> tuple[ImageRecord, ...]:
    """``k`` normal training images drawn without replacement (k = 0: all of them), sorted by path."""
    normal = _sorted(record for record in records if record.label == 0)
    if k < 0:
        raise UserInputError(f"data.shots: got {k}, expected an integer >= 0 (0 = all images)")
    if k == 0:
        return tuple(normal)
    if k > len(normal):
        raise UserInputError(
            f"data.shots: got {k}, but the category has only {len(normal)} normal training images; "
            f"use at most {len(normal)} (0 = all)"
        )
    chosen = np.random.default_rng(seed).choice(len(normal), size=k, replace=False)
    return tuple(normal[index] for index in sorted(chosen))


def selection_count(n: int, selection_fraction: float) -> int:
    """How many of ``n`` images of one defect type go to the selection side.

    Rounded to the nearest count, ties towards the report side. A type with
    two or more images keeps at least one on each side, so both sides see every
    defect type; a lone image goes to the report side, because reported
    numbers should cover every defect type while selection only needs a signal.
    """
    if n < 2:
        return 0
    nearest = int(np.ceil(n * selection_fraction - 0.5))
    return min(max(nearest, 1), n - 1)


def split_test(
    records: Sequence[ImageRecord], selection_fraction: float = 0.5, seed: int = 0
) -> tuple[tuple[ImageRecord, ...], tuple[ImageRecord, ...]]:
    """Split test records into (selection, report), stratified by ``defect``.

    Configurations are chosen on the selection side and numbers are reported
    on the report side, so a reported score never comes from the images that
    chose the model. Sides are disjoint, their union is ``records``, each is
    sorted by path. Each defect type is shuffled by its own generator (seeded
    by ``seed`` and the type's name), so adding a defect type to a dataset does
    not move the images of the others.
    """
    if not 0.0 < selection_fraction < 1.0:
        raise UserInputError(
            f"data.selection_fraction: got {selection_fraction}, expected a number in (0, 1)"
        )
    groups: dict[str, list[ImageRecord]] = defaultdict(list)
    for record in _sorted(records):
        groups[record.defect].append(record)
    selection: list[ImageRecord] = []
    report: list[ImageRecord] = []
    for defect, group in groups.items():
        rng = np.random.default_rng([seed, zlib.crc32(defect.encode())])
        order = rng.permutation(len(group))
        count = selection_count(len(group), selection_fraction)
        selection.extend(group[index] for index in order[:count])
        report.extend(group[index] for index in order[count:])
    return tuple(_sorted(selection)), tuple(_sorted(report))


def hold_out(records: Sequence[ImageRecord], fraction: float, seed: int,
             minimum: int = 2) -> tuple[tuple[ImageRecord, ...], tuple[ImageRecord, ...]]:
    """Split normal ``records`` into (kept, held out): a seeded share ``fraction`` is held out.

    At least ``minimum`` images are held out and at least one is kept; both
    sides are sorted by path and independent of the input order. Raises
    ``UserInputError`` when there are too few images for that.
    """
    normal = _sorted(record for record in records if record.label == 0)
    count = max(minimum, int(round(len(normal) * fraction)))
    if count >= len(normal):
        raise UserInputError(
            f"data.holdout_fraction {fraction}: {len(normal)} normal training images are too few to hold out "
            f"{count} and keep some for training; add images or turn the synthetic validation off "
            "(validation.synthetic_weight=0)")
    order = np.random.default_rng([seed, zlib.crc32(b"holdout")]).permutation(len(normal))
    held = set(order[:count].tolist())
    kept = tuple(record for index, record in enumerate(normal) if index not in held)
    return kept, tuple(record for index, record in enumerate(normal) if index in held)
