"""Build the real-footage validation set (pose2sim's Demo_MultiPerson, 4 calibrated views).

    python tools/build_real_set.py            # download (pip) if needed, detect, triangulate
    python tools/build_real_set.py --rebuild  # recompute the reference from cached detections

Steps: `pip download --no-deps pose2sim==0.10.49` into ~/.cache/stdformer/real/ (BSD-3; the
videos are never committed), unpack only `Pose2Sim/Demo_MultiPerson`, run MediaPipe on every
view, associate the two people across views, check the calibration, and triangulate one
reference per held-out view (`stdformer.eval.real_set`). Prints the reprojection statistics.
Then `python main.py evaluate --real` scores the app on it.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stdformer.eval import real_set as rs
from stdformer.eval.real_build import build_real_set, extract_take


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=rs.real_dir(), help="cache folder")
    p.add_argument("--pose-model", help="MediaPipe .task (default: the embedded one)")
    p.add_argument("--rebuild", action="store_true", help="recompute the reference")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.root.mkdir(parents=True, exist_ok=True)
    if not (args.root / rs.WHEEL).is_file():
        version = rs.WHEEL.split("-")[1]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", f"pose2sim=={version}",
               "-d", str(args.root)]  # fmt: skip
        print("downloading:", " ".join(cmd))
        subprocess.run(cmd, check=True)
    extract_take(args.root)
    t0 = time.perf_counter()
    real = build_real_set(args.root, args.pose_model, rebuild=args.rebuild)
    print(f"real set ready in {time.perf_counter() - t0:.1f} s ({len(real.videos)} views, "
          f"{real.uv.shape[2]} frames, {real.fps:g} fps)")  # fmt: skip
    print(json.dumps(real.stats, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
