"""Typed objects that travel between the stages of the pipeline.

Frame -> (localize) -> Observation -> (predict) -> MeshResult. Each object owns its arrays
(no views into buffers another thread may overwrite). Shapes are given in trailing comments.
Pixel coordinates are in the full input image unless the name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_POSE_LANDMARKS = 33  # MediaPipe BlazePose topology


@dataclass(frozen=True)
class Frame:
    """One image from a video source.

    `t_ns` is the media time: monotonic within a source (camera: capture clock, file: frame
    position), used for tracking and temporal models. `wall_ns` is `time.perf_counter_ns()` when
    the frame was read, used only to measure end-to-end latency.
    """

    image_bgr: np.ndarray  # (H, W, 3) uint8, BGR as OpenCV delivers it
    t_ns: int
    index: int
    wall_ns: int = 0

    @property
    def size_wh(self) -> tuple[int, int]:
        h, w = self.image_bgr.shape[:2]
        return w, h


@dataclass(frozen=True)
class Observation:
    """What the person localizer saw of the main subject in one frame."""

    landmarks_px: np.ndarray  # (33, 3) float32: x, y in pixels; z relative depth, pixel scale
    visibility: np.ndarray  # (33,) float32 in [0, 1]: landmark visible (not occluded)
    presence: np.ndarray  # (33,) float32 in [0, 1]: landmark inside the image
    world_landmarks: np.ndarray  # (33, 3) float32 metres, hip-centred, camera-aligned axes
    bbox_xyxy: np.ndarray  # (4,) float32 tight person box from the landmarks, pixels
    crop_xyxy: np.ndarray  # (4,) float32 square crop box with margin, pixels (may leave image)
    image_size_wh: tuple[int, int]
    t_ns: int
    index: int
    segmentation: np.ndarray | None = None  # (H, W) float32 in [0, 1], person probability
    # Which person this is (the tracker's id): another id is another person, whose meshes
    # start over (network window, body fit, smoothing) instead of sliding from the last one.
    subject_id: int = 0
    # The localizer swapped MediaPipe's left/right labels back and mirrored its depth (one of
    # its short front/back flips, `stdformer.detect.facing`); `unflip` gives MediaPipe's reading.
    facing_flipped: bool = False

    @property
    def center_xy(self) -> np.ndarray:  # (2,)
        return 0.5 * (self.crop_xyxy[:2] + self.crop_xyxy[2:])


@dataclass(frozen=True)
class BodyParams:
    """Body-model parameters of one frame in smplx conventions, in the camera frame.

    `BodyModel.forward(betas=betas[None], global_orient=global_orient[None], body_pose=...,
    transl=transl[None])` (or `smplx.SMPL(...)(**same)` with the same body file) reproduces the
    frame's vertices in the OpenCV camera frame (x right, y down, z forward, metres): the
    rotation from the body's Y-up rest frame to the camera is part of `global_orient`.
    """

    betas: np.ndarray  # (B,) float32, B = the body's num_betas (10), held per take
    global_orient: np.ndarray  # (3,) float32 axis-angle of the pelvis
    body_pose: np.ndarray  # (69,) float32 axis-angle of joints 1..23, SMPL order
    transl: np.ndarray  # (3,) float32 metres, added after posing (smplx convention)


@dataclass(frozen=True)
class MeshResult:
    """The reconstructed body for one frame, in the camera frame of the input image.

    Camera convention: OpenCV (x right, y down, z forward), metres. `K` maps camera points to
    full-image pixels. `vertices_cam` uses the topology of the loaded body model (faces live on the
    body model, not here, so results stay small).
    """

    vertices_cam: np.ndarray  # (V, 3) float32
    joints_cam: np.ndarray  # (J, 3) float32, body-model joint order
    K: np.ndarray  # (3, 3) float32 intrinsics of the full image
    bbox_xyxy: np.ndarray  # (4,) float32
    t_ns: int
    index: int
    observation: Observation | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    body: BodyParams | None = None  # the posed body that `vertices_cam` shows, when fitted
    # the pose legs out of view were given ("seated" / "standing", `RefineConfig.hidden_legs`),
    # None while the legs are in view or left to the fit
    hidden_legs: str | None = None
