"""Undo MediaPipe's short front/back flips of the subject.

MediaPipe sometimes reads a person who faces the camera as facing away (or the reverse) for a
few frames: its 2D landmarks keep their pixels but trade left and right labels, and its world
landmarks mirror in depth. Measured on the real multi-view set (pose2sim's Demo_MultiPerson,
cam02): 29 of 100 frames of one person, in stretches of 1-19 frames, with the mirrored labels
~300 px from the truth and ~12 px after swapping them back. A person cannot turn half a
circle between two frames, so the torso's facing (`torso_yaw_deg`) of a flipped reading jumps
by ~180 deg while its mirror, `180 - yaw`, continues the motion. `FacingGuard` keeps the
subject's recent facing (the circular median of the last `facing_s` of readings as passed on,
so a few readings that are neither the truth nor its mirror do not move it): a reading whose
mirror continues it far better (by more than `margin_deg`) toggles the guard's state, and while
the state says "flipped" the observations are swapped back (`unflip`). MediaPipe can be wrong
before a flip too (the start of a track, a turn through a side view), so a flipped state is
given up after `max_flip_s`, or sooner when it has lasted longer than the track had before
it (the readings that set the facing may have been the flip): a longer flip is taken as
MediaPipe's reading, and its recent readings become the facing. The time is counted net: a
stray reading that agrees with the old facing takes one frame off, it does not restart the
clock (it did, and on the real set, cam03, MediaPipe's right reading of a person it had read
facing away for 0.9 s was undone to the end of the clip, 46 frames, by one stray reading in
20; now followed after 0.5 s: front MPJPE 154.1 -> 142.2 mm, overlay p90 against the
reference 10.1 -> 7.4 %, the same PA-MPJPE; front accel 10.3 -> 12.1 mm/frame^2, the body
turning round once). Near side views (yaw ~ +-90 deg) a reading and its mirror face almost the
same way, and nothing toggles. On the held-out renders (stored MediaPipe detections, 30 fps)
it changes 5 of 48 clips: three gain frames facing the right way (74 -> 86 of 90 in one), two
lose (a short clip MediaPipe starts the wrong way round: 16 -> 9 of 22, 1 before the
track-length rule; another 3 -> 1 of 83); 3,940 of 4,055 frames face the right way, MediaPipe
alone 3,934.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from stdformer.detect.pose_topology import (
    FLIP_PERMUTATION,
    POSE_ANKLES,
    POSE_FACE,
    POSE_HIPS,
    POSE_KNEES,
    POSE_SHOULDERS,
)
from stdformer.types import Observation

_PERM = np.array(FLIP_PERMUTATION)


@dataclass(frozen=True)
class FacingConfig:
    enabled: bool = True
    margin_deg: float = 90.0  # the mirror must continue the facing this much better
    max_flip_s: float = 0.5  # a flip held longer than this is MediaPipe's reading after all
    max_gap_s: float = 0.5  # the subject unseen longer than this: start from MediaPipe's reading
    facing_s: float = 0.25  # the facing compared with: the median of this long's readings


def torso_yaw_deg(world: np.ndarray) -> float:
    """The torso's facing about the camera's vertical axis from world landmarks (33, 3)
    (camera axes: x right, y down, z away): 0 = facing the camera, +-180 = facing away."""
    w = np.asarray(world, np.float64)
    (ls, rs), (lh, rh) = w[list(POSE_SHOULDERS)], w[list(POSE_HIPS)]
    across = (ls + lh) / 2 - (rs + rh) / 2  # toward the person's left
    up = (ls + rs) / 2 - (lh + rh) / 2
    forward = np.cross(across, up)
    return float(np.degrees(np.arctan2(forward[0], -forward[2])))


MIN_CONFIDENCE = 0.5  # a landmark at least this sure (visibility and presence) counts
# The shoulder line gives the body's direction only when it faces the camera (or away): the
# shoulders this far apart at least, per distance from their middle to the face's. Held-out
# head-and-shoulders renders: 1.0-1.8 from the front, 0.1-0.2 from the side, where the line's
# direction pointed anywhere (a desk render turned for 15 frames: upper-body PA-MPJPE +0.7).
SHOULDERS_FACING = 0.6


def body_angle_deg(obs: Observation) -> float | None:
    """Direction of the body in the image, degrees clockwise from up (90: the head points
    right): from the lowest sure part of the legs (ankles, else knees, else hips) to the
    shoulders. The legs count: a person bowing with the torso level stands on upright legs, one
    lying does not. Without a sure hip (head and shoulders at a desk) it is the normal of the
    shoulder line on the face's side (a bowed or tilted head does not move it), for a person
    facing the camera or away (`SHOULDERS_FACING`). None without the landmarks for either."""
    conf = np.minimum(obs.visibility, obs.presence)
    xy = obs.landmarks_px[:, :2].astype(np.float64)

    def middle(idx: tuple[int, ...]) -> np.ndarray | None:
        sure = [i for i in idx if conf[i] >= MIN_CONFIDENCE]
        return xy[sure].mean(0) if sure else None

    top, hips = middle(POSE_SHOULDERS), middle(POSE_HIPS)
    if top is None:
        return None
    if hips is not None:
        bottom = next((p for p in (middle(POSE_ANKLES), middle(POSE_KNEES)) if p is not None), hips)
        dx, dy = top - bottom
    else:
        face = middle(POSE_FACE)
        if face is None or min(conf[i] for i in POSE_SHOULDERS) < MIN_CONFIDENCE:
            return None
        across = xy[POSE_SHOULDERS[0]] - xy[POSE_SHOULDERS[1]]
        if np.linalg.norm(across) < SHOULDERS_FACING * np.linalg.norm(face - top):
            return None  # seen from the side: the shoulder line's direction says nothing
        dx, dy = -across[1], across[0]  # perpendicular to the shoulder line
        if dx * (face[0] - top[0]) + dy * (face[1] - top[1]) < 0:
            dx, dy = -dx, -dy  # toward the face
    if math.hypot(dx, dy) < 1e-6:
        return None
    return math.degrees(math.atan2(dx, -dy))


def quarter_rotation(quarter: int) -> np.ndarray:
    """(3, 3) exact rotation about the camera's z axis (OpenCV axes, as pixels: x right, y down)
    by `quarter` x 90 deg clockwise on screen."""
    c, s = ((1, 0), (0, 1), (-1, 0), (0, -1))[quarter % 4]
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float64)


def nearest_quarter(obs: Observation) -> int:
    """The quarter turn (0-3, clockwise) nearest the body's direction in the image; 0 without
    one."""
    angle = body_angle_deg(obs)
    return 0 if angle is None else round(angle / 90.0) % 4


def upright_world(obs: Observation) -> np.ndarray:
    """(33, 3) the world landmarks turned about the camera's z axis by the quarter turn nearest
    the body's direction in the image (`body_angle_deg`): as a camera rolled to show the person
    upright sees them (as they are without that direction, or within 45 deg of upright). The
    torso's yaw about the camera's vertical is then the facing also for someone lying: seen
    from the side, their front points up or down the image, and its yaw was noise (held-out
    renders turned by a quarter as a camera roll: the guard mirrored 77 / 62 of 4,113 frames
    against 9 upright, mostly side views). Quarter turns, not the angle itself: turned by a
    lean too, the real set's readings changed (front PA-MPJPE 82.7 -> 82.9 mm, live)."""
    world = np.asarray(obs.world_landmarks, np.float64)
    quarter = nearest_quarter(obs)
    return world @ quarter_rotation(-quarter).T if quarter else world


