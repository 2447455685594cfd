"""The export formats as one table (used by `main.py export`, `process` and the GUI).

Each `ExportFormat` names its writer, the options it reads, where its output goes by default and
what the recording must hold. Adding a format is one row in `EXPORT_FORMATS`; nothing else in
the export code, the command line or the GUI branches on format names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stdformer.recording.export_mesh import (
    Progress,
    check_new_file,
    check_writable_folder,
    export_npz,
    export_obj,
    export_ply,
    new_output_dir,
    select_frames,
)
from stdformer.recording.format import RecordingError
from stdformer.recording.reader import Recording

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportOptions:
    """Every export option; each format reads the ones its table row lists."""

    normals: bool = True  # glb: normal deltas per frame (twice the size, right shading)
    units: str = "m"  # bvh: "m" or "cm"
    euler: str = "ZXY"  # bvh: Euler channel order, "ZXY" or "XYZ"


Writer = Callable[[Recording, Path, np.ndarray, ExportOptions, "Progress | None"], Path]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    description: str
    suffix: str  # "<recording name><suffix>": a file extension, or "_<name>" for a folder
    folder: bool  # writes a new folder of per-frame files instead of one file
    options: tuple[str, ...]  # ExportOptions fields it reads
    needs: str  # what the recording must hold, in words (shown in the format list)
    write: Writer
    uses_body: bool = False  # needs body parameters: fitted on export where not recorded
    every_source_frame: bool = False  # one step per source frame of the range (mp4 renders all)

    def steps(self, rec: Recording, pos: np.ndarray) -> int:
        """Progress steps of an export of the frames at `pos`."""
        if self.every_source_frame:
            return int(rec.frame_index[pos[-1]] - rec.frame_index[pos[0]] + 1)
        unfitted = int((~rec.has_body[pos]).sum()) if self.uses_body else 0
        return len(pos) + unfitted


def _obj(rec: Recording, out: Path, pos: np.ndarray, o: ExportOptions, p: Progress | None) -> Path:
    export_obj(rec, out, pos, progress=p)
    return out


def _ply(rec: Recording, out: Path, pos: np.ndarray, o: ExportOptions, p: Progress | None) -> Path:
    export_ply(rec, out, pos, progress=p)
    return out


def _glb(rec: Recording, out: Path, pos: np.ndarray, o: ExportOptions, p: Progress | None) -> Path:
    from stdformer.recording.export_glb import export_glb

    return export_glb(rec, out, pos, normals=o.normals, progress=p)


def _mp4(rec: Recording, out: Path, pos: np.ndarray, o: ExportOptions, p: Progress | None) -> Path:
    from stdformer.recording.export_video import export_mp4  # imports the GL renderer

    return export_mp4(rec, out, pos, progress=p)


def _npz(rec: Recording, out: Path, pos: np.ndarray, o: ExportOptions, p: Progress | None) -> Path:
    return export_npz(rec, out, pos, body=npz_body_params(rec, pos, o, p), progress=p)


def _bvh(rec: Recording, out: Path, pos: np.ndarray, o: ExportOptions, p: Progress | None) -> Path:
    from stdformer.recording.export_bvh import export_bvh

    return export_bvh(rec, out, pos, rec.body(), units=o.units, order=o.euler, progress=p)


def _glb_skinned(
    rec: Recording, out: Path, pos: np.ndarray, o: ExportOptions, p: Progress | None
) -> Path:
    from stdformer.recording.export_glb_skinned import export_glb_skinned

    return export_glb_skinned(rec, out, pos, rec.body(), progress=p)


def npz_body_params(
    rec: Recording, pos: np.ndarray, o: ExportOptions, progress: Progress | None
) -> dict[str, np.ndarray]:
    """The body parameters for the npz: recorded, else fitted on export; NaN (with a warning)
    where they cannot be had (the mesh is not a body model's, or no fit in this build)."""
    from stdformer.recording.animation import take_body_params

    if rec.has_body[pos].all():
        return rec.body_params(pos)
    try:
        return take_body_params(rec, pos, rec.body(), progress)
    except (RecordingError, OSError, ValueError) as exc:  # incl. paths' Missing/BadFileError
        log.warning("npz without body parameters for some frames (NaN): %s", exc)
        return rec.body_params(pos)


_MESH = "mesh"  # frames with a body mesh (recorded with network weights)
_BODY = "mesh, body fit (recorded, else fitted on export), body model file"
EXPORT_FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("obj", "one Wavefront OBJ per frame, Y-up", "_obj", True, (), _MESH, _obj),
        ExportFormat("ply", "one binary PLY per frame, Y-up", "_ply", True, (), _MESH, _ply),
        ExportFormat(
            "glb", "animated glTF, morph targets (the exact mesh)", ".glb", False, ("normals",),
            _MESH, _glb,
        ),
        ExportFormat(
            "glb-skinned", "animated glTF, skinned body with joint rotations", "_skinned.glb",
            False, (), _BODY, _glb_skinned, uses_body=True,
        ),
        ExportFormat(
            "bvh", "BVH motion: SMPL skeleton, joint rotations", ".bvh", False,
            ("units", "euler"), _BODY, _bvh, uses_body=True,
        ),
        ExportFormat(
            "mp4", "video of the rendered mesh (over the source video when kept)", ".mp4", False,
            (), "mesh, OpenGL", _mp4, every_source_frame=True,
        ),
        ExportFormat(
            "npz", "numpy arrays: vertices, joints, camera, body parameters", ".npz", False,
            (), _MESH, _npz, uses_body=True,
        ),
    )
}  # fmt: skip
FORMATS = tuple(EXPORT_FORMATS)


