"""Image backbones for the paper front-end (pure torch, no torchvision/timm)."""

from __future__ import annotations

import os

from torch import nn

from stdformer.model.backbones.hrnet import HRNetCls
from stdformer.model.backbones.resnet import ResNet50
from stdformer.model.config import BACKBONES


def build_backbone(name: str) -> HRNetCls | ResNet50:
    """Backbone by name with randomly initialised weights (weights come from a checkpoint).

    Every returned module has `stem_layer1(x) -> (N, 256, 56, 56)` and
    `rest(f) -> (N, 2048, 7, 7)` for 224x224 input.
    """
    if name == "hrnet_w64":
        return HRNetCls(64)
    if name == "hrnet_w32":
        return HRNetCls(32)
    if name == "resnet50":
        return ResNet50()
    raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONES}")


def count_parameters(module: nn.Module) -> int:
    """Number of learnable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ImageNet heads present in released backbone weights but not built here (explicitly dropped).
IMAGENET_HEAD_KEYS = ("classifier.weight", "classifier.bias", "fc.weight", "fc.bias")


def load_imagenet_weights(backbone: nn.Module, path: str | os.PathLike[str]) -> list[str]:
    """Load ImageNet weights saved from the public HRNet / torchvision layouts, strictly.

    Reads with `torch.load(weights_only=True)`; only the classifier keys in
    `IMAGENET_HEAD_KEYS` are dropped (returned), anything else missing or extra raises.
    """
    from stdformer.model.state_dict_io import read_state_dict
    from stdformer.paths import BadFileError

    state = read_state_dict(
        path,
        "backbone weights",
        "Use the ImageNet checkpoint of the same backbone (hrnetv2_w64/w32 from "
        "HRNet-Image-Classification, resnet50 from torchvision).",
    )
    dropped = sorted(k for k in state if k in IMAGENET_HEAD_KEYS)
    kept = {k: v for k, v in state.items() if k not in IMAGENET_HEAD_KEYS}
    try:
        backbone.load_state_dict(kept, strict=True)
    except RuntimeError as exc:
        raise BadFileError(f"{path}: weights do not fit this backbone: {exc}") from exc
    return dropped


__all__ = [
    "HRNetCls",
    "ResNet50",
    "build_backbone",
    "count_parameters",
    "load_imagenet_weights",
]
