"""`PoseDetector`: what the session needs from a person detector, and nothing more.

The session's pipeline (`stdformer.session.pipeline.LivePipeline`) depends on this protocol, not
on MediaPipe: `stdformer.detect.localize.PersonLocalizer` (MediaPipe PoseLandmarker, tracking,
re-detection) is one implementation; a test, another model or a replayed take can be another.

The contract of every `Observation` a detector returns is the 33-landmark BlazePose topology of
`stdformer.detect.pose_topology` (`N_POSE_LANDMARKS` landmarks in `POSE_LANDMARK_NAMES` order,
"left" the person's own left): `landmarks_px` (33, 3) pixels of the frame, `visibility` and
`presence` (33,) in [0, 1], `world_landmarks` (33, 3) metres centred on the hips (`POSE_HIPS`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from stdformer.types import Frame, Observation


@runtime_checkable
class PoseDetector(Protocol):
    """Frames in, the main subject out; used from one thread, except `request_subject_at`."""

    def process(self, frame: Frame) -> Observation | None:
        """The main subject in `frame` (the module's 33-landmark contract); None: nobody. Bad or
        empty frames give None, never an exception."""
        ...

    def people_found(self) -> int:
        """People found in the last frame processed, the subject included (0: nobody): the
        session tells "the followed person is out of view" from "nobody in view" with it."""
        ...

    def request_subject_at(self, x_px: float, y_px: float) -> None:
        """Follow the person under frame pixel (x, y) from the next frame on (any thread)."""
        ...

    def reset(self) -> None:
        """Forget the subject and any tracking state (a new source)."""
        ...

    def close(self) -> None:
        """Release what the detector holds (models, threads)."""
        ...
