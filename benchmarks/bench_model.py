"""Per-frame streaming cost and parameter counts of the STDFormer network.

For each front-end / backbone / preset: parameters (total, front-end, transformer+heads) and the
median and best wall time of one `Predictor.push` in steady state (buffer full: one front-end
pass, SD/TD over the window, transformer + heads for one frame, camera conversion). CPU with
`--threads` threads, and CUDA when present (`--device`).

    python benchmarks/bench_model.py                      # landmark presets, params of all
    python benchmarks/bench_model.py --image-timing       # also time the image front-ends
    python benchmarks/bench_model.py --levels my_levels.npz

Mesh levels: `--levels` file, else the embedded default body's (`assets/default_body_levels.npz`),
else levels computed from an icosphere with the SMPL coarse/mid sizes 431 / 1723.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _bootstrap  # noqa: F401
import numpy as np
import torch

from stdformer.body.levels import MeshLevels
from stdformer.body.mesh_levels import DEFAULT_LEVELS_FILE, compute_mesh_levels
from stdformer.inference.predictor import Predictor, PredictorConfig
from stdformer.model.config import BACKBONES, ModelConfig, image_config, landmark_config
from stdformer.model.stdformer import build_model
from stdformer.types import Observation


def load_levels(path: str | None) -> tuple[MeshLevels, str]:
    if path:
        return MeshLevels.load(path), path
    if DEFAULT_LEVELS_FILE.is_file():
        return MeshLevels.load(DEFAULT_LEVELS_FILE), DEFAULT_LEVELS_FILE.name
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=5)
    levels = compute_mesh_levels(np.asarray(sphere.vertices), np.asarray(sphere.faces), 431, 1723)
    return levels, "icosphere"


def fake_stream(
    n: int, size_wh: tuple[int, int] = (640, 480)
) -> list[tuple[Observation, np.ndarray]]:
    """Random observations plus a random frame image (timing only)."""
    rng = np.random.default_rng(0)
    w, h = size_wh
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    out = []
    for i in range(n):
        lm = np.concatenate([rng.uniform(200, 440, (33, 2)), rng.normal(0, 20, (33, 1))], 1)
        obs = Observation(
            landmarks_px=lm.astype(np.float32),
            visibility=np.ones(33, np.float32),
            presence=np.ones(33, np.float32),
            world_landmarks=rng.normal(0, 0.3, (33, 3)).astype(np.float32),
            bbox_xyxy=np.array([200, 100, 440, 460], np.float32),
            crop_xyxy=np.array([140, 60, 500, 420], np.float32),
            image_size_wh=size_wh,
            t_ns=i,
            index=i,
        )
        out.append((obs, image))
    return out


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def time_push(
    model: torch.nn.Module, device: str, frames: int, precision: str
) -> tuple[float, float]:
    pred = Predictor(model, PredictorConfig(device=device, precision=precision))
    stream = fake_stream(frames + model.T)
    times = []
    for i, (obs, image) in enumerate(stream):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        pred.push(obs, image)  # returns numpy arrays: includes the device -> host copy
        dt = (time.perf_counter() - t0) * 1e3
        if i >= model.T:  # steady state: buffer full
            times.append(dt)
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", help="mesh-levels .npz (default: embedded default body)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    ap.add_argument("--frames", type=int, default=40, help="timed frames per configuration")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    ap.add_argument("--image-timing", action="store_true", help="also time image front-ends")
    ap.add_argument("--presets", default="S,M,L")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    levels, origin = load_levels(args.levels)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    print(f"mesh levels: {origin} sizes {levels.sizes}; device {device}, {args.threads} threads")
    print(f"{'front-end':<22}{'preset':<7}{'params':>12}{'front':>12}{'transf.':>12}"
          f"{'ms/frame med':>14}{'best':>8}")  # fmt: skip
    configs: list[tuple[str, ModelConfig, bool]] = []
    for preset in args.presets.split(","):
        configs.append(("landmarks", landmark_config(preset), True))
    for backbone in BACKBONES:
        for preset in args.presets.split(","):
            configs.append((f"image/{backbone}", image_config(preset, backbone), args.image_timing))
    for name, cfg, timed in configs:
        model = build_model(cfg, levels).eval()
        total, front = count(model), count(model.frontend)
        line = f"{name:<22}{cfg.preset:<7}{total / 1e6:>11.2f}M{front / 1e6:>11.2f}M"
        line += f"{(total - front) / 1e6:>11.2f}M"
        if timed:
            frames = args.frames if cfg.frontend == "landmarks" or device != "cpu" else 5
            med, best = time_push(model, device, frames, args.precision)
            line += f"{med:>14.2f}{best:>8.2f}"
        print(line, flush=True)
        del model


if __name__ == "__main__":
    main()
