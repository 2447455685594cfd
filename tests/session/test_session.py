"""The live session: one loop, one immutable result per frame, to every subscriber; slow or
failing subscribers never stop capture; the subject coming and going leaves nothing stale."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from stdformer.session.core import SessionConfig, SessionCore, SessionResult
from stdformer.session.pipeline import PipelineConfig
from stdformer.session.session import Session, SessionEvent
from stdformer.session.sources import open_source
from tests.session.fakes import FACES, FakePipeline, hand


def _clip(tmp_path: Path, brightness: list[int]) -> Path:
    """An image folder, one 32x24 frame per entry, uniformly at that grey level (30 fps)."""
    folder = tmp_path / "clip"
    folder.mkdir(parents=True)
    for i, value in enumerate(brightness):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), np.full((24, 32, 3), value, np.uint8))
    return folder


def _session(folder: Path, events: list[SessionEvent] | None = None, **kw) -> Session:
    config = SessionConfig(source=str(folder), loop=False, batch=True, **kw)
    on_event = None if events is None else events.append
    return Session(config, on_event=on_event, pipeline_factory=FakePipeline)


def test_every_subscriber_gets_every_result_in_order(tmp_path: Path) -> None:
    events: list[SessionEvent] = []
    session = _session(_clip(tmp_path, [200] * 10), events)
    got_a: list[SessionResult] = []
    got_b: list[SessionResult] = []
    closed = threading.Event()
    session.subscribe(got_a.append, name="a", every_frame=True, on_close=closed.set)
    session.subscribe(got_b.append, name="b", every_frame=True)
    session.run()
    assert closed.is_set()  # on_close ran after the last result
    assert [r.frame.index for r in got_a] == list(range(10))
    assert [id(r) for r in got_a] == [id(r) for r in got_b]  # one shared result per frame
    last = got_a[-1]
    assert last.counters.frames_seen == 10 and last.counters.frames_with_mesh == 10
    assert last.faces is not None and last.faces.shape == FACES.shape
    assert last.display_mesh is last.meshes[-1] and last.display_alpha == 1.0
    assert last.subject == "tracking" and last.timings_ms["mesh"] == 2.0
    assert [e.kind for e in events if e.kind != "capture"] == ["loading", "ready", "ended"]
    assert session.error is None and session.ended


def test_results_are_immutable(tmp_path: Path) -> None:
    session = _session(_clip(tmp_path, [200] * 2))
    got: list[SessionResult] = []
    session.subscribe(got.append, name="a", every_frame=True)
    session.run()
    result = got[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.display_alpha = 0.0  # type: ignore[misc]
    for array in (result.frame.image_bgr, result.faces, result.meshes[0].vertices_cam):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    with pytest.raises(TypeError):
        result.timings_ms["mesh"] = 0.0  # type: ignore[index]


def test_failing_subscriber_is_reported_and_the_loop_goes_on(tmp_path: Path) -> None:
    events: list[SessionEvent] = []
    session = _session(_clip(tmp_path, [200] * 8), events)

    def broken(result: SessionResult) -> None:
        if result.frame.index == 2:
            raise ValueError("disk full (test)")

    bad = session.subscribe(broken, name="recorder", every_frame=True)
    good: list[int] = []
    session.subscribe(lambda r: good.append(r.frame.index), name="view", every_frame=True)
    session.run()
    assert good == list(range(8))  # capture and the other subscriber were not affected
    assert bad.error is not None and "disk full" in bad.error and not bad.active
    failures = [e.message for e in events if e.kind == "subscriber_failed"]
    assert len(failures) == 1 and failures[0].startswith("recorder failed: ValueError")
    assert session.error is None  # the session itself did not fail


def test_slow_subscriber_does_not_block_capture(tmp_path: Path) -> None:
    session = _session(_clip(tmp_path, [200] * 30))
    release = threading.Event()
    seen: list[int] = []

    def stuck(result: SessionResult) -> None:
        seen.append(result.frame.index)
        release.wait(10)

    fast: list[int] = []
    slow_sub = session.subscribe(stuck, name="slow view")  # keep-latest
    session.subscribe(lambda r: fast.append(r.frame.index), name="fast", every_frame=True)
    runner = threading.Thread(target=session.run)
    runner.start()
    while session.stats.frames_seen < 30 and runner.is_alive():
        time.sleep(0.01)
    # Every frame was processed while the view was still stuck in its first result.
    assert session.stats.frames_seen == 30 and len(seen) <= 1
    release.set()
    runner.join(10)
    assert fast == list(range(30))
    assert len(seen) <= 2 and seen[-1] == 29  # then the newest result, not a backlog
    assert slow_sub.dropped == 30 - len(seen)


def test_bounded_queue_drops_for_a_stuck_recorder(tmp_path: Path) -> None:
    session = _session(_clip(tmp_path, [200] * 12))
    release = threading.Event()
    got: list[int] = []

    def stuck(result: SessionResult) -> None:
        release.wait(5)
        got.append(result.frame.index)

    sub = session.subscribe(stuck, name="stuck", every_frame=True, queue_size=4)
    done = threading.Thread(target=session.run)
    done.start()
    while session.stats.frames_seen < 12 and done.is_alive():
        time.sleep(0.01)
    release.set()
    done.join(10)
    assert not done.is_alive()
    assert sub.dropped > 0 and len(got) + sub.dropped == 12
    assert got == sorted(got)  # what it got is in order


def test_subject_lost_fades_then_clears_and_comes_back(tmp_path: Path) -> None:
    # 30 fps: 5 frames with a person, 30 frames (1 s) without, then 3 with a person again.
    session = _session(_clip(tmp_path, [200] * 5 + [0] * 30 + [200] * 3), hold_s=0.1, fade_s=0.3)
    got: list[SessionResult] = []
    session.subscribe(got.append, name="view", every_frame=True)
    session.run()
    alphas = [r.display_alpha for r in got]
    assert alphas[:5] == [1.0] * 5
    lost = got[5:35]
    assert lost[0].subject == "lost" and lost[0].display_mesh is got[4].display_mesh
    fading = [r.display_alpha for r in lost if r.display_mesh is not None]
    assert 0 < min(fading) < 1.0 and fading == sorted(fading, reverse=True)  # fades out
    assert all(r.display_mesh is None and r.display_alpha == 0.0 for r in lost[15:])
    assert lost[-1].subject == "absent"
    back = got[35]
    assert back.subject == "tracking" and back.display_mesh.index == 35 and alphas[35] == 1.0


def test_pipeline_failure_is_an_event_and_an_error(tmp_path: Path) -> None:
    def broken(config: PipelineConfig):
        raise FileNotFoundError("weights.pt not found (test)")

    events: list[SessionEvent] = []
    session = Session(
        SessionConfig(source=str(_clip(tmp_path, [200]))), on_event=events.append,
        pipeline_factory=broken,
    )  # fmt: skip
    closed = threading.Event()
    session.subscribe(lambda r: None, name="view", on_close=closed.set)
    session.start()
    assert session.join(10)
    assert session.error == "weights.pt not found (test)"
    assert events[-1] == SessionEvent("failed", "weights.pt not found (test)")
    assert closed.is_set()  # subscribers are closed however the session ends


def test_bad_source_fails_with_its_name(tmp_path: Path) -> None:
    session = _session(tmp_path / "nope.mp4")
    session.run()
    assert session.error is not None and "nope.mp4" in session.error


def test_stop_ends_a_looping_source(tmp_path: Path) -> None:
    config = SessionConfig(source=str(_clip(tmp_path, [200] * 3)), loop=True)
    session = Session(config, pipeline_factory=FakePipeline).start()
    while session.stats.frames_seen < 5:
        time.sleep(0.01)
    session.stop()
    assert session.join(5) and session.error is None and not session.ended


def test_smoothing_reduces_jitter_of_the_mesh(tmp_path: Path) -> None:
    results = {}
    for strength in (0.0, 0.8):
        session = _session(_clip(tmp_path / str(strength), [200] * 20), smoothing=strength)
        got: list[SessionResult] = []
        session.subscribe(got.append, name="a", every_frame=True)
        session.run()
        results[strength] = got
    raw_x = np.array([r.display_mesh.vertices_cam[0, 0] for r in results[0.0]])
    assert np.allclose(raw_x, 0.01 * (np.arange(20) % 2))  # off: the network output as it is
    raw, smooth = (np.array([hand(r.display_mesh) for r in results[s]]) for s in (0.0, 0.8))
    jitter_raw, jitter_smooth = np.abs(np.diff(raw[10:])).max(), np.abs(np.diff(smooth[10:])).max()
    assert jitter_smooth < 0.2 * jitter_raw  # frame-to-frame jitter mostly gone
    assert raw.min() < smooth[10:].min() and smooth[10:].max() < raw.max()  # between, settling


@pytest.mark.slow
def test_real_session_on_the_sample_clip_with_weights(landmark_weights: Path) -> None:
    config = SessionConfig(
        source="sample",
        loop=False,
        batch=True,
        pipeline=PipelineConfig(weights=str(landmark_weights), device="cpu"),
    )
    session = Session(config)
    got: list[SessionResult] = []
    sub = session.subscribe(got.append, name="collect", every_frame=True, queue_size=1000)
    session.start()
    while session.stats.frames_seen < 12 and session.running:
        time.sleep(0.05)
    session.stop()
    assert session.join(30) and session.error is None and sub.error is None
    assert session.device == "cpu" and "body mesh" in session.mesh_status
    with_mesh = [r for r in got if r.meshes]
    assert with_mesh, "no mesh in 12 frames of the sample clip"
    r = with_mesh[-1]
    assert r.display_mesh.vertices_cam.shape == (int(r.faces.max()) + 1, 3)
    assert r.buffer_size > 0 and 1 <= r.buffer_fill <= r.buffer_size
    summary = session.stats.summary()
    assert summary["frames_with_mesh"] == len(with_mesh)
    assert summary["median_ms"]["localize"] > 0 and summary["median_ms"]["mesh"] > 0


def test_a_pacing_view_sees_every_processed_frame_and_capture_drops_the_rest(
    tmp_path: Path,
) -> None:
    """A view slower than the source paces the loop: nothing is processed that the view does
    not take (frames are dropped at capture instead); with a recorder attached the loop
    processes what it can for the recording."""
    folder = _clip(tmp_path, [200] * 20)

    def slow(result: SessionResult) -> None:
        time.sleep(0.08)  # slower than the 30 fps source

    session = Session(SessionConfig(source=str(folder), loop=False), pipeline_factory=FakePipeline)
    view = session.subscribe(slow, name="view", paces=True)
    session.run()
    assert view.error is None and view.dropped == 0
    assert view.delivered == session.stats.frames_seen < 20
    assert session.stats.dropped > 0  # dropped at capture, where it costs nothing

    session = Session(SessionConfig(source=str(folder), loop=False), pipeline_factory=FakePipeline)
    session.subscribe(slow, name="view", paces=True)
    recorded: list[SessionResult] = []
    session.subscribe(recorded.append, name="recorder", every_frame=True)
    session.run()
    assert len(recorded) == session.stats.frames_seen


def test_a_smoothing_lag_loses_no_mesh_at_a_gap_or_at_the_end(tmp_path: Path) -> None:
    """Zero-phase smoothing holds meshes back; the subject leaving and the file ending hand
    every held mesh out (what `process` records), each once, in order."""
    bright = [200] * 12 + [0] * 3 + [200] * 10  # a person, nobody, the person again
    session = _session(_clip(tmp_path, bright), smoothing=0.5, smoothing_lag_s=0.2)
    got: list[SessionResult] = []
    session.subscribe(got.append, name="a", every_frame=True)
    session.run()
    indices = [m.index for r in got for m in r.meshes]
    assert indices == [i for i, b in enumerate(bright) if b > 50]
    assert not any(r.meshes for r in got[:6])  # 0.2 s at 30 fps: the first mesh comes later


class _OverlapProbe(FakePipeline):
    """Records, for each frame's mesh, whether the next frame's localization had begun."""

    def __init__(self, config=None, wait_s: float = 1.0) -> None:
        super().__init__(config)
        self.wait_s = wait_s
        self.started: dict[int, threading.Event] = {}
        self.overlapped: dict[int, bool] = {}

    def localize(self, frame):
        self.started.setdefault(frame.index, threading.Event()).set()
        return super().localize(frame)

    def mesh(self, frame, obs):
        nxt = self.started.setdefault(frame.index + 1, threading.Event())
        self.overlapped[frame.index] = nxt.wait(self.wait_s)  # serial: never (times out)
        return super().mesh(frame, obs)


@pytest.mark.parametrize("overlap", [True, False])
def test_the_next_frame_is_localized_while_this_one_completes(
    tmp_path: Path, overlap: bool
) -> None:
    probes: list[_OverlapProbe] = []

    def factory(config) -> _OverlapProbe:
        probes.append(_OverlapProbe(config, wait_s=2.0 if overlap else 0.05))
        return probes[-1]

    clip = _clip(tmp_path, [200] * 6)
    config = SessionConfig(source=str(clip), loop=False, batch=True, overlap=overlap,
                           smoothing=0.5)  # fmt: skip
    session = Session(config, pipeline_factory=factory)
    got: list[SessionResult] = []
    session.subscribe(got.append, name="a", every_frame=True)
    session.run()
    assert session.error is None and session.ended
    overlapped = [probes[0].overlapped[i] for i in range(5)]  # the last frame has no next
    assert overlapped == [overlap] * 5
    # Either way the same results: every frame once, in order, the same smoothed meshes.
    assert [r.frame.index for r in got] == list(range(6))
    core = SessionCore(FakePipeline(), config)  # the synchronous step, one frame at a time
    with open_source(str(clip)) as source:
        expected = [core.step(f).meshes[0].vertices_cam[0, 0] for f in source]
    np.testing.assert_allclose([r.meshes[0].vertices_cam[0, 0] for r in got], expected)


def test_overlap_by_default_from_two_cpus(monkeypatch) -> None:
    import os

    from stdformer.session import session as session_module

    for cpus, batch, expected in [(1, True, False), (1, False, False), (2, True, True),
                                  (2, False, True), (4, False, True)]:  # fmt: skip
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, n=cpus: set(range(n)))
        assert session_module.overlap_enabled(SessionConfig(batch=batch)) is expected
    assert session_module.overlap_enabled(SessionConfig(overlap=False, batch=True)) is False
