"""Rolling buffer of the last T per-frame feature tensors, with first-frame padding.

The streaming predictor stores each frame's `encode_frame` output here so that a new frame costs
one front-end pass. `window()` always returns exactly T entries, oldest first: while fewer than T
frames have arrived, the missing older slots repeat the first frame (the clip the network sees
is then "the subject stood still before the stream started"), so the network runs from the first
frame on with the same clip length it was trained with.
"""

from __future__ import annotations

from collections import deque

import torch


class FeatureBuffer:
    """The last `T` feature tensors (all the same shape, on one device)."""

    def __init__(self, T: int) -> None:
        if T < 1:
            raise ValueError(f"buffer length must be >= 1, got {T}")
        self.T = T
        self._items: deque[torch.Tensor] = deque(maxlen=T)
        self._first: torch.Tensor | None = None
        self.frames_pushed = 0  # since the last reset

    def push(self, features: torch.Tensor) -> None:
        """Append one frame's features (*feat); drops the oldest once T are held."""
        if self._first is None:
            self._first = features
        self._items.append(features)
        self.frames_pushed += 1

    def window(self) -> torch.Tensor:
        """(T, *feat): the held frames, oldest first, left-padded with the first frame."""
        if self._first is None:
            raise RuntimeError("window() on an empty buffer: push a frame first")
        pad = [self._first] * (self.T - len(self._items))
        return torch.stack([*pad, *self._items])

    def reset(self) -> None:
        """Forget everything (the subject was lost; the next frame starts a new clip)."""
        self._items.clear()
        self._first = None
        self.frames_pushed = 0

    def __len__(self) -> int:
        return len(self._items)
