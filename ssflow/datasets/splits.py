"""Few-shot training subsets, held-out normal images, and the selection/report split of a test set.

All are pure functions of the records and a seed, independent of the order
the records come in (they are sorted by path first), and read no pixel, so a
sweep can check every category's splits before any work starts.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
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


def holdout_count(n: int, fraction: float) -> int:
    """How many of ``n`` normal training images :func:`hold_out` moves to the test set.

    The nearest count to ``n * fraction`` (ties towards training), at least 2
    (one for each side of the selection/report split) while at least 2 stay
    for training; with fewer than 4 images, at least 1 on each side.
    """
    if n < 2:
        return 0
    nearest = int(np.ceil(n * fraction - 0.5))
    keep = 2 if n >= 4 else 1
    return min(max(nearest, keep), n - keep)


def hold_out(
    records: Sequence[ImageRecord], fraction: float, seed: int, purpose: str = "holdout"
) -> tuple[tuple[ImageRecord, ...], tuple[ImageRecord, ...]]:
    """Split normal training records into (kept for training, held out).

    Two uses: for categories whose test set has no normal image (a folder of
    good parts and folders of defective ones) the held-out images are scored as
    normal test images; for a synthetic validation set
    (:mod:`ssflow.datasets.validation_set`, ``purpose="validation"``) they are painted.
    A seeded share (``data.holdout_fraction``, count by :func:`holdout_count`);
    seeded like :func:`split_test`, by ``seed`` and the ``purpose``, so the two
    uses draw independently.
    """
    normal = _sorted(record for record in records if record.label == 0)
    order = np.random.default_rng([seed, zlib.crc32(purpose.encode())]).permutation(len(normal))
    held = set(order[:holdout_count(len(normal), fraction)].tolist())
    kept = tuple(record for index, record in enumerate(normal) if index not in held)
    return kept, tuple(record for index, record in enumerate(normal) if index in held)


def require_anomalies(test: Sequence[ImageRecord], category: str) -> None:
    """Raise when a category has no anomalous test image: nothing could score a model on it.

    Raises:
        UserInputError: naming the category and what is missing.
    """
    if not any(record.label == 1 for record in test):
        normal = sum(1 for record in test if record.label == 0)
        raise UserInputError(
            f"category '{category}' has no anomalous test images ({normal} normal ones): with no defect to score "
            "on, tune on synthetic anomalies (validation.synthetic_weight=1; the synthetic objective in a sweep) "
            "or add images of defective parts to its test set"
        )


_CLASS_NAMES = {0: "normal", 1: "anomalous"}


def ensure_scorable(
    selection: Sequence[ImageRecord], report: Sequence[ImageRecord], category: str
) -> tuple[tuple[ImageRecord, ...], tuple[ImageRecord, ...]]:
    """Make both sides of a split hold normal and anomalous images, or raise.

    AUROC needs both classes, so a side without one cannot be scored (a
    category with a single normal test image would crash every trial after its
    first epoch). Where one side lacks a class and the other has two or more
    images of it, one is moved across: from the defect type the other side has
    most of, the first by path. Anomalous images are only required where the
    category has any. Returns (selection, report), each sorted by path; reads no pixel.

    Raises:
        UserInputError: a class with fewer than 2 test images, in one line
            naming the category, the side that lacks it and both sides' counts.
    """
    sides = {"selection": list(selection), "report": list(report)}
    labels = (0, 1) if any(record.label == 1 for side in sides.values() for record in side) else (0,)
    for label in labels:
        for side, other in (("selection", "report"), ("report", "selection")):
            if any(record.label == label for record in sides[side]):
                continue
            donors = [record for record in sides[other] if record.label == label]
            if len(donors) < 2:
                raise UserInputError(_unscorable(category, side, other, sides, label))
            moved = _most_common_type_first(donors)
            sides[other].remove(moved)
            sides[side].append(moved)
    return tuple(_sorted(sides["selection"])), tuple(_sorted(sides["report"]))


def _most_common_type_first(records: list[ImageRecord]) -> ImageRecord:
    counts = Counter(record.defect for record in records)
    defect = min(counts, key=lambda name: (-counts[name], name))
    return _sorted(record for record in records if record.defect == defect)[0]


def _unscorable(category: str, side: str, other: str, sides: dict[str, list[ImageRecord]], label: int) -> str:
    def counts(name: str) -> str:
        normal = sum(1 for record in sides[name] if record.label == 0)
        return f"{normal} normal, {len(sides[name]) - normal} anomalous"

    missing = _CLASS_NAMES[label]
    return (
        f"category '{category}': the {side} split has no {missing} test image ({counts(side)}; {other}: "
        f"{counts(other)}), and each side needs normal and anomalous images to be scored; add {missing} "
        "test images (at least 2 in all)"
    )
