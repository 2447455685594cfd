"""Cost of mesh levels and keypoint regressors: one-off builds and per-frame application.

    python benchmarks/bench_levels.py [--threads 1] [--repeats 20] [--body PATH]

One-off (once per body, then cached): `compute_mesh_levels` on the given body (default: the
embedded default body) and on the synthetic SMPL-layout model (6,890 vertices), loading levels
from the disk cache, and building the regressors. Per frame (median ms, CPU): down-sampling
full -> mid -> coarse, up-sampling mid -> full (the vertex head's fixed last step; dense as
stored, and the same matrix as torch sparse CSR) and regressing the 33 landmarks, for batch 1
and 16.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import _bootstrap  # noqa: F401
import numpy as np
import torch

from stdformer.body import regressors as R
from stdformer.body.body_model import load_body_model
from stdformer.body.mesh_levels import (
    compute_mesh_levels,
    load_or_compute_mesh_levels,
    mesh_levels_for_body,
)
from stdformer.body.synthetic_smpl import make_synthetic_smpl


def time_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `fn` in ms after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--body", default=None, help="body model file (default: embedded body)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    body = load_body_model(args.body)
    print(f"body: {body.kind}, V={body.num_vertices}; torch threads {args.threads}")

    t0 = time.perf_counter()
    compute_mesh_levels(body.v_template, body.faces)
    print(f"compute_mesh_levels (V={body.num_vertices}): {time.perf_counter() - t0:.2f} s")
    synthetic = make_synthetic_smpl()
    sphere_v, sphere_f = synthetic["v_template"], synthetic["f"].astype(np.int64)
    t0 = time.perf_counter()
    compute_mesh_levels(sphere_v, sphere_f)
    print(f"compute_mesh_levels (V={len(sphere_v)}, synthetic SMPL layout): "
          f"{time.perf_counter() - t0:.2f} s")  # fmt: skip
    with tempfile.TemporaryDirectory() as cache:
        load_or_compute_mesh_levels(sphere_v, sphere_f, cache)
        t0 = time.perf_counter()
        load_or_compute_mesh_levels(sphere_v, sphere_f, cache)
        print(f"load levels from disk cache (V=6890): {(time.perf_counter() - t0) * 1e3:.0f} ms")
    t0 = time.perf_counter()
    levels = mesh_levels_for_body(body)
    print(f"mesh_levels_for_body (committed/cached): {(time.perf_counter() - t0) * 1e3:.0f} ms")
    t0 = time.perf_counter()
    R.build_regressors(body.v_template, body.faces, body.J_regressor, body.lbs_weights)
    print(f"build regressors: {(time.perf_counter() - t0) * 1e3:.0f} ms")

    up = torch.from_numpy(levels.up_mid_to_full)  # (Vf, Vm) dense, as MeshLevels stores it
    up_csr = up.to_sparse_csr()  # the same matrix in sparse form: 3 non-zeros per row

    def up_sparse(mid: torch.Tensor) -> torch.Tensor:  # (B, Vm, 3) -> (B, Vf, 3)
        b, vm, _ = mid.shape
        flat = mid.permute(1, 0, 2).reshape(vm, b * 3)
        return (up_csr @ flat).reshape(-1, b, 3).permute(1, 0, 2)

    lm = R.landmark_regressor(body)  # (33, V)
    for batch in (1, 16):
        verts = torch.randn(batch, body.num_vertices, 3)
        mid = torch.randn(batch, levels.sizes[1], 3)
        down = time_ms(lambda v=verts: levels.downsample(v), args.repeats)
        upm = time_ms(lambda m=mid: torch.matmul(up, m), args.repeats)
        ups = time_ms(lambda m=mid: up_sparse(m), args.repeats)
        reg = time_ms(lambda v=verts: R.regress(lm, v), args.repeats)
        print(
            f"B={batch:2d}: MeshLevels.downsample {down:6.2f} ms | up mid->full dense "
            f"{upm:7.2f} ms, sparse CSR {ups:6.3f} ms | regress 33 landmarks {reg:6.3f} ms"
        )


if __name__ == "__main__":
    main()
