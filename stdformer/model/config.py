"""The network's configuration: one frozen dataclass, stored in every checkpoint.

Presets follow FastMETRO: S / M / L = 1 / 2 / 3 encoder and 1 / 2 / 3 decoder layers per stage.
The paper model is `ModelConfig(preset="L", frontend="image", backbone="hrnet_w64")`; the
embedded real-time default is `landmark_config()` (narrower transformer, landmark tokens).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

PRESET_LAYERS: dict[str, int] = {"S": 1, "M": 2, "L": 3}
FRONTENDS = ("image", "landmarks")
BACKBONES = ("hrnet_w64", "hrnet_w32", "resnet50")  # the one list; `build_backbone` builds each


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network (besides the body's mesh levels).

    `d_model`, `ffn_dim` and `n_heads` hold (stage 1, stage 2) values. `mesh_sizes` is the
    (coarse, mid, full) vertex count the network was built for; `build_model` fills it from the
    mesh levels when left as None and refuses levels of another size.
    """

    preset: str = "L"
    frontend: str = "image"
    backbone: str = "hrnet_w64"  # image front-end only
    T: int = 8  # clip length (frames the TD block mixes)
    n_joints: int = 14  # joint tokens (H36M-14 order in the paper)
    d_model: tuple[int, int] = (512, 128)
    ffn_dim: tuple[int, int] = (2048, 512)
    n_heads: tuple[int, int] = (8, 8)
    dropout: float = 0.1
    mesh_sizes: tuple[int, int, int] | None = None  # (Vc, Vm, Vf)
    # Landmark front-end: per-landmark feature width C, MLP hidden width, SD channel groups.
    landmark_channels: int = 64
    landmark_hidden: int = 128
    landmark_sd_groups: int = 4

    def __post_init__(self) -> None:
        if self.preset not in PRESET_LAYERS:
            raise ValueError(f"preset must be one of {sorted(PRESET_LAYERS)}, got {self.preset!r}")
        if self.frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {FRONTENDS}, got {self.frontend!r}")
        if self.frontend == "image" and self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.T < 1:
            raise ValueError(f"clip length T must be >= 1, got {self.T}")
        for d, h in zip(self.d_model, self.n_heads, strict=True):
            if d % h != 0 or d % 4 != 0:
                raise ValueError(f"d_model {d} must be divisible by 4 and by n_heads {h}")

    @property
    def n_layers(self) -> int:
        """Encoder layers = decoder layers per stage."""
        return PRESET_LAYERS[self.preset]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/pickle-free dict (tuples become lists) for checkpoint metadata."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.asdict().items()}

    def asdict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown model-config fields {unknown}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)


def image_config(preset: str = "L", backbone: str = "hrnet_w64", **kw: Any) -> ModelConfig:
    """The paper's image model (FastMETRO widths); L + hrnet_w64 is the published network."""
    return ModelConfig(preset=preset, frontend="image", backbone=backbone, **kw)


def landmark_config(preset: str = "S", **kw: Any) -> ModelConfig:
    """The embedded real-time model: landmark tokens and a narrower transformer.

    Same structure as the paper; widths (64, 32) with 4x FFN and 2 heads. With a 431-vertex
    coarse mesh the decoder's masked self-attention over 445 tokens dominates the per-frame cost
    (it scales with heads x 445^2), hence few heads and small widths. Transformer + heads,
    best of 60 on one loaded CPU core: 3.7 ms here vs 5.0 ms with 4 heads and 6.2 ms at widths
    (128, 64); `benchmarks/bench_model.py` prints the whole per-frame cost.
    """
    base: dict[str, Any] = {
        "d_model": (64, 32),
        "ffn_dim": (256, 128),
        "n_heads": (2, 2),
    }
    base.update(kw)
    return ModelConfig(preset=preset, frontend="landmarks", backbone="none", **base)
