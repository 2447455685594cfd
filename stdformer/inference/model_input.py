"""Live observations -> the network's input: the adapter between `detect/` and `model/`.

The network (`stdformer.model`) knows tensors and arrays only; this module turns one
`Observation` (plus the frame's image for the image front-end) into the un-batched input of
`STDFormer.encode_frame` and names the square crop the predicted camera refers to.

- Landmark front-end: `landmark_features` of the observation, (33, 8); crop `landmark_crop`.
- Image front-end: the normalised person crop around `observation.crop_xyxy`, (3, 224, 224);
  crop: the localizer's `crop_xyxy`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from stdformer.model.image_frontend import crop_and_normalize
from stdformer.model.landmark_frontend import landmark_crop, landmark_features
from stdformer.types import Observation


def observation_to_tensor(obs: Observation) -> torch.Tensor:
    """One observation -> (33, 8) float32 landmark features (see `landmark_frontend`)."""
    feats, _ = landmark_features(
        obs.landmarks_px, obs.visibility, obs.presence, obs.world_landmarks
    )
    return torch.from_numpy(feats)


def observations_to_tensor(observations: Sequence[Observation]) -> torch.Tensor:
    """A clip of observations -> (T, 33, 8); stack clips with `torch.stack` for (B, T, 33, 8)."""
    if len(observations) == 0:
        raise ValueError("need at least one observation")
    return torch.stack([observation_to_tensor(o) for o in observations])


def image_input(observation: Observation, image_bgr: np.ndarray | None) -> torch.Tensor:
    """The normalised person crop of one frame, (3, 224, 224), for the image front-end."""
    if image_bgr is None:
        raise ValueError("the image front-end needs the frame's image to crop the person")
    return crop_and_normalize(image_bgr, observation.crop_xyxy)


def prepare(
    frontend_kind: str, observation: Observation, image_bgr: np.ndarray | None
) -> torch.Tensor:
    """One live frame -> the un-batched `encode_frame` input (*in), float32 on the CPU.

    `frontend_kind` is `ModelConfig.frontend` ("landmarks" or "image"); the landmark front-end
    ignores `image_bgr`.
    """
    if frontend_kind == "landmarks":
        return observation_to_tensor(observation)
    if frontend_kind == "image":
        return image_input(observation, image_bgr)
    raise ValueError(f"unknown front-end {frontend_kind!r}")


def input_crop(frontend_kind: str, observation: Observation) -> np.ndarray:
    """(4,) float32 xyxy square the network's input (and so its camera) refers to.

    The landmark front-end normalises to its own `landmark_crop` of the landmarks (not the
    localizer's display box); the image front-end crops the localizer's `crop_xyxy`.
    """
    if frontend_kind == "landmarks":
        return landmark_crop(observation.landmarks_px, observation.presence)
    return np.asarray(observation.crop_xyxy, np.float32)
