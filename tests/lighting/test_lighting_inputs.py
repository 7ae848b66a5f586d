"""Lighting-invariant inputs (data.normalize), cached relit views and their keys."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from ssflow.model.backbone import REFERENCE_LEVEL, build_backbone, without_lighting, without_shading
from ssflow.training.feature_cache import DataIdentity, bank_key, cache_key, views_key
from ssflow.model.features import images_to_tensor
from ssflow.settings.flat_config import config_from_flat
from ssflow.datasets.photometric import LightingChange, relight
from ssflow.training.photometric_views import PhotometricViews, ViewPool, build_photometric_views

CPU = torch.device("cpu")


def _texture(seed: int = 0, side: int = 64) -> np.ndarray:
    """A textured image in [40, 200]: no pixel clips under the changes below."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (side // 8, side // 8, 3)).astype(np.uint8)
    return np.kron(small, np.ones((8, 8, 1), dtype=np.uint8)) + rng.integers(0, 8, (side, side, 3), dtype=np.uint8)


def _feature_change(normalize: str, change: LightingChange) -> float:
    backbone = build_backbone(levels=(2, 3), normalize=normalize)
    image = _texture()
    before = backbone(images_to_tensor(image[None], CPU))
    after = backbone(images_to_tensor(relight(image, change)[None], CPU))
    return max(float((a - b).norm() / b.norm()) for a, b in zip(after, before))


def test_per_image_standardisation_removes_an_exposure_change() -> None:
    darker = LightingChange(gain=0.8)
    # What is left is the rounding of the relit image to whole grey levels.
    assert _feature_change("per_image", darker) < 0.3 * _feature_change("none", darker)


def test_per_channel_standardisation_also_removes_a_colour_cast() -> None:
    warmer = LightingChange(gain=1.15, temperature=0.08)
    assert _feature_change("per_channel", warmer) < 0.3 * _feature_change("per_image", warmer)
    assert _feature_change("per_channel", warmer) < 0.3 * _feature_change("none", warmer)


def test_shading_correction_removes_a_light_ramp_and_keeps_exposure_and_defects() -> None:
    ramp = LightingChange(ramp=0.25, angle=0.7)
    assert _feature_change("shading", ramp) < 0.3 * _feature_change("none", ramp)
    darker = LightingChange(gain=0.8)  # exposure is kept: the flow learns it from photometric augmentation
    assert _feature_change("shading", darker) > 0.5 * _feature_change("none", darker)
    image = _texture()
    spotted = image.copy()
    spotted[24:32, 24:32] = 250
    backbone = build_backbone(levels=(2,), normalize="shading")
    clean, marked = (backbone(images_to_tensor(x[None], CPU))[0] for x in (image, spotted))
    change = (marked - clean).norm(dim=1)[0]  # (H / 8, W / 8): where the features moved
    assert change[3, 3] > 5 * change[7, 7]  # at the spot, not across the frame


def test_lighting_levelling_removes_exposure_colour_cast_and_ramp_together() -> None:
    changed = LightingChange(gain=0.8, temperature=0.06, ramp=0.2, angle=0.7)
    assert _feature_change("lighting", changed) < 0.3 * _feature_change("none", changed)
    assert _feature_change("lighting", changed) < 0.5 * _feature_change("shading", changed)


def test_lighting_levelling_keeps_a_defect_local() -> None:
    image = _texture()
    spotted = image.copy()
    spotted[24:32, 24:32] = 250
    backbone = build_backbone(levels=(2,), normalize="lighting")
    clean, marked = (backbone(images_to_tensor(x[None], CPU))[0] for x in (image, spotted))
    change = (marked - clean).norm(dim=1)[0]
    assert change[3, 3] > 5 * change[7, 7]


