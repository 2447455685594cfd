"""Every exporter's output re-imported with an independent reader, with the right counts."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from stdformer.recording import RecordingError, RecordingInfo, RecordingWriter, open_recording
from stdformer.recording.convert import encode_jpeg
from stdformer.recording.export import export_recording
from stdformer.recording.export_glb import CHUNK_TARGETS
from stdformer.recording.export_mesh import frame_slots
from tests.recording.synthetic import (
    SPHERE_FACES,
    SPHERE_VERTICES,
    synthetic_record,
    write_synthetic,
)

REPO = Path(__file__).resolve().parents[2]
YUP = np.array([1.0, -1.0, -1.0], np.float32)


def _mesh_frames(path: Path) -> list[int]:
    return [f.index for f in open_recording(path).frames(mesh_only=True)]


@pytest.mark.parametrize("fmt", ["obj", "ply"])
def test_per_frame_meshes_reimport_with_trimesh(
    sphere_recording: Path, tmp_path: Path, fmt: str
) -> None:
    out = export_recording(open_recording(sphere_recording), fmt, tmp_path / fmt)
    files = sorted(out.iterdir())
    indices = _mesh_frames(sphere_recording)
    assert [f.name for f in files] == [f"frame_{i:06d}.{fmt}" for i in indices]  # 10, 11 absent
    for f in (files[0], files[-1]):
        mesh = trimesh.load(f, process=False)
        i = int(f.stem.split("_")[1])
        assert mesh.vertices.shape == SPHERE_VERTICES.shape
        np.testing.assert_array_equal(mesh.faces, SPHERE_FACES)
        np.testing.assert_allclose(mesh.vertices, synthetic_record(i).vertices * YUP, atol=1e-5)


def test_npz_has_documented_arrays(sphere_recording: Path, tmp_path: Path) -> None:
    out = export_recording(open_recording(sphere_recording), "npz", tmp_path / "take.npz")
    data = np.load(out)
    indices = _mesh_frames(sphere_recording)
    assert data["vertices"].shape == (len(indices), len(SPHERE_VERTICES), 3)
    assert data["vertices"].dtype == np.float32 and data["joints"].shape == (len(indices), 24, 3)
    np.testing.assert_array_equal(data["frame_index"], indices)
    np.testing.assert_array_equal(data["faces"], SPHERE_FACES)
    assert data["K"].shape == (len(indices), 3, 3) and data["t_ns"].dtype == np.int64
    # OpenCV camera frame, unchanged: the sphere is 3 m in front (z forward).
    np.testing.assert_array_equal(data["vertices"][-1], synthetic_record(indices[-1]).vertices)
    assert float(data["fps"]) == 30.0


def _read_glb(path: Path) -> tuple[dict, bytes]:
    """Minimal independent GLB parse (header, JSON chunk, BIN chunk)."""
    raw = path.read_bytes()
    magic, version, length = struct.unpack_from("<III", raw, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(raw))
    jlen, jtype = struct.unpack_from("<II", raw, 12)
    blen, btype = struct.unpack_from("<II", raw, 20 + jlen)
    assert (jtype, btype) == (0x4E4F534A, 0x004E4942)
    return json.loads(raw[20 : 20 + jlen]), raw[28 + jlen : 28 + jlen + blen]


def _accessor(gltf: dict, binary: bytes, i: int) -> np.ndarray:
    acc = gltf["accessors"][i]
    view = gltf["bufferViews"][acc["bufferView"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc["type"]]
    dtype = {5126: "<f4", 5125: "<u4", 5123: "<u2"}[acc["componentType"]]
    data = np.frombuffer(binary, dtype, acc["count"] * width, view["byteOffset"])
    return data.reshape(acc["count"], width)


def test_glb_morph_targets_play_every_frame(tmp_path: Path) -> None:
    n = CHUNK_TARGETS + 50  # two chunks
    rec_path = write_synthetic(tmp_path, n, missing=(3,))
    out = export_recording(open_recording(rec_path), "glb", tmp_path / "take.glb")
    scene = trimesh.load(out)  # independent loader: geometry and extras
    assert scene.metadata["frame_count"] == n - 1 and scene.metadata["fps"] == 30.0
    assert len(scene.geometry) == 2
    assert all(g.vertices.shape == SPHERE_VERTICES.shape for g in scene.geometry.values())

    gltf, binary = _read_glb(out)
    prims = [m["primitives"][0] for m in gltf["meshes"]]
    assert [len(p["targets"]) for p in prims] == [CHUNK_TARGETS, n - 1 - CHUNK_TARGETS]
    indices = _mesh_frames(rec_path)
    for k in (0, 7, CHUNK_TARGETS - 1, CHUNK_TARGETS, n - 2):  # frame k = base + its target
        c, j = divmod(k, CHUNK_TARGETS)
        base = _accessor(gltf, binary, prims[c]["attributes"]["POSITION"])
        delta = _accessor(gltf, binary, prims[c]["targets"][j]["POSITION"])
        want = synthetic_record(indices[k]).vertices * YUP
        np.testing.assert_allclose(base + delta, want, atol=1e-5)
    # The weights animation switches to target j at frame j's time; chunk 2 appears at 200/30 s.
    samplers = gltf["animations"][0]["samplers"]
    times = _accessor(gltf, binary, samplers[0]["input"]).ravel()
    weights = _accessor(gltf, binary, samplers[0]["output"]).reshape(len(times), -1)
    np.testing.assert_array_equal(weights.argmax(axis=1), np.arange(len(times)))
    assert times[3] == pytest.approx(4 / 30)  # frame 3 had no mesh: frame 4 keeps its time
    scale_times = _accessor(gltf, binary, samplers[3]["input"]).ravel()
    assert scale_times[1] == pytest.approx((CHUNK_TARGETS + 1) / 30)


def test_frame_times_snap_to_the_fps_grid() -> None:
    t_ns = np.array([0, 33_000_000, 70_000_000, 70_000_001, 200_000_000])
    np.testing.assert_array_equal(frame_slots(t_ns, 30.0), [0, 1, 2, 3, 6])


def _capture_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def test_mp4_on_the_grid(sphere_recording: Path, tmp_path: Path) -> None:
    out = export_recording(open_recording(sphere_recording), "mp4", tmp_path / "take.mp4")
    frames = _capture_frames(out)
    assert len(frames) == 45 and frames[0].shape == (480, 640, 3)  # every recorded frame
    centre = np.s_[200:280, 280:360]
    body = frames[0][centre].astype(int).mean(axis=(0, 1))
    empty = frames[10][centre].astype(int).mean(axis=(0, 1))  # no mesh: grid only
    assert np.abs(body - empty).max() > 40  # the sphere fills the centre of the framing


def test_mp4_of_a_take_with_dropped_frames_keeps_real_time(tmp_path: Path) -> None:
    """A busy live run keeps 1 frame in 4: the video still lasts as long as the take."""
    info = RecordingInfo(fps=25.0, source="busy camera", image_size_wh=(640, 480))
    kept = [*range(938, 938 + 40, 4), 979, 980]  # 1 in 4, then two frames back to back
    with RecordingWriter.create(tmp_path, info, SPHERE_FACES, len(SPHERE_VERTICES)) as writer:
        for i in kept:
            r = synthetic_record(i - 938)
            writer.write(type(r)(**{**r.__dict__, "index": i, "t_ns": i * 40_000_000}))
    rec = open_recording(writer.path)
    frames = _capture_frames(export_recording(rec, "mp4", tmp_path / "busy.mp4"))
    assert len(frames) == 980 - 938 + 1  # 1.72 s of take at 25 fps, not 12 frames (0.48 s)
    cap = cv2.VideoCapture(str(tmp_path / "busy.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)
    cap.release()

    def same(a: int, b: int) -> bool:
        return np.abs(frames[a].astype(int) - frames[b].astype(int)).mean() < 0.1  # mp4v noise

    assert same(0, 3) and not same(3, 4)  # a kept frame is held until the next one arrives
    assert same(36, 40) and not same(40, 41) and not same(41, 42)


def test_mp4_over_the_source_video(tmp_path: Path) -> None:
    info = RecordingInfo(fps=25.0, source="synthetic", image_size_wh=(320, 240))
    gray = np.full((240, 320, 3), 90, np.uint8)
    k_320 = np.array([[320, 0, 160], [0, 320, 120], [0, 0, 1]], np.float32)
    with RecordingWriter.create(
        tmp_path, info, SPHERE_FACES, len(SPHERE_VERTICES), record_source=True
    ) as writer:
        for i in range(6):
            r = synthetic_record(i)
            writer.write(type(r)(**{**r.__dict__, "K": k_320, "source_jpeg": encode_jpeg(gray)}))
    rec = open_recording(writer.path)
    assert rec.has_source_video and rec.source_image(2).shape == (240, 320, 3)
    frames = _capture_frames(export_recording(rec, "mp4", tmp_path / "over.mp4"))
    assert len(frames) == 6 and frames[0].shape == (240, 320, 3)
    u = int(320 * (0.01 * 0 - 0.3) / 3.0 + 160)  # sphere centre projected with K
    assert np.abs(frames[0][120, u].astype(int) - 90).max() > 30  # mesh drawn over the video
    assert np.abs(frames[0][10, 310].astype(int) - 90).max() < 12  # the video elsewhere


def test_mp4_over_pictures_of_different_sizes_keeps_every_frame(tmp_path: Path) -> None:
    """An image folder's pictures differ in size: each is fitted into the first one's frame
    (OpenCV's writer silently dropped frames of another size)."""
    info = RecordingInfo(fps=25.0, source="image folder", image_size_wh=(320, 240))
    sizes = [(320, 240), (640, 240), (160, 240)]  # (W, H): the first sets the video's size
    with RecordingWriter.create(
        tmp_path, info, SPHERE_FACES, len(SPHERE_VERTICES), record_source=True
    ) as writer:
        for i, (w, h) in enumerate(sizes):
            r = synthetic_record(i)
            k = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float32)
            picture = encode_jpeg(np.full((h, w, 3), 90, np.uint8))
            writer.write(type(r)(**{**r.__dict__, "K": k, "source_jpeg": picture}))
    frames = _capture_frames(
        export_recording(open_recording(writer.path), "mp4", tmp_path / "p.mp4")
    )
    assert len(frames) == 3 and all(f.shape == (240, 320, 3) for f in frames)
    assert np.abs(frames[1][10:50, 160].astype(int) - 0).max() < 12  # letterboxed: black above
    assert np.abs(frames[1][120, 310].astype(int) - 90).max() < 12  # the picture, scaled down
    assert np.abs(frames[2][120, 20].astype(int) - 0).max() < 12  # pillarboxed: black beside


