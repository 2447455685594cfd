"""The on-disk layout of a recording: a folder a user can read with `json` and numpy alone.

```
<name>.strec/
  header.json    written once, before any frame: identity, sizes, the record layout
  faces.npy      (F, 3) int32 triangles of the body mesh, written once
  frames.bin     fixed-size little-endian records appended frame by frame (no file header)
  source.mjpg    optional: the source video as concatenated JPEG images (offsets in the records)
  end.json       written on a clean stop (frame count); absent after a crash or power loss
```

Why fixed records in an append-only file: a write either lands whole or leaves a torn tail, so
after SIGKILL or power loss the readable part is a prefix of whole records, found from the file
size and each record's CRC-32 (see `RECORD_CRC`). Nothing is ever rewritten in place. Records
are numpy structured rows: `np.memmap(frames.bin, dtype=record_dtype(header))` gives every field
as an array without loading the file (stored vertices of a 10-minute take are gigabytes).

Coordinates: metres, OpenCV camera frame of the source image (x right, y down, z forward).

Versions: 2 adds the fitted body per frame in smplx conventions, `betas` (B,),
`global_orient` (3,), `body_pose` (69,) axis-angle and `transl` (3,) (NaN where no body was
fitted; see `stdformer.types.BodyParams`), and drops version 1's `transl`, which was the pelvis
(= `joints[0]`, still there). 3 (written now) leaves the `vertices` field out of the records
when every mesh is a posed body (the app's default: `extra.body` "refined" or "fit"; header
`"vertices": "posed"`): the body fields and the body model named in the header give them to
float rounding (`reader.Recording.vertices` poses them, ~1 ms per frame), and a frame takes
~1.6 KB instead of ~166 KB (the default body's 13,718 vertices; a minute at 30 fps: 3 MB
instead of 300 MB). The network's own vertices (`extra.body` "raw") are stored as before
(`"vertices": "stored"`). Versions 1 and 2 still open: their body fields read as NaN (1).
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stdformer.types import BodyParams

FORMAT = "stdformer-recording"
VERSION = 3  # written by this program
READABLE_VERSIONS = (1, 2, 3)
N_BETAS = 10  # shape coefficients stored per frame (BodyParams.betas)
SUFFIX = ".strec"
HEADER_FILE, FACES_FILE, FRAMES_FILE = "header.json", "faces.npy", "frames.bin"
SOURCE_FILE, END_FILE = "source.mjpg", "end.json"
N_LANDMARKS = 33  # MediaPipe BlazePose
# `extra.body` of a run whose every mesh is a posed body (`inference.refine`'s outputs other
# than "raw"): its recordings leave the vertices to the body fields.
POSED_BODIES = ("refined", "fit")
RECORD_CRC = "crc32"  # last field: zlib.crc32 of all bytes of the record before it


class RecordingError(OSError):
    """A recording cannot be created, written or read; the message says what to do."""


@dataclass(frozen=True)
class RecordingInfo:
    """What a recording says about itself once (stored in header.json).

    `body_model` / `weights` name the files used (file name and SHA-256 prefix identify them);
    `weights` is None when no network ran (landmarks only: `has_mesh` stays 0 in every record).
    """

    fps: float  # nominal frame rate of the source (timing truth is each record's t_ns)
    source: str  # e.g. "camera 0", "file clip.mp4"
    image_size_wh: tuple[int, int] | None = None
    body_model: str = ""
    body_model_sha256: str = ""
    weights: str | None = None
    weights_sha256: str = ""
    lookahead: int = 0
    software_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FrameRecord:
    """One frame as written. Arrays are owned copies; NaN where `has_mesh` / `tracked` is 0."""

    index: int  # source frame index
    t_ns: int  # capture (media) time stamp
    tracked: bool  # the subject was seen in this frame
    has_mesh: bool  # vertices / joints / K are valid
    vertices: np.ndarray  # (V, 3) float32 camera frame, metres (posed from `body` if not stored)
    joints: np.ndarray  # (J, 3) float32, body-model joint order (SMPL-24)
    K: np.ndarray  # (3, 3) float32 intrinsics of the source image
    bbox_xyxy: np.ndarray  # (4,) float32 person box, pixels
    landmarks_px: np.ndarray  # (33, 3) float32 MediaPipe landmarks (x, y pixels; z rel. depth)
    landmark_visibility: np.ndarray  # (33,) float32 in [0, 1]
    world_landmarks: np.ndarray  # (33, 3) float32 metres, hip-centred, camera-aligned
    source_jpeg: bytes | None = None  # the source image, JPEG, when the video is recorded
    body: BodyParams | None = None  # the fitted body (camera frame), None when not fitted

    @property
    def has_body(self) -> bool:
        return self.body is not None


def record_fields(
    n_vertices: int, n_joints: int, n_betas: int = N_BETAS, vertices: bool = True
) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, numpy dtype string, shape) of each record field of the current version, in order;
    without `vertices` the records leave them out (a posed-body recording)."""
    fields = [
        ("index", "<i8", ()),
        ("t_ns", "<i8", ()),
        ("tracked", "u1", ()),
        ("has_mesh", "u1", ()),
        ("bbox_xyxy", "<f4", (4,)),
        ("K", "<f4", (3, 3)),
        ("joints", "<f4", (n_joints, 3)),
        ("vertices", "<f4", (n_vertices, 3)),
        ("landmarks_px", "<f4", (N_LANDMARKS, 3)),
        ("landmark_visibility", "<f4", (N_LANDMARKS,)),
        ("world_landmarks", "<f4", (N_LANDMARKS, 3)),
        # the fitted body, smplx conventions, camera frame; NaN when not fitted
        ("betas", "<f4", (n_betas,)),
        ("global_orient", "<f4", (3,)),
        ("body_pose", "<f4", (69,)),
        ("transl", "<f4", (3,)),
        ("source_offset", "<i8", ()),  # byte offset of this frame's JPEG in source.mjpg, or -1
        ("source_length", "<i8", ()),  # its length in bytes, 0 when not recorded
        (RECORD_CRC, "<u4", ()),
    ]
    return [f for f in fields if vertices or f[0] != "vertices"]


