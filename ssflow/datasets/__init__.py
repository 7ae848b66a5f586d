"""The data: readers of every layout by name (:mod:`ssflow.datasets.registry`), the generated demos, a run's
prepared splits, synthetic validation anomalies, lighting changes; beside the model, below evaluation.

(The torch ``Dataset`` wrapper, :mod:`ssflow.datasets.torch_dataset`, is not imported here.)
"""

from ssflow.datasets.images import load_split, read_image, read_mask
from ssflow.datasets.records import CategoryData, ImageRecord
from ssflow.datasets.registry import DATASETS, default_root, list_categories, load_category, prepare_root
from ssflow.datasets.splits import few_shot, split_test

__all__ = [
    "DATASETS",
    "CategoryData",
    "ImageRecord",
    "default_root",
    "few_shot",
    "list_categories",
    "load_category",
    "load_split",
    "prepare_root",
    "read_image",
    "read_mask",
    "split_test",
]
