"""The generated ``demo`` datasets: procedural products in the BTAD layout, made offline in seconds.

``demo`` (:class:`DemoSettings` defaults) has clean products and clear defects;
``demo-hard`` (:data:`DEMO_HARD`) has photographed natural textures and mostly
subtle defects; ``demo-hard-lighting`` (:data:`DEMO_HARD_LIGHTING`) is demo-hard
with every test image photographed under changed lighting (:func:`lighting_shift`:
the training images, the scenes and the masks are demo-hard's own); ``demo-hires`` (:data:`DEMO_HIRES`) has large non-square images
of fine textures with defects a few pixels across, for tiled inspection.

Layout written under the root (read back by :func:`ssflow.datasets.btad.scan_btad`)::

    <root>/<category>/train/ok/0000.png ...            normal training images
    <root>/<category>/test/ok/0000.png ...             normal test images
    <root>/<category>/test/ko/0000_<defect>.png ...    defective test images
    <root>/<category>/ground_truth/ko/0000_<defect>.png  masks, 0/255, exactly the changed pixels
    <root>/ssflow_demo.json                            marker: generator version, seed, settings

Every image draws from its own generator seeded by (seed, category, split,
index), so the same seed gives the same bytes and categories do not depend
on each other.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ssflow.datasets.photometric import LightingChange, relight

from ssflow.datasets.painters import DEFECTS, DefectStyle, apply_change
from ssflow.datasets.canvas import Frame, SurfaceFn
from ssflow.datasets.demo_surfaces import fabric, granite, washer, wood
from ssflow.datasets.demo_textures import carpet, concrete, leather, marble
from ssflow.errors import SettingError

# Bump when the generated images change, so cached copies are regenerated.
GENERATOR_VERSION = 1
MARKER = "ssflow_demo.json"
_SPLIT_CODES = {"train": 0, "test_ok": 1, "test_ko": 2}
_LIGHTING_STREAM = 0x1A4B  # the lighting of a test image draws apart from its scene



SURFACES: dict[str, SurfaceFn] = {
    "fabric": fabric, "wood": wood, "granite": granite, "washer": washer,  # demo
    "leather": leather, "marble": marble, "carpet": carpet, "concrete": concrete,  # demo-hard
}

@dataclass(frozen=True)
class DemoSettings:
    """What one variant of the demo dataset generates.

    A harder variant is another instance: a subtler :class:`DefectStyle`
    (lower contrast and scale), fewer training images, other categories. A
    larger view of the same materials sets ``width`` and ``height`` and keeps
    ``size``: features sized relative to the image keep their pixel size.
    """

    name: str = "demo"
    # Side in pixels of the square the surfaces are laid out for, and the image side unless
    # width or height is set.
    size: int = 256
    train: int = 80  # normal training images per category
    test_ok: int = 20  # normal test images per category
    test_ko: int = 20  # defective test images per category
    categories: tuple[str, ...] = ("fabric", "wood", "granite", "washer")  # keys of SURFACES
    defects: tuple[str, ...] = ("scratch", "spot", "crack", "missing", "contamination")  # keys of DEFECTS
    # 1.3x the base sizes: the smallest stains and thinnest scratches stay wider
    # than one stride-8 feature cell, so every demo defect is findable.
    style: DefectStyle = field(default_factory=lambda: DefectStyle(scale=1.3))
    width: int | None = None  # image width in pixels; None: size
    height: int | None = None  # image height in pixels; None: size
    lighting_shift: bool | None = None  # True: every test image under changed lighting; None: unchanged

    @property
    def frame(self) -> Frame:
        """The image size and the side the surfaces are laid out for (see :class:`Frame`)."""
        return Frame(self.height or self.size, self.width or self.size, self.size)


# Photographed natural textures (random rotation, scale and light per image) and
# five subtle defect kinds beside three obvious ones: a detector has to model the
# texture, not the pixel values. Calibrated so that PaDiM on the default backbone
# (EfficientNet-Lite0, strides 8 and 16) reaches image AUROC about 0.8, not 0.99
# (0.69 on concrete to 0.84 on carpet, whole test set, seed 0).
DEMO_HARD = DemoSettings(
    name="demo-hard",
    train=80,
    test_ok=28,
    test_ko=32,
    categories=("carpet", "concrete", "leather", "marble"),
    defects=("faint_scratch", "speck", "stain", "smooth", "hairline_crack", "crack", "scratch", "contamination"),
    style=DefectStyle(min_delta=6),
)

# A wide view (1024 x 640 px) of two fine, flat materials at the pixel scale of demo's 256-px
# images: 10 px threads; grains from 2 to about 15 px. The defect sizes are taken at 0.2 image
# pixels per base pixel, so defects span 3 px (a speck, a drop) to about 20 px (a scratch, a
# crack): squashed to 256 px for a whole-image model they shrink to a pixel or two, so only
# tiled inspection at full size finds them. Few images, two of each defect kind per category:
# PNGs of fine texture hardly compress (about 1.4 MB each).
DEMO_HIRES = DemoSettings(
    name="demo-hires",
    size=256,  # laid out like demo's images; the frame shows more of the material
    width=1024,
    height=640,
    train=24,
    test_ok=16,  # two of each defect kind and as many normal images: report splits of 8 + 8
    test_ko=16,
    categories=("fabric", "granite"),
    defects=("scratch", "spot", "crack", "missing", "contamination", "speck", "hairline_crack", "stain"),
    style=DefectStyle(unit=0.2),
)


# demo-hard's scenes, defects and masks; every test image under another light (lighting_shift).
DEMO_HARD_LIGHTING = dataclasses.replace(DEMO_HARD, name="demo-hard-lighting", lighting_shift=True)


def lighting_shift(rng: np.random.Generator) -> LightingChange:
    """The changed lighting of one shifted test image: exposure x0.7-0.85 or x1.15-1.3, a light ramp of 10-25 %
    from the centre to a corner in a random direction, and a warmer or colder lamp (red against blue by 4-8 %)."""
    darker = rng.random() < 0.5
    gain = rng.uniform(0.7, 0.85) if darker else rng.uniform(1.15, 1.3)
    ramp = rng.uniform(0.1, 0.25) * rng.choice([-1.0, 1.0])
    temperature = rng.uniform(0.04, 0.08) * rng.choice([-1.0, 1.0])
    return LightingChange(gain=float(gain), ramp=float(ramp), angle=float(rng.uniform(0.0, 2.0 * np.pi)),
                          temperature=float(temperature))


def _lit(image: np.ndarray, seed: int, category: str, split: str, index: int, settings: DemoSettings) -> np.ndarray:
    """A test image as the variant photographs it: under :func:`lighting_shift` when the variant shifts it."""
    if not settings.lighting_shift:
        return image
    rng = np.random.default_rng([seed, zlib.crc32(category.encode()), _SPLIT_CODES[split], index, _LIGHTING_STREAM])
    return relight(image, lighting_shift(rng))


def image_rng(seed: int, category: str, split: str, index: int) -> np.random.Generator:
    """The generator of one image; crc32 rather than hash(): stable across processes."""
    return np.random.default_rng([seed, zlib.crc32(category.encode()), _SPLIT_CODES[split], index])


def normal_image(rng: np.random.Generator, category: str, settings: DemoSettings) -> np.ndarray:
    """One normal image of ``category``: RGB uint8 (H, W, 3), (S, S, 3) unless width or height is set."""
    return SURFACES[category](rng, settings.frame).image


def defective_image(
    rng: np.random.Generator, category: str, defect: str, settings: DemoSettings
) -> tuple[np.ndarray, np.ndarray]:
    """One defective image RGB uint8 (H, W, 3) and its mask bool (H, W) of exactly the changed pixels."""
    surface = SURFACES[category](rng, settings.frame)
    change = DEFECTS[defect](rng, surface, settings.style)
    return apply_change(surface.image, change, settings.style.min_delta)


def _write_png(path: Path, pixels: np.ndarray) -> None:
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise OSError(f"PNG encoding failed for {path}")
    path.write_bytes(encoded.tobytes())


def _generate_category(root: Path, category: str, seed: int, settings: DemoSettings) -> None:
    folders = {name: root / category / name for name in ("train/ok", "test/ok", "test/ko", "ground_truth/ko")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for split, count, folder in (("train", settings.train, "train/ok"), ("test_ok", settings.test_ok, "test/ok")):
        for index in range(count):
            image = normal_image(image_rng(seed, category, split, index), category, settings)
            if split != "train":
                image = _lit(image, seed, category, split, index, settings)
            _write_png(folders[folder] / f"{index:04d}.png", image)
    for index in range(settings.test_ko):
        # Cycling the kinds gives every category the same mix of defects.
        defect = settings.defects[index % len(settings.defects)]
        image, mask = defective_image(image_rng(seed, category, "test_ko", index), category, defect, settings)
        name = f"{index:04d}_{defect}.png"
        _write_png(folders["test/ko"] / name, _lit(image, seed, category, "test_ko", index, settings))
        _write_png(folders["ground_truth/ko"] / name, mask.astype(np.uint8) * 255)


def _set_fields(values: dict[str, object]) -> dict[str, object]:
    """``values`` (nested dicts) without the fields left at None."""
    return {key: _set_fields(value) if isinstance(value, dict) else value
            for key, value in values.items() if value is not None}


def _marker(seed: int, settings: DemoSettings) -> dict[str, object]:
    """What the marker file holds: everything that decides the generated bytes, as parsed JSON."""
    # Unset optional fields (width, height, style.unit; added later) are left out, so the
    # markers of demo and demo-hard, and the copies already generated, stay current.
    content = {"generator": settings.name, "version": GENERATOR_VERSION, "seed": seed,
               "settings": _set_fields(asdict(settings))}
    return json.loads(json.dumps(content))  # tuples become lists, as when read back


def generate_demo(root: Path, seed: int = 0, settings: DemoSettings | None = None) -> Path:
    """Write the demo dataset under ``root`` (created; must not hold a dataset yet) and return it."""
    settings = settings or DemoSettings()
    root.mkdir(parents=True, exist_ok=True)
    # numpy, cv2 and PNG encoding release the GIL; every image has its own generator, so
    # categories can be drawn in parallel threads and the bytes stay the same.
    with ThreadPoolExecutor(max_workers=max(1, len(settings.categories))) as pool:
        list(pool.map(lambda category: _generate_category(root, category, seed, settings), settings.categories))
    (root / MARKER).write_text(json.dumps(_marker(seed, settings), sort_keys=True) + "\n")
    return root


def is_current(root: Path, seed: int = 0, settings: DemoSettings | None = None) -> bool:
    """True when ``root`` holds a complete demo dataset from this generator version, seed and settings."""
    try:
        marker = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker == _marker(seed, settings or DemoSettings())


def ensure_demo(root: Path, seed: int = 0, settings: DemoSettings | None = None) -> Path:
    """Return ``root`` holding the demo dataset, generating it only when missing or outdated.

    Safe when several processes call it at once: each generates into its own
    hidden sibling folder and renames it into place; whoever comes second uses
    the copy already there. The marker file is written last, so a half-written
    copy is never taken for a complete one.
    """
    settings = settings or DemoSettings()
    root = Path(root)
    if is_current(root, seed, settings):
        return root
    if root.exists() and not root.is_dir():
        raise SettingError("data.root", root, f"a file; the {settings.name} dataset needs a folder there")
    if root.is_dir() and not (root / MARKER).is_file() and any(root.iterdir()):
        raise SettingError("data.root", root, f"exists and is not a generated {settings.name} dataset (no "
                                              f"{MARKER}); give an empty or new folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = root.with_name(f".{root.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        generate_demo(partial, seed, settings)
        _install(partial, root, seed, settings)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root


def _install(partial: Path, root: Path, seed: int, settings: DemoSettings) -> None:
    """Rename ``partial`` to ``root``, moving an outdated copy out of the way first."""
    for _ in range(5):
        if is_current(root, seed, settings):
            return  # another process finished first
        if root.is_dir() and any(root.iterdir()):
            stale = root.with_name(f".{root.name}.stale-{partial.name}")
            try:
                os.rename(root, stale)
            except FileNotFoundError:
                continue  # another process moved it
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(partial, root)  # atomic; replaces an empty folder
            return
        except OSError:
            continue  # another process installed its copy in between
    raise OSError(f"could not install the generated {settings.name} dataset at {root}")
