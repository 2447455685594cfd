"""Network checkpoints: weights plus what is needed to rebuild and validate the network.

File layout (a dict saved with `torch.save`, read with `torch.load(weights_only=True)` so no code
runs on load): `format` ("stdformer-checkpoint"), `version`, `config` (`ModelConfig.to_dict()`),
`levels_fingerprint` and `mesh_sizes` (the body topology the vertex head was trained for),
`state_dict` and `meta` (free-form strings/numbers: training steps, data, date...).

Loading checks, in order: the file is such a dict, its version is known, the config parses, the
body's mesh levels match the fingerprint, an optional expected config (preset / front-end /
backbone the caller asked for) matches, then `load_state_dict(strict=True)`. Every failure raises
`BadFileError` naming the file and what to do.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from stdformer.body.levels import MeshLevels
from stdformer.model.config import ModelConfig
from stdformer.model.stdformer import STDFormer, build_model
from stdformer.paths import BadFileError, resolve_file

log = logging.getLogger(__name__)

FORMAT = "stdformer-checkpoint"
VERSION = 1
_CHECKED_FIELDS = ("preset", "frontend", "backbone", "T", "n_joints", "d_model")


@dataclass
class Checkpoint:
    """A checkpoint read from disk, not yet applied to a network."""

    path: Path
    config: ModelConfig
    levels_fingerprint: str
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | os.PathLike[str], model: STDFormer, meta: dict[str, Any] | None = None
) -> Path:
    """Write `model`'s weights and metadata to `path` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "levels_fingerprint": model.levels_fingerprint,
        "mesh_sizes": list(model.config.mesh_sizes or ()),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
    }
    torch.save(payload, path)
    return path


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and validate the container (not the weights' fit to a network)."""
    path = Path(path)
    hint = (
        "Expected a checkpoint saved by this program (stdformer.model.checkpoint) or converted "
        "with tools/convert_official.py."
    )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means the file is not ours
        log.debug("torch.load(%s) failed: %s", path, exc)
        raise BadFileError(
            f"{path}: not a loadable PyTorch checkpoint ({type(exc).__name__}). {hint}"
        ) from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise BadFileError(f"{path}: not an STDFormer checkpoint (no '{FORMAT}' marker). {hint}")
    if obj.get("version") != VERSION:
        raise BadFileError(
            f"{path}: checkpoint version {obj.get('version')!r}, this program reads {VERSION}. "
            "Re-export it with this version of the tools."
        )
    try:
        config = ModelConfig.from_dict(dict(obj["config"]))
        fingerprint = str(obj["levels_fingerprint"])
        state_dict = dict(obj["state_dict"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadFileError(f"{path}: malformed checkpoint metadata ({exc}). {hint}") from exc
    return Checkpoint(path, config, fingerprint, state_dict, dict(obj.get("meta", {})))


def load_model(
    levels: MeshLevels,
    path: str | os.PathLike[str] | None = None,
    expected: ModelConfig | None = None,
) -> STDFormer:
    """Build the network stored at `path` (resolved as kind "weights") for a body's levels.

    `expected`, when given, must agree with the stored config on preset, front-end, backbone,
    clip length, joint count and widths (e.g. the CLI asked for `--preset L`). Returns the
    model on the CPU in eval mode.
    """
    ckpt = read_checkpoint(resolve_file("weights", path))
    return model_from_checkpoint(ckpt, levels, expected)


def model_from_checkpoint(
    ckpt: Checkpoint, levels: MeshLevels, expected: ModelConfig | None = None
) -> STDFormer:
    """Apply a read checkpoint to a freshly built network (strict)."""
    fingerprint = levels.fingerprint()
    if ckpt.levels_fingerprint != fingerprint:
        raise BadFileError(
            f"{ckpt.path}: weights were trained for another body topology (mesh levels "
            f"{ckpt.levels_fingerprint}, sizes {ckpt.config.mesh_sizes}); the loaded body has "
            f"{fingerprint}, sizes {levels.sizes}. Use the body model these weights were trained "
            "with, or weights trained for this body."
        )
    if expected is not None:
        diffs = [
            f"{name}: file {getattr(ckpt.config, name)!r} vs requested {getattr(expected, name)!r}"
            for name in _CHECKED_FIELDS
            if getattr(ckpt.config, name) != getattr(expected, name)
        ]
        if diffs:
            raise BadFileError(
                f"{ckpt.path}: checkpoint does not match the requested network ("
                + "; ".join(diffs)
                + "). Pass weights for that configuration or drop the override."
            )
    model = build_model(ckpt.config, levels)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as exc:
        raise BadFileError(
            f"{ckpt.path}: weights do not fit the stored configuration: {exc}"
        ) from exc
    return model.eval()
