"""``--dataset manifest``: images listed in a CSV or Parquet file."""

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from cli.main import main
from ssflow.settings.config import DataConfig, SSFlowConfig
from ssflow.datasets.prepared import plan_splits
from ssflow.datasets import list_categories, load_category
from ssflow.datasets.manifest import read_manifest, scan_manifest
from ssflow.errors import UserInputError


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def csv_manifest(manifest_images: Path) -> Path:
    """inspection.csv beside images/: relative paths, mixed label spellings, a split for some rows."""
    lines = ["image_path,label,split,mask_path,defect"]
    lines += [f"images/ok/{i}.png,{'normal' if i % 2 else '0'},{'test' if i >= 6 else ''},," for i in range(8)]
    lines += [f"images/bad/{i}.png,{'Anomalous' if i % 2 else '1'},test,images/masks/{i}.png,"
              f"{'scratch' if i < 2 else 'dent'}" for i in range(4)]
    return _csv(manifest_images.parent / "inspection.csv", lines)


@pytest.fixture
def parquet_manifest(manifest_images: Path, tmp_path: Path) -> Path:
    """Two categories in a Parquet file elsewhere, absolute paths, integer labels, no split column."""
    rows = [{"image_path": str(manifest_images / "ok" / f"{i}.png"), "label": 0, "category": "left" if i < 4 else "right"}
            for i in range(8)]
    rows += [{"image_path": str(manifest_images / "bad" / f"{i}.png"), "label": 1,
              "category": "left" if i < 2 else "right", "mask_path": None} for i in range(4)]
    path = tmp_path / "elsewhere" / "lines.parquet"
    path.parent.mkdir()
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_csv_rows_become_records(csv_manifest: Path, manifest_images: Path) -> None:
    assert list_categories("manifest", csv_manifest) == ["inspection"]  # named after the file
    data = load_category("manifest", csv_manifest, "inspection")
    assert [r.image_path.name for r in data.train] == [f"{i}.png" for i in range(6)]
    assert Counter((r.defect, r.label) for r in data.test) == {("good", 0): 2, ("scratch", 1): 2, ("dent", 1): 2}
    assert {r.mask_path for r in data.test if r.label} == {manifest_images / "masks" / f"{i}.png" for i in range(4)}
    plan = plan_splits(SSFlowConfig(data=DataConfig(dataset="manifest", root=str(csv_manifest),
                                                    category="inspection")))
    assert plan.held_out == 0


def test_parquet_categories_absolute_paths_and_holdout(parquet_manifest: Path) -> None:
    assert list_categories("manifest", parquet_manifest) == ["left", "right"]
    data = scan_manifest(parquet_manifest, "right")
    assert len(data.train) == 4 and all(r.mask_path is None for r in data.test) and len(data.test) == 2
    plan = plan_splits(SSFlowConfig(data=DataConfig(dataset="manifest", root=str(parquet_manifest),
                                                    category="right")))
    assert plan.held_out == 2 and len(plan.train) == 2


def test_a_boolean_label_column_written_by_pandas_reads_as_normal_and_anomalous(manifest_images: Path) -> None:
    frame = pd.DataFrame({"image_path": [f"images/ok/{i}.png" for i in range(4)] + ["images/bad/0.png"],
                          "label": [False] * 4 + [True]})
    path = manifest_images.parent / "flags.csv"
    frame.to_csv(path, index=False)  # writes False / True
    data = scan_manifest(path, "flags")
    assert len(data.train) == 4 and [(r.image_path.name, r.label) for r in data.test] == [("0.png", 1)]


def test_a_manifest_of_only_a_header_says_it_has_no_rows(manifest_images: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    path = _csv(manifest_images.parent / "empty.csv", ["image_path,label"])
    assert main(["train", "--dataset", "manifest", "--data-root", str(path),
                 "--out", str(manifest_images.parent / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path}: no rows under the header" in err, err


@pytest.mark.parametrize(("line", "column", "expected"), [
    ("images/ok/0.png,maybe,,,", "label", "normal or anomalous"),
    ("images/ok/0.png,0,validation,,", "split", "train, test or empty"),
    ("images/bad/0.png,1,train,,", "split", "training images are normal only"),
    (",0,,,", "image_path", "an image file"),
    ("images/ok/absent.png,0,,,", "image_path", "absent.png is not a file"),
    ("images/bad/0.png,1,,images/masks/absent.png,", "mask_path", "absent.png is not a file"),
])
def test_bad_rows_are_named_with_file_line_and_column(manifest_images: Path, line: str, column: str,
                                                      expected: str) -> None:
    path = _csv(manifest_images.parent / "list.csv",
                ["image_path,label,split,mask_path,defect", "images/ok/1.png,0,,,", line])
    with pytest.raises(UserInputError, match=rf"list\.csv line 3, column '{column}': .*{expected}"):
        scan_manifest(path, "list")


def test_parquet_rows_are_counted_from_one(manifest_images: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pd.DataFrame({"image_path": [str(manifest_images / "ok" / "0.png")] * 2, "label": [0, 7]}).to_parquet(path)
    with pytest.raises(UserInputError, match=r"m\.parquet row 2, column 'label': got '7'"):
        read_manifest(path)


def test_file_level_mistakes(manifest_images: Path, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no column 'image_path'; found 'path', 'label'; expected a .csv"):
        read_manifest(_csv(tmp_path / "a.csv", ["path,label", "x.png,0"]))
    with pytest.raises(UserInputError, match="no column 'label'; found 'image_path', 'lable'"):
        read_manifest(_csv(tmp_path / "a.csv", ["image_path,lable", "x.png,0"]))
    with pytest.raises(UserInputError, match="column 'mask' is not a manifest column; did you mean 'mask_path'"):
        read_manifest(_csv(tmp_path / "b.csv", ["image_path,label,mask", "x.png,0,"]))
    with pytest.raises(UserInputError, match="manifest file not found"):
        list_categories("manifest", tmp_path / "absent.csv")
    with pytest.raises(UserInputError, match=r"^data.root .*: not a \.csv or \.parquet file; dataset manifest takes"):
        list_categories("manifest", tmp_path)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(UserInputError, match="broken.parquet: not a readable parquet table"):
        read_manifest(tmp_path / "broken.parquet")
    path = _csv(manifest_images.parent / "twice.csv", ["image_path,label", "images/ok/0.png,0", "images/ok/0.png,0"])
    with pytest.raises(UserInputError, match="twice.csv line 3, column 'image_path'.*already listed on line 2"):
        scan_manifest(path, "twice")


def test_train_on_csv_and_parquet(csv_manifest: Path, parquet_manifest: Path, tmp_path: Path, run_train,
                                  capsys: pytest.CaptureFixture) -> None:
    masked = run_train("manifest", csv_manifest, "inspection", tmp_path / "csv")
    assert masked["status"] == "finished" and 0.0 <= masked["report"]["aupro"] <= 1.0
    image_level = run_train("manifest", parquet_manifest, "left", tmp_path / "parquet")
    assert image_level["status"] == "finished" and image_level["report"]["aupro"] is None
    assert main(["train", "--dataset", "manifest", "--data-root", str(csv_manifest), "--category", "other",
                 "--out", str(tmp_path / "x")]) == 2
    assert "unknown manifest category 'other'" in capsys.readouterr().err
