"""Undo MediaPipe's short front/back flips of the subject.

MediaPipe sometimes reads a person who faces the camera as facing away (or the reverse) for a
few frames: its 2D landmarks keep their pixels but trade left and right labels, and its world
landmarks mirror in depth. Measured on the real multi-view set (pose2sim's Demo_MultiPerson,
cam02): 29 of 100 frames of one person, in stretches of 1-19 frames, with the mirrored labels
~300 px from the truth and ~12 px after swapping them back. A person cannot turn half a
circle between two frames, so the torso's facing (`torso_yaw_deg`) of a flipped reading jumps
by ~180 deg while its mirror, `180 - yaw`, continues the motion. `FacingGuard` keeps the
subject's facing: a reading whose mirror continues it far better (by more than `margin_deg`)
toggles the guard's state, and while the state says "flipped" the observations are swapped
back (`unflip`). MediaPipe can be wrong at the start of a track too, so the state is only held
against the evidence while it is the minority: once flipped readings make up more than half of
the last `window_s`, MediaPipe's reading is followed again. Near side views (yaw ~ +-90 deg)
a reading and its mirror face almost the same way, and nothing toggles.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np

from stdformer.detect.pose_topology import FLIP_PERMUTATION, POSE_HIPS, POSE_SHOULDERS
from stdformer.types import Observation

_PERM = np.array(FLIP_PERMUTATION)


@dataclass(frozen=True)
class FacingConfig:
    enabled: bool = True
    margin_deg: float = 90.0  # the mirror must continue the facing this much better
    window_s: float = 2.0  # a flipped state outvoted over this long is given up
    max_gap_s: float = 0.5  # the subject unseen longer than this: start from MediaPipe's reading


def torso_yaw_deg(world: np.ndarray) -> float:
    """The torso's facing about the camera's vertical axis from world landmarks (33, 3)
    (camera axes: x right, y down, z away): 0 = facing the camera, +-180 = facing away."""
    w = np.asarray(world, np.float64)
    (ls, rs), (lh, rh) = w[list(POSE_SHOULDERS)], w[list(POSE_HIPS)]
    across = (ls + lh) / 2 - (rs + rh) / 2  # toward the person's left
    up = (ls + rs) / 2 - (lh + rh) / 2
    forward = np.cross(across, up)
    return float(np.degrees(np.arctan2(forward[0], -forward[2])))


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
        self._yaw: float | None = None  # the last reading as passed on
        self._t_s = 0.0
        self._subject = -1
        self._history: deque[tuple[float, bool]] = deque()  # (t_s, flipped) over window_s

    def __call__(self, obs: Observation) -> Observation:
        cfg = self.config
        if not cfg.enabled:
            return obs
        t_s = obs.t_ns / 1e9
        raw = torso_yaw_deg(obs.world_landmarks)
        if not np.isfinite(raw):
            return unflip(obs) if self._flipped else obs
        if self._yaw is None or obs.subject_id != self._subject or t_s - self._t_s > cfg.max_gap_s:
            self.reset()
        else:
            kept = 180.0 - raw if self._flipped else raw  # the reading in the current state
            other = raw if self._flipped else 180.0 - raw
            if _angle(kept, self._yaw) - _angle(other, self._yaw) > cfg.margin_deg:
                self._flipped = not self._flipped
        history = self._history
        history.append((t_s, self._flipped))
        while t_s - history[0][0] > cfg.window_s:
            history.popleft()
        outvoted = 2 * sum(f for _, f in history) > len(history)
        if self._flipped and outvoted and t_s - history[0][0] >= 0.5 * cfg.window_s:
            self._flipped = False  # MediaPipe's reading has held most of the window: follow it
            history.clear()
            history.append((t_s, False))
        self._yaw = 180.0 - raw if self._flipped else raw
        self._t_s, self._subject = t_s, obs.subject_id
        return unflip(obs) if self._flipped else obs
