"""Build assets/default_body_display.npz: the lighter meshes the live views draw (default body).

Why committed: the decimation takes a few seconds for the 13,718-vertex default body, and the app
should show its first mesh quickly; any other body's display meshes are computed on first use and
cached (`DisplayLod.for_body`). Deterministic: the same `assets/default_body.npz` gives the same
arrays (`--check` computes twice and compares). The file stores, per level, the key of the rest
mesh it was built from, so a rebuilt default body is detected and recomputed, never mismatched.

Usage:
    python tools/build_display_mesh.py            # writes assets/default_body_display.npz
    python tools/build_display_mesh.py --check    # also verifies determinism
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np

from stdformer.body.body_model import load_body_model
from stdformer.paths import ASSETS_DIR
from stdformer.render.display_mesh import (
    DEFAULT_DISPLAY_FILE,
    DISPLAY_SIZES,
    compute_display_lod,
    display_key,
    save_display_lods,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--body", default=str(ASSETS_DIR / "default_body.npz"), help="body file")
    ap.add_argument("--out", default=str(DEFAULT_DISPLAY_FILE), help="output .npz")
    ap.add_argument("--check", action="store_true", help="compute twice and compare")
    args = ap.parse_args(argv)

    body = load_body_model(args.body)
    lods, keys = {}, {}
    for level in DISPLAY_SIZES:
        t0 = time.perf_counter()
        lods[level] = compute_display_lod(body.v_template, body.faces, level)
        keys[level] = display_key(body.v_template, body.faces, level)
        print(f"{level}: {len(lods[level].rows)} vertices, {len(lods[level].faces)} faces, "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        if args.check:
            again = compute_display_lod(body.v_template, body.faces, level)
            same = np.array_equal(again.rows, lods[level].rows) and np.array_equal(
                again.faces, lods[level].faces
            )
            print(f"  deterministic: {same}")
            if not same:
                return 1
    save_display_lods(lods, keys, Path(args.out))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
