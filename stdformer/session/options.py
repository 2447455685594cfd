"""The pipeline's command-line options, defined once for the app and every headless command.

`main.py` (GUI), `main.py process` and `main.py evaluate --video` all call
`add_pipeline_args(parser)` and build their `PipelineConfig` with `pipeline_config_from_args`,
so an option means the same everywhere and an out-of-range value (`--lookahead -1`) is a usage
error (exit 2) before any model loads.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from stdformer.detect.localize import LocalizerConfig
from stdformer.inference.predictor import DEFAULT_FOV_DEG
from stdformer.inference.refine import BODY_OUTPUTS, HIDDEN_LEGS
from stdformer.inference.smoothing import MAX_LAG_FRAMES
from stdformer.session.pipeline import LIVE_LOOKAHEAD, PipelineConfig, default_lookahead

MAX_NETWORK_LOOKAHEAD = 7  # the shipped network's window is 8 frames (`ModelConfig.T`)


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer >= minimum (and <= maximum; a usage error names the option)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in "invalid integer value"
    return parse


def positive_float(text: str) -> float:
    """argparse type: a float > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def field_of_view(text: str) -> float:
    """argparse type: a field of view in (0, 180) degrees."""
    value = float(text)
    if not 0.0 < value < 180.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 180) degrees, got {text}")
    return value


def add_pipeline_args(
    parser: argparse.ArgumentParser, network_lookahead: int = 0, lookahead: int | None = None
) -> argparse.ArgumentParser:
    """Add the options every command that runs the pipeline takes (files, device, look-ahead,
    people); `pipeline_config_from_args` turns them into a `PipelineConfig`.
    `network_lookahead`, `lookahead`: this command's defaults of --network-lookahead and
    --lookahead (None: the live session's, `default_lookahead()` on this machine)."""
    g = parser.add_argument_group("pipeline")
    g.add_argument(
        "--pose-model", metavar="PATH", help="MediaPipe pose landmarker .task (lite/full/heavy)"
    )
    g.add_argument("--body-model", metavar="PATH", help="SMPL .pkl/.npz (default: embedded body)")
    g.add_argument("--weights", metavar="PATH", help="STDFormer checkpoint (default: shipped)")
    g.add_argument(
        "--mesh-levels",
        metavar="PATH",
        help="mesh levels the weights were trained with (official weights: METRO's)",
    )
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    g.add_argument(
        "--lookahead",
        type=int_at_least(0, MAX_LAG_FRAMES),
        default=lookahead,
        metavar="K",
        help="the smoother looks K frames ahead: a steadier mesh, K frames later (default "
        + (f"{LIVE_LOOKAHEAD} from 2 CPUs, 0 on one)" if lookahead is None else f"{lookahead})"),
    )
    g.add_argument(
        "--network-lookahead",
        type=int_at_least(0, MAX_NETWORK_LOOKAHEAD),
        default=network_lookahead,
        metavar="K",
        help="the network reads K frames past the one it meshes: a more accurate body, K "
        f"frames later (default {network_lookahead})",
    )
    g.add_argument(
        "--max-people",
        type=int_at_least(1),
        default=2,
        help="people MediaPipe looks for; the main subject is followed (1 is fastest)",
    )
    g.add_argument(
        "--body",
        choices=BODY_OUTPUTS,
        default="refined",
        help="refined: the body model fitted to the network and MediaPipe's landmarks "
        "(default); fit: fitted to the network only; raw: the network's own vertices",
    )
    g.add_argument(
        "--fov",
        type=field_of_view,
        default=DEFAULT_FOV_DEG,
        metavar="DEG",
        help="the camera's field of view across the image's long side: how far away the body "
        f"is placed (default {DEFAULT_FOV_DEG:g}: a typical webcam or phone)",
    )
    g.add_argument(
        "--hidden-legs",
        choices=HIDDEN_LEGS,
        default="seated",
        help="legs out of view with the hips at the bottom edge (head and shoulders at a "
        "desk): show them seated (default) or standing",
    )
    return parser


def unit_float(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def lag_seconds(text: str) -> float:
    """argparse type: a smoothing lag in [0, 2] seconds."""
    value = float(text)
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 2] seconds, got {text}")
    return value


def add_smoothing_args(
    parser: argparse.ArgumentParser, strength: float, lag_s: float
) -> argparse.ArgumentParser:
    """--smoothing and --smoothing-lag (headless commands; this command's defaults)."""
    g = parser.add_argument_group("smoothing")
    g.add_argument(
        "--smoothing", type=unit_float, default=strength, metavar="S",
        help=f"One-Euro strength of the mesh in [0, 1], 0 = off (default {strength:g})",
    )  # fmt: skip
    g.add_argument(
        "--smoothing-lag", type=lag_seconds, default=lag_s, metavar="SECONDS",
        help=f"zero-phase smoothing over this much of the future, in [0, 2] (default {lag_s:g})",
    )  # fmt: skip
    return parser


def smoothing_from_args(args: argparse.Namespace) -> dict[str, float]:
    """`SessionConfig` keyword arguments from `add_smoothing_args`'s options."""
    return {"smoothing": args.smoothing, "smoothing_lag_s": args.smoothing_lag}


def pipeline_config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The `PipelineConfig` the options of `add_pipeline_args` describe."""
    return PipelineConfig(
        localizer=LocalizerConfig(pose_model=args.pose_model, max_people=args.max_people),
        body_model=args.body_model,
        weights=args.weights,
        mesh_levels=args.mesh_levels,
        device=args.device,
        lookahead=default_lookahead() if args.lookahead is None else args.lookahead,
        network_lookahead=args.network_lookahead,
        body_output=args.body,
        hidden_legs=args.hidden_legs,
        fov_deg=args.fov,
    )
