import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

from ssflow.datasets import list_categories, load_category, prepare_root
from ssflow.datasets.btad import scan_btad
from ssflow.datasets.demo import (
    DEMO_HARD, DEMO_HIRES, MARKER, DemoSettings, _marker, defective_image, generate_demo, image_rng,
)
from ssflow.datasets.painters import DEFECTS, DefectStyle, apply_change
from ssflow.datasets.canvas import Frame
from ssflow.datasets.demo import SURFACES

HEIGHT, WIDTH = 640, 1024
# Every defect region (8-connected) spans this many pixels along its longer side of the bounding box.
SMALLEST, LARGEST = 2, 24


def _pixels(path: Path) -> np.ndarray:
    """The decoded file as stored: uint8 (H, W, 3) BGR or (H, W) grey, never resized."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert pixels is not None, path
    return pixels


def _pixel_digest(root: Path) -> str:
    """sha256 over every PNG under ``root``: relative path, then decoded pixels (not the PNG encoder's bytes)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.png")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(_pixels(path).tobytes())
    return digest.hexdigest()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _region_sides(mask: np.ndarray) -> list[int]:
    """The longer bounding-box side in pixels of every 8-connected region of a bool or 0/255 mask (H, W)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    return [int(max(stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT])) for i in range(1, count)]


@pytest.fixture(scope="module")
def hires_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The full demo-hires dataset, generated once through the registry, and the seconds it took."""
    started = time.perf_counter()
    root = prepare_root("demo-hires", tmp_path_factory.mktemp("generated") / "demo-hires")
    return root, time.perf_counter() - started


def test_settings_describe_the_documented_dataset() -> None:
    assert DEMO_HIRES.name == "demo-hires"
    assert DEMO_HIRES.frame == Frame(HEIGHT, WIDTH, 256)  # laid out like demo's 256-px images
    assert (DEMO_HIRES.train, DEMO_HIRES.test_ok, DEMO_HIRES.test_ko) == (24, 16, 16)
    assert len(DEMO_HIRES.categories) == 2 and set(DEMO_HIRES.categories) <= set(SURFACES)
    assert set(DEMO_HIRES.defects) <= set(DEFECTS)
    assert DemoSettings().frame == Frame(256, 256, 256) and DEMO_HARD.frame == Frame(256, 256, 256)


def test_frame_cells_keep_square_counts_and_square_cells() -> None:
    assert Frame(256, 256, 256).cells(6) == (6, 6)
    assert Frame(64, 64, 64).cells(24) == (24, 24)
    assert Frame(HEIGHT, WIDTH, 256).cells(6) == (15, 24)  # cells of 256 / 6 px on both axes


def test_demo_and_demo_hard_images_are_unchanged(tmp_path: Path) -> None:
    # Digests of these files as generated before non-square frames and DefectStyle.unit existed.
    # Every image draws from its own generator, so these equal the same files of the full datasets.
    few_demo = dataclasses.replace(DemoSettings(), train=1, test_ok=1, test_ko=5, categories=("washer", "granite"))
    few_hard = dataclasses.replace(DEMO_HARD, train=1, test_ok=1, test_ko=8, categories=("leather", "carpet"))
    assert _pixel_digest(generate_demo(tmp_path / "demo", settings=few_demo)) == (
        "c6183009ae7b0dda4c5e882966823292ef6b2bc9016df8df82e1967c2c2efdab")
    assert _pixel_digest(generate_demo(tmp_path / "hard", settings=few_hard)) == (
        "6fe3bc8ee275e44efb58b489ecd0af160a6f6870a6b4aa794c550cccbe970941")


def test_square_markers_are_unchanged() -> None:
    # Caches of demo and demo-hard written before width, height and unit existed stay current.
    for settings in (DemoSettings(), DEMO_HARD):
        stored = _marker(0, settings)["settings"]
        assert set(stored) == {"name", "size", "train", "test_ok", "test_ko", "categories", "defects", "style"}
        assert set(stored["style"]) == {"contrast", "scale", "min_delta"}
    hires = _marker(0, DEMO_HIRES)["settings"]
    assert (hires["width"], hires["height"], hires["style"]["unit"]) == (WIDTH, HEIGHT, 0.2)


@pytest.mark.parametrize("surface_name", sorted(SURFACES))
def test_every_surface_and_defect_fits_a_wide_frame(surface_name: str) -> None:
    frame = Frame(48, 80, 64)
    for index, (defect_name, defect) in enumerate(sorted(DEFECTS.items())):
        rng = np.random.default_rng(index)
        surface = SURFACES[surface_name](rng, frame)
        assert surface.image.shape == (48, 80, 3) and surface.image.dtype == np.uint8
        assert surface.support.shape == (48, 80) and surface.fill.shape == (48, 80, 3)
        image, mask = apply_change(surface.image, defect(rng, surface, DefectStyle()))
        assert (mask == (image != surface.image).any(axis=2)).all(), defect_name
        assert mask.any() and not (mask & ~surface.support).any(), defect_name


def test_registry_generates_and_lists_it_in_a_few_seconds(
        hires_root: tuple[Path, float], record_property: Callable[[str, object], None]) -> None:
    root, seconds = hires_root
    megabytes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
    record_property("demo_hires_generation_seconds", round(seconds, 1))
    record_property("demo_hires_megabytes", round(megabytes, 1))
    assert seconds < 30  # about 5 s on 2 cores; generous for a loaded machine
    assert megabytes < 200  # about 160 MB: fine texture barely compresses in PNG
    assert list_categories("demo-hires", root) == sorted(DEMO_HIRES.categories)
    assert json.loads((root / MARKER).read_text())["generator"] == "demo-hires"
    for category in DEMO_HIRES.categories:
        data = load_category("demo-hires", root, category)
        assert (data.dataset, len(data.train), len(data.test)) == ("demo-hires", 24, 32)
        assert sum(record.label for record in data.test) == DEMO_HIRES.test_ko
        kinds = sorted(r.image_path.stem.split("_", 1)[1] for r in data.test if r.label)
        assert kinds == sorted(2 * DEMO_HIRES.defects)  # each kind twice


def test_images_are_large_and_non_square(hires_root: tuple[Path, float]) -> None:
    root, _ = hires_root
    for category in DEMO_HIRES.categories:
        data = scan_btad(root, category)
        for record in (*data.train, *data.test):
            assert _pixels(record.image_path).shape == (HEIGHT, WIDTH, 3), record.image_path
            if record.mask_path is not None:
                assert _pixels(record.mask_path).shape == (HEIGHT, WIDTH), record.mask_path


def test_defects_are_small_and_masks_are_exactly_the_changed_pixels(hires_root: tuple[Path, float]) -> None:
    root, _ = hires_root
    sides = []
    for category in DEMO_HIRES.categories:
        for record in (r for r in scan_btad(root, category).test if r.label):
            index = int(record.image_path.stem.split("_", 1)[0])  # 0003_missing.png: the fourth ko image
            mask = _pixels(record.mask_path)
            assert set(np.unique(mask)) <= {0, 255} and mask.any(), record.mask_path
            regions = _region_sides(mask)
            assert SMALLEST <= min(regions) and max(regions) <= LARGEST, (record.mask_path, regions)
            sides += regions
            # The image before the defect: defective_image draws the surface first from the same generator.
            before = SURFACES[category](image_rng(0, category, "test_ko", index), DEMO_HIRES.frame).image
            changed = (_pixels(record.image_path)[:, :, ::-1] != before).any(axis=2)
            assert (changed == (mask > 0)).all(), record.image_path
    # From a few pixels to about 20: squashed to 256 px they are a pixel or a few.
    assert min(sides) <= 5 and max(sides) >= 12


def test_same_seed_same_bytes(hires_root: tuple[Path, float], tmp_path: Path) -> None:
    root, _ = hires_root
    # Every image has its own generator: fewer images give the same files as the full dataset.
    few = dataclasses.replace(DEMO_HIRES, train=2, test_ok=1, test_ko=3)
    again = _files(generate_demo(tmp_path / "again", seed=0, settings=few))
    full = _files(root)
    images = [name for name in again if name != MARKER]
    assert len(images) == 2 * (2 + 1 + 3 + 3)
    assert all(again[name] == full[name] for name in images)
    other = _files(generate_demo(tmp_path / "other", seed=1, settings=few))
    assert other.keys() == again.keys() and other["fabric/train/ok/0000.png"] != again["fabric/train/ok/0000.png"]


def test_defective_image_masks_exactly_the_changed_pixels_at_other_seeds() -> None:
    for category in DEMO_HIRES.categories:
        for index, defect in enumerate(DEMO_HIRES.defects):
            before = SURFACES[category](image_rng(7, category, "test_ko", index), DEMO_HIRES.frame).image
            image, mask = defective_image(image_rng(7, category, "test_ko", index), category, defect, DEMO_HIRES)
            assert ((image != before).any(axis=2) == mask).all(), defect
            regions = _region_sides(mask)
            assert regions and SMALLEST <= min(regions) and max(regions) <= LARGEST, (category, defect, regions)
