"""`main.py process` on the sample clip: the live session on every frame, one record each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from stdformer.paths import resolve_file
from stdformer.recording import open_recording
from stdformer.recording.process_cli import main as process_main
from stdformer.session.core import PROCESS_NETWORK_LOOKAHEAD

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_process_sample_clip_records_every_frame(
    landmark_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = resolve_file("sample_clip")
    n_frames = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    out = tmp_path / "out"
    argv = [str(clip), "--out", str(out), "--weights", str(landmark_weights), "--device", "cpu"]
    assert process_main([*argv, "--lookahead", "2", "--export", "npz", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "x real time" in printed and f"processed {n_frames} frames" in printed
    assert f"body mesh in {rec_meshes(out, clip)} of {n_frames} frames" in printed
    rec = open_recording(out / f"{clip.stem}.strec")
    assert rec.complete and len(rec) == n_frames
    np.testing.assert_array_equal(rec.frame_index, np.arange(n_frames))
    assert rec.has_mesh.sum() >= n_frames - 10 and rec.has_source_video
    assert rec.header.info.weights == landmark_weights.name and rec.header.info.lookahead == 2
    assert rec.source_image(5).shape == (480, 640, 3)
    npz = np.load(out / f"{clip.stem}.npz")
    assert npz["vertices"].shape == (int(rec.has_mesh.sum()), rec.n_vertices, 3)
    # the default body is a posed body: the recording keeps its parameters, not its vertices
    assert not rec.header.stores_vertices and rec.has_body[rec.has_mesh].all()
    assert (rec.path / "frames.bin").stat().st_size < 2_000 * n_frames
    assert np.isfinite(npz["vertices"]).all()


def rec_meshes(out: Path, clip: Path) -> int:
    return int(open_recording(out / f"{clip.stem}.strec").has_mesh.sum())


@pytest.mark.slow
def test_process_with_nobody_in_view_says_so_and_keeps_the_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Frames without a person: the export request fails with that reason (not advice to pass
    weights that were used), and the recording stays."""
    frames = tmp_path / "empty_room"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((240, 320, 3), 128, np.uint8))
    argv = [str(frames), "--out", str(tmp_path / "out"), "--export", "bvh", "-q"]
    assert process_main(argv) == 2
    captured = capsys.readouterr()
    assert "body mesh in 0 of 3 frames (0 %)" in captured.out
    error = _one_error_line(captured.err)
    assert "nobody was found in any of its 3 frames" in error and "--weights" not in error
    assert len(open_recording(tmp_path / "out" / "empty_room.strec")) == 3


