"""A second test set under changed conditions (lighting, say), scored beside the regular one.

A line that wants to know what a lighting change costs before it happens
photographs its test parts again under the changed light, in the layout of
its data root. The model trained on the regular images scores that set too,
and the difference of the two sets' metrics is the cost of the change. Where
the shifted set holds the report split's images (same defect folders and file
names: the same parts, relit), only those are scored, so the difference is
the lighting's alone; otherwise the whole shifted set is.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from ssflow.settings.config import SSFlowConfig
from ssflow.datasets.prepared import SplitData, data_root, read_split
from ssflow.datasets.records import ImageRecord
from ssflow.datasets.registry import load_category, load_shifted_test
from ssflow.evaluation.evaluate import SplitMetrics, evaluate
from ssflow.model.features import extract_features
from ssflow.model.flow import MultiScaleFlow


class ShiftedTest(NamedTuple):
    source: str  # the root it was read from, or the dataset split that holds it
    split: SplitData
    paired: bool  # True: exactly the report split's images, under the changed conditions


def _key(path: str | Path) -> tuple[str, str]:
    path = Path(path)
    return path.parent.name, path.name


def _paired(records: tuple[ImageRecord, ...], report_paths: tuple[str, ...]
            ) -> tuple[tuple[ImageRecord, ...], bool]:
    """The records of the report split's images where the shifted set holds every one of them, else all."""
    by_key = {_key(record.image_path): record for record in records}
    wanted = [_key(path) for path in report_paths]
    if wanted and all(key in by_key for key in wanted):
        return tuple(by_key[key] for key in wanted), True
    return records, False


def shifted_test(config: SSFlowConfig, root: str | Path | None, report: SplitData) -> ShiftedTest | None:
    """The shifted test set of ``config``'s category, read as model inputs of ``config``.

    ``root``: a second data root in the layout of ``config.data.dataset``
    (:func:`ssflow.datasets.registry.load_shifted_test`); None: the category's
    own shifted split where its dataset has one (MVTec AD 2's mixed lighting,
    labelled), else None. ``report`` is the run's report split (pairing).

    Raises ``UserInputError`` naming the root for a folder in another layout, a
    missing category or a set without both normal and anomalous images.
    """
    if root is not None:
        records, source = load_shifted_test(config.data.dataset, Path(root), config.data.category), str(root)
    else:
        records = load_category(config.data.dataset, data_root(config.data), config.data.category).shifted_test
        source = f"{config.data.dataset}/{config.data.category} shifted split"
        if not records:
            return None
    records, paired = _paired(records, report.paths)
    return ShiftedTest(source, read_split(records, config), paired)


def score_shifted(flow: MultiScaleFlow, backbone: torch.nn.Module, shifted: ShiftedTest, config: SSFlowConfig,
                  device: torch.device) -> SplitMetrics | None:
    """The metrics of ``flow`` on the shifted set (None where it lacks normal or anomalous images).

    Raises :class:`ssflow.evaluation.evaluate.UnhealthyMaps` for non-finite or constant maps.
    """
    features = extract_features(backbone, shifted.split.images, device)
    return evaluate(flow, features, shifted.split, config.map, "shifted test").metrics


def metric_differences(regular: SplitMetrics, shifted: SplitMetrics) -> dict[str, float | None]:
    """Per metric, shifted minus regular (negative: the change costs that much); None where either is missing."""
    return {name: (None if a is None or b is None else b - a)
            for name, a, b in zip(SplitMetrics._fields, regular, shifted)}
