"""What the live 3D view frames and how it stands: gravity-aligned floor, framing of the visible
part of the body (a head-and-shoulders view fills the panel), user orbit/zoom/pan on top, and the
same framing as playback and video export."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from stdformer.recording import RecordingInfo, RecordingWriter, open_recording
from stdformer.recording.export_video import take_view
from stdformer.render.geometry import yup_from_opencv
from stdformer.render.views import LiveViews, ViewControl, rotation_to_up
from stdformer.session.core import SessionCounters, SessionResult
from stdformer.types import Frame, MeshResult
from tests.recording.synthetic import frame_record

W, H, F = 640, 480, 640.0
AWAY = np.float32([0, 0, 3])  # 3 m in front of the camera
K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]], np.float32)


def column_body(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A 1.8 m "body" in OpenCV axes (y down), pelvis at the origin: vertices (n, 3), joints
    (24, 3) with the pelvis (0) at y = 0 and the neck (12) 0.5 m above it."""
    y = np.linspace(-0.9, 0.9, n)  # head at -0.9, feet at +0.9
    verts = np.stack([0.15 * np.sin(7 * y), y, 0.1 * np.cos(5 * y)], axis=1).astype(np.float32)
    joints = np.zeros((24, 3), np.float32)
    joints[12] = (0.0, -0.5, 0.0)
    return verts, joints


def result_for(verts: np.ndarray, joints: np.ndarray, index: int = 0) -> SessionResult:
    frame = Frame(np.zeros((H, W, 3), np.uint8), t_ns=index * 33_000_000, index=index)
    mesh = MeshResult(verts, joints, K, np.zeros(4, np.float32), frame.t_ns, index)
    counters = SessionCounters(1, 1, 1, 0, 30.0, 30.0)
    faces = np.array([[0, 1, 2]], np.int64)
    return SessionResult(
        frame, None, (mesh,), mesh, 1.0, "tracking", faces, MappingProxyType({}), 1.0, counters,
        1, 1,
    )  # fmt: skip


def frame_only(views: LiveViews, result: SessionResult) -> None:
    """Update the framing from `result` without drawing (no GL context needed)."""
    views.render(result, ViewControl(), (480, 480), overlay=False, view=False)


