"""Finding the checkpoint a resumed trial continues from, in the folders Ray Tune wrote it to.

A trial's checkpoint reaches storage before the driver has processed the
epoch's result, so after an interrupt the newest checkpoint may belong to an
epoch the driver never saw: no store row, no ASHA record. A resumed trial
therefore continues from the newest checkpoint of an epoch the store holds,
and trains the unseen epochs again. Each checkpoint folder carries its epoch
in :data:`EPOCH_FILE` for that.
"""

from __future__ import annotations

import json

import pyarrow.fs as pafs

CHECKPOINT_PREFIX = "checkpoint_"  # Ray Tune names them checkpoint_000000, checkpoint_000001, ...
EPOCH_FILE = "epoch.json"  # {"epoch": n}: the epochs completed when the checkpoint was taken


def _open(folder: str) -> tuple[pafs.FileSystem, str, str]:
    """(filesystem, path in it, scheme prefix to rebuild a URI: "" for a local folder)."""
    if "://" in folder:
        filesystem, path = pafs.FileSystem.from_uri(folder)
        return filesystem, path, folder.split("://", 1)[0] + "://"
    return pafs.LocalFileSystem(), folder, ""


def _epoch(filesystem: pafs.FileSystem, folder: str) -> int | None:
    try:
        with filesystem.open_input_stream(f"{folder}/{EPOCH_FILE}") as stream:
            return int(json.loads(stream.read().decode())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):  # a checkpoint still being written, or not ours
        return None


def latest_checkpoint(trial_dirs: list[str], up_to_epoch: int) -> str:
    """The checkpoint of the latest epoch <= ``up_to_epoch`` among ``trial_dirs``; "" when there is none.

    ``trial_dirs`` are a trial's Tune folders, oldest first (a trial resumed by
    a later driver gets a new one). Returns a local path or a URI like
    ``s3://bucket/...``.
    """
    best: tuple[int, str] | None = None
    for folder in trial_dirs:
        filesystem, path, scheme = _open(folder)
        try:
            entries = filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        except OSError:  # an unreachable folder holds nothing we could resume from
            continue
        for info in entries:
            if info.type != pafs.FileType.Directory or not info.base_name.startswith(CHECKPOINT_PREFIX):
                continue
            epoch = _epoch(filesystem, info.path)
            if epoch is not None and epoch <= up_to_epoch and (best is None or epoch >= best[0]):
                best = (epoch, f"{scheme}{info.path}")
    return best[1] if best else ""
