"""One-Euro smoothing of the mesh (Casiez et al., CHI 2012), across the image and in depth.

The One-Euro filter is a low-pass whose cut-off rises with speed: still poses are smoothed hard
(no jitter), fast motion passes with little lag. `MeshSmoother` filters every vertex and joint,
timed by the frames' media time, in *ray coordinates*: where a point lies across the image
(u = x/z, v = y/z, scaled by the track's depth to metres) and its depth z. A monocular body
is sure of the first (it sits on the person's 2D landmarks) and unsure of the second, so depth is
smoothed harder (strength at least `DEPTH_STRENGTH`, live `LIVE_DEPTH_STRENGTH`) and the overlay
stays on the person.

Strength s in [0, 1] (0 = off) maps to the minimum cut-off `f_min = 10 ** (1 - 2 s)` Hz
(s = 0.5: 1 Hz, s = 1: 0.1 Hz) with speed coefficient `beta = 2` per metre per second. The
points' centroid and the points about it are filtered apart (`MeshSmoother._to_ray`): live each
with its own speed coefficient, so walking across the room does not unsmooth the pose; the
centroid's place across the image is not smoothed at all (`CENTROID_ACROSS_HZ`), its depth is.

`lag_s` > 0 makes it a fixed-lag smoother: a mesh leaves `lag_s` after it came in, once a
backward One-Euro pass over the newer meshes has removed the forward filter's lag (zero phase,
like filtering a whole take forwards and backwards: 0.25 s is within 1 % of that on the real
set). `process` uses it (files have no latency budget); live it costs `lag_s` of latency.
`lag_frames` = K holds each mesh until K newer ones came (the live session's look-ahead: K
frames of latency at any frame rate; 1 by default from two CPUs, `pipeline.LIVE_LOOKAHEAD`).
Real set (60 fps, the frames the tracker of the release before followed), live settings, K = 1:
front / back accel 11.4 -> 8.5 / 8.9 -> 6.5 mm/frame^2, PA-MPJPE 82.7 -> 82.5 / 74.7 -> 74.4
(the network's own look-ahead of one frame, which the session used before: accel 11.0 / 8.8).
Live (no lag) the filter is `CAUSAL_STAGES` = 3 One-Euro stages in a row, each at 3x the
cut-off and speed coefficient: at low frequencies the same lag as one stage, above the cut-off
jitter falls three times as steeply. With depth smoothed less (`LIVE_DEPTH_STRENGTH` 0.2, was 0.5),
real set, live settings: front accel 12.7 -> 10.7, back 10.2 -> 8.2 mm/frame^2, PA-MPJPE 83.9
-> 83.7 / 81.6 -> 81.3, overlay median 1.7 -> 1.8 / 1.6 -> 1.6 %; one stage at the same overlay
(strength 0.15) gave accel 12.3 / 9.7.
The speed coefficient is there to cut the causal filter's lag in fast motion; a zero-phase
smoother has none, so it raises the cut-off less (`ZERO_PHASE_BETA`; real set, `process`:
accel 7.6 -> 7.0 mm/frame^2 front at strength 0.3, PA-MPJPE 82.0 -> 81.3).

A mesh that carries a body (`MeshResult.body`) stays one with it: the body's fitting points
(`Reposer.targets`: joints, landmarks, bone vertices, ~100 instead of ~7,000 vertices) are
smoothed and the body is re-posed onto them (`Reposer.repose`: Gauss-Newton steps from the
unsmoothed body, `RefineConfig.repose_iters` live, `OFFLINE_REPOSE_ITERS` with a time lag).
Without a reposer, smoothing a mesh that carries a body is refused.
Measured on the real multi-view set, 60 fps (`main.py evaluate --real`): assets/README.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from typing import Protocol

import numpy as np

from stdformer.types import MeshResult

BETA = 2.0  # cut-off increase per m/s of speed
ZERO_PHASE_BETA = 0.5  # with a lag nothing trails fast motion: raise the cut-off less
# Live, the points about their centroid (the body's pose) have their own speed coefficient, so
# that moving across the room does not unsmooth the limbs (`CentredOneEuro`). Real set (60 fps,
# 570 frames) front / back, live, x1.5 of BETA: accel 12.1 -> 11.4 / 8.1 -> 7.9 mm/frame^2,
# PA-MPJPE 83.8 -> 83.7 / 80.9 -> 80.7; held-out renders, full body, PA-MPJPE / accel 52.0 ->
# 52.1 / 6.3 -> 6.1 (x1: real accel 11.0 / 7.6 but renders 52.3; x2.5: accel 12.1 / 8.4). With
# a lag (zero phase) a split with one coefficient gained nothing (`process`, both passes split:
# back PA-MPJPE 78.7 -> 78.9, renders equal); the lagged filters are split since the centroid's
# place across the image is not smoothed (`CENTROID_ACROSS_HZ`) and keep one coefficient.
SHAPE_BETA = 1.5 * BETA
# Where the body is across the image (the centroid of its points in u, v) is not smoothed: many
# landmarks measure it well, and what moves it fast is mostly the camera (a pan, a hand-held
# phone), which the overlay must follow. Broadcast football (ROMP's sample video, 30 fps, a
# panning camera), overlay median vs MediaPipe's landmarks, smoothed as before -> now: live
# 3.4 -> 3.0 %, `process` 4.3 -> 3.7 % (unsmoothed: 1.5 %); the real set's limbs are
# root-relative and barely change (measured in assets/README.md).
CENTROID_ACROSS_HZ = np.inf
MAX_LAG_FRAMES = 8  # look-ahead in frames (the live session's; `process` uses `lag_s`)
# With a time lag (files: no latency budget) the body is re-posed to convergence: real set,
# `process`, accel 7.2 -> 6.8 / 5.5 -> 5.2 mm/frame^2 front / back, PA-MPJPE equal, 6 steps as
# 4. Live keeps the refiner's 2 (`RefineConfig.repose_iters`; 1 step: accel 12.7 -> 14.2).
OFFLINE_REPOSE_ITERS = 4
D_CUTOFF_HZ = 1.0  # cut-off of the speed estimate itself
# Live (causal) smoothing: this many One-Euro stages, each at this many times the cut-off (the
# low-frequency lag of one stage at the nominal cut-off). Real set, live, depth 0.2, front /
# back accel: 1 stage 12.6 / 9.9, 2: 11.1 / 8.6, 3: 10.7 / 8.2, 4: 10.5 / 8.0, with front
# PA-MPJPE 83.6, 83.7, 83.7, 83.8 and overlay median / p90 1.7 / 2.4, 1.8 / 2.5, 1.8 / 2.5,
# 1.8 / 2.6 %. 2 stages at 3x (less lag): accel 13.0; at 1.5x (more): 10.3 but overlay median
# 2.0 % (depth 0.5).
CAUSAL_STAGES = 3
# Depth is smoothed at least this hard: 1 Hz with a time lag (`process`: zero phase, depth lag
# costs nothing there; at 0.3: real set PA-MPJPE +0.1, renders full body 50.0 -> 50.2), 4 Hz live,
# where it lags (real set, front / back PA-MPJPE at 0.2 instead of 0.5, one stage: 83.9 -> 83.6 /
# 81.6 -> 81.2; two stages: 84.1 -> 83.7 / 82.0 -> 81.3; look-ahead 1: 83.6 -> 83.2 / 81.1 ->
# 80.4, accel 9.1 -> 9.2 / 7.1 -> 7.0).
DEPTH_STRENGTH = 0.5
LIVE_DEPTH_STRENGTH = 0.2
MIN_DEPTH_M = 0.05  # points nearer than this to the camera plane are clamped (ray division)


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    """Smoothing factor of an exponential filter with this cut-off at this sample interval."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape; `t_s` must increase. `min_cutoff_hz` and
    `beta` may be arrays broadcasting against the samples (e.g. one cut-off per column; an
    infinite cut-off passes its elements through)."""

    def __init__(self, min_cutoff_hz: float | np.ndarray, beta: float | np.ndarray = BETA) -> None:
        if np.any(np.asarray(min_cutoff_hz) <= 0):
            raise ValueError(f"min_cutoff_hz must be > 0, got {min_cutoff_hz}")
        self.min_cutoff_hz = np.asarray(min_cutoff_hz, np.float64)
        self.beta = np.asarray(beta, np.float64)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def start(self, x: np.ndarray, t_s: float) -> None:
        """Start at x with no speed (a backward pass starts from the newest forward value)."""
        self._x, self._dx, self._t = np.array(x, np.float64), np.zeros_like(x, np.float64), t_s

    def __call__(self, x: np.ndarray, t_s: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t_s <= self._t or x.shape != self._x.shape:
            self.start(x, t_s)
            return x.copy()
        assert self._dx is not None
        dt = t_s - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(D_CUTOFF_HZ, dt) * (dx - self._dx)
        cutoff = self.min_cutoff_hz + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t_s
        return self._x.copy()


class CascadedOneEuro:
    """`stages` One-Euro filters in a row, each at `stages` times the cut-off and speed
    coefficient: the lag of one filter at `min_cutoff_hz` for slow motion, a fall-off of order
    `stages` above it (jitter, which the acceleration error weighs by frequency squared)."""

    def __init__(
        self, min_cutoff_hz: float | np.ndarray, beta: float | np.ndarray = BETA, stages: int = 2
    ):
        if stages < 1:
            raise ValueError(f"stages must be >= 1, got {stages}")
        k = float(stages)
        self.stages = [
            OneEuroFilter(np.asarray(min_cutoff_hz) * k, np.asarray(beta) * k)
            for _ in range(stages)
        ]

    def reset(self) -> None:
        for stage in self.stages:
            stage.reset()

    def __call__(self, x: np.ndarray, t_s: float) -> np.ndarray:
        for stage in self.stages:
            x = stage(x, t_s)
        return x


def min_cutoff_for_strength(strength: float) -> float:
    """Hz for a strength in (0, 1] (module docstring)."""
    return 10.0 ** (1.0 - 2.0 * float(strength))


class Reposer(Protocol):
    """Re-poses a mesh's body onto smoothed points (`BodyRefiner` is one)."""

    def targets(self, mesh: MeshResult) -> np.ndarray: ...  # (K, 3) camera frame

    def repose(
        self, mesh: MeshResult, targets: np.ndarray, iters: int | None = None
    ) -> MeshResult: ...  # iters: Gauss-Newton steps, None: the reposer's own number


