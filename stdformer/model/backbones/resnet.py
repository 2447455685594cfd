"""ResNet-50 (He et al.) in plain torch, split like the HRNet backbone for STDFormer.

  stem: 7x7 stride-2 conv + BN + ReLU + 3x3 stride-2 max-pool        -> (N, 64, 56, 56)
  layer1: 3 bottlenecks (64 -> 256)                                   -> (N, 256, 56, 56)
  layer2-4: 4 / 6 / 3 bottlenecks, stride 2 each                      -> (N, 2048, 7, 7)

Module names follow torchvision's layout (`conv1`, `bn1`, `layer3.5.conv2`, ...; no `fc`), so
ImageNet weights saved from it load key for key without a torchvision dependency.
"""

from __future__ import annotations

import torch
from torch import nn

from stdformer.model.backbones.blocks import Bottleneck, bn, init_conv_bn, make_layer


class ResNet50(nn.Module):
    """ResNet-50 feature extractor: (N, 3, 224, 224) -> (N, 2048, 7, 7)."""

    feat_channels = 256
    out_channels = 2048

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = bn(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = make_layer(Bottleneck, 64, 64, 3)
        self.layer2 = make_layer(Bottleneck, 256, 128, 4, stride=2)
        self.layer3 = make_layer(Bottleneck, 512, 256, 6, stride=2)
        self.layer4 = make_layer(Bottleneck, 1024, 512, 3, stride=2)
        init_conv_bn(self)

    def stem_layer1(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 224, 224) normalised crops -> (N, 256, 56, 56)."""
        return self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))

    def rest(self, f: torch.Tensor) -> torch.Tensor:
        """(N, 256, 56, 56) -> (N, 2048, 7, 7) through layers 2-4."""
        return self.layer4(self.layer3(self.layer2(f)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 224, 224) -> (N, 2048, 7, 7)."""
        return self.rest(self.stem_layer1(x))
