"""What a predict run is asked to do: its flags (shared by ``ssflow-predict`` and ``ssflow-search predict``),
checked before any model is opened or image read."""

from __future__ import annotations

import argparse
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

from ssflow_runtime.errors import UserInputError
from ssflow_runtime.image_files import IMAGE_SUFFIXES
from ssflow_runtime.output_paths import check_output_folder
from ssflow_runtime.thresholds import check_rate

OVERLAYS, MAPS, SKIPPED, REGIONS = "overlays", "maps", "skipped.csv", "regions.csv"
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class PredictRequest:
    """One predict run: which images, where the results go, how images are judged.

    ``threshold`` (a raw image score) and ``max_fpr`` (a false-positive rate on the calibration's normal
    images) are exclusive; neither means the model's calibrated default threshold.
    """

    inputs: tuple[str, ...]  # image files and folders
    out: Path
    recursive: bool = False
    force: bool = False
    file_format: str = "csv"  # csv | parquet
    device: str = "auto"  # auto | cpu | cuda
    batch_size: int = 16  # model inputs per call
    save_maps: bool = False
    overlay_size: int = 0  # cap on an overlay panel's longer side in pixels; 0: the image's own size
    min_region_px: int = 1
    skip_unreadable: bool = False
    threshold: float | None = None
    max_fpr: float | None = None

    def check(self) -> None:
        """Raise :class:`UserInputError` (one line naming the flag) for a value predict cannot use."""
        if self.file_format not in FORMATS:
            raise UserInputError(f"--format {self.file_format}: expected one of {', '.join(FORMATS)}")
        if self.batch_size < 1:
            raise UserInputError(f"--batch-size {self.batch_size}: expected an integer >= 1")
        if self.overlay_size < 0 or 0 < self.overlay_size < 16:
            raise UserInputError(f"--overlay-size {self.overlay_size}: expected 0 (the image's size) or >= 16 pixels")
        if self.min_region_px < 1:
            raise UserInputError(f"--min-region-px {self.min_region_px}: expected an integer >= 1")
        if self.threshold is not None and self.max_fpr is not None:
            raise UserInputError("--threshold and --max-fpr both given; pick one")
        if self.max_fpr is not None:
            check_rate(self.max_fpr)  # before a model is loaded; the model's calibration is checked later
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise UserInputError(f"--threshold {self.threshold}: expected a finite image score")
        check_output_folder(self.out)
        if self.file_format == "parquet":
            _require_pyarrow()


def _require_pyarrow() -> None:
    """Parquet needs pyarrow: say so before any image is scored, not after."""
    if importlib.util.find_spec("pyarrow") is None:
        raise UserInputError("--format parquet needs pyarrow, which is not installed (pip install pyarrow); "
                             "--format csv needs nothing more")


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of a predict run (every field of :class:`PredictRequest`, and ``--model``)."""
    parser.add_argument("--model", required=True,
                        help="a .onnx written by 'export-model' (runs on ONNX Runtime, no torch needed); "
                             "ssflow-search predict also takes a model.pt written by 'train'")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER",
                        help=f"image files, or folders whose {'/'.join(IMAGE_SUFFIXES)} files are scored "
                             "(sorted by path; subfolders only with --recursive)")
    parser.add_argument("--recursive", action="store_true", help="also take images from subfolders")
    parser.add_argument("--out", required=True,
                        help="output folder; what an earlier predict wrote there (predictions file, regions.csv, "
                             "overlays/, maps/) is replaced, a folder holding other files is refused")
    parser.add_argument("--force", action="store_true",
                        help="write into an --out folder that holds files predict did not write (files with "
                             "predict's output names are replaced; nothing else is touched)")
    parser.add_argument("--format", choices=FORMATS, default="csv",
                        help="predictions file format (parquet needs pyarrow)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=16, help="images scored at once (default 16)")
    parser.add_argument("--save-maps", action="store_true",
                        help=f"also write each image's anomaly map as OUT/{MAPS}/<name>.npy (float32, the image's "
                             "own height x width)")
    parser.add_argument("--overlay-size", type=int, default=0, metavar="PX",
                        help="cap the longer side of each overlay panel (image | heatmap, side by side) at PX "
                             "pixels (default 0: each panel at the image's own size)")
    parser.add_argument("--min-region-px", type=int, default=1, metavar="PX",
                        help=f"leave regions smaller than PX pixels out of OUT/{REGIONS} (default 1)")
    parser.add_argument("--skip-unreadable", action="store_true",
                        help=f"leave out images that cannot be read (listed in OUT/{SKIPPED}) instead of stopping")
    threshold = parser.add_mutually_exclusive_group()
    threshold.add_argument("--threshold", type=float, default=None, metavar="VALUE",
                           help="flag images with score >= VALUE (default: the calibrated best-F1 threshold)")
    threshold.add_argument("--max-fpr", type=float, default=None, metavar="RATE",
                           help="use the lowest threshold that flags at most RATE (e.g. 0.01) of the normal "
                                "calibration images; any rate in (0, 1)")


def request_from_args(args: argparse.Namespace) -> PredictRequest:
    """The :class:`PredictRequest` of parsed :func:`add_predict_arguments` flags (not yet checked)."""
    return PredictRequest(tuple(args.inputs), Path(args.out), args.recursive, args.force, args.format, args.device,
                          args.batch_size, args.save_maps, args.overlay_size, args.min_region_px,
                          args.skip_unreadable, args.threshold, args.max_fpr)
