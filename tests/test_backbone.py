"""The frozen feature extractor and the embedded EfficientNet-Lite0 ImageNet weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from sklearn.datasets import load_sample_image

from ssflow.model.backbone import FeatureExtractor, build_backbone
from ssflow.model.backbone_weights import weights_identity
from ssflow.model.embedded_weights import convert_lukemelas_state_dict, embedded_state_dict, embedded_weights_file
from ssflow.errors import UserInputError

LITE0 = "tf_efficientnet_lite0"
DAISY, PALACE, BELL_COTE = 985, 698, 442  # ImageNet-1k class indices


def _random_model(name: str, seed: int = 0) -> torch.nn.Module:
    """A timm model with random weights drawn from ``seed`` without touching the global generator."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return timm.create_model(name, pretrained=False)


def _images(count: int, size: int, seed: int = 0) -> torch.Tensor:
    """(count, 3, size, size) smooth random images in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, size // 8, size // 8, generator=generator)
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def _photo(name: str, size: int = 224) -> torch.Tensor:
    """One of scikit-learn's sample photographs, centre-cropped and resized: (1, 3, size, size) in [0, 1]."""
    image = torch.from_numpy(np.array(load_sample_image(name))).permute(2, 0, 1).float()[None] / 255.0
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[..., top:top + side, left:left + side]
    return F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@pytest.fixture(scope="module")
