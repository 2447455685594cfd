"""Image front-end (the paper's): person crops -> backbone with SD/TD after layer1 -> 49 tokens.

Per frame a 224x224 person crop (`crop_and_normalize`) goes through the backbone's stem and
layer1 (`encode_frame`, cached per frame when streaming). Over a clip of T frames the layer1
maps (B, T, 256, 56, 56) pass SD, TD and the sigmoid fusion (`disentangle`, the only place frames
interact); the fused map replaces the layer1 output and continues per frame through the rest of
the backbone to (N, 2048, 7, 7) and FastMETRO's `conv_1x1` (2048 -> d_model) to 49 row-major
tokens (`tokens`). See `stdformer.model.frontend` for the protocol.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from stdformer.model.backbones import build_backbone
from stdformer.model.config import ModelConfig
from stdformer.model.disentangle import DisentangleBlock
from stdformer.model.frontend import FrontEnd

CROP_SIZE = 224
FEATURE_HW = (56, 56)  # layer1 resolution for a 224 crop
TOKEN_GRID_HW = (7, 7)
IMAGE_SD_GROUPS = 16  # paper: 16 groups of 16 of the 256 layer1 channels
IMAGENET_MEAN_RGB = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD_RGB = np.array([0.229, 0.224, 0.225], np.float32)
BOX_SCALE_PX = 200.0  # dataset convention: crop side = 200 * scale


def crop_box_from_center_scale(center_xy: np.ndarray, scale: float) -> np.ndarray:
    """Square crop box (4,) xyxy of side 200*scale px around `center_xy` (dataset convention)."""
    half = 0.5 * BOX_SCALE_PX * float(scale)
    cx, cy = float(center_xy[0]), float(center_xy[1])
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)


def crop_affine(
    crop_xyxy: np.ndarray,
    size: int = CROP_SIZE,
    rotation_deg: float = 0.0,
    flip: bool = False,
) -> np.ndarray:
    """(2, 3) affine from image pixel indices to crop pixel indices for cv2.warpAffine.

    Boxes are in continuous pixel coordinates (pixel i covers [i, i+1)). The crop is the square
    of side max(box width, box height) centred on the box centre, so a non-square box is
    extended, never distorted. The box centre lands on the crop centre (size/2 in the same
    continuous coordinates), and a point p maps to (p - corner) * size / side.
    Training augmentation: `rotation_deg` turns the content counter-clockwise on screen about
    the box centre, `flip` mirrors the crop left-right (applied after the rotation).
    """
    x0, y0, x1, y1 = (float(v) for v in crop_xyxy)
    side = max(x1 - x0, y1 - y0)
    if not side > 0:
        raise ValueError(f"crop box {list(crop_xyxy)} has no positive size")
    k = size / side
    c = np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1)])
    th = np.deg2rad(rotation_deg)
    # Counter-clockwise on screen with y pointing down.
    a = k * np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
    if flip:
        a[0] *= -1.0
    # Continuous: q = A (p - c) + size/2. Index form (p = i + 0.5, q = u + 0.5) adds the shift.
    b = -a @ c + 0.5 * size + a @ np.array([0.5, 0.5]) - 0.5
    return np.concatenate([a, b[:, None]], axis=1)


def crop_and_normalize(
    image_bgr: np.ndarray,
    crop_xyxy: np.ndarray,
    size: int = CROP_SIZE,
    rotation_deg: float = 0.0,
    flip: bool = False,
) -> torch.Tensor:
    """Cut the square crop around `crop_xyxy`, resize to size x size, ImageNet-normalise.

    image_bgr (H, W, 3) uint8 -> (3, size, size) float32 RGB tensor. Parts of the crop outside
    the image are black (zero before normalisation). Bilinear sampling, no anti-aliasing.
    `rotation_deg` / `flip`: training augmentation, see `crop_affine`.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(
            f"expected a (H, W, 3) uint8 BGR image, got {image_bgr.dtype} {image_bgr.shape}"
        )
    # Warp the uint8 image (converting a full HD frame to float first would cost more than the
    # warp); plain bilinear like the authors' crop + resize, so released weights see the same.
    crop = cv2.warpAffine(
        image_bgr,
        crop_affine(crop_xyxy, size, rotation_deg, flip),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )  # (size, size, 3) BGR uint8
    rgb = crop[:, :, ::-1].astype(np.float32) / 255.0
    normed = (rgb - IMAGENET_MEAN_RGB) / IMAGENET_STD_RGB  # (size, size, 3)
    return torch.from_numpy(np.ascontiguousarray(normed.transpose(2, 0, 1), dtype=np.float32))


class ImageFrontEnd(FrontEnd):
    """Crops (B, T, 3, 224, 224) -> tokens (B, T, 49, d_model) with SD/TD after layer1.

    `config.backbone` selects "hrnet_w64" (paper), "hrnet_w32" or "resnet50". Parameter names:
    `backbone.*` (the backbone's own layout), `disentangle_block.{sd,td}.ema.*`, `conv_1x1.*`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.kind = "image"
        self.n_tokens = TOKEN_GRID_HW[0] * TOKEN_GRID_HW[1]
        self.token_grid_hw = TOKEN_GRID_HW
        self.d_model = config.d_model[0]
        self.T = config.T
        self.backbone_name = config.backbone
        self.backbone = build_backbone(config.backbone)
        c = self.backbone.feat_channels  # 256
        self.disentangle_block = DisentangleBlock(c, config.T, IMAGE_SD_GROUPS)
        self.conv_1x1 = nn.Conv2d(self.backbone.out_channels, self.d_model, kernel_size=1)

    def encode_frame(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 224, 224) normalised crops -> (N, 256, 56, 56) layer1 features."""
        return self.backbone.stem_layer1(x)

    def feature_map(self, fused: torch.Tensor) -> torch.Tensor:
        """(N, 256, 56, 56) fused features -> (N, 2048, 7, 7) through the rest of the backbone."""
        return self.backbone.rest(fused)

    def tokens(self, fused: torch.Tensor) -> torch.Tensor:
        """(N, 256, 56, 56) -> (N, 49, d_model), row-major over the 7x7 grid."""
        grid = self.conv_1x1(self.feature_map(fused))  # (N, d_model, 7, 7)
        return grid.flatten(2).transpose(1, 2)
