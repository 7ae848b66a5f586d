"""Leakage between training and test images: the same picture on both sides inflates every metric.

A copied file, a re-saved JPEG or a resized copy of a training image among the
test images is found in two steps. Candidates: perceptual hashes (pHash,
``imagehash.phash``, 64 bits: the sign of the lowest 8 x 8 DCT frequencies of
a 32 x 32 grey image; Zauner, "Implementation and Benchmarking of Perceptual
Image Hash Functions", 2010) at most :data:`CANDIDATE_BITS` bits apart.
Confirmed: the two images, grey and resized to :data:`COMPARE_SIZE` pixels
square, differ by at most :data:`NEAR_MEAN_DIFFERENCE` grey levels on average.
Two captures of different parts share most of their low frequencies (close
hashes), but their pixels differ by more than re-encoding or resizing changes
them, so the second step keeps them apart. Identical files (SHA-256) are
"exact". A product photographed so precisely that two different parts differ
by less than a re-encoded copy would be reported too: ``--allow-leakage``
goes on then.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple, Sequence

import cv2
import imagehash
import numpy as np
from PIL import Image

from ssflow.datasets.prepared import SplitPlan
from ssflow_runtime.images import decode
from ssflow.errors import SettingError

CANDIDATE_BITS = 10  # of pHash's 64
COMPARE_SIZE = 32
# Grey levels of 255 at COMPARE_SIZE. Measured on generated textures: a JPEG at quality 60 changes at most 0.8,
# a copy shrunk 2x or 4x 0.25; the closest distinct images of one texture differ by 9 or more.
NEAR_MEAN_DIFFERENCE = 1.5
LISTED = 3  # pairs named in the leakage line


class Leak(NamedTuple):
    train_path: str
    test_path: str
    kind: str  # "exact" (identical files) or "near" (re-encoded, resized)
    difference: float  # mean grey-level difference at COMPARE_SIZE; 0 for exact


class _Print(NamedTuple):
    digest: str  # SHA-256 of the file
    phash: imagehash.ImageHash
    grey: np.ndarray  # (COMPARE_SIZE, COMPARE_SIZE) float32


def _fingerprint(path: Path) -> _Print:
    data = path.read_bytes()
    pixels = decode(path)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
    if pixels.dtype != np.uint8:  # 16-bit: compare on the 8-bit scale
        pixels = (pixels / 257).astype(np.uint8)
    grey = cv2.resize(pixels, (COMPARE_SIZE, COMPARE_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    return _Print(hashlib.sha256(data).hexdigest(), imagehash.phash(Image.fromarray(pixels)), grey)


def find_leaks(train: Sequence[str | Path], test: Sequence[str | Path]) -> list[Leak]:
    """Every (training image, test image) pair that shows the same picture, in test order.

    ``train``/``test``: image files. Reads each file once (decoded, grey, small); about 1 ms per
    image plus the decode. Raises ``UserInputError`` for an unreadable image (see
    :func:`ssflow.datasets.images.decode`).
    """
    if not train or not test:
        return []
    train_prints = [(str(path), _fingerprint(Path(path))) for path in train]
    by_digest = {item.digest: path for path, item in train_prints}
    hashes = np.array([item.phash.hash.ravel() for _, item in train_prints], dtype=bool).reshape(len(train_prints), -1)
    leaks = []
    for test_path in map(str, test):
        probe = _fingerprint(Path(test_path))
        if probe.digest in by_digest:
            leaks.append(Leak(by_digest[probe.digest], test_path, "exact", 0.0))
            continue
        if not len(hashes):
            continue
        bits = (hashes != probe.phash.hash.ravel()).sum(axis=1)
        for index in np.flatnonzero(bits <= CANDIDATE_BITS):
            path, item = train_prints[index]
            difference = float(np.abs(item.grey - probe.grey).mean())
            if difference <= NEAR_MEAN_DIFFERENCE:
                leaks.append(Leak(path, test_path, "near", round(difference, 2)))
                break
    return leaks


def leak_line(leaks: Sequence[Leak], where: str) -> str:
    """One line naming the first :data:`LISTED` pairs, e.g. ``wood: 2 test images are copies of training
    images (test/good/004.png = train/good/001.png (exact), ...)``."""
    pairs = ", ".join(f"{_short(leak.test_path)} = {_short(leak.train_path)} ({leak.kind})"
                      for leak in leaks[:LISTED])
    more = ", ..." if len(leaks) > LISTED else ""
    count = f"{len(leaks)} test image{'s' if len(leaks) != 1 else ''}"
    return f"{where}: {count} {'are copies' if len(leaks) != 1 else 'is a copy'} of training images ({pairs}{more})"


def _short(path: str) -> str:
    """The last three parts of ``path`` (``test/good/004.png``): enough to find it, short enough for one line."""
    return "/".join(Path(path).parts[-3:])


def split_leaks(plan: SplitPlan) -> list[Leak]:
    """:func:`find_leaks` between a run's training images (synthetic validation ones included) and its
    selection and report images."""
    train = [record.image_path for record in (*plan.train, *plan.validation)]
    return find_leaks(train, [record.image_path for record in (*plan.selection, *plan.report)])


def check_leakage(plan: SplitPlan, allow: bool) -> list[Leak]:
    """:func:`split_leaks` of ``plan``; refuses leakage unless ``allow``.

    Raises:
        UserInputError: leaks found and ``allow`` is false (one line naming the pairs and --allow-leakage).
    """
    where = f"{plan.dataset}/{plan.category}"
    leaks = split_leaks(plan)
    if leaks and not allow:
        raise SettingError("allow_leakage", None, f"{leak_line(leaks, where)}: every metric would be inflated; "
                                                   "remove them from one side, or set {allow_leakage} to go on anyway")
    return leaks
