"""One entry point for every export format (used by `main.py export`, `process` and the GUI)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stdformer.recording.export_glb import export_glb
from stdformer.recording.export_mesh import (
    Progress,
    check_new_file,
    check_writable_folder,
    export_npz,
    export_obj,
    export_ply,
    select_frames,
)
from stdformer.recording.format import RecordingError
from stdformer.recording.reader import Recording

FORMATS = ("obj", "ply", "glb", "mp4", "npz")
SUFFIXES = {"obj": "_obj", "ply": "_ply", "glb": ".glb", "mp4": ".mp4", "npz": ".npz"}


def default_output(rec: Recording, fmt: str) -> Path:
    """Where an export goes when no path is given: beside the recording, `<name>.<fmt>` (a file)
    or `<name>_<fmt>/` (a folder of per-frame files)."""
    return rec.path.with_name(rec.path.stem + SUFFIXES[fmt])


def check_output(fmt: str, out: str | os.PathLike[str]) -> Path:
    """Before any work: refuse an output path that exists (a non-empty folder for obj/ply) or
    whose folder cannot be written."""
    path = Path(out).expanduser()
    if fmt in ("obj", "ply"):
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
    normals: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Export the mesh frames of `rec` whose source frame index is in [first, last].

    Returns the file or folder written. Raises RecordingError with a message for the user
    (no mesh frame, output exists, folder missing...). `normals` applies to GLB only.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    frames: np.ndarray = select_frames(rec, first, last)
    if fmt == "mp4":
        from stdformer.recording.export_video import export_mp4  # imports the GL renderer

        return export_mp4(rec, out, frames, progress=progress)
    if fmt == "glb":
        return export_glb(rec, out, frames, normals=normals, progress=progress)
    writers: dict[str, Callable[..., Path | list[Path]]] = {
        "obj": export_obj,
        "ply": export_ply,
        "npz": export_npz,
    }
    writers[fmt](rec, out, frames, progress=progress)
    return Path(out).expanduser()


def export_length(rec: Recording, fmt: str, first: int | None, last: int | None) -> int:
    """How many progress steps `export_recording` will report (frames rendered or written)."""
    frames = select_frames(rec, first, last)
    return int(frames[-1] - frames[0] + 1) if fmt == "mp4" else len(frames)
