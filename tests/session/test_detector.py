"""The session depends on the `PoseDetector` protocol, not on MediaPipe: any detector that keeps
the 33-landmark contract drives `SessionCore` to a body mesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stdformer.body.body_model import load_body_model
from stdformer.body.regressors import landmark_regressor
from stdformer.detect.detector import PoseDetector
from stdformer.detect.localize import PersonLocalizer
from stdformer.detect.pose_topology import (
    FLIP_PERMUTATION,
    N_POSE_LANDMARKS,
    POSE_HIPS,
    POSE_LANDMARK_NAMES,
    POSE_SHOULDERS,
)
from stdformer.session.core import PickSubject, SessionConfig, SessionCore
from stdformer.session.pipeline import LivePipeline, PipelineConfig
from stdformer.types import Frame, Observation

W, H, F = 640, 480, 600.0


class StandingBodyDetector:
    """Not MediaPipe: "sees" the default body standing 3 m in front of the camera in bright
    frames (its 33 landmarks from the body's landmark regressor), nobody in dark frames."""

    def __init__(self) -> None:
        body = load_body_model()
        lm = landmark_regressor(body).numpy() @ body.v_template  # (33, 3) Y-up, metres
        self.lm_cam = (lm * [1.0, -1.0, -1.0] + [0.0, 0.0, 3.0]).astype(np.float32)  # OpenCV
        self.picks: list[tuple[float, float]] = []
        self.resets = 0
        self.closed = False
        self.found = False

    def process(self, frame: Frame) -> Observation | None:
        self.found = frame.image_bgr.mean() >= 50
        if not self.found:
            return None
        uv = self.lm_cam[:, :2] / self.lm_cam[:, 2:] * F + [W / 2, H / 2]  # (33, 2)
        box = np.array([*uv.min(0), *uv.max(0)], np.float32)
        side = 1.2 * float(max(box[2] - box[0], box[3] - box[1]))
        centre = 0.5 * (box[:2] + box[2:])
        return Observation(
            landmarks_px=np.concatenate([uv, np.zeros((33, 1))], 1).astype(np.float32),
            visibility=np.full(33, 0.95, np.float32),
            presence=np.full(33, 0.95, np.float32),
            world_landmarks=self.lm_cam - self.lm_cam[list(POSE_HIPS)].mean(0),
            bbox_xyxy=box,
            crop_xyxy=np.array([*(centre - side / 2), *(centre + side / 2)], np.float32),
            image_size_wh=(W, H),
            t_ns=frame.t_ns,
            index=frame.index,
        )

    def request_subject_at(self, x_px: float, y_px: float) -> None:
        self.picks.append((x_px, y_px))

    def people_found(self) -> int:
        return int(self.found)

    def reset(self) -> None:
        self.resets += 1

    def close(self) -> None:
        self.closed = True


def test_the_33_landmark_contract_is_named_once() -> None:
    assert N_POSE_LANDMARKS == len(POSE_LANDMARK_NAMES) == len(FLIP_PERMUTATION) == 33
    names = [POSE_LANDMARK_NAMES[i] for i in (*POSE_SHOULDERS, *POSE_HIPS)]
    assert names == ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
    left_hip, right_hip = POSE_HIPS
    assert FLIP_PERMUTATION[left_hip] == right_hip and FLIP_PERMUTATION[right_hip] == left_hip
    assert issubclass(PersonLocalizer, PoseDetector)  # MediaPipe is one implementation


def test_a_detector_other_than_mediapipe_drives_the_session(landmark_weights: Path) -> None:
    detector = StandingBodyDetector()
    assert isinstance(detector, PoseDetector)
    config = PipelineConfig(weights=str(landmark_weights), device="cpu")
    pipeline = LivePipeline(config, detector=detector)
    assert pipeline.localizer is detector
    core = SessionCore(pipeline, SessionConfig(smoothing=0.0))
    core.send(PickSubject(320.0, 200.0))
    results = []
    for i in range(5):
        image = np.full((H, W, 3), 0 if i == 4 else 200, np.uint8)
        results.append(core.step(Frame(image, t_ns=i * 33_333_333, index=i)))
    assert detector.picks == [(320.0, 200.0)]  # the command reached the detector
    for r in results[:4]:  # the detector's person became the session's body mesh
        assert r.subject == "tracking" and r.observation is not None
        assert r.display_mesh is not None and r.display_mesh.observation is r.observation
        assert (r.display_mesh.vertices_cam[:, 2] > 0).all()  # in front of the camera
    assert results[4].observation is None and results[4].subject == "lost"
    pipeline.reset()
    pipeline.close()
    assert detector.resets == 1 and detector.closed