def pitch(points: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the camera x axis: what a camera tilted down sees."""
    a = math.radians(degrees)
    r = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    return (points @ r.T).astype(np.float32)


def test_rotation_to_up_turns_a_vector_onto_y() -> None:
    for v in ([0.2, 1.0, 0.3], [0.0, 1.0, 0.0], [1.0, 0.1, -0.5]):
        u = np.asarray(v) / np.linalg.norm(v)
        r = rotation_to_up(u)
        assert r @ u == pytest.approx([0.0, 1.0, 0.0], abs=1e-9)
        assert np.linalg.det(r) == pytest.approx(1.0)


def test_floor_is_gravity_aligned_under_a_tilted_camera() -> None:
    verts, joints = column_body()
    views = LiveViews(renderer=None)  # geometry only: no GL needed
    for i in range(40):  # the up estimate settles over frames
        pts, _, _ = views.world_points(
            result_for(pitch(verts, 25) + AWAY, pitch(joints, 25) + AWAY, i)
        )
    head, feet = pts[0], pts[-1]
    # The body stands straight up in the view although the camera looked down 25 degrees.
    assert head[1] - feet[1] == pytest.approx(1.8, abs=0.02)
    assert abs(head[2] - feet[2]) < 0.05 and abs(head[0] - feet[0]) < 0.3


def test_a_held_lean_is_shown_while_the_cameras_pitch_is_taken_out() -> None:
    """Under a camera looking down 25 deg the person stands 2 s (upright in the view), then
    leans 30 deg toward the camera's up for 1 s (their trunk 5 deg off the camera's vertical):
    the view shows most of the lean (it followed each frame's trunk before and showed the
    person upright again within half a second)."""
    verts, joints = column_body()
    views = LiveViews(renderer=None)

    def lean_in_view(lean_deg: float, i: int) -> float:
        v, j = pitch(pitch(verts, lean_deg), 25) + AWAY, pitch(pitch(joints, lean_deg), 25) + AWAY
        pts, _, _ = views.world_points(result_for(v, j, i))
        axis = pts[0] - pts[-1]  # feet to head
        return math.degrees(math.atan2(math.hypot(axis[0], axis[2]), axis[1]))

    upright = [lean_in_view(0.0, i) for i in range(60)]
    assert upright[-1] < 1.0  # the camera's pitch is taken out
    leaning = [lean_in_view(-30.0, i) for i in range(60, 90)]
    assert leaning[0] > 28.0 and leaning[-1] > 20.0  # the held lean still shows after 1 s


def test_head_and_shoulders_view_is_framed_closer_than_a_full_body() -> None:
    verts, joints = column_body()
    full = LiveViews(renderer=None)
    frame_only(full, result_for(verts + AWAY, joints + AWAY))
    close = LiveViews(renderer=None)
    # Close to the camera and low in the image: only the head and shoulders are inside.
    near = verts + np.float32([0, 0.55, 0.9])
    v = near[:, 1] / near[:, 2] * F + H / 2  # (n,) image rows
    visible = (v >= 0) & (v < H)
    assert 20 < visible.sum() < len(near) / 2
    shift = np.float32([0, 0.55, 0.9])
    frame_only(close, result_for(near, joints + shift))
    d_full = full.camera(ViewControl(), (480, 480)).distance_m
    d_close = close.camera(ViewControl(), (480, 480)).distance_m
    assert d_close < 0.6 * d_full  # the visible upper body fills the panel
    assert close.camera(ViewControl(), (480, 480)).target[1] > 0.3  # aimed at the head end


def test_user_changes_apply_on_top_of_the_framing_and_reset() -> None:
    verts, joints = column_body()
    views = LiveViews(renderer=None)
    frame_only(views, result_for(verts + AWAY, joints + AWAY))
    base = views.camera(ViewControl(), (480, 480))
    control = ViewControl().orbit(90, 0).zoomed(0.5).panned(0.1, 0.0)
    moved = views.camera(control, (480, 480))
    assert moved.distance_m == pytest.approx(0.5 * base.distance_m)
    assert moved.azimuth_deg == pytest.approx(90.0)
    assert moved.target != base.target  # panned
    assert views.camera(ViewControl(), (480, 480)) == base  # reset: the automatic framing


def test_each_result_draws_its_own_mesh_when_results_are_dropped() -> None:
    """A headless loop that keeps no result: Python reuses a freed result's memory (and id) for
    the next one, and the views must still draw the new frame's mesh, never the previous one."""
    verts, joints = column_body()
    template = result_for(verts + AWAY, joints + AWAY)
    meshes = [  # every frame a different mesh, 1 mm further right
        dataclasses.replace(template.display_mesh, vertices_cam=verts + AWAY + (0.001 * i, 0, 0))
        for i in range(50)
    ]
    views = LiveViews(renderer=None)
    stale = []
    for i, mesh in enumerate(meshes):
        result = dataclasses.replace(template, display_mesh=mesh, meshes=(mesh,))
        shown = views.shown_mesh(result)
        if shown is None or not np.array_equal(shown[0], mesh.vertices_cam):
            stale.append(i)
        del result  # nothing keeps the result, as in a loop that drops what it does not show
    assert stale == []


