"""Per-frame cost of the image front-end's three streaming steps, and parameter counts.

    python benchmarks/bench_frontends.py [--backbones resnet50 hrnet_w32 hrnet_w64]
                                         [--threads 2] [--repeats 5] [--device cpu|cuda]

For a live stream one new frame costs: `encode_frame` on that frame (N=1, stem + layer1),
SD/TD over the cached buffer (B=1, T frames of 256x56x56) and `tokens` for the frame to output
(N=1, rest of the backbone + conv_1x1). "dis.clip" is `disentangle` (all T fused frames, clip
mode), "dis.frame" is `disentangle_frame` (one fused frame: SD on it, TD over all T), which is
what a new frame needs; "new frame" = encode + dis.frame + tokens. Best-of-N ms after a warm-up.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import _bootstrap  # noqa: F401
import torch

from stdformer.model.backbones import count_parameters
from stdformer.model.config import BACKBONES, image_config
from stdformer.model.image_frontend import ImageFrontEnd


def best_times_ms(
    fns: dict[str, Callable[[], torch.Tensor]], repeats: int, device: torch.device
) -> dict[str, float]:
    """Best wall time in ms of each function after one warm-up call (synchronising on CUDA).

    The calls are interleaved (a, b, c, a, b, c, ...) and the minimum is kept: on a shared
    machine other processes only ever add time, in bursts, so interleaving spreads the bursts
    over all steps and the best run is the closest estimate of the cost itself.
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for key, fn in fns.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[key].append((time.perf_counter() - t0) * 1e3)
    return {k: min(v) for k, v in times.items()}


def bench(name: str, T: int, repeats: int, device: torch.device) -> dict[str, float]:
    fe = ImageFrontEnd(image_config(preset="L", backbone=name, T=T)).eval().to(device)
    x = torch.randn(1, 3, 224, 224, device=device)
    feats = torch.randn(1, T, 256, 56, 56, device=device)
    with torch.inference_mode():
        ms = best_times_ms(
            {
                "encode_frame_ms": lambda: fe.encode_frame(x),
                "disentangle_ms": lambda: fe.disentangle(feats),
                "disentangle_frame_ms": lambda: fe.disentangle_frame(feats, T - 1),
                "tokens_ms": lambda: fe.tokens(feats[:, -1]),
            },
            repeats,
            device,
        )
    return {
        "backbone_params": count_parameters(fe.backbone),
        "sd_td_params": count_parameters(fe.disentangle_block),
        "conv_1x1_params": count_parameters(fe.conv_1x1),
        **ms,
        "new_frame_ms": ms["encode_frame_ms"] + ms["disentangle_frame_ms"] + ms["tokens_ms"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backbones", nargs="+", default=["resnet50", "hrnet_w32"], choices=BACKBONES)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--T", type=int, default=8)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"device={device} threads={args.threads} T={args.T} repeats={args.repeats} (best-of-N ms)"
    )
    header = (
        f"{'backbone':<10} {'backbone M':>10} {'SD+TD':>6} {'encode':>8} {'dis.clip':>8} "
        f"{'dis.frame':>9} {'tokens':>8} {'new frame':>10}"
    )
    print(header)
    for name in args.backbones:
        r = bench(name, args.T, args.repeats, device)
        print(
            f"{name:<10} {r['backbone_params'] / 1e6:>10.3f} {r['sd_td_params']:>6d} "
            f"{r['encode_frame_ms']:>8.1f} {r['disentangle_ms']:>8.1f} "
            f"{r['disentangle_frame_ms']:>9.1f} {r['tokens_ms']:>8.1f} "
            f"{r['new_frame_ms']:>10.1f}"
        )


if __name__ == "__main__":
    main()
