"""Safe reading of user-supplied weight files (never unrestricted unpickling)."""

from __future__ import annotations

import logging
import os

import torch

from stdformer.paths import BadFileError, MissingFileError

log = logging.getLogger(__name__)


def read_state_dict(path: str | os.PathLike[str], what: str, how_to_get: str) -> dict:
    """{name: tensor} from `path` via `torch.load(weights_only=True)`.

    Accepts a plain state dict or one wrapped as {"state_dict"|"model": {...}}. `what` names the
    file in messages ("backbone weights"), `how_to_get` tells the user where it comes from.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(f"{what} not found: {path}. {how_to_get}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling/format failure means an unusable file
        log.debug("torch.load(%s) failed: %s", path, exc)
        raise BadFileError(
            f"{path}: not a PyTorch state dict that loads safely ({type(exc).__name__}). "
            f"{how_to_get}"
        ) from exc
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise BadFileError(f"{path}: does not contain a {{name: tensor}} state dict ({what})")
    return obj
