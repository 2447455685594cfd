"""SessionCore.step: every per-frame decision, synchronous, with a fake clock; commands sent
from any thread apply between two steps."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from stdformer.session.capture import CaptureStatus
from stdformer.session.core import PickSubject, SessionConfig, SessionCore, SetSmoothing
from stdformer.session.pipeline import PipelineConfig
from stdformer.session.session import Session
from stdformer.types import Frame
from tests.session.fakes import FakeLookaheadPipeline, FakePipeline, hand

FRAME_NS = 33_333_333  # 30 fps media time


def frame(index: int, person: bool = True, wall_ns: int = 0) -> Frame:
    image = np.full((24, 32, 3), 200 if person else 0, np.uint8)
    return Frame(image, t_ns=index * FRAME_NS, index=index, wall_ns=wall_ns)


class FakeClock:
    """perf_counter_ns stand-in: advances `step_ns` each time it is read."""

    def __init__(self, step_ns: int) -> None:
        self._ticks = itertools.count(start=1_000_000_000, step=step_ns)

    def __call__(self) -> int:
        return next(self._ticks)


def test_counters_rates_and_latency_come_from_the_step_and_its_clock() -> None:
    core = SessionCore(FakePipeline(), SessionConfig(), clock_ns=FakeClock(40_000_000))
    results = [core.step(frame(i, person=i % 4 != 3)) for i in range(8)]
    last = results[-1].counters
    assert (last.frames_seen, last.frames_with_person, last.frames_with_mesh) == (8, 6, 6)
    assert last.processed_fps == pytest.approx(25.0)  # one step per 40 ms of the fake clock
    assert results[0].counters.processed_fps == 0.0  # no rate from a single step
    capture = CaptureStatus("running", "", "cam", 30.0, 9, 2, 0)
    timed = core.step(frame(8, wall_ns=1_000_000_000), capture)
    assert timed.latency_ms == pytest.approx(8 * 40.0)  # 9th clock reading - frame.wall_ns
    assert (timed.counters.capture_fps, timed.counters.frames_dropped) == (30.0, 2)


def test_subject_lost_holds_fades_and_clears_by_media_time() -> None:
    core = SessionCore(FakePipeline(), SessionConfig(hold_s=0.1, fade_s=0.3))
    got = [core.step(frame(i, person=i < 5 or i >= 35)) for i in range(38)]
    assert [r.subject for r in got[4:6]] == ["tracking", "lost"]
    assert got[5].display_mesh is got[4].display_mesh  # held, then faded
    alphas = [r.display_alpha for r in got[5:35]]
    assert alphas[0] == 1.0 and 0 < min(a for a in alphas if a > 0) < 1
    assert alphas == sorted(alphas, reverse=True)
    assert got[34].subject == "absent" and got[34].display_mesh is None
    assert got[35].subject == "tracking" and got[35].display_mesh.index == 35


def test_commands_apply_before_the_next_step() -> None:
    pipeline = FakePipeline()
    core = SessionCore(pipeline, SessionConfig(smoothing=0.0))
    core.step(frame(0))
    core.send(PickSubject(10.0, 20.0))
    assert pipeline.localizer.picks == []  # queued: nothing changes mid-step
    core.step(frame(1))
    assert pipeline.localizer.picks == [(1, 10.0, 20.0)]  # applied before frame 1
    raw = [hand(core.step(frame(i)).meshes[0]) for i in range(2, 12)]
    core.send(SetSmoothing(0.9))
    smooth = [hand(core.step(frame(i)).meshes[0]) for i in range(12, 30)]
    assert np.ptp(raw) == pytest.approx(0.01 * 11 / 12)  # off: the fake's jitter as it is
    assert np.ptp(smooth[-8:]) < 0.3 * np.ptp(raw)  # on from the next mesh


def test_someone_else_in_view_is_told_from_nobody_and_a_timed_pick_waits_for_its_time() -> None:
    pipeline = FakePipeline()
    core = SessionCore(pipeline, SessionConfig())
    core.send(PickSubject(10.0, 20.0, at_s=5 * FRAME_NS / 1e9))  # 5 frames into the file
    got = []
    for i, brightness in enumerate([200, 200, 100, 100, 0, 200, 200]):
        image = np.full((24, 32, 3), brightness, np.uint8)
        got.append(core.step(Frame(image, t_ns=i * FRAME_NS, index=i, wall_ns=0)))
    assert [r.people_in_view for r in got] == [1, 1, 1, 1, 0, 1, 1]
    assert [r.observation is None for r in got] == [False, False, True, True, True, False, False]
    assert pipeline.localizer.picks == [(5, 10.0, 20.0)]  # applied before frame 5, not before


def test_lookahead_meshes_come_k_frames_late_in_order_and_a_loss_flushes_them() -> None:
    """A loss is a miss longer than `max_gap_s` (0.2 s: the 7th frame at 30 fps); a shorter
    one keeps the track, and the held meshes come on with the next person frames."""
    core = SessionCore(FakePipeline(PipelineConfig(lookahead=2)), SessionConfig())
    got = [core.step(frame(i, person=i < 4)) for i in range(11)]
    assert [[m.index for m in r.meshes] for r in got] == [[], [], [0], [1]] + [[]] * 6 + [[2, 3]]
    assert got[-1].observation is None
    assert core.finish(got[-1]) is None  # nothing owed after the flush
    core = SessionCore(FakePipeline(PipelineConfig(lookahead=2)), SessionConfig())
    got = [core.step(frame(i, person=not 4 <= i < 6)) for i in range(9)]
    assert [[m.index for m in r.meshes] for r in got] == [[], [], [0], [1], [], [], [2], [3], [6]]


def test_the_networks_look_ahead_meshes_every_frame_once_and_shows_it_on_its_own_frame() -> None:
    """`process` lets the network read frames ahead (here 2), then smooths with a lag: every person
    frame still gets exactly one mesh, in order, the views draw each on the frame it was made
    from, and the end of the input gives what the network and the smoother still owe."""
    config = PipelineConfig(network_lookahead=2)
    core = SessionCore(FakeLookaheadPipeline(config), SessionConfig(smoothing_lag_s=0.1))
    got = [core.step(frame(i, person=not 6 <= i < 9)) for i in range(14)]
    got.append(core.finish(got[-1]))
    meshed = [m.index for r in got for m in r.meshes]
    assert meshed == [i for i in range(14) if not 6 <= i < 9]
    assert all(r.display_mesh.index == r.display_frame.index for r in got if r.meshes)
    assert got[-1].display_mesh.index == 13


def test_with_lookahead_views_draw_the_frame_the_mesh_was_made_from() -> None:
    """The mesh is K frames behind the newest frame: the video under it is its own frame, so
    the overlay sits on the person; without a mesh the video stays K frames back (no jumps)."""
    core = SessionCore(FakePipeline(PipelineConfig(lookahead=2)), SessionConfig())
    got = [core.step(frame(i)) for i in range(8)]
    assert [r.display_frame.index for r in got] == [0, 0, 0, 1, 2, 3, 4, 5]
    assert all(r.display_mesh.index == r.display_frame.index for r in got[2:])
    assert all(r.display_observation.index == r.display_frame.index for r in got)
    assert all(r.display_observation.index == r.display_frame.index for r in got)
    assert got[-1].frame.index == 7  # the newest frame is still what the step was given
    dark = [core.step(frame(i, person=False)) for i in range(8, 15)]  # lost after 0.2 s
    assert dark[-1].meshes and dark[-1].display_frame.index == 7  # the held meshes flushed:
    # the newest one's frame
    plain = SessionCore(FakePipeline(), SessionConfig())
    assert all(plain.step(frame(i)).display_frame.index == i for i in range(3))
    off = SessionCore(FakePipeline(PipelineConfig(lookahead=2)), SessionConfig(smoothing=0.0))
    assert all(off.step(frame(i)).display_frame.index == i for i in range(3))  # nothing held


def test_one_frame_of_lookahead_steadies_the_mesh() -> None:
    """The smoother spends the look-ahead on a backward pass (zero phase): the fake's 1 cm
    frame-to-frame jitter mostly goes at the same strength."""

    def jitter(lookahead: int) -> float:
        core = SessionCore(FakePipeline(PipelineConfig(lookahead=lookahead)), SessionConfig())
        xs = [hand(m) for i in range(40) for m in core.step(frame(i)).meshes]
        return float(np.ptp(xs[10:30]))

    assert jitter(1) < 0.5 * jitter(0)


def test_bad_commands_are_refused_in_the_senders_thread() -> None:
    with pytest.raises(ValueError):
        SetSmoothing(1.5)
    core = SessionCore(FakePipeline(), SessionConfig())
    with pytest.raises(TypeError, match="not a session command"):
        core.send("smoothing=0.5")  # type: ignore[arg-type]


def test_a_pick_sent_to_a_session_reaches_its_localizer(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((24, 32, 3), 200, np.uint8))
    pipelines: list[FakePipeline] = []

    def factory(config) -> FakePipeline:
        pipelines.append(FakePipeline(config))
        return pipelines[-1]

    config = SessionConfig(source=str(folder), loop=False, batch=True)
    session = Session(config, pipeline_factory=factory)
    session.send(PickSubject(5.0, 6.0))  # before the models are loaded: kept for the first step
    session.run()
    assert session.error is None and pipelines[0].localizer.picks == [(0, 5.0, 6.0)]
