"""Export a recording as per-frame OBJ / PLY files or one `.npz` of arrays.

Coordinates: OBJ and PLY (like GLB) are Y-up for Blender and MeshLab: OpenCV camera points
(x, y, z) are written as (x, -y, -z), so the body stands upright with the camera at the origin
looking down -Z. The `.npz` keeps the OpenCV camera frame (x right, y down, z forward), metres.

Only frames with a body mesh are exported; files are named after the source frame index
(`frame_000123.obj`), so gaps where the subject was lost stay visible and frames line up with
the source video. Output paths must not exist (a folder may exist if empty): nothing is
overwritten.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stdformer.recording.format import RecordingError
from stdformer.recording.reader import Recording
from stdformer.recording.writer import describe_os_error

Progress = Callable[[int], None]  # called with the number of frames just finished

NPZ_CHUNK_FRAMES = 256  # frames per write when streaming large arrays into the .npz


def yup_from_opencv(points: np.ndarray) -> np.ndarray:  # (..., 3) -> (..., 3)
    """OpenCV camera axes -> Y-up glTF/Blender axes: (x, y, z) -> (x, -y, -z)."""
    return points * np.array([1.0, -1.0, -1.0], dtype=points.dtype)


def mesh_positions(rec: Recording, frames: np.ndarray | None = None) -> np.ndarray:
    """Positions (in recording order) of the frames to export: those with a mesh, or `frames`.

    Raises RecordingError, saying why, when there is none: recorded without network weights,
    or nobody was found.
    """
    pos = np.flatnonzero(rec.has_mesh) if frames is None else np.asarray(frames, np.int64)
    if len(pos) == 0:
        raise RecordingError(f"{rec.path}: no frame has a body mesh: {_why_no_mesh(rec)}")
    return pos


def _why_no_mesh(rec: Recording) -> str:
    n, people = len(rec), int(rec.tracked.sum())
    if rec.header.info.weights is None:
        return (
            f"{n} frames recorded, landmarks only (recorded without network weights). "
            "Record or process with --weights PATH."
        )
    if people == 0:
        return (
            f"nobody was found in any of its {n} frames (MediaPipe misses people who are very "
            "small in the picture, dark, or mostly out of view), so there is nothing to export."
        )
    return (
        f"a person was seen in {people} of {n} frames, each time too briefly for a mesh (a "
        "look-ahead waits for more frames of a track), so there is nothing to export."
    )


def frame_slots(t_ns: np.ndarray, fps: float) -> np.ndarray:  # (F,) int64 -> (F,) int64
    """Each frame's slot on the 1/fps grid from its capture time, counted from the first frame.

    Strictly rising (two frames never share a slot); gaps where frames were dropped live stay
    gaps, so an export that fills them keeps the take's real timing.
    """
    slots = np.rint((t_ns - t_ns[0]) * (fps / 1e9)).astype(np.int64)
    k = np.arange(len(slots))
    return np.maximum.accumulate(slots - k) + k  # slot_k >= slot_(k-1) + 1


def select_frames(rec: Recording, first: int | None = None, last: int | None = None) -> np.ndarray:
    """Positions of mesh frames whose source frame index is in [first, last] (inclusive)."""
    pos = mesh_positions(rec)
    idx = rec.frame_index[pos]
    keep = np.ones(len(pos), bool)
    if first is not None:
        keep &= idx >= first
    if last is not None:
        keep &= idx <= last
    if not keep.any():
        raise RecordingError(
            f"{rec.path}: no mesh frame in the range {first}..{last}; mesh frames run from "
            f"{int(idx.min())} to {int(idx.max())}."
        )
    return pos[keep]


def new_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output folder; an existing non-empty one is refused (never overwrite)."""
    path = Path(path).expanduser()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RecordingError(f"{path} exists and is not an empty folder; choose a new --out path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(f"cannot create {path}: {exc.strerror}. Choose another --out") from exc
    return path


def check_writable_folder(folder: Path) -> None:
    """RecordingError unless a file can be created in `folder` (tried: permissions, read-only
    disks and the like are only known by trying), so a run fails before its work, not after."""
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise RecordingError(f"folder {folder} {what}; create it or choose another --out")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".stdformer-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RecordingError(describe_os_error(exc, f"writing in {folder}")) from exc


def check_new_file(path: str | os.PathLike[str]) -> Path:
    """An output file path that does not exist yet, in a folder that exists and is writable."""
    path = Path(path).expanduser()
    if path.exists():
        raise RecordingError(f"{path} exists; choose a new --out path (files are not overwritten)")
    check_writable_folder(path.parent)
    return path


def _open_new(path: Path) -> io.BufferedWriter:
    try:
        return open(path, "xb")
    except OSError as exc:
        raise RecordingError(f"cannot write {path}: {exc.strerror}") from exc


def export_obj(
    rec: Recording, out_dir: str | os.PathLike[str], frames: np.ndarray | None = None,
    progress: Progress | None = None,
) -> list[Path]:  # fmt: skip
    """One Wavefront OBJ per mesh frame in a new folder; returns the written paths."""
    folder, pos = new_output_dir(out_dir), mesh_positions(rec, frames)
    faces_text = "".join(f"f {a} {b} {c}\n" for a, b, c in (rec.faces + 1).tolist()).encode()
    line = "v %.5f %.5f %.5f\n"
    written = []
    for p in pos:
        v = yup_from_opencv(np.asarray(rec.vertices[p], np.float64))
        path = folder / f"frame_{int(rec.frame_index[p]):06d}.obj"
        with _open_new(path) as f:
            f.write(f"# stdformer recording {rec.path.name}, frame {rec.frame_index[p]}\n".encode())
            f.write(((line * len(v)) % tuple(v.ravel())).encode())
            f.write(faces_text)
        written.append(path)
        if progress:
            progress(1)
    return written


def export_ply(
    rec: Recording, out_dir: str | os.PathLike[str], frames: np.ndarray | None = None,
    progress: Progress | None = None,
) -> list[Path]:  # fmt: skip
    """One binary little-endian PLY per mesh frame in a new folder; returns the written paths."""
    folder, pos = new_output_dir(out_dir), mesh_positions(rec, frames)
    face_dtype = np.dtype([("n", "u1"), ("v", "<i4", (3,))])
    face_rows = np.empty(len(rec.faces), face_dtype)
    face_rows["n"], face_rows["v"] = 3, rec.faces
    face_bytes = face_rows.tobytes()
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"comment stdformer recording {rec.path.name}\n"
        f"element vertex {rec.n_vertices}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(rec.faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode()
    written = []
    for p in pos:
        path = folder / f"frame_{int(rec.frame_index[p]):06d}.ply"
        with _open_new(path) as f:
            f.write(header)
            f.write(yup_from_opencv(np.asarray(rec.vertices[p], "<f4")).tobytes())
            f.write(face_bytes)
        written.append(path)
        if progress:
            progress(1)
    return written


def export_npz(
    rec: Recording, out_path: str | os.PathLike[str], frames: np.ndarray | None = None,
    body: dict[str, np.ndarray] | None = None, progress: Progress | None = None,
) -> Path:  # fmt: skip
    """One `.npz` (OpenCV camera frame, metres) streamed to disk chunk by chunk.

    Keys: vertices (F, V, 3) float32, joints (F, J, 3) float32 (joints[:, 0] is the pelvis),
    faces (Nf, 3) int32, frame_index (F,) int64, t_ns (F,) int64, K (F, 3, 3) float32,
    bbox_xyxy (F, 4) float32, fps () float64, and the body in smplx conventions (NaN rows where
    a frame has none): global_orient (F, 3), body_pose (F, 69) axis-angle, transl (F, 3),
    betas (B,) the take's shape (median over frames) and frame_betas (F, B) each frame's own
    (they differ only while a fit's shape settles). `body` (from `Recording.body_params`
    layout) defaults to what the recording holds. `np.load(path)` reads it;
    `BodyModel.forward(betas=frame_betas, global_orient=..., body_pose=..., transl=...)`
    reproduces `vertices`.
    """
    path, pos = check_new_file(out_path), mesh_positions(rec, frames)
    body = rec.body_params(pos) if body is None else body
    fitted = np.isfinite(body["betas"][:, 0])
    take_betas = np.median(body["betas"][fitted], axis=0) if fitted.any() else body["betas"][0]
    small = {
        "faces": rec.faces,
        "frame_index": rec.frame_index[pos],
        "t_ns": rec.t_ns[pos],
        "K": rec.K[pos],
        "bbox_xyxy": rec.records["bbox_xyxy"][pos],
        "fps": np.float64(rec.fps),
        "global_orient": body["global_orient"],
        "body_pose": body["body_pose"],
        "transl": body["transl"],
        "betas": take_betas.astype(np.float32),
        "frame_betas": body["betas"],
    }
    with _open_new(path) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
        for key, field in (("vertices", rec.vertices), ("joints", rec.joints)):
            shape = (len(pos), *field.shape[1:])
            with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
                header = {"descr": "<f4", "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_1_0(f, header)
                for start in range(0, len(pos), NPZ_CHUNK_FRAMES):
                    chunk = pos[start : start + NPZ_CHUNK_FRAMES]
                    f.write(np.ascontiguousarray(field[chunk], "<f4").tobytes())
                    if progress and key == "vertices":
                        progress(len(chunk))
        for key, value in small.items():
            with zf.open(f"{key}.npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)
    return path
