"""The one place that finds external files: explicit argument -> environment variable -> assets/.

Every file the program needs at run time (pose model, body model, network weights, sample clip)
is looked up here, so a missing file always produces the same kind of actionable message: the
path tried, the variable that overrides it and how to obtain the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPO_ROOT / "assets"
CACHE_ENV_VAR = "STDFORMER_CACHE_DIR"


def default_cache_dir() -> Path:
    """`$STDFORMER_CACHE_DIR` or `~/.cache/stdformer` (never the user's model folder): files
    derived from others (mesh levels of a user's body, the GL platform choice), safe to delete."""
    root = os.environ.get(CACHE_ENV_VAR)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "stdformer"


class MissingFileError(FileNotFoundError):
    """A required file is missing or unusable; the message tells the user what to do."""


class BadFileError(ValueError):
    """A file exists but its content is not what is expected (wrong format or field)."""


@dataclass(frozen=True)
class AssetKind:
    name: str  # human-readable
    env_var: str
    default: str | None  # file name under assets/, None when nothing ships
    how_to_get: str


ASSETS: dict[str, AssetKind] = {
    "pose_model": AssetKind(
        "MediaPipe pose landmarker model (.task)",
        "STDFORMER_POSE_MODEL",
        "pose_landmarker_full.task",
        "Rebuild the embedded one with `python tools/build_pose_task.py`, or pass an official "
        "pose_landmarker_{lite,full,heavy}.task from Google's MediaPipe model page.",
    ),
    "body_model": AssetKind(
        "body model",
        "STDFORMER_BODY_MODEL",
        "default_body.npz",
        "Rebuild the embedded default body with `python tools/build_default_body.py`, or pass a "
        "licensed SMPL file (SMPL_NEUTRAL.pkl / .npz, registered download at smpl.is.tue.mpg.de).",
    ),
    "weights": AssetKind(
        "STDFormer network weights",
        "STDFORMER_WEIGHTS",
        "stdformer_landmarks.pt",
        "Pass a checkpoint trained with this project, or the authors' release converted with "
        "`python tools/convert_official.py state_dict.bin --metro-mesh mesh_downsampling.npz "
        "--mid-faces smpl_1723_faces.npy --save-levels smpl_metro_levels.npz --out "
        "stdformer_official.pt` (then run with --body-model SMPL_NEUTRAL.pkl --mesh-levels "
        "smpl_metro_levels.npz).",
    ),
    "mesh_levels": AssetKind(
        "mesh-levels file",
        "STDFORMER_MESH_LEVELS",
        None,  # normally computed from the body model (and cached); a file only for official
        "Write one with `python tools/convert_official.py ... --save-levels FILE`, or leave it "
        "out to use levels computed from the body model.",
    ),
    "sample_clip": AssetKind(
        "embedded sample clip",
        "STDFORMER_SAMPLE_CLIP",
        "sample_clip.mp4",
        "Rebuild it with `python tools/build_sample_clip.py`.",
    ),
}


def resolve_file(kind: str, explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of an external file of `kind` (a key of ASSETS).

    Lookup order: `explicit` (a CLI argument), then the kind's environment variable, then the
    embedded file under assets/. Raises MissingFileError naming what was tried.
    """
    spec = ASSETS[kind]
    if explicit is not None and str(explicit) != "":
        path, origin = Path(explicit).expanduser(), "given on the command line"
    elif os.environ.get(spec.env_var):
        path, origin = Path(os.environ[spec.env_var]).expanduser(), f"from ${spec.env_var}"
    elif spec.default is not None:
        path, origin = ASSETS_DIR / spec.default, "embedded default"
    else:
        raise MissingFileError(
            f"No {spec.name} configured. Set ${spec.env_var} or pass it on the command line. "
            f"{spec.how_to_get}"
        )
    if not path.is_file():
        raise MissingFileError(
            f"{spec.name} not found: {path} ({origin}). Override with ${spec.env_var} or the "
            f"command-line option. {spec.how_to_get}"
        )
    return path


def resolve_optional_file(kind: str, explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Like `resolve_file`, but None when neither an argument nor the variable names a file and
    nothing ships for `kind` (the caller then derives what it needs)."""
    spec = ASSETS[kind]
    given = (explicit is not None and str(explicit) != "") or bool(os.environ.get(spec.env_var))
    if not given and spec.default is None:
        return None
    return resolve_file(kind, explicit)
