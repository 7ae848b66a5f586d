"""Dataset readers: benchmarks in their official layouts, your own folders and CSV/Parquet lists,
and the generated demo datasets, all by name through :mod:`ssflow.datasets.registry`.

The torch ``Dataset`` wrapper lives in :mod:`ssflow.datasets.torch_dataset` and
is not imported here, so reading folders does not pull in torch.
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