def test_export_refuses_to_overwrite_and_landmark_only_recordings(
    sphere_recording: Path, tmp_path: Path
) -> None:
    rec = open_recording(sphere_recording)
    taken = tmp_path / "taken.glb"
    taken.write_bytes(b"keep me")
    with pytest.raises(RecordingError, match="exists"):
        export_recording(rec, "glb", taken)
    assert taken.read_bytes() == b"keep me"
    no_mesh = write_synthetic(tmp_path / "lm", 5, missing=tuple(range(5)))
    with pytest.raises(RecordingError, match=r"without network weights.*--weights"):
        export_recording(open_recording(no_mesh), "npz", tmp_path / "x.npz")


def test_export_command_line(sphere_recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.npz"
    cmd = [sys.executable, str(REPO / "main.py"), "export", str(sphere_recording)]
    done = subprocess.run(
        [*cmd, "--format", "npz", "--out", str(out), "--first", "20", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert np.load(out)["frame_index"][0] == 20 and "wrote" in done.stdout
    again = subprocess.run(
        [*cmd, "--format", "npz", "--out", str(out)], capture_output=True, text=True, cwd=REPO
    )
    assert again.returncode == 2 and again.stderr.startswith("error:") and "exists" in again.stderr


def test_unknown_format_lists_the_table(sphere_recording: Path, tmp_path: Path) -> None:
    from stdformer.recording.export import EXPORT_FORMATS

    with pytest.raises(RecordingError, match="unknown export format 'fbx'") as err:
        export_recording(open_recording(sphere_recording), "fbx", tmp_path / "x.fbx")
    assert all(f"  {name} " in str(err.value) for name in EXPORT_FORMATS)
    done = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "export", str(sphere_recording), "--format", "fbx"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("error: unknown export format")
    assert "bvh" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("fmt", ["glb", "npz", "obj"])
def test_export_to_an_unwritable_place_fails_first(
    sphere_recording: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No file can be created in /proc, even by root: one line, exit 2, before the export."""
    from stdformer.recording.export_cli import main as export_main

    out = f"/proc/stdformer-test.{fmt}" if fmt != "obj" else "/proc/stdformer-test/objs"
    assert export_main([str(sphere_recording), "--format", fmt, "--out", out, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1 and "/proc" in err
