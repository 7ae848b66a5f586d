"""DAGM 2007 reader.

Layout as distributed::

    <root>/ClassN/Train/*.PNG   <root>/ClassN/Train/Label/Labels.txt   <root>/ClassN/Train/Label/<name>_label.PNG
    <root>/ClassN/Test/*.PNG    <root>/ClassN/Test/Label/Labels.txt    <root>/ClassN/Test/Label/<name>_label.PNG

``Labels.txt`` has a header line (the class number), then one tab-separated row
per image: index, defective flag 0/1, image file name, 0, label file name or 0.
Training uses only the normal Train rows; Test rows with flag 1 are anomalies
whose mask (a coarse ellipse) is the named label file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ssflow.datasets.listing import list_images, missing_mask, require_category, require_records, require_root
from ssflow.datasets.records import GOOD, CategoryData, ImageRecord
from ssflow.errors import UserInputError

TITLE = "DAGM 2007"
DEFECT = "defect"
_CLASS_NAME = re.compile(r"Class(\d+)")
_NO_LABEL = "0"


@dataclass(frozen=True)
class LabelRow:
    """One row of a ``Labels.txt``; ``label`` is None where the file says 0."""

    line: int  # 1-based line number in the file, for error messages
    defective: bool
    image: str
    label: str | None


def list_dagm_categories(root: Path) -> list[str]:
    """``Class1`` .. ``Class10``: the ones under ``root`` with Train and Test folders, in number order."""
    require_root(root, TITLE)
    found = [
        path.name
        for path in root.iterdir()
        if _CLASS_NAME.fullmatch(path.name) and (path / "Train").is_dir() and (path / "Test").is_dir()
    ]
    if not found:
        hint = f"; {root} looks like one class, pass its parent" if (root / "Train").is_dir() else ""
        raise UserInputError(
            f"no {TITLE} classes under {root}: expected {root}/ClassN/Train/*.PNG and {root}/ClassN/Test/*.PNG "
            f"with Label/Labels.txt{hint}"
        )
    return sorted(found, key=lambda name: int(_CLASS_NAME.fullmatch(name).group(1)))


def read_labels(path: Path) -> list[LabelRow]:
    """Parse one ``Labels.txt``; a malformed row raises naming the file and line."""
    if not path.is_file():
        raise UserInputError(f"missing {path}: every {TITLE} Train and Test folder holds Label/Labels.txt")
    # utf-8-sig: some copies of the files start with a byte-order mark.
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    rows = []
    for number, text in enumerate(lines[1:], start=2):
        fields = text.split()
        if not fields:
            continue
        if len(fields) != 5 or not fields[0].isdigit() or fields[1] not in ("0", "1"):
            raise UserInputError(
                f"{path} line {number}: expected 5 tab-separated fields 'index, flag 0/1, image, 0, "
                f"label file or 0', got {text.strip()!r}"
            )
        label = None if fields[4] == _NO_LABEL else fields[4]
        rows.append(LabelRow(line=number, defective=fields[1] == "1", image=fields[2], label=label))
    return rows


def scan_dagm(root: Path, category: str) -> CategoryData:
    """Records of one DAGM class: normal Train rows for training, all Test rows for testing."""
    require_category(category, list_dagm_categories(root), TITLE, root)
    folder = root / category
    train_split = _Split(folder / "Train")
    train = tuple(
        ImageRecord(image_path=train_split.image(row), mask_path=None, label=0, defect=GOOD)
        for row in train_split.rows
        if not row.defective
    )
    require_records(train, "training", category, f"flag-0 rows in {train_split.labels_file}")
    test_split = _Split(folder / "Test")
    test = tuple(test_split.record(row) for row in test_split.rows)
    require_records(test, "test", category, f"rows in {test_split.labels_file}")
    return CategoryData(dataset="dagm", category=category, root=root, train=train, test=test)


class _Split:
    """One Train or Test folder: its label rows and its files, looked up by name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.labels_file = folder / "Label" / "Labels.txt"
        self.rows = read_labels(self.labels_file)
        # Lower-case keys: copies unpacked on case-insensitive file systems may have lost the .PNG spelling.
        self._images = {path.name.lower(): path for path in list_images(folder)}
        self._masks = {path.name.lower(): path for path in list_images(folder / "Label")}

    def image(self, row: LabelRow) -> Path:
        image = self._images.get(row.image.lower())
        if image is None:
            raise UserInputError(
                f"{self.labels_file} line {row.line} names {row.image}, which is not an image in {self.folder}"
            )
        return image

    def record(self, row: LabelRow) -> ImageRecord:
        image = self.image(row)
        if not row.defective:
            return ImageRecord(image_path=image, mask_path=None, label=0, defect=GOOD)
        mask = self._masks.get(row.label.lower()) if row.label else None
        if mask is None:
            where = f"line {row.line} of {self.labels_file}"
            if row.label:
                raise missing_mask(image, f"{self.folder}/Label/{row.label} as named on {where}")
            raise missing_mask(image, f"a label file name instead of 0 on {where}")
        return ImageRecord(image_path=image, mask_path=mask, label=1, defect=DEFECT)
