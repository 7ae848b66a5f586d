"""``--dataset manifest --data-root FILE``: images listed in a CSV or Parquet file, one row per image.

Columns (a header row names them, in any order; other columns are ignored unless
their name looks like a misspelt one of these):

=============  ========  =====================================================================
``image_path`` required  the image, relative to the manifest's folder or absolute
``label``      required  ``normal`` / ``anomalous``, ``0`` / ``1`` or ``false`` / ``true`` (any case)
``split``      optional  ``train`` / ``test``; empty or absent: normal images train, anomalous
                         ones test (a category without normal test images then has a seeded
                         share of its normal images held out, ``data.holdout_fraction``)
``mask_path``  optional  the anomalous image's mask, relative or absolute; empty: no pixel
                         ground truth for that image (a category without any is image-level
                         only); ignored on normal rows
``category``   optional  default: one category named after the file (its stem)
``defect``     optional  defect type of an anomalous image (default ``anomalous``), stratifies the split
=============  ========  =====================================================================

Every error names the file, the row (``line N`` of a CSV file, whose header
is line 1; ``row N`` of a Parquet table, counting data rows from 1) and the column.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ssflow.datasets.listing import require_category, require_records
from ssflow.datasets.records import GOOD, CategoryData, ImageRecord
from ssflow.errors import SettingError, UserInputError

TITLE = "manifest"
SUFFIXES = (".csv", ".parquet", ".pq")
REQUIRED = ("image_path", "label")
OPTIONAL = ("split", "mask_path", "category", "defect")
# true/false: what pandas writes for a boolean "is anomalous" column.
LABELS = {"normal": 0, "0": 0, "false": 0, "anomalous": 1, "1": 1, "true": 1}
SPLITS = ("train", "test", "")
DEFAULT_DEFECT = "anomalous"
NEEDS = "a .csv or .parquet file with columns image_path and label (optional: split, mask_path, category, defect)"


@dataclass(frozen=True)
class ManifestRow:
    """One parsed row; paths are resolved against the manifest's folder."""

    where: str  # "line 5" (CSV) or "row 4" (Parquet), for error messages
    category: str
    image: Path
    label: int
    split: str  # train | test | "" (by label)
    mask: Path | None
    defect: str


def require_manifest(path: Path) -> None:
    """Raise when ``path`` is not an existing CSV or Parquet file."""
    if path.is_dir() or path.suffix.lower() not in SUFFIXES:
        raise SettingError("data.root", path, f"not a .csv or .parquet file; dataset manifest takes {NEEDS}")
    if not path.is_file():
        raise SettingError("data.root", path, f"manifest file not found: {path.absolute()}; give {NEEDS}")


def _read_table(path: Path) -> pd.DataFrame:
    require_manifest(path)
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        return pd.read_parquet(path)
    except (OSError, ValueError) as error:  # parser, encoding, Arrow and empty-file errors are ValueErrors
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserInputError(f"{path}: not a readable {path.suffix.lstrip('.')} table ({reason})") from None


def _check_columns(path: Path, columns: list[str]) -> None:
    """Required columns present; an unknown column that looks like a known one (``mask``, ``splits``) refused."""
    missing = [column for column in REQUIRED if column not in columns]
    if missing:
        raise UserInputError(f"{path}: no column {' or '.join(repr(c) for c in missing)}; found "
                             f"{', '.join(map(repr, columns)) or 'no columns'}; expected {NEEDS}")
    known = (*REQUIRED, *OPTIONAL)
    for column in columns:
        close = difflib.get_close_matches(column, known, n=1, cutoff=0.6)
        if column not in known and close:
            raise UserInputError(f"{path}: column '{column}' is not a manifest column; did you mean '{close[0]}'? "
                                 f"(columns: {', '.join(known)})")


