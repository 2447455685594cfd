"""Show the network an upright person: quarter turns of the view for people lying or upside down.

MediaPipe's landmarks turn with the image (it aligns its crop to the body): on the embedded
sample clip turned by 90 and by 180 deg, its world landmarks agree with the upright reading
within 10 and 6 mm PA-MPJPE. The network was trained on upright people seen by upright
cameras: on the sample clip turned by 90 / 180 / 270 deg, `process`'s bodies were 105 / 312 /
47 mm PA-MPJPE from the upright run's (153 / 364 / 114 mm root-relative in the camera): anyone
lying on the floor (push-ups, yoga, a fall), upside down (a handstand, a flip) or filmed by a
camera on its side got a broken body.

Turning the image about its principal point is turning the camera about its optical axis (the
app's K has square pixels and its principal point at the image centre), so the network can be
shown the person turned upright and its output turned back exactly: landmarks (pixels about the
image centre, world landmarks about the camera's z axis) in, vertices, joints and root
translation out. Turned clips now: 20 / 3.5 / 21 mm PA-MPJPE (22 / 5 / 25 mm in the camera),
MediaPipe's own difference and the image's new shape. Only quarter turns: the network's training
has no camera roll, and within a quarter it sees what it was trained on.

`RollGuard` picks the quarter from the body's direction in the image
(`stdformer.detect.facing.body_angle_deg`: from the lowest sure part of the legs to the
shoulders) and keeps it until that points more than `SWITCH_DEG` away for `CONFIRM_S`, so
leaning never turns the view, a misread frame does not either, and a person getting up turns
it back once.
The legs count because the torso alone misleads: a held-out render of a forward bend (torso
level on upright legs, a pose the network was trained on) turned on the torso's direction came
out 8 mm PA-MPJPE worse (54.9 -> 63.2 over the clip); on the body's direction it is not turned.
The localizer's facing guard reads the facing about the same direction (`facing.upright_world`),
and the body fit's desk checks read the image turned upright for the person
(`upright_in_image`): a webcam on its side at a desk has its hips at a side edge.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from stdformer.detect.facing import body_angle_deg, nearest_quarter, quarter_rotation
from stdformer.types import Observation

SWITCH_DEG = 60.0  # the body this far from the current quarter's upright turns the view
# A turn asked for this long (media time) is taken; a track's first reading is taken at once.
# MediaPipe misreads a frame now and then (a held-out seated render: one frame's body read
# 66 deg off upright): turned for it and back, the body jumped twice.
CONFIRM_S = 0.2


def turn_observation(obs: Observation, quarter: int) -> Observation:
    """`obs` as a camera turned by `quarter` x 90 deg clockwise about its optical axis sees it
    (same image size: landmarks may lie outside it). Quarter 0 returns `obs` itself."""
    if quarter % 4 == 0:
        return obs
    r = quarter_rotation(quarter)
    centre = np.array(obs.image_size_wh, np.float64) / 2.0

    def pixels(xy: np.ndarray) -> np.ndarray:  # (N, 2) about the image centre
        return (xy.astype(np.float64) - centre) @ r[:2, :2].T + centre

    def box(xyxy: np.ndarray) -> np.ndarray:  # the turned box's bounds
        corners = pixels(np.asarray(xyxy, np.float64).reshape(2, 2))
        return np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)

    landmarks = obs.landmarks_px.copy()
    landmarks[:, :2] = pixels(obs.landmarks_px[:, :2])
    world = (obs.world_landmarks.astype(np.float64) @ r.T).astype(np.float32)
    return dataclasses.replace(
        obs,
        landmarks_px=landmarks.astype(np.float32),
        world_landmarks=world,
        bbox_xyxy=box(obs.bbox_xyxy),
        crop_xyxy=box(obs.crop_xyxy),
        segmentation=None,  # image-shaped: not turned
    )


def upright_in_image(obs: Observation) -> Observation:
    """`obs` in the image turned by the quarter nearest the body's direction, where the person
    is upright: pixels, boxes and size (width and height swapped by an odd quarter); `obs`
    itself when it is upright already. For the checks that read where the person is in the
    image: legs under a desk are hips at the image's bottom edge, which for a camera on its
    side is a side edge (`stdformer.inference.refine`)."""
    quarter = nearest_quarter(obs)
    if quarter == 0:
        return obs
    turned = turn_observation(obs, -quarter)
    w, h = obs.image_size_wh
    if quarter % 2 == 0:
        return turned
    shift = np.array([h - w, w - h], np.float32) / 2.0  # the turned frame's corner to (0, 0)
    landmarks = turned.landmarks_px.copy()
    landmarks[:, :2] += shift
    return dataclasses.replace(
        turned,
        landmarks_px=landmarks,
        bbox_xyxy=turned.bbox_xyxy + np.tile(shift, 2),
        crop_xyxy=turned.crop_xyxy + np.tile(shift, 2),
        image_size_wh=(h, w),
    )


class RollGuard:
    """The quarter turn that shows one track's person upright (module docstring)."""

    def __init__(self, switch_deg: float = SWITCH_DEG, confirm_s: float = CONFIRM_S) -> None:
        if not 45.0 <= switch_deg < 180.0:
            raise ValueError(f"switch_deg must be in [45, 180), got {switch_deg}")
        if confirm_s < 0.0:
            raise ValueError(f"confirm_s must be >= 0, got {confirm_s}")
        self.switch_deg, self.confirm_ns = float(switch_deg), int(confirm_s * 1e9)
        self.reset()

    def reset(self) -> None:
        self.quarter = 0  # the view turned by -quarter x 90 deg shows the person upright
        self._read = False  # whether this track had a reading yet
        self._pending: tuple[int, int] | None = None  # (quarter asked for, since t_ns)

    def update(self, obs: Observation) -> bool:
        """Take this frame's body into account; True when the quarter changed."""
        angle = body_angle_deg(obs)
        if angle is None:
            return False
        off = (angle - 90.0 * self.quarter + 180.0) % 360.0 - 180.0
        if abs(off) <= self.switch_deg:
            self._read, self._pending = True, None
            return False
        wanted = round(angle / 90.0) % 4
        if self._pending is None or self._pending[0] != wanted:
            self._pending = (wanted, obs.t_ns)
        first, self._read = not self._read, True
        if not first and obs.t_ns - self._pending[1] < self.confirm_ns:
            return False
        self.quarter, self._pending = wanted, None
        return True
