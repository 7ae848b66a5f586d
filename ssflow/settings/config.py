"""Typed, frozen configuration of one ssflow run, validated at the edge.

Every setting has a dotted flat key (``flow.coupling_blocks``) used by
``--set``, by search-space files and by the results store;
:mod:`ssflow.settings.flat_config` turns a flat dict into these dataclasses and back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ssflow.errors import UserInputError
from ssflow_runtime.tiling import MAX_OVERLAP

BLOCK_TYPES = "CA"
LOSS_KINDS = ("constrained", "hinge", "pixel_hinge")
BLEND_MODES = ("poisson", "mixed", "alpha")
MAP_SCORES = ("density", "nll")
IMAGE_SCORES = ("max", "topk_mean")
SCHEDULES = ("cosine", "constant")
BIT_DEPTHS = (0, 8, 10, 12, 14, 16)  # data.bit_depth: 0 = per image
MIN_TILE, MAX_TILE = 32, 8192  # data.tile_size in pixels; 32 = the coarsest stride a backbone level has
MAX_TILE_OVERLAP = MAX_OVERLAP
MIN_SCALE, MAX_SCALE = 0.05, 4.0
# data.normalize: none = the backbone's fixed ImageNet mean/std; per_image = each model input standardised
# by its own mean and std over all pixels and channels (exposure and contrast gone, colours kept);
# per_channel = by each channel's own (also removes a colour cast: white balance per input); features = every
# backbone feature channel standardised over the input (a global change of its response is gone); shading = a
# linear light ramp across each input divided out per channel, exposure and colours kept (shading correction);
# lighting = the ramp divided out and each channel's level set to a fixed one (flat field and grey-world white
# balance: exposure, colour cast and ramp gone, contrast kept; a part's overall colour goes too).
NORMALIZATIONS = ("none", "per_image", "per_channel", "features", "shading", "lighting")
LOCALIZATION_METRICS = ("aupro", "aupro_05")  # validation.localization: MVTec AD's FPR 0.3, MVTec AD 2's 0.05
MAX_PHOTOMETRIC_VIEWS = 32


def fail(key: str, value: Any, expected: str) -> None:
    """Raise the one-line ``UserInputError`` of a config value: the key, the value and what was expected."""
    raise UserInputError(f"config key '{key}': got {value!r}, expected {expected}")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "demo"  # a name of ssflow.datasets.DATASETS (mvtec, visa, folder, manifest, demo, ...)
    category: str = ""  # filled per category by the command line or the search
    root: str = ""  # empty: the dataset's default location
    shots: int = 0  # 0 = all normal training images, k > 0 = k-shot
    selection_fraction: float = 0.5  # share of the test set used for model selection
    # Seeds every data partition (few-shot choice, selection/report split, held-out
    # images, synthetic validation anomalies), apart from the training ``seed``, so
    # configs trained with several seeds are compared on one fixed report split.
    split_seed: int = 0
    # Share of the normal training images held out from training where a run needs
    # them: as the synthetic validation set (validation.synthetic_weight > 0), or as
    # the normal test images of a folder dataset that has no test split.
    holdout_fraction: float = 0.2
    # Bits per pixel the camera really delivers in 16-bit files (10 and 12 are common), so that
    # every image of a line is scaled alike; 0 = per image, from its brightest pixel.
    bit_depth: int = 0
    # High-resolution images (ssflow_runtime.tiling): tile_size > 0 cuts every image at its own resolution
    # (after ``scale``) into overlapping tile_size x tile_size tiles, each resized to
    # backbone.image_size; 0 = the whole image resized to one square.
    tile_size: int = 0  # pixels of the image after ``scale``
    tile_overlap: float = 0.25  # share of a tile its neighbour overlaps, in [0, 0.75)
    scale: float = 1.0  # resize factor applied first (< 1 for cameras whose pixels are finer than the defects)
    # Whole-image mode: reflect-pad a non-square image to a square instead of squashing it.
    keep_aspect: bool = False
    # none | per_image | per_channel | features | shading | lighting (NORMALIZATIONS). lighting: with
    # train.photometric 0.75, a lighting change on demo-hard relit costs 0.00 image AUROC and 0.011 AUPRO
    # (0.090 and 0.106 without either) and unchanged light costs nothing (benchmarks/README.md).
    normalize: str = "lighting"

    def __post_init__(self) -> None:
        if self.tile_size != 0 and not MIN_TILE <= self.tile_size <= MAX_TILE:
            fail("data.tile_size", self.tile_size,
                  f"0 (whole image) or an integer in [{MIN_TILE}, {MAX_TILE}] ({MIN_TILE}: the coarsest backbone "
                  "stride)")
        if not 0.0 <= self.tile_overlap < MAX_TILE_OVERLAP:
            fail("data.tile_overlap", self.tile_overlap, f"a fraction in [0, {MAX_TILE_OVERLAP})")
        if not MIN_SCALE <= self.scale <= MAX_SCALE:
            fail("data.scale", self.scale, f"a number in [{MIN_SCALE}, {MAX_SCALE}]")
        if self.normalize not in NORMALIZATIONS:
            fail("data.normalize", self.normalize, f"one of {', '.join(NORMALIZATIONS)}")
        if self.bit_depth not in BIT_DEPTHS:
            fail("data.bit_depth", self.bit_depth, f"one of {', '.join(map(str, BIT_DEPTHS))} (0 = per image)")
        if self.shots < 0:
            fail("data.shots", self.shots, "an integer >= 0 (0 = all images)")
        if not 0.0 < self.selection_fraction < 1.0:
            fail("data.selection_fraction", self.selection_fraction, "a number in (0, 1)")
        if self.split_seed < 0:
            fail("data.split_seed", self.split_seed, "an integer >= 0")
        if not 0.0 < self.holdout_fraction < 1.0:
            fail("data.holdout_fraction", self.holdout_fraction, "a number in (0, 1)")


@dataclass(frozen=True)
class BackboneConfig:
    name: str = "tf_efficientnet_lite0"
    levels: tuple[int, ...] = (2, 3)  # timm feature indices (lite0: strides 8 and 16)
    weights: str = ""  # local weights file; empty: embedded (lite0) or the hub
    image_size: int = 256

    def __post_init__(self) -> None:
        if not self.levels or any(level < 0 for level in self.levels):
            fail("backbone.levels", list(self.levels), "a non-empty list of feature indices >= 0")
        if len(set(self.levels)) != len(self.levels):
            fail("backbone.levels", list(self.levels), "distinct feature indices")
        if not 32 <= self.image_size <= 2048 or self.image_size % 32:
            fail("backbone.image_size", self.image_size, "a multiple of 32 in [32, 2048]")


@dataclass(frozen=True)
class FlowConfig:
    coupling_blocks: int = 4  # the "coupling depth"
    block_pattern: str = "C"  # subnet blocks: C = residual conv, A = residual self-attention
    hidden_channels: int = 64
    clamp: float = 2.0  # affine clamping of the coupling scale
    attention_heads: int = 4
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.coupling_blocks <= 64:
            fail("flow.coupling_blocks", self.coupling_blocks, "an integer in [1, 64]")
        if not self.block_pattern or set(self.block_pattern) - set(BLOCK_TYPES):
            fail("flow.block_pattern", self.block_pattern, "a non-empty string of C (conv) and A (attention)")
        if self.hidden_channels < 4:
            fail("flow.hidden_channels", self.hidden_channels, "an integer >= 4")
        if "A" in self.block_pattern and self.hidden_channels % self.attention_heads:
            fail("flow.attention_heads", self.attention_heads,
                  f"a divisor of flow.hidden_channels ({self.hidden_channels})")
        if not 0.0 < self.clamp <= 10.0:
            fail("flow.clamp", self.clamp, "a number in (0, 10]")
        if self.attention_heads < 1:
            fail("flow.attention_heads", self.attention_heads, "an integer >= 1")
        if not 0.0 <= self.dropout < 1.0:
            fail("flow.dropout", self.dropout, "a number in [0, 1)")


@dataclass(frozen=True)
class SynthesisConfig:
    min_size: float = 0.03  # patch half-width bounds, as a fraction of the image side
    max_size: float = 0.4
    gamma_shape: float = 2.0  # half-width = min_size + Gamma(shape, scale) * side
    gamma_scale: float = 0.05
    extra_patches: int = 3  # up to this many patches beyond the first ...
    extra_patch_prob: float = 0.5  # ... each added with this probability
    resize_min: float = 0.7
    resize_max: float = 1.3
    blend: str = "poisson"  # poisson | mixed | alpha
    alpha: float = 0.8  # opacity when blend = alpha
    bank_rounds: int = 2  # R > 0: R variants per training image made once (synthetic_bank.py); 0: fresh every step

    def __post_init__(self) -> None:
        if not 0.0 < self.min_size <= self.max_size <= 0.5:
            fail("synthesis.min_size/max_size", (self.min_size, self.max_size),
                  "0 < min_size <= max_size <= 0.5")
        if self.gamma_shape <= 0 or self.gamma_scale <= 0:
            fail("synthesis.gamma_shape/gamma_scale", (self.gamma_shape, self.gamma_scale), "positive numbers")
        if not 0 <= self.extra_patches <= 16:
            fail("synthesis.extra_patches", self.extra_patches, "an integer in [0, 16]")
        if not 0.0 <= self.extra_patch_prob <= 1.0:
            fail("synthesis.extra_patch_prob", self.extra_patch_prob, "a probability in [0, 1]")
        if not 0.0 < self.resize_min <= self.resize_max:
            fail("synthesis.resize_min/resize_max", (self.resize_min, self.resize_max),
                  "0 < resize_min <= resize_max")
        if self.blend not in BLEND_MODES:
            fail("synthesis.blend", self.blend, f"one of {', '.join(BLEND_MODES)}")
        if not 0.0 < self.alpha <= 1.0:
            fail("synthesis.alpha", self.alpha, "a number in (0, 1]")
        if not 0 <= self.bank_rounds <= 64:
            fail("synthesis.bank_rounds", self.bank_rounds, "an integer in [0, 64] (0: no bank)")


@dataclass(frozen=True)
class LossConfig:
    kind: str = "pixel_hinge"  # constrained (the paper) | hinge | pixel_hinge
    weight: float = 0.2  # w: share of the loss given to synthetic samples
    margin: float = 0.0  # per-dimension NLL margin of the constraint or hinge

    def __post_init__(self) -> None:
        if self.kind not in LOSS_KINDS:
            fail("loss.kind", self.kind, f"one of {', '.join(LOSS_KINDS)}")
        if not 0.0 <= self.weight < 1.0:
            fail("loss.weight", self.weight, "a number in [0, 1)")
        if self.margin < 0:
            fail("loss.margin", self.margin, "a number >= 0")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 4  # normal images per step (plus as many synthetic ones)
    lr: float = 2e-3
    weight_decay: float = 1e-5
    adam_eps: float = 1e-4
    schedule: str = "cosine"  # cosine | constant
    min_lr: float = 1e-6
    grad_clip: float = 10.0  # max gradient norm; flows diverge without it
    # Photometric augmentation of the normal training images and of the images synthesis blends into
    # (ssflow.datasets.photometric): strength in [0, 1], 0 = off; 1 = exposure x0.7-1.4, a light ramp of +-25 %
    # from the centre to a corner, a colour-temperature shift of +-8 % red against blue, gamma 0.8-1.25.
    # 0.75 with data.normalize lighting (which removes exposure, colour cast and ramp, not clipping or gamma):
    # chosen on demo-hard relit (benchmarks/README.md).
    photometric: float = 0.75
    photometric_views: int = 4  # augmented views per training image, through the backbone once (cached)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            fail("train.epochs", self.epochs, "an integer >= 1")
        if self.batch_size < 1:
            fail("train.batch_size", self.batch_size, "an integer >= 1")
        if not 0.0 < self.lr < 1.0:
            fail("train.lr", self.lr, "a number in (0, 1)")
        if self.weight_decay < 0 or self.adam_eps <= 0:
            fail("train.weight_decay/adam_eps", (self.weight_decay, self.adam_eps), "weight_decay >= 0, adam_eps > 0")
        if self.schedule not in SCHEDULES:
            fail("train.schedule", self.schedule, f"one of {', '.join(SCHEDULES)}")
        if self.grad_clip <= 0:
            fail("train.grad_clip", self.grad_clip, "a number > 0")
        if not 0.0 <= self.photometric <= 1.0:
            fail("train.photometric", self.photometric, "a strength in [0, 1] (0 = off)")
        if not 1 <= self.photometric_views <= MAX_PHOTOMETRIC_VIEWS:
            fail("train.photometric_views", self.photometric_views,
                  f"an integer in [1, {MAX_PHOTOMETRIC_VIEWS}]")


@dataclass(frozen=True)
class MapConfig:
    score: str = "nll"  # density (the paper: -mean exp(log p)) | nll (mean per-dimension NLL)
    smoothing_sigma: float = 4.0  # Gaussian smoothing in pixels of the input; 0 = none
    image_score: str = "topk_mean"  # max (the paper) | topk_mean (robust to texture noise)
    topk: float = 0.01  # share of pixels averaged when image_score = topk_mean

    def __post_init__(self) -> None:
        if self.score not in MAP_SCORES:
            fail("map.score", self.score, f"one of {', '.join(MAP_SCORES)}")
        if self.smoothing_sigma < 0:
            fail("map.smoothing_sigma", self.smoothing_sigma, "a number >= 0")
        if self.image_score not in IMAGE_SCORES:
            fail("map.image_score", self.image_score, f"one of {', '.join(IMAGE_SCORES)}")
        if not 0.0 < self.topk <= 1.0:
            fail("map.topk", self.topk, "a number in (0, 1]")


def is_label_free(synthetic_weight: float) -> bool:
    """Whether a selection objective of this synthetic weight (``validation.synthetic_weight``) uses no label."""
    return synthetic_weight >= 1.0


@dataclass(frozen=True)
class ValidationConfig:
    """What the selection objective rests on besides the real selection split.

    Synthetic validation anomalies are painted (scratches, cracks, stains,
    smoothed patches: another defect family than the training synthesis) on
    normal training images held out by ``data.holdout_fraction``, so the
    objective rests on more images than a small selection split holds, or on
    no real defect at all (weight 1: tuning without labelled defects).
    """

    # Share of the selection objective taken from the synthetic validation set:
    # 0 = real selection images only, 1 = synthetic only (label-free tuning).
    synthetic_weight: float = 0.0
    synthetic_per_image: int = 2  # painted variants of every held-out normal image
    # The objective's localisation term: aupro (FPR up to 0.3, MVTec AD) or aupro_05 (up to 0.05, MVTec AD 2).
    localization: str = "aupro"

    @property
    def label_free(self) -> bool:
        """Tuned on synthetic validation anomalies only: no labelled defect sets the objective or threshold."""
        return is_label_free(self.synthetic_weight)

    def __post_init__(self) -> None:
        if not 0.0 <= self.synthetic_weight <= 1.0:
            fail("validation.synthetic_weight", self.synthetic_weight, "a number in [0, 1]")
        if self.localization not in LOCALIZATION_METRICS:
            fail("validation.localization", self.localization, f"one of {', '.join(LOCALIZATION_METRICS)}")
        if not 1 <= self.synthetic_per_image <= 16:
            fail("validation.synthetic_per_image", self.synthetic_per_image, "an integer in [1, 16]")


@dataclass(frozen=True)
class SSFlowConfig:
    data: DataConfig = field(default_factory=DataConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    map: MapConfig = field(default_factory=MapConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    seed: int = 0  # training: initialisation, synthesis, batch order (data partitions: data.split_seed)


SECTIONS: dict[str, type] = {f.name: f.type for f in dataclasses.fields(SSFlowConfig) if f.name != "seed"}
