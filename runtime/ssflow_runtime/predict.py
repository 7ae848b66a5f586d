"""A whole predict run: find the images, score them, write every output, publish the folder in one step.

Everything is written into a hidden staging folder beside ``--out`` first and
moved into place only when every image was scored, so a failed run leaves
``--out`` as it was. ``OUT/.ssflow-outputs.json`` lists what predict wrote: a
rerun replaces only that, and a folder holding other files is refused unless
``--force`` (:mod:`ssflow_runtime.owned_outputs`). Outputs: ``predictions.csv``
(or ``.parquet``), ``regions.csv`` (one row per defect region of every flagged
image, in the image's own pixels), ``overlays/<name>.png`` (image | heatmap),
with ``--save-maps`` ``maps/<name>.npy``, with ``--skip-unreadable`` ``skipped.csv``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

from ssflow_runtime.calibration import ChosenThreshold, choose_threshold
from ssflow_runtime.errors import UserInputError
from ssflow_runtime.image_files import find_images
from ssflow_runtime.owned_outputs import check_owned_folder, publish
from ssflow_runtime.predict_outputs import (
    REGION_COLUMNS,
    TABLE_COLUMNS,
    Scored,
    Unreadable,
    overlay_names,
    region_rows,
    skipped_rows,
    table_rows,
    write_image_outputs,
    write_table,
)
from ssflow_runtime.predict_request import MAPS, OVERLAYS, REGIONS, SKIPPED, PredictRequest
from ssflow_runtime.regions import find_regions
from ssflow_runtime.scoring import OpenedModel, Prediction, score_images

# Told (images done, images in all) after each group of images, for a progress bar.
OnProgress = Callable[[int, int], None]


class PredictResult(NamedTuple):
    """What a run did: per image its decision, and where everything went."""

    predictions: list[Prediction]  # in input order, unreadable images left out
    chosen: ChosenThreshold
    model: OpenedModel
    table_path: Path  # OUT/predictions.csv or .parquet
    skipped: list[Unreadable]  # with skip_unreadable; [] otherwise
    squashed: int  # non-square images resized to the model's square input


def run_predict(request: PredictRequest, open_model: Callable[[], OpenedModel],
                on_progress: OnProgress | None = None) -> PredictResult:
    """Score ``request.inputs`` with the model ``open_model()`` opens and write every output into ``request.out``.

    ``open_model`` is called after the request, the output folder and the image list are checked, so a
    mistake costs no model load. Raises :class:`UserInputError` (one line) for every mistake; ``request.out``
    is then as it was.
    """
    request.check()
    owned = check_owned_folder(request.out, "predict", request.force)
    paths = _outside(find_images(request.inputs, request.recursive), request.out)
    model = open_model()
    chosen = choose_threshold(model.calibration, request.threshold, request.max_fpr)
    request.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{request.out.name}.partial-", dir=request.out.parent))
    skipped: list[Unreadable] = []
    names = dict(zip(map(str, paths), overlay_names(paths)))  # overlay file per input path
    try:
        scored = _score_into(staging, model, chosen.value, paths, names, request, skipped, on_progress)
        table_name = f"predictions.{request.file_format}"
        write_table(staging / table_name, TABLE_COLUMNS, table_rows(scored, names, request.save_maps),
                    request.file_format)
        write_table(staging / REGIONS, REGION_COLUMNS, region_rows(scored))
        if skipped:
            write_table(staging / SKIPPED, Unreadable._fields, skipped_rows(skipped))
        publish(staging, request.out, owned, last=table_name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PredictResult([item.prediction for item in scored], chosen, model, request.out / table_name, skipped,
                         sum(item.squashed for item in scored))


def _outside(paths: list[Path], out: Path) -> list[Path]:
    """``paths`` less those below ``out``: an output folder inside the inputs holds the last run's overlays."""
    below = out.resolve()
    kept = [path for path in paths if below not in path.resolve().parents]
    if not kept:
        raise UserInputError(f"no images to score: every image found is below --out {out}, which holds "
                             "earlier results")
    return kept


def _score_into(staging: Path, model: OpenedModel, threshold: float, paths: list[Path], names: dict[str, str],
                request: PredictRequest, skipped: list[Unreadable], on_progress: OnProgress | None) -> list[Scored]:
    """Score every path, writing overlays (file ``names[path]``) and maps into ``staging``; results in order.

    With ``request.skip_unreadable``, unreadable images are appended to ``skipped`` and left out; without,
    the first stops the run (one line).
    """
    (staging / OVERLAYS).mkdir()
    if request.save_maps:
        (staging / MAPS).mkdir()
    results: list[Scored] = []

    def leave_out(path: Path, reason: str) -> None:
        skipped.append(Unreadable(str(path), reason))

    try:
        for batch in score_images(model, paths, threshold, request.batch_size,
                                  leave_out if request.skip_unreadable else None):
            for scored in batch:
                write_image_outputs(staging, scored, names[scored.prediction.path], model.calibration,
                                    request.overlay_size, request.save_maps)
                regions = find_regions(scored.anomaly_map, threshold, request.min_region_px) \
                    if scored.prediction.anomalous else []
                height, width = scored.image.shape[:2]
                squashes = not model.inputs.tile_size and not model.inputs.keep_aspect and height != width
                results.append(Scored(scored.prediction, regions, squashes))
            if on_progress is not None:
                on_progress(len(results) + len(skipped), len(paths))
    except UserInputError as error:
        if request.skip_unreadable:
            raise
        raise UserInputError(f"{error} (--skip-unreadable scores the other images)") from None
    if not results and skipped:
        raise UserInputError(f"no image could be read ({len(paths)} tried; first: {skipped[0].reason}); "
                             "nothing written")
    return results
