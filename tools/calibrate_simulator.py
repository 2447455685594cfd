"""Fit the observation simulator on the rendered-and-detected training corpus.

    python tools/calibrate_simulator.py [--corpus DIR]

Writes `stdformer/data/sim_calibration.json` (see `stdformer.data.simulate`) and prints the
fitted numbers. Only training-split clips are used; the held-out split never is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np

from stdformer.body.mesh_levels import default_cache_dir
from stdformer.detect.pose_topology import POSE_LANDMARK_NAMES


def main(argv: list[str] | None = None) -> int:
    from stdformer.body.body_model import load_body_model
    from stdformer.data.corpus import load_corpus
    from stdformer.data.dataset import corpus_record
    from stdformer.data.simulate import CALIBRATION_FILE, calibrate

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=default_cache_dir() / "corpus" / "train")
    p.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = p.parse_args(argv)
    body = load_body_model()
    clips = load_corpus(args.corpus)
    if not clips:
        print(f"error: no corpus clips in {args.corpus}; run tools/make_corpus.py first")
        return 2
    samples = []
    for c in clips:
        rec = corpus_record(body, c)
        samples.append(
            {
                "gt_cam": rec.landmarks_cam,
                "K": rec.K,
                "size_wh": rec.size_wh,
                "detected": c.detected,
                **rec.observed,
            }
        )
    cal = calibrate(samples, [c.framing for c in clips])
    cal.save(args.out)
    np.set_printoptions(precision=3, suppress=True)
    print(f"{len(clips)} clips, {cal.n_frames} detected frames -> {args.out}")
    print(f"rho {cal.rho:.3f}  z_gain {cal.z_gain:.3f}  swap_rate {cal.swap_rate:.4f}")
    print("miss rate by framing:", {k: round(v, 3) for k, v in cal.miss_rate.items()})
    print("world map:\n", cal.world_map)
    print(f"{'landmark':18s} bias_x bias_y std_in std_out world_std vis_in pres_in pres_out")
    for i, name in enumerate(POSE_LANDMARK_NAMES):
        print(
            f"{name:18s} {cal.bias[i, 0]:+.3f} {cal.bias[i, 1]:+.3f} "
            f"{cal.std_in[i].mean():.3f} {cal.std_out[i].mean():.3f} {cal.world_std[i]:.3f}  "
            f"{cal.vis_in[i, 0]:.2f} {cal.pres_in[i, 0]:.2f} {cal.pres_out[i, 0]:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