def test_levelled_inputs_sit_at_the_reference_level() -> None:
    image = torch.from_numpy(_texture()).permute(2, 0, 1)[None].float() / 255
    for levelled in (without_lighting(image), without_lighting(image * 0.7), without_lighting(image * 1.2)):
        geometric_mean = torch.exp(torch.log(levelled + 1 / 255).mean())
        assert float(geometric_mean) == pytest.approx(REFERENCE_LEVEL, rel=0.02)
    per_channel = torch.exp(torch.log(without_lighting(image) + 1 / 255).mean(dim=(2, 3)))
    assert per_channel.flatten().tolist() == pytest.approx([REFERENCE_LEVEL] * 3, rel=0.02)


def test_shading_correction_of_a_pure_ramp_is_flat() -> None:
    flat = torch.full((1, 3, 32, 48), 0.5, dtype=torch.float32)
    lit = torch.from_numpy(relight((flat[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8),
                                   LightingChange(ramp=0.2, angle=2.0))).permute(2, 0, 1)[None].float() / 255
    corrected = without_shading(lit)
    assert float(lit.std()) > 0.02 and float(corrected.std()) < 0.2 * float(lit.std())
    assert corrected.shape == lit.shape and corrected.dtype == torch.float32
    assert abs(float(corrected.mean()) - float(lit.mean())) < 0.01  # the level stays


def test_an_unknown_normalisation_is_refused() -> None:
    with pytest.raises(Exception, match="data.normalize"):
        build_backbone(levels=(2,), normalize="per_pixel")


def test_views_are_seeded_relit_copies_through_the_backbone() -> None:
    config = config_from_flat({"train.photometric": 1.0, "train.photometric_views": 2, "seed": 3})
    backbone = build_backbone(levels=(2, 3))
    train = np.stack([_texture(seed) for seed in range(3)])
    views = build_photometric_views(backbone, train, config, CPU)
    assert (views.views, views.images) == (2, 3) and views.features[0].shape[0] == 6
    again = build_photometric_views(backbone, train, config, CPU)
    torch.testing.assert_close(again.features[1], views.features[1])
    clean = backbone(images_to_tensor(train, CPU))
    assert all(not torch.allclose(v[:3], c, atol=1e-3) for v, c in zip(views.features, clean))  # relit, not clean
    other_seed = build_photometric_views(backbone, train, replace(config, seed=4), CPU)
    assert not torch.allclose(other_seed.features[0], views.features[0])


def test_each_epoch_draws_one_version_per_image_clean_included() -> None:
    clean = [torch.zeros(4, 1, 1, 1)]
    views = PhotometricViews([torch.arange(1, 9, dtype=torch.float32).view(8, 1, 1, 1)], images=4)
    pool = ViewPool(clean, views)
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(50):
        batch = pool.batch(np.array([1, 3]), rng)[0].flatten().tolist()
        assert batch[0] in (0.0, 2.0, 6.0) and batch[1] in (0.0, 4.0, 8.0)  # image 1's versions; image 3's
        seen.update(batch)
    assert seen == {0.0, 2.0, 6.0, 4.0, 8.0}
    state = np.random.default_rng(0).bit_generator.state
    untouched = np.random.default_rng(0)
    ViewPool(clean, None).batch(np.array([1, 3]), untouched)  # no views: no draw, training as before
    assert untouched.bit_generator.state == state


def test_cache_keys_name_the_lighting_settings() -> None:
    data, weights = DataIdentity("train", "evaluation"), "w"
    base = config_from_flat({"train.photometric": 0.5})
    for key in (cache_key, bank_key, views_key):
        assert key(config_from_flat({"data.normalize": "per_image"}, base), data, weights) != key(base, data, weights)
    for changed in ({"train.photometric": 1.0}, {"seed": 1}):
        assert views_key(config_from_flat(changed, base), data, weights) != views_key(base, data, weights)
    assert bank_key(config_from_flat({"train.photometric": 1.0}, base), data, weights) != bank_key(base, data, weights)
    # The clean features do not depend on the augmentation: trials of any strength share them.
    assert cache_key(config_from_flat({"train.photometric": 1.0}, base), data, weights) == cache_key(base, data,
                                                                                                       weights)
    assert views_key(config_from_flat({"train.photometric_views": 8}, base), data, weights) != \
        views_key(base, data, weights)