@dataclasses.dataclass
class _Held:
    mesh: MeshResult
    t_s: float
    forward: np.ndarray  # (P, 3) forward-filtered ray coordinates of the smoothed points


class MeshSmoother:
    """Smooths the meshes of one track (module docstring); strength 0 passes them through.

    `push(mesh)` returns the meshes that are ready (none while the lag fills), `flush()` the
    rest at the end of a track (also called by `reset`'s caller before a new one)."""

    def __init__(
        self,
        strength: float = 0.0,
        lag_s: float = 0.0,
        reposer: Reposer | None = None,
        lag_frames: int = 0,
    ) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"smoothing strength must be in [0, 1], got {strength}")
        if not 0.0 <= lag_s <= 2.0:
            raise ValueError(f"smoothing lag must be in [0, 2] s, got {lag_s}")
        if not 0 <= lag_frames <= MAX_LAG_FRAMES:
            raise ValueError(
                f"look-ahead must be in [0, {MAX_LAG_FRAMES}] frames, got {lag_frames}"
            )
        self.strength, self.lag_s, self.reposer = float(strength), float(lag_s), reposer
        self.lag_frames = int(lag_frames)
        across = min_cutoff_for_strength(strength) if strength > 0 else 1.0
        floor = DEPTH_STRENGTH if lag_s > 0 else LIVE_DEPTH_STRENGTH
        depth = min_cutoff_for_strength(max(strength, floor))
        # Cut-offs and speed coefficients of the centred ray coordinates (`_to_ray`): the points
        # about their centroid (u, v, z), then the centroid, whose place across the image
        # passes unsmoothed (`CENTROID_ACROSS_HZ`) and whose depth is smoothed like the points'.
        self._cutoffs = np.array([[across, across, depth], [CENTROID_ACROSS_HZ] * 2 + [depth]])
        self._repose_iters = OFFLINE_REPOSE_ITERS if lag_s > 0 else None
        self._causal = lag_s == 0.0 and lag_frames == 0  # live: nothing comes back to smooth it
        beta = [[SHAPE_BETA], [BETA]] if self._causal else [[ZERO_PHASE_BETA]] * 2
        self._betas = np.array(beta)  # (2, 1): the points', the centroid's
        self._forward: CascadedOneEuro | OneEuroFilter | None = None  # made for the point count
        self._held: deque[_Held] = deque()
        self.reset()

    def reset(self) -> None:
        """Forget the past (the subject was lost: the next mesh starts a new track). Meshes
        still held are dropped: `flush()` them first."""
        self._forward = None
        self._held.clear()
        self._depth_m: float | None = None  # the track's depth scale for (u, v)
        self._subject: int | None = None  # whose meshes are held (`Observation.subject_id`)

    def push(self, mesh: MeshResult) -> list[MeshResult]:
        """Add one mesh; return the smoothed meshes that are ready, oldest first. A mesh of
        another person (`Observation.subject_id`) first flushes those still held."""
        if self.strength == 0.0:
            return [mesh]
        if mesh.body is not None and self.reposer is None:
            raise ValueError("smoothing a mesh with a body needs a reposer (the body refiner)")
        subject = None if mesh.observation is None else mesh.observation.subject_id
        ready = self.flush() if subject != self._subject else []  # another person: start over
        self._subject = subject
        t_s = mesh.t_ns / 1e9
        if mesh.body is not None and self.reposer is not None:
            points = self.reposer.targets(mesh)  # (K, 3) the body's fitting points
        else:
            points = np.concatenate([mesh.vertices_cam, mesh.joints_cam]).astype(np.float64)
        ray = self._to_ray(points)
        if self._forward is None:
            cutoffs, betas = self._per_row(len(ray))
            self._forward = (
                CascadedOneEuro(cutoffs, betas, CAUSAL_STAGES)
                if self._causal
                else OneEuroFilter(cutoffs, betas)
            )
        self._held.append(_Held(mesh, t_s, self._forward(ray, t_s)))
        while len(self._held) > self.lag_frames and t_s - self._held[0].t_s >= self.lag_s:
            ready.append(self._emit())
        return ready

    def flush(self) -> list[MeshResult]:
        """The meshes still held (end of the track or of the input), smoothed, oldest first."""
        out = [self._emit() for _ in range(len(self._held))]
        self.reset()
        return out

    def _emit(self) -> MeshResult:
        """The oldest held mesh, with the backward pass over the newer ones (zero phase)."""
        newest, oldest = self._held[-1], self._held.popleft()
        ray = oldest.forward
        if newest is not oldest:
            backward = OneEuroFilter(*self._per_row(len(ray)))
            backward.start(newest.forward, -newest.t_s)
            for held in reversed(list(self._held)[:-1]):
                backward(held.forward, -held.t_s)
            ray = backward(oldest.forward, -oldest.t_s)
        points = self._from_ray(ray)
        mesh = oldest.mesh
        if mesh.body is not None and self.reposer is not None:
            return self.reposer.repose(mesh, points, self._repose_iters)
        n = len(mesh.vertices_cam)
        points = points.astype(np.float32)
        return dataclasses.replace(mesh, vertices_cam=points[:n], joints_cam=points[n:])

    def _per_row(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, 3) cut-offs and (rows, 1) speed coefficients of centred ray coordinates."""
        row = np.zeros(rows, int)
        row[-1] = 1  # the centroid's
        return self._cutoffs[row], self._betas[row]

    def _to_ray(self, points: np.ndarray) -> np.ndarray:
        """(P + 1, 3) centred ray coordinates of `points` (P, 3): each point's (u, v) scaled by
        the track's depth to metres and its depth z, less their centroid; then the centroid."""
        z = np.maximum(points[:, 2:], MIN_DEPTH_M)
        if self._depth_m is None:
            self._depth_m = float(np.median(z))
        ray = np.concatenate([points[:, :2] / z * self._depth_m, z], 1)
        centroid = ray.mean(0, keepdims=True)
        return np.concatenate([ray - centroid, centroid])

    def _from_ray(self, ray: np.ndarray) -> np.ndarray:
        assert self._depth_m is not None
        ray = ray[:-1] + ray[-1:]
        z = ray[:, 2:]
        return np.concatenate([ray[:, :2] / self._depth_m * z, z], 1)
