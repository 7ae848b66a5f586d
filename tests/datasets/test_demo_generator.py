import dataclasses
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from ssflow.datasets.btad import scan_btad
from ssflow.datasets.demo import MARKER, DemoSettings, ensure_demo, generate_demo, image_rng, is_current
from ssflow.datasets.painters import DEFECTS, DefectStyle, apply_change
from ssflow.datasets.demo import SURFACES
from ssflow.datasets.images import load_split, read_image
from ssflow.errors import UserInputError

SMALL = DemoSettings(size=64, train=3, test_ok=2, test_ko=5)


@pytest.mark.parametrize("surface_name", sorted(SURFACES))
def test_every_defect_mask_is_exactly_the_changed_pixels(surface_name: str) -> None:
    for index, (defect_name, defect) in enumerate(sorted(DEFECTS.items())):
        rng = np.random.default_rng(index)
        surface = SURFACES[surface_name](rng, 256)
        image, mask = apply_change(surface.image, defect(rng, surface, DefectStyle()))
        changed = (image != surface.image).any(axis=2)
        assert (mask == changed).all(), defect_name
        assert 20 < mask.sum() < 0.1 * mask.size, defect_name  # visible, but not the whole image
        assert not (mask & ~surface.support).any(), defect_name  # on the product only


def test_normal_images_vary_within_a_category_and_categories_differ() -> None:
    means = {}
    for category in SMALL.categories:
        first, second = (SURFACES[category](image_rng(0, category, "train", i), 64).image for i in range(2))
        assert not np.array_equal(first, second)
        means[category] = first.reshape(-1, 3).mean(axis=0)
    names = list(means)
    gaps = [np.abs(means[a] - means[b]).max() for a in names for b in names if a < b]
    assert min(gaps) > 15


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_images(tmp_path: Path) -> None:
    first = _files(generate_demo(tmp_path / "a", seed=5, settings=SMALL))
    assert first == _files(generate_demo(tmp_path / "b", seed=5, settings=SMALL))
    other = _files(generate_demo(tmp_path / "c", seed=6, settings=SMALL))
    assert other.keys() == first.keys()
    assert other["wood/train/ok/0000.png"] != first["wood/train/ok/0000.png"]


def test_layout_reads_back_with_exact_masks(tmp_path: Path) -> None:
    root = generate_demo(tmp_path / "demo", settings=SMALL)
    assert json.loads((root / MARKER).read_text())["seed"] == 0
    for category in SMALL.categories:
        data = scan_btad(root, category)
        assert len(data.train) == 3 and all(r.label == 0 for r in data.train)
        images, masks, labels = load_split(data.test, 64)
        assert labels.tolist() == [0] * 2 + [1] * 5
        assert not masks[labels == 0].any()
        assert all(masks[i].any() and masks[i].mean() < 0.25 for i in np.flatnonzero(labels))
        kinds = sorted(r.image_path.stem.split("_", 1)[1] for r in data.test if r.label)
        assert kinds == sorted(SMALL.defects)
        assert read_image(data.train[0].image_path, 64).shape == (64, 64, 3)


def test_default_demo_has_the_documented_size(default_demo_root: Path) -> None:
    root = default_demo_root
    categories = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert categories == sorted(DemoSettings().categories) and len(categories) >= 3
    for category in categories:
        data = scan_btad(root, category)
        assert len(data.train) == 80
        assert sum(r.label == 0 for r in data.test) == 20 and sum(r.label == 1 for r in data.test) == 20
    assert read_image(data.test[-1].image_path, 256).shape == (256, 256, 3)


def test_ensure_demo_reuses_the_cache(tmp_path: Path) -> None:
    root = ensure_demo(tmp_path / "demo", settings=SMALL)
    sentinel = root / "sentinel"
    sentinel.write_text("kept if the cache is reused")
    assert ensure_demo(root, settings=SMALL) == root and sentinel.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no partial copies left


def test_ensure_demo_regenerates_an_outdated_cache(tmp_path: Path) -> None:
    root = ensure_demo(tmp_path / "demo", settings=SMALL)
    (root / "sentinel").write_text("gone after regeneration")
    marker = json.loads((root / MARKER).read_text())
    (root / MARKER).write_text(json.dumps({**marker, "version": marker["version"] - 1}))
    assert not is_current(root, settings=SMALL)
    ensure_demo(root, settings=SMALL)
    assert is_current(root, settings=SMALL) and not (root / "sentinel").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
    ensure_demo(root, seed=1, settings=SMALL)  # another seed is another dataset
    assert is_current(root, seed=1, settings=SMALL)
    bigger = dataclasses.replace(SMALL, train=4)  # and so are other settings
    ensure_demo(root, seed=1, settings=bigger)
    assert is_current(root, seed=1, settings=bigger) and (root / "wood" / "train" / "ok" / "0003.png").exists()


def test_ensure_demo_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(UserInputError, match="not a generated demo dataset"):
        ensure_demo(tmp_path / "mine", settings=SMALL)
    assert (tmp_path / "mine" / "thesis.txt").exists()


def test_ensure_demo_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "demo").write_text("")
    with pytest.raises(UserInputError, match=r"^data.root .*demo: a file; the demo dataset needs a folder there"):
        ensure_demo(tmp_path / "demo", settings=SMALL)


def test_ensure_demo_in_parallel(tmp_path: Path) -> None:
    root = tmp_path / "shared" / "demo"
    errors: list[BaseException] = []

    def call() -> None:
        try:
            ensure_demo(root, settings=SMALL)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert is_current(root, settings=SMALL)
    assert [p.name for p in root.parent.iterdir()] == ["demo"]
    assert _files(root) == _files(generate_demo(tmp_path / "fresh", settings=SMALL))
