"""Open a recording folder (complete, partial after a crash, or still being written).

    rec = open_recording("takes/recording-20250101-120000.strec")
    len(rec), rec.fps, rec.faces                  # frames readable, nominal fps, (F, 3) int32
    rec.vertices[rec.has_mesh]                    # (N, V, 3) float32, memory-mapped or posed
    for frame in rec.frames(): ...                # FrameRecord per frame, in recording order
    rec.source_image(i)                           # (H, W, 3) uint8 BGR when the video was kept

The readable frames are the whole records at the start of frames.bin whose CRC holds: a torn
last record (killed mid-write, power loss) is left out. Arrays are views of a read-only memory
map, so opening a long take costs no memory; copy what you keep. A posed-body recording
(format version 3, the app's default) stores no vertices: `rec.vertices[...]` poses the frames
asked for from their body fields with the recording's body model (`Recording.body`: the
embedded default body, or the file passed to `open_recording`; ~1 ms per frame).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stdformer.recording.format import (
    END_FILE,
    FACES_FILE,
    FRAMES_FILE,
    HEADER_FILE,
    N_BETAS,
    SOURCE_FILE,
    FrameRecord,
    Header,
    RecordingError,
    file_sha256,
    record_crc,
)
from stdformer.types import BodyParams

if TYPE_CHECKING:
    from stdformer.body.body_model import BodyModel

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Recording:
    """A recording on disk: header, faces and the readable records (memory-mapped)."""

    path: Path
    header: Header
    faces: np.ndarray  # (F, 3) int32
    records: np.ndarray  # (N,) structured, fields as in format.record_fields
    complete: bool  # end.json present: stopped cleanly (False after a crash or while recording)
    dropped_tail_bytes: int  # bytes after the last whole, valid record (a torn write)
    body_model: str | os.PathLike[str] | None = None  # its body file (None: env, else default)
    _loaded: dict = field(default_factory=dict, repr=False)  # the body and its fitter, once

    def __len__(self) -> int:
        return len(self.records)

    @property
    def fps(self) -> float:
        return self.header.info.fps

    @property
    def n_vertices(self) -> int:
        return self.header.n_vertices

    # Field views, each (N, ...) over all readable frames.
    @property
    def vertices(self) -> np.ndarray | PosedVertices:  # (N, V, 3) float32, NaN without a mesh
        """Stored vertices (memory-mapped), or a posed-body recording's posed on indexing."""
        if self.header.stores_vertices:
            return self.records["vertices"]
        return PosedVertices(self)

    def body(self) -> BodyModel:
        """The body model the recording was made with: the file given to `open_recording`,
        else $STDFORMER_BODY_MODEL, else the default body; RecordingError when its vertex
        count or SHA-256 differs from the recording's (loaded once)."""
        if "body" not in self._loaded:
            from stdformer.body.body_model import load_body_model

            body = load_body_model(self.body_model)
            info = self.header.info
            sha = info.body_model_sha256
            if body.num_vertices != self.n_vertices or (
                sha and not file_sha256(body.source_path).startswith(sha)
            ):
                raise RecordingError(
                    f"{self.path} was recorded with the body model {info.body_model!r} "
                    f"({self.n_vertices} vertices, SHA-256 {sha or '?'}); "
                    f"{body.source_path} ({body.num_vertices} vertices) is another. Pass that "
                    "file with --body-model PATH (or $STDFORMER_BODY_MODEL)."
                )
            self._loaded["body"] = body
        return self._loaded["body"]

    def posed_vertices(self, pos: np.ndarray) -> np.ndarray:
        """(F, V, 3) float32 vertices of the recorded bodies at positions `pos` (F,) (each must
        have one), through the recording's body model."""
        from stdformer.body.fit import BodyFit, BodyFitter

        if "fitter" not in self._loaded:
            self._loaded["fitter"] = BodyFitter(self.body())
        fitter, pos = self._loaded["fitter"], np.asarray(pos, np.int64)
        params = self.body_params(pos)
        out = np.empty((len(pos), self.n_vertices, 3), np.float32)
        for start in range(0, len(pos), POSE_CHUNK):
            part = slice(start, start + POSE_CHUNK)
            betas = params["betas"][part]
            for b in np.unique(betas, axis=0):  # a take holds its shape once it has settled
                same = np.flatnonzero((betas == b).all(-1))
                frames = [BodyParams(**{k: v[part][i] for k, v in params.items()}) for i in same]
                out[start + same] = fitter.vertices(BodyFit.from_params(frames))
        return out

    @property
    def joints(self) -> np.ndarray:  # (N, J, 3) float32
        return self.records["joints"]

    @property
    def frame_index(self) -> np.ndarray:  # (N,) int64
        return self.records["index"]

    @property
    def t_ns(self) -> np.ndarray:  # (N,) int64
        return self.records["t_ns"]

    @property
    def has_mesh(self) -> np.ndarray:  # (N,) bool
        return self.records["has_mesh"].astype(bool)

    @property
    def tracked(self) -> np.ndarray:  # (N,) bool
        return self.records["tracked"].astype(bool)

    @property
    def K(self) -> np.ndarray:  # (N, 3, 3) float32
        return self.records["K"]

    @property
    def has_body(self) -> np.ndarray:  # (N,) bool
        """Frames with a fitted body (always False in a version 1 recording)."""
        if not self.header.has_body_fields:
            return np.zeros(len(self), bool)
        return np.isfinite(self.records["global_orient"][:, 0])

    def body_params(self, pos: np.ndarray) -> dict[str, np.ndarray]:
        """The recorded body of the frames at positions `pos` (F,), smplx names and conventions:
        betas (F, B), global_orient (F, 3), body_pose (F, 69), transl (F, 3), float32, camera
        frame; NaN rows where `has_body` is False (every row of a version 1 recording)."""
        pos = np.asarray(pos, np.int64)
        if not self.header.has_body_fields:
            widths = {"betas": N_BETAS, "global_orient": 3, "body_pose": 69, "transl": 3}
            return {k: np.full((len(pos), w), np.nan, np.float32) for k, w in widths.items()}
        names = ("betas", "global_orient", "body_pose", "transl")
        return {k: np.array(self.records[k][pos], np.float32) for k in names}

    @property
    def has_source_video(self) -> bool:
        return self.header.has_source_video and bool((self.records["source_length"] > 0).any())

    def frame(self, i: int) -> FrameRecord:
        """Frame `i` (0-based position in the recording) as a FrameRecord of owned arrays."""
        r = self.records[i]
        body = None
        if self.header.has_body_fields and np.isfinite(r["global_orient"][0]):
            names = ("betas", "global_orient", "body_pose", "transl")
            body = BodyParams(**{k: np.array(r[k], np.float32) for k in names})
        return FrameRecord(
            index=int(r["index"]),
            t_ns=int(r["t_ns"]),
            tracked=bool(r["tracked"]),
            has_mesh=bool(r["has_mesh"]),
            vertices=np.array(self.vertices[i]),
            joints=np.array(r["joints"]),
            K=np.array(r["K"]),
            bbox_xyxy=np.array(r["bbox_xyxy"]),
            landmarks_px=np.array(r["landmarks_px"]),
            landmark_visibility=np.array(r["landmark_visibility"]),
            world_landmarks=np.array(r["world_landmarks"]),
            body=body,
        )

    def frames(self, mesh_only: bool = False) -> Iterator[FrameRecord]:
        """Every readable frame in order (only those with a mesh when `mesh_only`)."""
        for i in range(len(self)):
            if not mesh_only or self.records["has_mesh"][i]:
                yield self.frame(i)

    def source_jpeg(self, i: int) -> bytes | None:
        offset = int(self.records["source_offset"][i])
        length = int(self.records["source_length"][i])
        if length <= 0:
            return None
        with open(self.path / SOURCE_FILE, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        return data if len(data) == length else None

    def source_image(self, i: int) -> np.ndarray | None:  # (H, W, 3) uint8 BGR
        """The source video frame of record `i`, or None when the video was not recorded."""
        data = self.source_jpeg(i)
        if data is None:
            return None
        import cv2

        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def verify(self) -> list[int]:
        """Positions of records whose CRC fails (reads the whole file; [] when all are intact)."""
        raw = self.records.view(np.uint8).reshape(len(self), -1)
        return [i for i in range(len(self)) if record_crc(raw[i].data) != self.records["crc32"][i]]


class PosedVertices:
    """The vertices of a posed-body recording, (N, V, 3) float32, posed from the body fields of
    the frames an index selects (`[i]`, `[a:b]`, `[positions]`, `[mask]`, `[i, :, 1]`); NaN
    for frames without a body. Nothing is held: index in chunks for long takes."""

    def __init__(self, rec: Recording) -> None:
        self._rec = rec

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self._rec), self._rec.n_vertices, 3

    def __len__(self) -> int:
        return len(self._rec)

    def __getitem__(self, key: object) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        pos = np.arange(len(self._rec))[key]
        single = np.ndim(pos) == 0
        pos = np.atleast_1d(pos)
        out = np.full((len(pos), self._rec.n_vertices, 3), np.nan, np.float32)
        posed = np.isfinite(self._rec.records["global_orient"][pos, 0])  # these frames only
        if posed.any():
            out[posed] = self._rec.posed_vertices(pos[posed])
        out = out[0] if single else out
        return out[rest] if single else out[(slice(None), *rest)]


