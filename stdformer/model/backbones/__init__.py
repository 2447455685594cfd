"""Image backbones for the paper front-end (pure torch, no torchvision/timm)."""

from __future__ import annotations

from torch import nn

from stdformer.model.backbones.hrnet import HRNetCls
from stdformer.model.backbones.resnet import ResNet50

BACKBONE_NAMES = ("hrnet_w64", "hrnet_w32", "resnet50")


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
    raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONE_NAMES}")


def count_parameters(module: nn.Module) -> int:
    """Number of learnable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["BACKBONE_NAMES", "HRNetCls", "ResNet50", "build_backbone", "count_parameters"]
