"""What a user should know about how a category's images were read, for ``train`` and the sweep alike."""

from __future__ import annotations

from ssflow.datasets.prepared import PreparedData


def squash_note(count: int) -> str:
    """The note for ``count`` non-square images resized to a square (whole-image mode, no data.keep_aspect)."""
    return (f"{count} non-square image{'s are' if count != 1 else ' is'} squashed to a square; set "
            "data.keep_aspect=true to pad instead, or data.tile_size to read at full resolution in tiles")


def data_notes(data: PreparedData, holdout_fraction: float) -> list[str]:
    """What a user should know about how the category was read: held-out images, missing masks."""
    notes = []
    if data.held_out:
        notes.append(f"no normal test images: {data.held_out} normal training images held out for testing "
                     f"(data.holdout_fraction {holdout_fraction:g}, seeded by data.split_seed)")
    if data.squashed:
        notes.append(squash_note(data.squashed))
    splits = (data.selection, data.report)
    total = sum(int((split.labels == 1).sum()) for split in splits)
    masked = sum(int(((split.labels == 1) & split.mask_known).sum()) for split in splits)
    if total == 0:
        return notes  # nothing to score: the synthetic validation set is the objective (said above)
    if masked == 0:
        notes.append("no anomalous test image has a mask: image-level only (no pixel AUROC or AUPRO; "
                     "the objective is image AUROC)")
    elif masked < total:
        notes.append(f"{total - masked} of {total} anomalous test images have no mask: pixel AUROC and AUPRO "
                     "are computed on the others")
    return notes
