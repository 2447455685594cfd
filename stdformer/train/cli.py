"""`python main.py train`: train the embedded landmark network (see stdformer.train.loop).

The shipped weights come from one command on a 2-core CPU (README, assets/README.md):

    python tools/make_corpus.py --split train --count 260 --workers 2
    python tools/calibrate_simulator.py
    python main.py train --steps 4000
    cp ~/.cache/stdformer/runs/landmarks/best.pt assets/stdformer_landmarks.pt

Several processes or GPUs: `torchrun --nproc-per-node N main.py train ...` (DDP; the global
batch is split between processes, so results match a single process).
"""

from __future__ import annotations

import argparse
import logging
import sys

from stdformer.train.config import add_config_flags, config_from_args


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="main.py train", description=__doc__.split("\n\n")[0])
    add_config_flags(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = config_from_args(args)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from stdformer.train.loop import train

    try:
        metrics = train(cfg, show_progress=not args.quiet)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if metrics:
        print("validation: " + ", ".join(f"{k} {v:.1f} mm" for k, v in metrics.items()))
    print(f"checkpoints in {cfg.out_dir}")
    return 0