_FLAGS = {"normals": "--no-normals", "units": "--units", "euler": "--euler"}


def format_table() -> str:
    """The formats as lines a user reads (`main.py export --help`, error messages)."""
    rows = []
    for f in EXPORT_FORMATS.values():
        flags = [_FLAGS.get(o, "--" + o.replace("_", "-")) for o in f.options]
        opts = f"; options {' '.join(flags)}" if flags else ""
        rows.append(f"  {f.name:<12} {f.description}\n  {'':<12} needs: {f.needs}{opts}")
    return "\n".join(rows)


def get_format(name: str) -> ExportFormat:
    """The table row of `name`; RecordingError listing the table when there is none."""
    try:
        return EXPORT_FORMATS[name]
    except KeyError:
        raise RecordingError(
            f"unknown export format {name!r}; the formats are:\n{format_table()}"
        ) from None


def default_output(rec: Recording, fmt: str) -> Path:
    """Where an export goes when no path is given: beside the recording, `<name><suffix>`."""
    return rec.path.with_name(rec.path.stem + get_format(fmt).suffix)


def check_output(fmt: str, out: str | os.PathLike[str]) -> Path:
    """Before any work: refuse an output path that exists (a non-empty folder for obj/ply) or
    whose folder cannot be written."""
    path = Path(out).expanduser()
    if get_format(fmt).folder:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RecordingError(f"{path} exists and is not an empty folder; choose a new --out")
        existing = next(p for p in (path, *path.parents) if p.exists())  # created from there
        check_writable_folder(existing)
        return path
    return check_new_file(path)


def export_recording(
    rec: Recording,
    fmt: str,
    out: str | os.PathLike[str],
    first: int | None = None,
    last: int | None = None,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
) -> Path:
    """Export the mesh frames of `rec` whose source frame index is in [first, last].

    Returns the file or folder written. Raises RecordingError with a message for the user
    (unknown format, no mesh frame, output exists, folder missing, no body fit...).
    """
    f = get_format(fmt)
    frames = select_frames(rec, first, last)
    out = new_output_dir(out) if f.folder else check_new_file(out)
    return f.write(rec, out, frames, options or ExportOptions(), progress)


def export_length(rec: Recording, fmt: str, first: int | None, last: int | None) -> int:
    """How many progress steps `export_recording` will report (frames fitted, rendered or
    written)."""
    return get_format(fmt).steps(rec, select_frames(rec, first, last))