def package_tensors() -> dict[str, torch.Tensor]:
    """The package's state dict under its own (lukemelas) names."""
    return torch.load(embedded_weights_file(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def converted() -> dict[str, torch.Tensor]:
    return embedded_state_dict(_random_model(LITE0).state_dict())


@pytest.fixture(scope="module")
def lite0() -> FeatureExtractor:
    return build_backbone(LITE0, levels=(2, 3))


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(_random_model("resnet18", seed=1).state_dict(), path)
    return path


# -- the embedded weights -------------------------------------------------------------------------

def test_embedded_weights_fill_every_timm_tensor_with_the_package_values(
        converted: dict[str, torch.Tensor], package_tensors: dict[str, torch.Tensor]) -> None:
    template = _random_model(LITE0).state_dict()
    assert set(converted) == set(template)
    assert all(converted[key].shape == template[key].shape for key in template)
    # pairs read off the two architectures by hand: block k of lukemelas is stage/block of timm
    by_hand = {
        "conv_stem.weight": "_conv_stem.weight",
        "bn1.running_var": "_bn0.running_var",
        "blocks.0.0.conv_dw.weight": "_blocks.0._depthwise_conv.weight",
        "blocks.1.0.conv_pw.weight": "_blocks.1._expand_conv.weight",
        "blocks.2.0.conv_dw.weight": "_blocks.3._depthwise_conv.weight",
        "blocks.4.2.bn2.bias": "_blocks.10._bn1.bias",
        "blocks.6.0.bn3.running_mean": "_blocks.15._bn2.running_mean",
        "conv_head.weight": "_conv_head.weight",
        "bn2.weight": "_bn1.weight",
        "classifier.weight": "_fc.weight",
        "classifier.bias": "_fc.bias",
    }
    for timm_key, package_key in by_hand.items():
        assert torch.equal(converted[timm_key], package_tensors[package_key]), timm_key


def test_conversion_names_the_first_pair_that_does_not_fit(package_tensors: dict[str, torch.Tensor]) -> None:
    template = _random_model(LITE0).state_dict()
    reshaped = dict(package_tensors)
    reshaped["_blocks.3._depthwise_conv.weight"] = torch.zeros(144, 1, 3, 3)  # the real kernel is 5x5
    with pytest.raises(UserInputError, match=r"'_blocks.3._depthwise_conv.weight' \(144, 1, 3, 3\).*"
                                             r"'blocks.2.0.conv_dw.weight' \(144, 1, 5, 5\)"):
        convert_lukemelas_state_dict(reshaped, template, source_name="edited.pth")
    shortened = {key: value for key, value in package_tensors.items() if not key.startswith("_fc")}
    with pytest.raises(UserInputError, match="edited.pth.*'classifier.weight'"):
        convert_lukemelas_state_dict(shortened, template, source_name="edited.pth")


def test_extractor_holds_the_embedded_values(lite0: FeatureExtractor,
                                             package_tensors: dict[str, torch.Tensor]) -> None:
    loaded = lite0.features.state_dict()
    assert torch.equal(loaded["model.blocks.2.1.conv_pwl.weight"], package_tensors["_blocks.4._project_conv.weight"])
    assert torch.equal(loaded["model.bn1.running_mean"], package_tensors["_bn0.running_mean"])


def test_converted_classifier_recognises_photographs(converted: dict[str, torch.Tensor],
                                                     lite0: FeatureExtractor) -> None:
    """Random or mis-paired weights give near-uniform, unrelated classes; ImageNet weights do not."""
    classifier = _random_model(LITE0)
    classifier.load_state_dict(converted)
    classifier.eval()
    photos = torch.cat([_photo("flower.jpg"), _photo("china.jpg")])
    normalised = (photos - lite0.mean) / lite0.std  # the extractor's normalisation, judged by the classifier
    with torch.no_grad():
        probabilities = classifier(torch.cat([normalised, normalised.flip(-1)])).softmax(-1)
    flower, temple, flower_flipped, temple_flipped = probabilities
    assert int(flower.argmax()) == DAISY and float(flower[DAISY]) > 0.15
    assert int(flower_flipped.argmax()) == DAISY
    assert set(temple.topk(2).indices.tolist()) == {PALACE, BELL_COTE}
    assert int(temple_flipped.argmax()) in {PALACE, BELL_COTE}


def test_lukemelas_weights_file_loads_like_the_embedded_default(
        tmp_path: Path, lite0: FeatureExtractor, package_tensors: dict[str, torch.Tensor]) -> None:
    path = tmp_path / "lite0_lukemelas.pth"
    torch.save(package_tensors, path)
    from_file = build_backbone(LITE0, levels=(2, 3), weights=path)
    images = _images(1, 64)
    for ours, theirs in zip(from_file(images), lite0(images)):
        assert torch.equal(ours, theirs)


# -- the extractor --------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [64, 256])
def test_lite0_levels_2_3_have_strides_8_16(lite0: FeatureExtractor, size: int) -> None:
    assert lite0.channels == (40, 112) and lite0.strides == (8, 16) and lite0.levels == (2, 3)
    features = lite0(_images(2, size))
    assert [tuple(level.shape) for level in features] == [(2, 40, size // 8, size // 8),
                                                          (2, 112, size // 16, size // 16)]
    assert all(torch.isfinite(level).all() for level in features)


def test_features_match_timm_features_only_model_on_normalised_input(
        lite0: FeatureExtractor, converted: dict[str, torch.Tensor]) -> None:
    reference = timm.create_model(LITE0, pretrained=False, features_only=True, out_indices=(2, 3))
    missing, unexpected = reference.load_state_dict(converted, strict=False)
    assert not missing and all(key.startswith(("conv_head", "bn2", "classifier")) for key in unexpected)
    reference.eval()
    images = _images(2, 64, seed=3)
    with torch.no_grad():
        expected = reference((images - 0.5) / 0.5)
    for ours, theirs in zip(lite0(images), expected):
        torch.testing.assert_close(ours, theirs)


def test_extractor_stays_frozen_in_eval_mode(lite0: FeatureExtractor) -> None:
    assert lite0.train() is lite0
    assert not any(module.training for module in lite0.modules())
    assert not any(parameter.requires_grad for parameter in lite0.parameters())
    statistics = lite0.features.state_dict()["model.blocks.2.0.bn1.running_mean"].clone()
    images = _images(2, 64).requires_grad_(True)
    features = lite0(images)
    assert not any(level.requires_grad for level in features)
    assert torch.equal(lite0.features.state_dict()["model.blocks.2.0.bn1.running_mean"], statistics)


def test_extractor_is_deterministic(lite0: FeatureExtractor) -> None:
    images = _images(2, 64, seed=5)
    again = build_backbone(LITE0, levels=(2, 3))
    for first, second, rebuilt in zip(lite0(images), lite0(images), again(images)):
        assert torch.equal(first, second) and torch.equal(first, rebuilt)


def test_other_timm_model_loads_from_a_weights_file(resnet18_file: Path, tmp_path: Path) -> None:
    extractor = build_backbone("resnet18", levels=(1, 2), weights=resnet18_file)
    assert extractor.channels == (64, 128) and extractor.strides == (4, 8)
    saved = torch.load(resnet18_file, weights_only=True)
    assert torch.equal(extractor.features.state_dict()["model.layer1.0.conv1.weight"], saved["layer1.0.conv1.weight"])
    assert torch.equal(extractor.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))  # resnet18's ImageNet mean
    assert [tuple(level.shape) for level in extractor(_images(1, 64))] == [(1, 64, 16, 16), (1, 128, 8, 8)]
    wrapped = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": saved, "epoch": 3}, wrapped)
    for ours, theirs in zip(build_backbone("resnet18", (1, 2), wrapped)(_images(1, 64)), extractor(_images(1, 64))):
        assert torch.equal(ours, theirs)


def test_vit_levels_are_normalised_token_maps(tmp_path: Path) -> None:
    path = tmp_path / "cait.pth"
    torch.save(_random_model("cait_xxs24_224", seed=2).state_dict(), path)
    extractor = build_backbone("cait_xxs24_224", levels=(23,), weights=path)
    assert extractor.channels == (192,) and extractor.strides == (16,) and extractor.input_size == (224, 224)
    (tokens,) = extractor(_images(1, 224))
    assert tuple(tokens.shape) == (1, 192, 14, 14)
    # after the final LayerNorm (weight 1, bias 0 at init) every position has zero mean and unit spread
    torch.testing.assert_close(tokens.mean(dim=1), torch.zeros(1, 14, 14), atol=1e-4, rtol=0)
    torch.testing.assert_close(tokens.var(dim=1, unbiased=False), torch.ones(1, 14, 14), atol=1e-2, rtol=0)
    with pytest.raises(UserInputError, match="needs 224x224 input, got 256x256"):
        extractor(_images(1, 256))


# -- user mistakes --------------------------------------------------------------------------------

def test_weights_of_another_model_are_rejected(resnet18_file: Path) -> None:
    with pytest.raises(UserInputError, match=r"resnet18.pth' do not fit timm model 'resnet34'.*missing"):
        build_backbone("resnet34", levels=(1,), weights=resnet18_file)


def test_weights_of_another_shape_are_rejected(resnet18_file: Path, tmp_path: Path) -> None:
    state = torch.load(resnet18_file, weights_only=True)
    state["fc.weight"] = torch.zeros(10, 512)
    path = tmp_path / "ten_classes.pth"
    torch.save(state, path)
    with pytest.raises(UserInputError, match=r"ten_classes.pth.*'fc.weight': \(10, 512\) in the file, "
                                             r"\(1000, 512\) in the model"):
        build_backbone("resnet18", levels=(1,), weights=path)


def test_missing_or_unreadable_weights_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"^backbone.weights .*absent.pth: file not found"):
        build_backbone("resnet18", levels=(1,), weights=tmp_path / "absent.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(UserInputError, match="garbage.pth': not a readable torch state dict"):
        build_backbone("resnet18", levels=(1,), weights=garbage)


def test_unknown_model_name_suggests_close_names() -> None:
    with pytest.raises(UserInputError, match="backbone 'resnet81': not a timm model name; did you mean .*resnet18"):
        build_backbone("resnet81")


def test_out_of_range_level_lists_the_available_levels() -> None:
    with pytest.raises(UserInputError, match=r"levels \[2, 5\].*2 \(40 ch, stride 8\).*4 \(320 ch, stride 32\)"):
        build_backbone(LITE0, levels=(2, 5))


# -- weights identity -----------------------------------------------------------------------------

def test_weights_identity_is_stable_and_tracks_file_contents(resnet18_file: Path, tmp_path: Path) -> None:
    embedded = weights_identity(LITE0)
    assert embedded.startswith(f"embedded:{LITE0}:") and embedded == weights_identity(LITE0)
    assert weights_identity("resnet18", resnet18_file) == weights_identity("resnet18", str(resnet18_file))
    other = tmp_path / "other.pth"
    torch.save(_random_model("resnet18", seed=7).state_dict(), other)
    assert weights_identity("resnet18", other) != weights_identity("resnet18", resnet18_file)
    assert weights_identity("resnet18").startswith("hub:resnet18.")
    with pytest.raises(UserInputError, match="file not found"):
        weights_identity("resnet18", tmp_path / "absent.pth")
