"""The live pipeline: localization always, the body mesh only with real weights on disk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from stdformer.paths import ASSETS, BadFileError, MissingFileError
from stdformer.session.pipeline import LivePipeline, PipelineConfig
from stdformer.session.sources import open_source
from stdformer.types import Frame


def _frames(n: int) -> list:
    with open_source("sample") as src:
        return [f for f, _ in zip(src, range(n), strict=False)]


def test_without_weights_runs_localization_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STDFORMER_WEIGHTS", raising=False)
    monkeypatch.setitem(ASSETS, "weights", replace(ASSETS["weights"], default="absent.pt"))
    with LivePipeline(PipelineConfig()) as pipe:
        assert pipe.predictor is None and "no trained weights" in pipe.mesh_status
        result = pipe.process(_frames(1)[0])
    assert result.observation is not None and result.meshes == ()
    assert result.timings_ms["localize"] > 0


def test_explicit_missing_weights_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"missing\.pt"):
        LivePipeline(PipelineConfig(weights=str(tmp_path / "missing.pt")))


def test_mesh_in_camera_frame_with_weights(landmark_weights: Path) -> None:
    with LivePipeline(PipelineConfig(weights=str(landmark_weights), device="cpu")) as pipe:
        assert pipe.predictor is not None and pipe.faces is not None
        results = [pipe.process(f) for f in _frames(4)]
    assert all(len(r.meshes) == 1 for r in results)
    meshes = [r.meshes[0] for r in results]
    n_vertices = int(pipe.faces.max()) + 1
    for m, r in zip(meshes, results, strict=True):
        assert m.vertices_cam.shape == (n_vertices, 3) and np.isfinite(m.vertices_cam).all()
        assert m.joints_cam.shape == (24, 3)
        assert m.index == r.frame.index and m.observation is r.observation
        assert (m.vertices_cam[:, 2] > 0).all()  # in front of the camera
        assert "mesh" in r.timings_ms


def test_named_body_model_is_checked_even_without_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STDFORMER_WEIGHTS", raising=False)
    monkeypatch.setitem(ASSETS, "weights", replace(ASSETS["weights"], default="absent.pt"))
    broken = tmp_path / "SMPL_NEUTRAL.npz"
    broken.write_bytes(b"not a body model")
    with pytest.raises(BadFileError, match="SMPL_NEUTRAL"):
        LivePipeline(PipelineConfig(body_model=str(broken)))


def test_mesh_levels_file_must_match_the_weights(landmark_weights: Path, tmp_path: Path) -> None:
    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import compute_mesh_levels, mesh_levels_for_body

    body = load_body_model()
    same = tmp_path / "same_levels.npz"
    mesh_levels_for_body(body).save(same)
    cfg = PipelineConfig(weights=str(landmark_weights), mesh_levels=str(same), device="cpu")
    with LivePipeline(cfg) as pipe:
        assert pipe.predictor is not None

    other = tmp_path / "other_levels.npz"  # same body, other level sizes: other topology
    compute_mesh_levels(body.v_template, body.faces, n_coarse=300, n_mid=1200).save(other)
    cfg = PipelineConfig(weights=str(landmark_weights), mesh_levels=str(other), device="cpu")
    with pytest.raises(BadFileError, match="another body topology"):
        LivePipeline(cfg)


def test_damaged_mesh_levels_file_is_a_clear_error(landmark_weights: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "levels.npz"
    damaged.write_bytes(b"PK\x03\x04 truncated")
    cfg = PipelineConfig(weights=str(landmark_weights), mesh_levels=str(damaged), device="cpu")
    with pytest.raises(BadFileError, match="not a readable mesh-levels"):
        LivePipeline(cfg)


class _RecordingLocalizer:
    """Stands in for MediaPipe's localizer (made while the mesh stage loads): records close."""

    made: ClassVar[list[_RecordingLocalizer]] = []

    def __init__(self, config: object) -> None:
        self.closed = False
        _RecordingLocalizer.made.append(self)

    def close(self) -> None:
        self.closed = True


def test_mesh_stage_error_closes_the_detector_made_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stdformer.session import pipeline

    _RecordingLocalizer.made.clear()
    monkeypatch.setattr(pipeline, "PersonLocalizer", _RecordingLocalizer)
    with pytest.raises(MissingFileError, match=r"missing\.pt"):
        LivePipeline(PipelineConfig(weights=str(tmp_path / "missing.pt")))
    assert len(_RecordingLocalizer.made) == 1 and _RecordingLocalizer.made[0].closed


