"""Training configuration: one frozen dataclass, read from a TOML file and overridden by flags."""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stdformer.body.mesh_levels import default_cache_dir


def _cache(*parts: str) -> str:
    return str(default_cache_dir().joinpath(*parts))


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (stored in its checkpoints).

    Optimiser: AdamW with linear warm-up and cosine decay. The paper fine-tunes a pretrained
    FastMETRO with plain SGD at 1e-5; this network starts from scratch, where SGD at such rates
    does not move, so AdamW is the default (losses and their weights are the paper's); "sgd"
    remains for fine-tuning.
    """

    out_dir: str = dataclasses.field(default_factory=lambda: _cache("runs", "landmarks"))
    corpus_dir: str = dataclasses.field(default_factory=lambda: _cache("corpus", "train"))
    heldout_dir: str = dataclasses.field(default_factory=lambda: _cache("corpus", "heldout"))
    preset: str = "S"
    T: int = 8
    steps: int = 4000
    batch_size: int = 16  # clips per step, over all processes
    decode_last: int = 3  # window positions decoded (streaming uses the last 1 + look-ahead)
    optimizer: str = "adamw"  # or "sgd" (momentum 0.9; the paper's fine-tuning optimiser)
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    grad_clip: float = 1.0
    sim_fraction: float = 0.5  # share of windows from the simulator (rest: real detections)
    sim_clips: int = 400  # simulated motions in the pool (60 frames each)
    cmu_dir: str | None = None  # converted CMU motion (tools/convert_cmu.py); None: not used
    # simulator calibrations (json, relative to the repository root or absolute); each simulated
    # window draws one, validation uses the first; empty: the shipped (rendered-people) one
    calibrations: list[str] = dataclasses.field(default_factory=list)
    cmu_fraction: float = 0.6  # share of simulated windows drawn from CMU motion
    cmu_clips: int = 300  # CMU training clips in the pool (60 frames each, any rate)
    cmu_val_clips: int = 48  # clips of the held-out CMU motions (validation without a corpus)
    val_every: int = 250
    val_windows: int = 96
    init_from: str | None = None  # start from this checkpoint's weights (a new schedule)
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch CPU threads per process; None: torch's default

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be adamw or sgd, got {self.optimizer!r}")
        if not 1 <= self.decode_last <= self.T:
            raise ValueError(f"decode_last must be in [1, T={self.T}], got {self.decode_last}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _field_type(f: dataclasses.Field) -> type:
    hint = typing.get_type_hints(TrainConfig)[f.name]
    if isinstance(hint, types.UnionType):  # "int | None" -> int
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """--config FILE plus one --flag per TrainConfig field (kebab-case)."""
    p.add_argument("--config", type=Path, help="TOML file with TrainConfig fields")
    for f in dataclasses.fields(TrainConfig):
        flag, hint = f"--{f.name.replace('_', '-')}", _field_type(f)
        if typing.get_origin(hint) is list:  # --calibrations A.json B.json
            p.add_argument(flag, nargs="+", type=typing.get_args(hint)[0], default=None)
        else:
            p.add_argument(flag, type=hint, default=None)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults <- TOML file <- command-line flags. Unknown keys in the file are an error."""
    values: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    if args.config is not None:
        with open(args.config, "rb") as fh:
            data = tomllib.load(fh)
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{args.config}: unknown training settings {unknown}")
        values.update(data)
    values.update({k: v for k in names if (v := getattr(args, k)) is not None})
    return TrainConfig(**values)
