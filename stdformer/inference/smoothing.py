"""One-Euro smoothing of the live mesh (Casiez et al., CHI 2012), driven by one strength knob.

The One-Euro filter is a low-pass whose cut-off rises with speed: still poses are smoothed hard
(no jitter), fast motion passes with little lag. `MeshSmoother` applies one filter per vertex and
joint coordinate, timed by the frames' media time, and starts over when the subject is lost so a
new track never blends with an old one.

Strength s in [0, 1] (0 = off) maps to the minimum cut-off `f_min = 10 ** (1 - 2 s)` Hz
(s = 0.5: 1 Hz, s = 1: 0.1 Hz) with speed coefficient `beta = 2` per metre per second (0.5
lagged fast kicks on the real multi-view set: overlay p90 7.0 % vs 4.4 % of body height).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from stdformer.types import MeshResult

BETA = 2.0  # cut-off increase per m/s of speed
D_CUTOFF_HZ = 1.0  # cut-off of the speed estimate itself


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    """Smoothing factor of an exponential filter with this cut-off at this sample interval."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape; `t_s` must increase."""

    def __init__(self, min_cutoff_hz: float, beta: float = BETA) -> None:
        if min_cutoff_hz <= 0:
            raise ValueError(f"min_cutoff_hz must be > 0, got {min_cutoff_hz}")
        self.min_cutoff_hz, self.beta = float(min_cutoff_hz), float(beta)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t_s: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t_s <= self._t or x.shape != self._x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t_s
            return x.copy()
        dt = t_s - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(D_CUTOFF_HZ, dt) * (dx - self._dx)
        cutoff = self.min_cutoff_hz + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t_s
        return self._x.copy()


def min_cutoff_for_strength(strength: float) -> float:
    """Hz for a strength in (0, 1] (module docstring)."""
    return 10.0 ** (1.0 - 2.0 * float(strength))


class MeshSmoother:
    """Smooths `MeshResult.vertices_cam` and `joints_cam` over time; strength 0 passes through."""

    def __init__(self, strength: float = 0.0) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"smoothing strength must be in [0, 1], got {strength}")
        self.strength = float(strength)
        cutoff = min_cutoff_for_strength(strength) if strength > 0 else 1.0
        self._vertices = OneEuroFilter(cutoff)
        self._joints = OneEuroFilter(cutoff)

    def reset(self) -> None:
        """Forget the past (the subject was lost: the next mesh starts a new track)."""
        self._vertices.reset()
        self._joints.reset()

    def __call__(self, mesh: MeshResult) -> MeshResult:
        if self.strength == 0.0:
            return mesh
        t_s = mesh.t_ns / 1e9
        return dataclasses.replace(
            mesh,
            vertices_cam=self._vertices(mesh.vertices_cam, t_s).astype(np.float32),  # (V, 3)
            joints_cam=self._joints(mesh.joints_cam, t_s).astype(np.float32),  # (J, 3)
        )