def test_detector_error_is_reported_before_a_mesh_stage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stdformer.session import pipeline

    def broken(config: object) -> None:
        raise BadFileError("pose model unusable")

    monkeypatch.setattr(pipeline, "PersonLocalizer", broken)
    with pytest.raises(BadFileError, match="pose model unusable"):
        LivePipeline(PipelineConfig(weights=str(tmp_path / "missing.pt")))


class _Renamed:
    """MediaPipe on the frames, but the person counts as another one (`subject_id` 1) from
    frame `switch` on: what the tracker reports when the user clicks someone else."""

    def __init__(self, switch: int) -> None:
        from stdformer.detect.localize import PersonLocalizer

        self.inner, self.switch = PersonLocalizer(), switch

    def process(self, frame: Frame):
        obs = self.inner.process(frame)
        return None if obs is None else replace(obs, subject_id=int(frame.index >= self.switch))

    def request_subject_at(self, x_px: float, y_px: float) -> None: ...

    def people_found(self) -> int:
        return self.inner.people_found()

    def reset(self) -> None:
        self.inner.reset()

    def close(self) -> None:
        self.inner.close()


class _Missing(_Renamed):
    """MediaPipe on the frames, but nobody found in the frames `missing`."""

    def __init__(self, missing: set[int]) -> None:
        super().__init__(switch=10**9)
        self.missing = missing

    def process(self, frame: Frame):
        return None if frame.index in self.missing else super().process(frame)


def test_a_short_miss_keeps_the_track_a_longer_one_starts_afresh(landmark_weights: Path) -> None:
    """MediaPipe missing the person for 2 frames (0.08 s at 25 fps, under `max_gap_s`): the
    network's window and body fit go on; for 6 frames (0.24 s): a fresh track."""
    frames = _frames(12)
    cfg = PipelineConfig(weights=str(landmark_weights), device="cpu")
    assert 2 / 25 < cfg.max_gap_s < 6 / 25
    for missing, fill in (({4, 5}, 8), (set(range(4, 10)), 2)):
        with LivePipeline(cfg, detector=_Missing(missing)) as pipe:
            meshed = [m.index for f in frames for m in pipe.process(f).meshes]
            assert len(pipe.predictor.buffer) == fill  # person frames since the track began
        assert meshed == [i for i in range(12) if i not in missing]


def test_another_person_starts_a_fresh_track(landmark_weights: Path) -> None:
    frames = _frames(6)
    cfg = PipelineConfig(weights=str(landmark_weights), device="cpu")
    with LivePipeline(cfg, detector=_Renamed(switch=3)) as pipe:
        switched = [pipe.process(f) for f in frames]
        fill = len(pipe.predictor.buffer)
    with LivePipeline(cfg, detector=_Renamed(switch=0)) as pipe:
        fresh = [pipe.process(f) for f in frames[3:]]
    assert fill == 3  # the window holds the new person's frames only
    for a, b in zip(switched[3:], fresh, strict=True):  # nothing of the first person mixed in
        np.testing.assert_allclose(a.meshes[0].vertices_cam, b.meshes[0].vertices_cam, atol=1e-5)
    assert [m.index for r in switched for m in r.meshes] == [f.index for f in frames]


def test_with_the_networks_look_ahead_every_frame_is_meshed_once_in_order(
    landmark_weights: Path,
) -> None:
    """A network reading 2 frames of the future (`process` reads 3): each mesh comes 2 frames
    later, a person who is replaced by another still gets the meshes of their last frames, and
    the end of the input gives the rest."""
    frames = _frames(7)
    cfg = PipelineConfig(weights=str(landmark_weights), device="cpu", network_lookahead=2)
    with LivePipeline(cfg, detector=_Renamed(switch=4)) as pipe:
        steps = [pipe.process(f) for f in frames]
        owed = pipe.flush()
        again = pipe.flush()
    got = [[m.index for m in r.meshes] for r in steps]
    first, second = [f.index for f in frames[:4]], [f.index for f in frames[4:]]
    # frames 0-3 the first person (meshed on steps 2, 3, and the rest when the switch comes)
    assert got == [[], [], first[:1], first[1:2], first[2:], [], second[:1]]
    assert [m.index for m in owed] == second[1:]
    for m in [*(m for r in steps for m in r.meshes), *owed]:
        assert m.observation is not None and m.observation.index == m.index
    assert again == []  # nothing owed twice