def _text(value: Any) -> str:
    """A cell as stripped text: missing -> "", 1.0 -> "1", True -> "1"."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_manifest(path: Path) -> list[ManifestRow]:
    """Parse every row of the manifest at ``path``.

    Raises:
        UserInputError: an unreadable file, missing columns, no rows, or a bad value (naming the file,
            row and column).
    """
    frame = _read_table(path)
    frame.columns = [str(column).strip() for column in frame.columns]
    _check_columns(path, list(frame.columns))
    if frame.empty:
        raise UserInputError(f"{path}: no rows under the header; expected one row per image ({NEEDS})")
    line = path.suffix.lower() == ".csv"
    rows = []
    for index, cells in enumerate(frame.to_dict("records")):
        where = f"line {index + 2}" if line else f"row {index + 1}"
        rows.append(_parse_row(path, where, {key: _text(cells.get(key)) for key in (*REQUIRED, *OPTIONAL)}))
    return rows


def _parse_row(path: Path, where: str, cell: dict[str, str]) -> ManifestRow:
    def fail(column: str, expected: str) -> UserInputError:
        return UserInputError(f"{path} {where}, column '{column}': got {cell[column]!r}, expected {expected}")

    if not cell["image_path"]:
        raise fail("image_path", "an image file, relative to the manifest's folder or absolute")
    label = LABELS.get(cell["label"].lower())
    if label is None:
        raise fail("label", "normal or anomalous (or 0 or 1, false or true)")
    split = cell["split"].lower()
    if split not in SPLITS:
        raise fail("split", "train, test or empty")
    if label == 1 and split == "train":
        raise fail("split", "test or empty for an anomalous image (training images are normal only)")
    defect = cell["defect"] or DEFAULT_DEFECT
    if label == 1 and defect == GOOD:
        raise fail("defect", f"a defect type; '{GOOD}' names normal images")
    folder = path.parent
    return ManifestRow(
        where=where,
        category=cell["category"] or path.stem,
        image=folder / cell["image_path"],
        label=label,
        split=split,
        mask=folder / cell["mask_path"] if cell["mask_path"] and label == 1 else None,
        defect=defect if label == 1 else GOOD,
    )


def list_manifest_categories(path: Path) -> list[str]:
    """The distinct categories of the manifest, sorted."""
    return sorted({row.category for row in read_manifest(path)})


def scan_manifest(path: Path, category: str) -> CategoryData:
    """Records of one category of the manifest at ``path``; every listed file must exist.

    Raises:
        UserInputError: a malformed row, a file listed twice, missing image or
            mask files (the first named with its row and column, the rest
            counted), or no normal training image.
    """
    rows = read_manifest(path)
    require_category(category, sorted({row.category for row in rows}), TITLE, path)
    rows = [row for row in rows if row.category == category]
    _require_unique(path, rows)
    _require_files(path, [(row, "image_path", row.image) for row in rows])
    _require_files(path, [(row, "mask_path", row.mask) for row in rows if row.mask is not None])
    train = tuple(_record(row) for row in rows if row.split == "train" or (row.split == "" and row.label == 0))
    test = tuple(_record(row) for row in rows if row.split == "test" or (row.split == "" and row.label == 1))
    require_records(train, "training", category, f"rows with label normal in {path}")
    return CategoryData(dataset="manifest", category=category, root=path, train=train, test=test)


def _record(row: ManifestRow) -> ImageRecord:
    return ImageRecord(image_path=row.image, mask_path=row.mask, label=row.label, defect=row.defect)


def _require_unique(path: Path, rows: list[ManifestRow]) -> None:
    seen: dict[Path, ManifestRow] = {}
    for row in rows:
        key = row.image.resolve()
        if key in seen:
            raise UserInputError(f"{path} {row.where}, column 'image_path': {row.image} is already listed on "
                                 f"{seen[key].where}; list every image once")
        seen[key] = row


def _require_files(path: Path, entries: list[tuple[ManifestRow, str, Path]]) -> None:
    missing = [(row, column, file) for row, column, file in entries if not file.is_file()]
    if missing:
        row, column, file = missing[0]
        more = f" (and {len(missing) - 1} more rows)" if len(missing) > 1 else ""
        raise UserInputError(f"{path} {row.where}, column '{column}': {file} is not a file{more}")