POSE_CHUNK = 256  # frames posed at once (~14 MB of default-body vertices)


def open_recording(
    path: str | os.PathLike[str], body_model: str | os.PathLike[str] | None = None
) -> Recording:
    """Open the recording folder `path` (also a partial one); RecordingError if it is not one.
    `body_model`: the body file it was recorded with, when not the default body (posed-body
    recordings need it for their vertices, body exports for the skeleton)."""
    path = Path(path).expanduser()
    header_path = path / HEADER_FILE
    if not path.is_dir():
        raise RecordingError(f"{path}: no such recording folder (a recording is a *.strec folder)")
    if not header_path.is_file():
        raise RecordingError(
            f"{path}: not a recording ({HEADER_FILE} missing); pick a folder written by the "
            "recorder or `main.py process`"
        )
    header = Header.from_json(header_path.read_text(encoding="utf-8"), header_path)
    try:
        faces = np.load(path / FACES_FILE, allow_pickle=False).astype(np.int32, copy=False)
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{path / FACES_FILE}: cannot read the faces ({exc})") from exc
    records, dropped = _map_records(path / FRAMES_FILE, header.dtype)
    if dropped:
        log.warning("%s: ignoring %d bytes of a torn last write", path, dropped)
    complete = (path / END_FILE).is_file()
    return Recording(path, header, faces, records, complete, dropped, body_model)


def _map_records(frames_path: Path, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """Memory-map the whole, CRC-valid records; returns (records, bytes dropped at the tail)."""
    try:
        size = frames_path.stat().st_size
    except OSError as exc:
        raise RecordingError(f"{frames_path}: cannot read the frames ({exc})") from exc
    n = size // dtype.itemsize
    if n == 0:
        return np.empty(0, dtype), size
    records = np.memmap(frames_path, dtype=dtype, mode="r", shape=(n,))
    raw = records.view(np.uint8).reshape(n, dtype.itemsize)
    # Only the tail can be torn (appends only): drop invalid records from the end.
    while n > 0 and record_crc(raw[n - 1].data) != int(records["crc32"][n - 1]):
        n -= 1
    return records[:n], size - n * dtype.itemsize
