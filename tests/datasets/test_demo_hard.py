import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from ssflow.datasets import list_categories, load_category, prepare_root
from ssflow.datasets.btad import scan_btad
from ssflow.datasets.demo import DEMO_HARD, MARKER, DemoSettings, defective_image, generate_demo, image_rng
from ssflow.datasets.painters import DEFECTS
from ssflow.datasets.demo import SURFACES
from ssflow.datasets.demo_textures import Camera, photograph
from ssflow.datasets.images import load_split

SMALL_HARD = dataclasses.replace(DEMO_HARD, size=64, train=3, test_ok=2, test_ko=len(DEMO_HARD.defects))
SUBTLE = ("faint_scratch", "speck", "stain", "smooth", "hairline_crack")
STILL = Camera(max_rotation=0.0, scale=(1.0, 1.0), brightness=0.0, gradient=0.0, cast=0.0, grain=0.0)


def test_settings_describe_the_documented_dataset() -> None:
    assert DEMO_HARD.name == "demo-hard" and len(DEMO_HARD.categories) >= 4
    assert DEMO_HARD.train == 80 and DEMO_HARD.test_ok + DEMO_HARD.test_ko == 60
    assert set(DEMO_HARD.categories) <= set(SURFACES) and set(DEMO_HARD.defects) <= set(DEFECTS)
    assert set(SUBTLE) < set(DEMO_HARD.defects)  # subtle kinds beside obvious ones
    assert not set(DEMO_HARD.categories) & set(DemoSettings().categories)


@pytest.mark.parametrize("category", DEMO_HARD.categories)
def test_masks_are_exactly_the_changed_pixels(category: str) -> None:
    for index, defect in enumerate(DEMO_HARD.defects):
        # defective_image draws the surface first from the same generator: this is the image before the defect.
        before = SURFACES[category](image_rng(3, category, "test_ko", index), DEMO_HARD.size).image
        image, mask = defective_image(image_rng(3, category, "test_ko", index), category, defect, DEMO_HARD)
        assert (image[~mask] == before[~mask]).all(), defect
        assert ((image != before).any(axis=2) == mask).all(), defect
        assert 20 < mask.sum() < 0.05 * mask.size, defect


def _change(category: str, defect: str, index: int) -> np.ndarray:
    """Largest per-channel change of every masked pixel of one defective image."""
    before = SURFACES[category](image_rng(0, category, "test_ko", index), DEMO_HARD.size).image
    image, mask = defective_image(image_rng(0, category, "test_ko", index), category, defect, DEMO_HARD)
    return np.abs(image.astype(int) - before.astype(int)).max(axis=2)[mask]


def test_subtle_defects_change_pixels_less_than_obvious_ones() -> None:
    faint = ("faint_scratch", "stain")
    subtle = np.concatenate([_change(c, d, i) for c in DEMO_HARD.categories for i, d in enumerate(faint)])
    obvious = np.concatenate([_change(c, "scratch", i) for c in DEMO_HARD.categories for i in range(2)])
    assert subtle.min() >= DEMO_HARD.style.min_delta
    assert np.median(subtle) < 30 < np.median(obvious)


def _stripes(rng: np.random.Generator, canvas: int, unit: float) -> np.ndarray:
    """Horizontal stripes, period 16 pixels, grey around 128: (canvas, canvas, 3)."""
    rows = 128 + 60 * np.sin(2 * np.pi * np.arange(canvas, dtype=np.float32) / 16)
    return np.repeat(np.repeat(rows[:, None, None], canvas, axis=1), 3, axis=2)


def _orientation(image: np.ndarray) -> float:
    """Dominant gradient direction in degrees [0, 180) from the structure tensor."""
    grey = image.mean(axis=2)
    gy, gx = np.gradient(grey)
    return float(np.degrees(0.5 * np.arctan2(2 * (gx * gy).sum(), (gx**2 - gy**2).sum())) % 180)


def _photos(camera: Camera, count: int = 8) -> list[np.ndarray]:
    return [photograph(np.random.default_rng(seed), 64, _stripes, camera) for seed in range(count)]


def test_photograph_varies_rotation_and_light_only_as_the_camera_allows() -> None:
    still = _photos(STILL)
    assert all(abs(_orientation(image) - 90) < 1 for image in still)  # stripes stay horizontal
    assert np.ptp([image.mean() for image in still]) < 1
    turned = [_orientation(image) for image in _photos(dataclasses.replace(STILL, max_rotation=90.0))]
    assert np.ptp(turned) > 45
    lit = _photos(dataclasses.replace(STILL, brightness=0.07))
    assert np.ptp([image.mean() for image in lit]) > 5


def test_normal_images_differ_in_light_within_a_category() -> None:
    for category in DEMO_HARD.categories:
        means = [SURFACES[category](image_rng(0, category, "train", i), 64).image.mean() for i in range(6)]
        assert np.ptp(means) > 4, category


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_the_layout_reads_back(tmp_path: Path) -> None:
    root = generate_demo(tmp_path / "a", seed=2, settings=SMALL_HARD)
    first = _files(root)
    assert first == _files(generate_demo(tmp_path / "b", seed=2, settings=SMALL_HARD))
    other = _files(generate_demo(tmp_path / "c", seed=3, settings=SMALL_HARD))
    assert other.keys() == first.keys() and other["leather/train/ok/0000.png"] != first["leather/train/ok/0000.png"]
    assert json.loads((root / MARKER).read_text())["generator"] == "demo-hard"
    for category in SMALL_HARD.categories:
        data = scan_btad(root, category)
        images, masks, labels = load_split(data.test, 64)
        assert len(data.train) == 3 and labels.tolist() == [0] * 2 + [1] * len(SMALL_HARD.defects)
        assert all(masks[i].any() for i in np.flatnonzero(labels)) and not masks[labels == 0].any()
        kinds = sorted(r.image_path.stem.split("_", 1)[1] for r in data.test if r.label)
        assert kinds == sorted(SMALL_HARD.defects)


def test_registry_generates_the_full_dataset_in_under_a_minute(
        tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    started = time.perf_counter()
    root = prepare_root("demo-hard", tmp_path / "demo-hard")
    seconds = time.perf_counter() - started
    record_property("demo_hard_generation_seconds", round(seconds, 1))
    print(f"demo-hard generated in {seconds:.1f} s")  # shown with pytest -s; also in the junit XML property
    assert seconds < 60
    assert list_categories("demo-hard", root) == sorted(DEMO_HARD.categories)
    data = load_category("demo-hard", root, "marble")
    assert (data.dataset, len(data.train), len(data.test)) == ("demo-hard", 80, 60)
    assert sum(record.label for record in data.test) == DEMO_HARD.test_ko
