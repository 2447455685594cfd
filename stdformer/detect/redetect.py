"""Second looks for people the full-frame landmarker missed: upscaled crops and tiles.

MediaPipe's person detector sees the frame letterboxed to 224 x 224, so a person filling a small
part of a wide frame (or of a 4K one) is a few dozen pixels to it and is often missed. Running
the landmarker on a crop makes that person fill its input. Two kinds of second look:

- subject crop: the subject is lost, or small (box under `small_subject` of the frame
  height, where full-frame landmarks are poor); look in a square around its predicted box
  (`crop_scale` x the box size), every frame while that lasts;
- tiles: nobody is found at all; every `tile_every` frames look at one tile of a fixed cover
  of the frame (full-height squares, then a finer grid of half-height squares), round robin.

Both use one IMAGE-mode landmarker (no tracking state shared between unrelated windows); each
look costs about one full-frame detection (~25-30 ms on a 2-core CPU). They run only when
the full-frame pass found no subject or the subject is small, so a clip where a normal-sized
subject stays found pays nothing. The same landmarker serves the localizer's periodic look
for newcomers while it tracks one person (`elsewhere`: the frame with the followed people
greyed out, MediaPipe's person detector alone when nobody else is there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from stdformer.detect.mp_poses import (
    DetectedPose,
    LandmarkerSettings,
    create_landmarker,
    poses_from_result,
)

log = logging.getLogger(__name__)

MASK_RGB = (128, 128, 128)  # what covers the people already followed (`elsewhere`)


@dataclass(frozen=True)
class RedetectConfig:
    """When and where to look again (CLI: none; defaults keep the live rate)."""

    enabled: bool = True
    crop_scale: float = 1.8  # subject crop side, in predicted box sizes
    min_side_px: int = 256  # crops smaller than this are upscaled to it (MediaPipe's input)
    tile_every: int = 3  # frames with nobody: one tile every this many frames (0: no tiles)
    small_subject: float = 0.35  # subject box below this share of the frame height: zoom in
    num_poses: int = 2  # poses per look (a crop may hold the subject and a bystander)
    mask_margin: float = 0.15  # `elsewhere`: followed people's boxes grown by this much


def square_region(center_xy: np.ndarray, side: float) -> np.ndarray:  # (4,)
    half = 0.5 * float(side)
    return np.array([*(center_xy - half), *(center_xy + half)], np.float32)


def tile_regions(image_wh: tuple[int, int]) -> list[np.ndarray]:
    """Squares of half the frame's shorter side covering the frame, neighbours overlapping by
    at least a quarter so a person on a seam is whole in some tile. People taller than a tile
    are large enough for the full-frame pass. A 640 x 480 frame gives 4 x 3 = 12 tiles."""
    w, h = image_wh
    side = 0.5 * min(w, h)
    nx = int(np.ceil((w - side) / (0.75 * side) - 1e-6)) + 1
    ny = int(np.ceil((h - side) / (0.75 * side) - 1e-6)) + 1
    xs, ys = np.linspace(0, w - side, nx), np.linspace(0, h - side, ny)
    return [np.array([x, y, x + side, y + side], np.float32) for y in ys for x in xs]


def crop_square(image_rgb: np.ndarray, region_xyxy: np.ndarray, min_side: int) -> np.ndarray:
    """Pixels of a square region (zero-padded outside the image), resized up to `min_side`."""
    h, w = image_rgb.shape[:2]
    side = max(round(float(region_xyxy[2] - region_xyxy[0])), 1)
    x0, y0 = round(float(region_xyxy[0])), round(float(region_xyxy[1]))
    x1, y1 = x0 + side, y0 + side
    out = np.zeros((side, side, 3), np.uint8)
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if ax1 > ax0 and ay1 > ay0:
        out[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = image_rgb[ay0:ay1, ax0:ax1]
    if side < min_side:
        out = cv2.resize(out, (min_side, min_side), interpolation=cv2.INTER_LINEAR)
    return out


class Redetector:
    """Looks for people in crops and tiles of a frame (one thread; close it when done)."""

    def __init__(self, settings: LandmarkerSettings, config: RedetectConfig) -> None:
        self.settings, self.config = settings, config
        self._landmarker = None  # created on first use: a clip that never needs it pays nothing
        self._tile = 0
        self._idle_frames = 0
        self.looks = 0  # second looks run so far (for benchmarks and tests)

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def reset(self) -> None:
        self._tile, self._idle_frames = 0, 0

    def _detect(self, image_rgb: np.ndarray) -> object:
        """MediaPipe's IMAGE-mode result for a contiguous RGB image."""
        import mediapipe as mp

        if self._landmarker is None:
            self._landmarker = create_landmarker(self.settings, self.config.num_poses, video=False)
        return self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image_rgb))

    def look(
        self, image_rgb: np.ndarray, region_xyxy: np.ndarray, box_threshold: float
    ) -> list[DetectedPose]:
        """Poses found in one square region, in full-image pixels."""
        crop = np.ascontiguousarray(crop_square(image_rgb, region_xyxy, self.config.min_side_px))
        result = self._detect(crop)
        self.looks += 1
        side = float(region_xyxy[2] - region_xyxy[0])
        h, w = image_rgb.shape[:2]
        origin = (float(region_xyxy[0]), float(region_xyxy[1]))
        return poses_from_result(
            result, origin, (side, side), (w, h), box_threshold, from_crop=True
        )

    def around(
        self, image_rgb: np.ndarray, predicted_xyxy: np.ndarray, box_threshold: float
    ) -> list[DetectedPose]:
        """Look around the lost subject's predicted box."""
        size = max(
            float(predicted_xyxy[2] - predicted_xyxy[0]),
            float(predicted_xyxy[3] - predicted_xyxy[1]),
        )
        center = 0.5 * (predicted_xyxy[:2] + predicted_xyxy[2:])
        return self.look(
            image_rgb, square_region(center, size * self.config.crop_scale), box_threshold
        )

    def next_tile(self, image_rgb: np.ndarray, box_threshold: float) -> list[DetectedPose]:
        """Called on each frame with nobody found: every `tile_every`-th call looks at a tile."""
        if self.config.tile_every <= 0:
            return []
        self._idle_frames += 1
        if self._idle_frames % self.config.tile_every:
            return []
        h, w = image_rgb.shape[:2]
        tiles = tile_regions((w, h))
        region = tiles[self._tile % len(tiles)]
        self._tile += 1
        return self.look(image_rgb, region, box_threshold)

    def elsewhere(
        self, image_rgb: np.ndarray, boxes_xyxy: list[np.ndarray], box_threshold: float
    ) -> list[DetectedPose]:
        """Poses in the full frame outside these people's boxes: the frame with each box
        (grown by `mask_margin` of its size on every side) greyed out. Someone beside the
        people already followed is found, someone mostly behind them not (until they step
        out, at a later look); with nobody else there MediaPipe runs its person
        detector alone (~11 ms on one core, against ~27-40 ms for a multi-pose pass that
        finds the followed person again)."""
        masked = image_rgb.copy()
        h, w = masked.shape[:2]
        for box in boxes_xyxy:
            x0, y0, x1, y1 = np.asarray(box, np.float64)
            mx, my = self.config.mask_margin * (x1 - x0), self.config.mask_margin * (y1 - y0)
            c0, r0 = max(int(x0 - mx), 0), max(int(y0 - my), 0)
            c1, r1 = min(int(np.ceil(x1 + mx)), w), min(int(np.ceil(y1 + my)), h)
            masked[r0:r1, c0:c1] = MASK_RGB
        return poses_from_result(self._detect(masked), (0.0, 0.0), (w, h), (w, h), box_threshold)
