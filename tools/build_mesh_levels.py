"""Build assets/default_body_levels.npz: the coarse/middle/full mesh levels of the default body.

Why committed: the vertex head of a network trained on the default body must see exactly the same
coarse/middle meshes every time; shipping them also saves ~2 s at start-up. Any other body (a
user's SMPL file) gets its levels computed on load and cached (`load_or_compute_mesh_levels`).

Deterministic: same `assets/default_body.npz` -> identical arrays (`--check` computes twice and
compares). The file stores the key of the rest mesh it was built from, so a rebuilt default body
with different geometry is detected and its levels are recomputed instead of mismatched.

Usage:
    python tools/build_mesh_levels.py                 # writes assets/default_body_levels.npz
    python tools/build_mesh_levels.py --check         # also verifies determinism
    python tools/build_mesh_levels.py --body PATH --out /tmp/levels.npz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
from scipy.sparse.csgraph import connected_components

from stdformer.body.body_model import load_body_model
from stdformer.body.levels import MeshLevels
from stdformer.body.mesh_levels import (
    DEFAULT_LEVELS_FILE,
    compute_mesh_levels,
    mesh_levels_key,
    save_mesh_levels,
)
from stdformer.paths import ASSETS_DIR


def report(levels: MeshLevels, vertices: np.ndarray) -> None:
    """Print sizes and rest-mesh round-trip errors (mm) of the levels."""
    mid = levels.down_full_to_mid.astype(np.float64) @ vertices
    coarse = levels.down_mid_to_coarse.astype(np.float64) @ mid
    back_mid = levels.up_mid_to_full @ mid
    back_coarse = levels.up_mid_to_full @ (levels.up_coarse_to_mid @ coarse)
    e_mid = np.linalg.norm(back_mid - vertices, axis=1) * 1000
    e_coarse = np.linalg.norm(back_coarse - vertices, axis=1) * 1000
    adj = levels.coarse_adjacency
    print(f"sizes (coarse, mid, full): {levels.sizes}; faces coarse {len(levels.coarse_faces)}, "
          f"mid {len(levels.mid_faces)}")  # fmt: skip
    print(f"full->mid->full   error mm: mean {e_mid.mean():.2f}  p99 "
          f"{np.percentile(e_mid, 99):.2f}  max {e_mid.max():.2f}")  # fmt: skip
    print(f"full->coarse->full error mm: mean {e_coarse.mean():.2f}  p99 "
          f"{np.percentile(e_coarse, 99):.2f}  max {e_coarse.max():.2f}")  # fmt: skip
    print(f"coarse adjacency: symmetric {bool((adj == adj.T).all())}, components "
          f"{connected_components(adj)[0]}, mean degree {adj.sum(1).mean() - 1:.2f}")  # fmt: skip
    print(f"fingerprint {levels.fingerprint()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--body", default=str(ASSETS_DIR / "default_body.npz"), help="body file")
    ap.add_argument("--out", default=str(DEFAULT_LEVELS_FILE), help="output .npz")
    ap.add_argument("--n-coarse", type=int, default=431)
    ap.add_argument("--n-mid", type=int, default=1723)
    ap.add_argument("--check", action="store_true", help="compute twice and compare")
    args = ap.parse_args(argv)

    body = load_body_model(args.body)
    vertices = body.v_template.astype(np.float64)  # (V, 3)
    t0 = time.perf_counter()
    levels = compute_mesh_levels(vertices, body.faces, args.n_coarse, args.n_mid)
    print(f"computed in {time.perf_counter() - t0:.2f} s for {body.num_vertices} vertices")
    if args.check:
        again = compute_mesh_levels(vertices, body.faces, args.n_coarse, args.n_mid)
        same = all(
            np.array_equal(getattr(levels, k), getattr(again, k))
            for k in ("down_full_to_mid", "down_mid_to_coarse", "up_coarse_to_mid",
                      "up_mid_to_full", "coarse_adjacency", "coarse_faces", "mid_faces")
        )  # fmt: skip
        print(f"deterministic: {same}")
        if not same:
            return 1
    report(levels, vertices)
    key = mesh_levels_key(body.v_template, body.faces, args.n_coarse, args.n_mid)
    save_mesh_levels(levels, args.out, key)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB, key {key})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