def dtype_from_fields(fields: list[Any]) -> np.dtype:
    """The packed structured dtype of a record (fields as stored in header.json)."""
    return np.dtype([(str(n), str(t), tuple(s)) for n, t, s in fields])


@dataclass(frozen=True)
class Header:
    """header.json as a typed object."""

    info: RecordingInfo
    n_vertices: int
    n_joints: int
    n_faces: int
    fields: list[tuple[str, str, tuple[int, ...]]]
    created_utc: str
    has_source_video: bool
    version: int = VERSION

    @property
    def has_body_fields(self) -> bool:
        """Records carry the fitted body (version 2 on); version 1's `transl` is the pelvis."""
        return self.version >= 2 and "global_orient" in self.dtype.names

    @property
    def stores_vertices(self) -> bool:
        """The records hold the vertices (else they are posed from the body fields)."""
        return any(name == "vertices" for name, _, _ in self.fields)

    @property
    def dtype(self) -> np.dtype:
        return dtype_from_fields(self.fields)

    def to_json(self) -> str:
        info = asdict(self.info)
        body = {
            "format": FORMAT,
            "version": self.version,
            "created_utc": self.created_utc,
            "units": "metres; OpenCV camera frame (x right, y down, z forward); pixels for boxes",
            "n_vertices": self.n_vertices,
            "n_joints": self.n_joints,
            "joint_order": "SMPL-24 (body-model joint order)",
            "vertices": "stored" if self.stores_vertices else "posed",
            "n_faces": self.n_faces,
            "record_size": self.dtype.itemsize,
            "record_fields": [[n, t, list(s)] for n, t, s in self.fields],
            "files": {
                "frames": FRAMES_FILE,
                "faces": FACES_FILE,
                "source_video": SOURCE_FILE if self.has_source_video else None,
                "end": END_FILE,
            },
            **info,
        }
        return json.dumps(body, indent=1)

    @classmethod
    def from_json(cls, text: str, path: Path) -> Header:
        """Parse header.json; BadHeader errors name the file and the problem."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordingError(f"{path}: header is not valid JSON ({exc})") from exc
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise RecordingError(f"{path}: not a {FORMAT} header (no format marker)")
        if d.get("version") not in READABLE_VERSIONS:
            raise RecordingError(
                f"{path}: recording format version {d.get('version')!r}; this program reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}. Open it with the version "
                "of the program that wrote it."
            )
        try:
            size = d.get("image_size_wh")
            info = RecordingInfo(
                fps=float(d["fps"]),
                source=str(d["source"]),
                image_size_wh=tuple(size) if size else None,
                body_model=str(d.get("body_model", "")),
                body_model_sha256=str(d.get("body_model_sha256", "")),
                weights=d.get("weights"),
                weights_sha256=str(d.get("weights_sha256", "")),
                lookahead=int(d.get("lookahead", 0)),
                software_version=str(d.get("software_version", "")),
                extra=dict(d.get("extra", {})),
            )
            fields = [(str(n), str(t), tuple(s)) for n, t, s in d["record_fields"]]
            header = cls(
                info=info,
                n_vertices=int(d["n_vertices"]),
                n_joints=int(d["n_joints"]),
                n_faces=int(d["n_faces"]),
                fields=fields,
                created_utc=str(d.get("created_utc", "")),
                has_source_video=bool(d["files"].get("source_video")),
                version=int(d["version"]),
            )
            itemsize = header.dtype.itemsize
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"{path}: malformed header ({exc!r})") from exc
        if itemsize != int(d.get("record_size", itemsize)):
            raise RecordingError(f"{path}: record_size does not match record_fields")
        if not (header.stores_vertices or header.has_body_fields):
            raise RecordingError(f"{path}: records hold neither vertices nor a body to pose")
        return header


def record_crc(row_bytes: bytes | memoryview) -> int:
    """CRC-32 of one record without its trailing 4-byte CRC field."""
    return zlib.crc32(memoryview(row_bytes)[:-4]) & 0xFFFFFFFF


def file_sha256(path: str | os.PathLike[str], prefix: int = 16) -> str:
    """First `prefix` hex digits of the file's SHA-256 (identifies weights / body files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:prefix]