def test_live_view_playback_and_export_frame_the_same_mesh_identically(tmp_path: Path) -> None:
    """One framing function: a take's mesh in playback / video export looks as it did live."""
    verts, joints = column_body()  # upright: the live view turns nothing
    verts, joints = verts + AWAY, joints + AWAY  # all of it inside the image
    views = LiveViews(renderer=None)
    frame_only(views, result_for(verts, joints))
    info = RecordingInfo(fps=30.0, source="test", image_size_wh=(W, H))
    with RecordingWriter.create(tmp_path, info, np.array([[0, 1, 2]]), len(verts)) as writer:
        writer.write(frame_record(0, verts, joints))
    for size in ((480, 480), (640, 360)):
        live = views.camera(ViewControl(), size)
        taken, floor = take_view(open_recording(writer.path), np.array([0]), size)
        # Live, the pelvis is the origin of the view's world; a take keeps the camera's origin.
        pelvis = yup_from_opencv(joints)[0]
        assert np.asarray(taken.target) - pelvis == pytest.approx(live.target, abs=1e-5)
        assert taken.distance_m == pytest.approx(live.distance_m, rel=1e-5)
        assert (taken.azimuth_deg, taken.elevation_deg) == (live.azimuth_deg, live.elevation_deg)
        assert taken.yfov_deg == live.yfov_deg
        assert floor - pelvis[1] == pytest.approx(-0.9, abs=1e-5)  # the grid under the feet


class CountingRenderer:
    """Stands in for the GL renderer: records each draw, returns a new image per draw."""

    def __init__(self) -> None:
        self.draws: list[str] = []

    def render_view_rgb(self, camera, size_wh, **_: object) -> np.ndarray:
        self.draws.append("view")
        return np.full((size_wh[1], size_wh[0], 3), len(self.draws), np.uint8)

    def render_overlay_rgba(self, vertices_cam, faces, K, size_wh) -> np.ndarray:
        self.draws.append("overlay")
        return np.full((size_wh[1], size_wh[0], 4), len(self.draws), np.uint8)


def test_views_draw_again_only_when_what_they_show_changes() -> None:
    """Unchanged inputs reuse the last image; a new mesh, camera, size or opacity redraws."""
    verts, joints = column_body()
    gpu = CountingRenderer()
    views = LiveViews(renderer=gpu, smoothing=1.0)  # framing follows each frame at once
    first = result_for(verts + AWAY, joints + AWAY)
    a = views.render(first, ViewControl(), (320, 240))
    assert gpu.draws == ["view", "overlay"]
    # The same mesh in the next frame's result (a held mesh): nothing is drawn again.
    held = dataclasses.replace(first, frame=dataclasses.replace(first.frame, index=1))
    b = views.render(held, ViewControl(), (320, 240))
    assert len(gpu.draws) == 2
    assert b.view_rgb is a.view_rgb and b.overlay_rgba is a.overlay_rgba
    assert not a.view_rgb.flags.writeable  # a reused image cannot be changed by a caller

    moved = result_for(verts + AWAY + np.float32([0.01, 0, 0]), joints + AWAY, index=2)
    views.render(moved, ViewControl(), (320, 240))  # the body moved 1 cm: both drawn
    assert gpu.draws[2:] == ["view", "overlay"]
    views.render(moved, ViewControl().orbit(10, 0), (320, 240), overlay=False)  # camera
    views.render(moved, ViewControl().orbit(10, 0), (400, 240), overlay=False)  # panel size
    fading = dataclasses.replace(moved, display_alpha=0.5)
    views.render(fading, ViewControl().orbit(10, 0), (400, 240))  # opacity: view only
    assert gpu.draws[4:] == ["view", "view", "view"]


def test_empty_view_is_drawn_once_while_nobody_is_in_view() -> None:
    gpu = CountingRenderer()
    views = LiveViews(renderer=gpu)
    images = [views.render(None, ViewControl(), (320, 240)).view_rgb for _ in range(5)]
    assert gpu.draws == ["view"] and all(im is images[0] for im in images)
    views.render(None, ViewControl().zoomed(0.9), (320, 240))  # the user zooms: drawn
    assert gpu.draws == ["view", "view"]