def unflip(obs: Observation) -> Observation:
    """`obs` read the other way round: left and right labels swapped, depth mirrored."""
    lm = obs.landmarks_px[_PERM].copy()
    lm[:, 2] *= -1.0
    world = obs.world_landmarks[_PERM].copy()
    world[:, 2] *= -1.0
    return dataclasses.replace(
        obs,
        landmarks_px=lm,
        visibility=obs.visibility[_PERM].copy(),
        presence=obs.presence[_PERM].copy(),
        world_landmarks=world,
        facing_flipped=not obs.facing_flipped,
    )


def _angle(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


class FacingGuard:
    """The subject's observations with MediaPipe's short front/back flips undone (module doc).
    One per localizer; a new subject or a long gap starts over."""

    def __init__(self, config: FacingConfig | None = None) -> None:
        self.config = config or FacingConfig()
        self.reset()

    def reset(self) -> None:
        self._flipped = False
        self._recent: deque[tuple[float, float]] = deque()  # (t_s, yaw passed on)
        self._subject = -1
        self._since_s = 0.0  # the last reading with no flip underway
        self._flip_s = 0.0  # seconds flipped in the current stretch, less seconds not
        self._start_s = 0.0  # the first reading of this subject's track

    def _facing(self) -> float:
        """The recent facing: the circular median of the yaws passed on (a few readings that
        are neither the truth nor its mirror, e.g. 120 deg off, do not move it)."""
        yaws = [y for _, y in self._recent]
        return min(yaws, key=lambda a: sum(_angle(a, b) for b in yaws))

    def __call__(self, obs: Observation) -> Observation:
        cfg = self.config
        if not cfg.enabled:
            return obs
        t_s = obs.t_ns / 1e9
        raw = torso_yaw_deg(upright_world(obs))
        if not np.isfinite(raw):
            return unflip(obs) if self._flipped else obs
        recent = self._recent
        gap_s = t_s - recent[-1][0] if recent else 0.0
        # a new subject, a long gap, or time running backwards (a source that rewinds its
        # timestamps, e.g. a clip read again from its start): start from MediaPipe's reading
        if not recent or obs.subject_id != self._subject or not 0.0 <= gap_s <= cfg.max_gap_s:
            self.reset()
            self._start_s, gap_s = t_s, 0.0
        else:
            facing = self._facing()
            kept = 180.0 - raw if self._flipped else raw  # the reading in the current state
            other = raw if self._flipped else 180.0 - raw
            if _angle(kept, facing) - _angle(other, facing) > cfg.margin_deg:
                self._flipped = not self._flipped
        # time flipped, less time not: a single reading that agrees with the guard's facing
        # in the middle of a lasting change does not restart the clock
        self._flip_s = max(self._flip_s + (gap_s if self._flipped else -gap_s), 0.0)
        if self._flip_s == 0.0:
            self._since_s = t_s
        elif self._flipped and self._flip_s > min(cfg.max_flip_s, self._since_s - self._start_s):
            # MediaPipe's reading has held too long, or longer than the readings before it
            # since the track began (then those may have been the flip): follow it, and
            # its recent readings as the facing
            self._flipped, self._flip_s, self._since_s = False, 0.0, t_s
            self._recent = deque((t, 180.0 - yaw) for t, yaw in self._recent)
        self._recent.append((t_s, 180.0 - raw if self._flipped else raw))
        while t_s - self._recent[0][0] > cfg.facing_s:
            self._recent.popleft()
        self._subject = obs.subject_id
        return unflip(obs) if self._flipped else obs
