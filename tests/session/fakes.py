"""Stand-ins for the live pipeline in session tests: fast, deterministic, no models."""

from __future__ import annotations

import numpy as np

from stdformer.session.pipeline import Localized, PipelineConfig
from stdformer.types import Frame, MeshResult, Observation

# (12, 3) a body-sized fan of points 3 m away; vertex 0 (a hand) jitters, the others stay still
BODY = np.concatenate([np.zeros((1, 3)), np.random.default_rng(0).uniform(-0.4, 0.4, (11, 3))])
BODY[:, 2] += 3.0
FACES = np.array([[0, i, i + 1] for i in range(1, 11)], np.int64)  # (F, 3) a fan over them


def hand(mesh: MeshResult) -> float:
    """x of the fake's jittering vertex about the body's centre: what smoothing steadies (the
    centre's place across the image is never smoothed)."""
    return float(mesh.vertices_cam[0, 0] - mesh.vertices_cam[:, 0].mean())


def _observation(frame: Frame) -> Observation:
    w, h = frame.size_wh
    return Observation(
        landmarks_px=np.zeros((33, 3), np.float32),
        visibility=np.ones(33, np.float32),
        presence=np.ones(33, np.float32),
        world_landmarks=np.zeros((33, 3), np.float32),
        bbox_xyxy=np.array([0, 0, w, h], np.float32),
        crop_xyxy=np.array([0, 0, w, h], np.float32),
        image_size_wh=(w, h),
        t_ns=frame.t_ns,
        index=frame.index,
    )


class FakeLocalizer:
    """Records the frames it saw and the picks it was asked for, as (frame count, x, y)."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.picks: list[tuple[int, float, float]] = []

    def request_subject_at(self, x_px: float, y_px: float) -> None:
        self.picks.append((len(self.frames), x_px, y_px))

    def people_found(self) -> int:
        return 0


class FakePipeline:
    """Stands in for LivePipeline: a person in bright frames (someone else in dim ones, nobody in
    dark ones), a 12-vertex "mesh" per person frame
    whose vertex 0 jitters by 1 cm along x from frame to frame. Fast and deterministic."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self.predictor = None
        self.faces = FACES
        self.display_lod = None
        self.mesh_status = "fake mesh"
        self.localizer = FakeLocalizer()
        self.closed = False

    def localize(self, frame: Frame) -> Localized:
        self.localizer.frames.append(frame.index)
        if frame.image_bgr.mean() < 50:  # a dark frame: nobody in view
            return Localized(None, 0, {"localize": 1.0})
        if frame.image_bgr.mean() < 150:  # a dim frame: someone in view, not the subject
            return Localized(None, 1, {"localize": 1.0})
        return Localized(_observation(frame), 1, {"localize": 1.0})

    def mesh(
        self, frame: Frame, obs: Observation | None
    ) -> tuple[list[MeshResult], dict[str, float]]:
        if obs is None:
            return [], {}
        verts = BODY.astype(np.float32)
        verts[0, 0] = 0.01 * (frame.index % 2)
        mesh = MeshResult(
            vertices_cam=verts,
            joints_cam=verts[:1].copy(),
            K=np.eye(3, dtype=np.float32),
            bbox_xyxy=obs.bbox_xyxy.copy(),
            t_ns=frame.t_ns,
            index=frame.index,
            observation=obs,
        )
        return [mesh], {"mesh": 2.0}

    def flush(self) -> list[MeshResult]:
        return []

    def close(self) -> None:
        self.closed = True


class FakeLookaheadPipeline(FakePipeline):
    """FakePipeline whose "network" reads `config.network_lookahead` frames ahead: a mesh comes
    that many person frames later; a lost person's and the input's last ones on a flush."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        super().__init__(config)
        self._owed: list[MeshResult] = []

    def mesh(
        self, frame: Frame, obs: Observation | None
    ) -> tuple[list[MeshResult], dict[str, float]]:
        made, timings = super().mesh(frame, obs)
        if obs is None:
            return self.flush(), timings
        self._owed += made
        k = self.config.network_lookahead
        done, self._owed = self._owed[: max(len(self._owed) - k, 0)], self._owed[-k:] if k else []
        return done, timings

    def flush(self) -> list[MeshResult]:
        done, self._owed = self._owed, []
        return done
