"""What to show while the subject comes and goes: the newest mesh, a fading one, or nothing.

(Not MediaPipe's per-landmark `presence`, the probability a landmark is in the image: this is
the shown mesh's hold and fade.)

When the localizer loses the subject the pipeline resets the network's buffer at once (a new
track never mixes with old frames). For the screen, the last mesh stays for `hold_s`, then fades
out linearly over `fade_s`, then nothing is shown: no stale body stays in any view. When the
subject is found again the new mesh replaces the fading one as soon as it exists. Times are
media times (`Frame.t_ns`), so a file plays the same at any processing speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stdformer.types import MeshResult

SubjectState = Literal["tracking", "lost", "absent"]  # absent: not seen for hold + fade


@dataclass(frozen=True)
class ShownMesh:
    """Display decision for one frame."""

    state: SubjectState
    mesh: MeshResult | None  # what views draw (the newest mesh, or the held one while fading)
    alpha: float  # opacity multiplier in [0, 1] for `mesh`; 0 when there is none


class MeshFade:
    """Turns (observation seen?, new meshes) per frame into a `ShownMesh` (module docstring)."""

    def __init__(self, hold_s: float = 0.15, fade_s: float = 0.5) -> None:
        if hold_s < 0 or fade_s <= 0:
            raise ValueError(f"need hold_s >= 0 and fade_s > 0, got {hold_s}, {fade_s}")
        self.hold_ns, self.fade_ns = int(hold_s * 1e9), int(fade_s * 1e9)
        self._mesh: MeshResult | None = None
        self._lost_at_ns: int | None = None
        self._seen = False

    def reset(self) -> None:
        self._mesh, self._lost_at_ns, self._seen = None, None, False

    def update(self, t_ns: int, has_subject: bool, new_meshes: tuple[MeshResult, ...]) -> ShownMesh:
        if new_meshes:
            self._mesh = new_meshes[-1]
        if has_subject:
            self._seen, self._lost_at_ns = True, None
            state: SubjectState = "tracking"
        elif not self._seen:
            return ShownMesh("absent", None, 0.0)
        else:
            if self._lost_at_ns is None:
                self._lost_at_ns = t_ns
            gone = t_ns - self._lost_at_ns >= self.hold_ns + self.fade_ns
            state = "absent" if gone else "lost"
        if self._mesh is None:
            return ShownMesh(state, None, 0.0)
        # Age of the mesh on screen: 0 while meshes keep coming; grows while the subject is
        # lost, or found again with the network's buffer still filling.
        age_ns = t_ns - self._mesh.t_ns
        alpha = 1.0 - max(0, age_ns - self.hold_ns) / self.fade_ns
        if new_meshes:
            alpha = 1.0
        if alpha <= 0.0:
            self._mesh = None  # faded out: never shown again
            return ShownMesh(state, None, 0.0)
        return ShownMesh(state, self._mesh, float(min(alpha, 1.0)))