def test_process_missing_video_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert process_main([str(tmp_path / "nope.mp4"), "--out", str(tmp_path)]) == 2
    assert "nope.mp4" in capsys.readouterr().err


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def test_process_checks_every_output_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An --out that cannot be created, or an export that would overwrite a file, is exit 2 with
    one line before the session starts (not after processing the whole video)."""
    import stdformer.recording.process_cli as process_cli

    def no_session(*args: object, **kwargs: object) -> None:
        raise AssertionError("the session started although an output is unusable")

    monkeypatch.setattr(process_cli, "Session", no_session)
    clip = str(resolve_file("sample_clip"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert process_main([clip, "--out", str(blocker / "out"), "-q"]) == 2
    assert "a-file" in _one_error_line(capsys.readouterr().err)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sample_clip.glb").write_bytes(b"keep me")
    assert process_main([clip, "--out", str(out), "--export", "npz", "glb", "-q"]) == 2
    assert "sample_clip.glb exists" in _one_error_line(capsys.readouterr().err)
    assert (out / "sample_clip.glb").read_bytes() == b"keep me"
    assert sorted(p.name for p in out.iterdir()) == ["sample_clip.glb"]  # nothing was started


def test_process_bad_video_names_no_option_process_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(resolve_file("sample_clip").read_bytes()[:20_000])  # no moov atom
    assert process_main([str(damaged), "--out", str(tmp_path / "out"), "-q"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "damaged.mp4" in line and "--source" not in line


def _main_py(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


@pytest.mark.slow
def test_process_prints_no_native_log_lines_unless_verbose(tmp_path: Path) -> None:
    """MediaPipe/TFLite (glog) and FFmpeg lines stay off the terminal; -v shows them."""
    image = REPO / "tests" / "data" / "astronaut.png"  # one frame: MediaPipe and the network run
    done = _main_py("process", str(image), "--out", str(tmp_path / "a"), "--device", "cpu", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "processed 1 frames" in done.stdout
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(resolve_file("sample_clip").read_bytes()[:20_000])  # no moov atom
    done = _main_py("process", str(damaged), "--out", str(tmp_path / "b"), "-q")
    assert done.returncode == 2 and done.stderr.startswith("error:")
    assert len(done.stderr.splitlines()) == 1, done.stderr  # not FFmpeg's "moov atom not found"
    verbose = _main_py("process", str(damaged), "--out", str(tmp_path / "b"), "-q", "-v")
    assert verbose.returncode == 2 and "moov atom not found" in verbose.stderr


def _mp4(path: Path, images: list[np.ndarray], fps: float = 30.0) -> Path:
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for image in images:
        writer.write(image)
    writer.release()
    return path


@pytest.mark.slow
def test_process_follows_the_person_the_user_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two people in a file: `--follow X Y` records the one under that pixel (the bystander B
    standing at the left, not A, whom the session would choose itself); a pixel with nobody
    is said (a warning: on stderr) and the session's own choice goes on."""
    from stdformer.detect.tracking import box_iou
    from tools.tracking_scenes import TrackingScenes

    frames = list(TrackingScenes.from_clip(sprite_count=40).render("leave_return", frames=40))
    video = _mp4(tmp_path / "two.mp4", [f.image_bgr for f in frames])

    def followed(*extra: str) -> list[str]:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        argv = [str(video), "--out", str(out), "--no-source-video", "-q", *extra]
        assert process_main([*argv, "--body", "raw"]) == 0
        rec = open_recording(next(out.glob("*.strec")))
        who = []
        for i in range(len(rec)):
            r = rec.frame(i)
            if r.tracked:
                ious = {k: box_iou(r.bbox_xyxy, b) for k, b in frames[r.index].visible_box.items()}
                who.append(max(ious, key=ious.get))
        return who

    assert followed().count("A") > 0.8 * len(frames)  # the session's own choice
    b = frames[0].visible_box["B"]
    who = followed("--follow", *(str(v) for v in 0.5 * (b[:2] + b[2:])))
    assert len(who) > 0.8 * len(frames) and set(who) == {"B"}, who
    caplog.clear()
    assert followed("--follow", "5", "5").count("A") > 0.8 * len(frames)
    assert any("no person at (5, 5)" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_process_follows_someone_who_enters_later_and_says_who_it_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """B walks in from the left after A: `--follow X Y --follow-at 1.6` (B's place then) records
    A until then (the session's own choice) and B after. Without it, the summary says that
    someone else was in view while the followed person was not (and how to pick them)."""
    from stdformer.detect.tracking import box_iou
    from tools.tracking_scenes import TrackingScenes

    frames = list(TrackingScenes.from_clip(sprite_count=40).render("enter", frames=60))
    video = _mp4(tmp_path / "enter.mp4", [f.image_bgr for f in frames])
    b = frames[48].visible_box["B"]
    out = tmp_path / "out"
    follow = ["--follow", *(str(v) for v in 0.5 * (b[:2] + b[2:])), "--follow-at", "1.6"]
    argv = [str(video), "--out", str(out), "--no-source-video", "-q", "--body", "raw"]
    assert process_main([*argv, *follow]) == 0
    rec = open_recording(next(out.glob("*.strec")))
    who = {}
    for i in range(len(rec)):
        r = rec.frame(i)
        boxes = {k: v for k, v in frames[r.index].visible_box.items() if v is not None}
        if r.tracked:
            who[r.index] = max(boxes, key=lambda k: box_iou(r.bbox_xyxy, boxes[k]))
    assert {who[i] for i in range(40) if i in who} == {"A"}  # 1.6 s = frame 48
    assert {who[i] for i in range(52, 60) if i in who} == {"B"} and len(who) > 50
    capsys.readouterr()
    images = [f.image_bgr.copy() for f in frames]
    w = images[0].shape[1]
    for image, f in zip(images[40:], frames[40:], strict=True):  # A leaves at frame 40:
        x0, x1 = int(f.visible_box["A"][0]) - 20, int(f.visible_box["A"][2]) + 20
        image[:, x0:x1] = frames[0].image_bgr[:, w - (x1 - x0) :]  # painted over, B stays
    only_b = _mp4(tmp_path / "only_b.mp4", images)
    assert process_main([str(only_b), "--out", str(tmp_path / "o2"), "-q", "--body", "raw"]) == 0
    said = capsys.readouterr().out
    assert "the followed person was out of view in" in said and "--follow-at SECONDS" in said


@pytest.mark.slow
def test_hidden_legs_at_a_desk_are_seated_or_standing_as_asked(
    desk_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A head-and-shoulders view (the sample clip cut at the person's hips, legs out of view),
    the shipped weights: `process` records the legs seated by default and standing with
    `--hidden-legs standing`, in the body parameters every export carries."""

    def leg_angles(*extra: str) -> np.ndarray:
        """(4,) mean rotation angle (deg) of the hips and knees over the last 10 frames."""
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        argv = [str(desk_clip), "--out", str(out), "--no-source-video", "--export", "npz", "-q"]
        assert process_main([*argv, *extra]) == 0
        info = open_recording(next(out.glob("*.strec"))).header.info  # the recording says which
        assert info.extra["hidden_legs"] == (extra[-1] if extra else "seated")
        assert info.extra["body"] == "refined"
        assert info.extra["network_lookahead"] == PROCESS_NETWORK_LOOKAHEAD  # read ahead
        pose = np.load(next(out.glob("*.npz")))["body_pose"][-10:].reshape(10, 23, 3)
        return np.degrees(np.linalg.norm(pose[:, [0, 1, 3, 4]], axis=-1)).mean(0)  # joints 1,2,4,5

    np.testing.assert_allclose(leg_angles(), 90, atol=10)  # seated (the default)
    said = capsys.readouterr().out  # the guess is named, with the way to change it
    assert "meshes: shown seated (--hidden-legs standing to show them standing)" in said
    assert (leg_angles("--hidden-legs", "standing") < 15).all()
    assert "shown standing (--hidden-legs seated" in capsys.readouterr().out
