"""Body-model forward time on CPU: default body and the synthetic SMPL-layout model.

    python benchmarks/bench_body.py [--threads N] [--body-model PATH]

Prints the median milliseconds per forward pass (random pose and shape, no autograd) for batch
sizes 1 and 16. Target: <= 5 ms for batch 1 (one live frame).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import torch

from stdformer.body.body_model import BodyModel, load_body_model
from stdformer.body.synthetic_smpl import make_synthetic_smpl


def time_forward(model: BodyModel, batch: int, repeats: int = 50) -> float:
    """Median ms per forward of `batch` random poses."""
    g = torch.Generator().manual_seed(0)
    betas = torch.randn(batch, model.num_betas, generator=g)
    orient = 0.3 * torch.randn(batch, 3, generator=g)
    pose = 0.3 * torch.randn(batch, 69, generator=g)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 5):
            t0 = time.perf_counter()
            model(betas=betas, global_orient=orient, body_pose=pose)
            if i >= 5:  # warm-up
                times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--body-model", default=None, help="also time this SMPL file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = Path(tmp) / "synthetic_smpl.npz"
        np.savez(synthetic, **make_synthetic_smpl())
        models = {
            "default body": load_body_model(None),
            "synthetic SMPL": load_body_model(synthetic),
        }
        if args.body_model:
            models["user SMPL"] = load_body_model(args.body_model)
        print(f"torch {torch.__version__}, {args.threads} thread(s), CPU, float32")
        for name, model in models.items():
            b1, b16 = time_forward(model, 1), time_forward(model, 16, repeats=20)
            print(
                f"{name:15s} V={model.num_vertices:6d}  batch 1: {b1:6.2f} ms   "
                f"batch 16: {b16:7.2f} ms  ({b16 / 16:.2f} ms/body)"
            )


if __name__ == "__main__":
    main()
