"""HRNet, classification variant (Wang et al., "Deep High-Resolution Representation Learning"),
in plain torch.

Structure for width W (W64 for the paper, W32 as a lighter option), 224x224 input:
  stem: two stride-2 3x3 convs (3 -> 64 -> 64)                      -> (N, 64, 56, 56)
  layer1: 4 bottlenecks (64 -> 256)                                  -> (N, 256, 56, 56)
  stage2/3/4: 1/4/3 multi-resolution modules with 2/3/4 branches of widths W*2^i (4 basic
    blocks per branch), each followed by an all-to-all fusion; transitions add a branch at half
    the resolution before each stage
  head: per branch one bottleneck (W*2^i -> 128/256/512/1024), then strided 3x3 convs chain the
    branches from high to low resolution, then a 1x1 conv 1024 -> 2048  -> (N, 2048, 7, 7)

STDFormer inserts SD/TD between `stem_layer1` and `rest`. The ImageNet classifier (pool + fc) is
not built: only the 7x7 map is used. Module names follow the public HRNet layout (`conv1`,
`layer1`, `transition1`, `stage2.0.branches.1.3.conv2`, `stage2.0.fuse_layers.1.0.0.0`,
`incre_modules`, `downsamp_modules`, `final_layer`) so released weights load key for key.

Parameters: W64 126,010,944 (with the 2,049,000 of the unbuilt classifier 128,059,944, the
"128.06 M" of the authors' log), W32 39,183,680 (41,232,680 with the classifier).
"""

from __future__ import annotations

import torch
from torch import nn

from stdformer.model.backbones.blocks import (
    BasicBlock,
    Bottleneck,
    bn,
    conv3x3,
    init_conv_bn,
    make_layer,
)

HEAD_PLANES = (32, 64, 128, 256)  # bottleneck planes per branch in the head (x4 = output width)
STAGE_MODULES = (1, 4, 3)  # multi-resolution modules in stages 2, 3, 4
BLOCKS_PER_BRANCH = 4
FEATURE_CHANNELS = 2048


class HighResolutionModule(nn.Module):
    """Parallel branches of basic blocks, then every output resolution sums all inputs.

    Input and output: a list of maps, branch i of shape (N, channels[i], H/2^i, W/2^i).
    Lower-resolution inputs are brought up by 1x1 conv + BN + nearest upsampling; higher ones down
    by a chain of stride-2 3x3 convs (ReLU between them, not after the last).
    """

    def __init__(self, channels: list[int], blocks: int = BLOCKS_PER_BRANCH) -> None:
        super().__init__()
        self.branches = nn.ModuleList([make_layer(BasicBlock, c, c, blocks) for c in channels])
        n = len(channels)
        self.fuse_layers = nn.ModuleList()
        for i in range(n):
            row = nn.ModuleList()
            for j in range(n):
                if j == i:
                    row.append(None)
                elif j > i:
                    row.append(
                        nn.Sequential(
                            nn.Conv2d(channels[j], channels[i], 1, bias=False),
                            bn(channels[i]),
                            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                        )
                    )
                else:
                    steps = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        out_ch = channels[i] if last else channels[j]
                        layers: list[nn.Module] = [
                            conv3x3(channels[j], out_ch, stride=2),
                            bn(out_ch),
                        ]
                        if not last:
                            layers.append(nn.ReLU(inplace=True))
                        steps.append(nn.Sequential(*layers))
                    row.append(nn.Sequential(*steps))
            self.fuse_layers.append(row)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = xs[i]
            for j, fuse in enumerate(row):
                if j != i:
                    y = y + fuse(xs[j])
            out.append(self.relu(y))
        return out


def _transition(prev: list[int], cur: list[int]) -> nn.ModuleList:
    """Adapt branch widths between stages and derive the new lowest-resolution branch."""
    layers = nn.ModuleList()
    for i, c in enumerate(cur):
        if i < len(prev):
            if prev[i] == c:
                layers.append(None)
            else:
                layers.append(nn.Sequential(conv3x3(prev[i], c), bn(c), nn.ReLU(inplace=True)))
        else:
            steps = []
            for k in range(i + 1 - len(prev)):
                out_ch = c if k == i - len(prev) else prev[-1]
                steps.append(
                    nn.Sequential(conv3x3(prev[-1], out_ch, stride=2), bn(out_ch), nn.ReLU(True))
                )
            layers.append(nn.Sequential(*steps))
    return layers


class HRNetCls(nn.Module):
    """HRNet classification backbone: (N, 3, 224, 224) -> (N, 2048, 7, 7).

    Split for STDFormer: `stem_layer1` -> (N, 256, 56, 56), `rest` -> (N, 2048, 7, 7).
    """

    feat_channels = 256
    out_channels = FEATURE_CHANNELS

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.width = width
        self.conv1 = conv3x3(3, 64, stride=2)
        self.bn1 = bn(64)
        self.conv2 = conv3x3(64, 64, stride=2)
        self.bn2 = bn(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_layer(Bottleneck, 64, 64, 4)

        widths = [[width * 2**i for i in range(n)] for n in (2, 3, 4)]
        self.transition1 = _transition([256], widths[0])
        self.stage2 = nn.Sequential(*[HighResolutionModule(widths[0]) for _ in range(1)])
        self.transition2 = _transition(widths[0], widths[1])
        self.stage3 = nn.Sequential(*[HighResolutionModule(widths[1]) for _ in range(4)])
        self.transition3 = _transition(widths[1], widths[2])
        self.stage4 = nn.Sequential(*[HighResolutionModule(widths[2]) for _ in range(3)])

        head_out = [p * Bottleneck.expansion for p in HEAD_PLANES]  # 128, 256, 512, 1024
        self.incre_modules = nn.ModuleList(
            [make_layer(Bottleneck, c, p, 1) for c, p in zip(widths[2], HEAD_PLANES, strict=True)]
        )
        self.downsamp_modules = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Conv2d(head_out[i], head_out[i + 1], 3, stride=2, padding=1, bias=True),
                    bn(head_out[i + 1]),
                    nn.ReLU(inplace=True),
                )
                for i in range(3)
            ]
        )
        self.final_layer = nn.Sequential(
            nn.Conv2d(head_out[3], FEATURE_CHANNELS, 1, bias=True),
            bn(FEATURE_CHANNELS),
            nn.ReLU(inplace=True),
        )
        init_conv_bn(self)

    def stem_layer1(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 224, 224) normalised crops -> (N, 256, 56, 56)."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.layer1(x)

    @staticmethod
    def _run_stage(
        transition: nn.ModuleList, stage: nn.Sequential, xs: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        inputs = []
        for i, t in enumerate(transition):
            src = xs[i] if i < len(xs) else xs[-1]
            inputs.append(src if t is None else t(src))
        for module in stage:
            inputs = module(inputs)
        return inputs

    def rest(self, f: torch.Tensor) -> torch.Tensor:
        """(N, 256, 56, 56) layer1-level features -> (N, 2048, 7, 7) through stages 2-4 + head."""
        xs = self._run_stage(self.transition1, self.stage2, [f])
        xs = self._run_stage(self.transition2, self.stage3, xs)
        xs = self._run_stage(self.transition3, self.stage4, xs)
        y = self.incre_modules[0](xs[0])
        for i, down in enumerate(self.downsamp_modules):
            y = self.incre_modules[i + 1](xs[i + 1]) + down(y)
        return self.final_layer(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 224, 224) -> (N, 2048, 7, 7)."""
        return self.rest(self.stem_layer1(x))
