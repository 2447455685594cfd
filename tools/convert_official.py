"""Convert the authors' released STDFormer `state_dict.bin` into an STDFormer-live checkpoint.

    python tools/convert_official.py state_dict.bin --out stdformer_official_3dpw.pt
        --metro-mesh mesh_downsampling.npz --mid-faces smpl_1723_faces.npy
        --save-levels smpl_metro_levels.npz

The release's vertex tokens and learnable upsampling belong to METRO's 431/1723-vertex SMPL
meshes, so the network must be built on those meshes: give METRO's `mesh_downsampling.npz` and
FastMETRO's `smpl_1723_faces.npy` (read without executing pickles; `--save-levels` writes them
as our MeshLevels .npz for the app), or `--levels` with such a file written before. Levels
computed by our own decimation have the same sizes but other vertices and give wrong meshes.

Every official key that maps nowhere, every model tensor left without a value and every shape
mismatch is printed; the conversion is refused unless everything matches or
`--allow-incomplete` is given (the report is then stored in the checkpoint's metadata).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from stdformer.body.levels import MeshLevels
from stdformer.model.checkpoint import save_checkpoint
from stdformer.model.config import BACKBONES, PRESET_LAYERS, image_config
from stdformer.model.convert_official import (
    apply_conversion,
    convert_state_dict,
    load_official_state_dict,
)
from stdformer.model.official_levels import read_metro_levels
from stdformer.model.stdformer import build_model
from stdformer.paths import BadFileError, MissingFileError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("state_dict", type=Path, help="the authors' state_dict.bin")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--levels", type=Path, help="METRO SMPL levels as our MeshLevels .npz")
    src.add_argument("--metro-mesh", type=Path, help="METRO's mesh_downsampling.npz")
    p.add_argument("--mid-faces", type=Path, help="FastMETRO's smpl_1723_faces.npy")
    p.add_argument("--save-levels", type=Path, help="write the levels used as MeshLevels .npz")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--preset", default="L", choices=sorted(PRESET_LAYERS))
    p.add_argument("--backbone", default="hrnet_w64", choices=BACKBONES)
    p.add_argument("--T", type=int, default=8, help="clip length the release was trained with")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="OFFICIAL_PREFIX=OUR_PREFIX",
        help="extra rename tried before the built-in rules (repeatable), e.g. "
        "backbone.ema_t.=frontend.disentangle_block.td.ema.",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="write the checkpoint even if keys are missing or unmatched (listed in its meta)",
    )
    return p.parse_args(argv)


def _levels(args: argparse.Namespace) -> MeshLevels:
    if args.metro_mesh is not None:
        if args.mid_faces is None:
            raise MissingFileError("--metro-mesh needs --mid-faces (smpl_1723_faces.npy)")
        return read_metro_levels(args.metro_mesh, args.mid_faces)
    if not args.levels.is_file():
        raise MissingFileError(f"mesh levels not found: {args.levels}")
    try:
        return MeshLevels.load(args.levels)
    except (ValueError, OSError) as exc:
        raise BadFileError(f"{args.levels}: not a mesh-levels .npz ({exc})") from exc


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    prefix_map = {}
    for item in args.map:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            print(f"--map expects OFFICIAL_PREFIX=OUR_PREFIX, got {item!r}", file=sys.stderr)
            return 2
        prefix_map[src] = dst
    try:
        official = load_official_state_dict(args.state_dict)
        levels = _levels(args)
    except (MissingFileError, BadFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.save_levels is not None:
        levels.save(args.save_levels)
        print(f"wrote {args.save_levels} (levels fingerprint {levels.fingerprint()})")
    model = build_model(image_config(args.preset, args.backbone, T=args.T), levels)
    report = convert_state_dict(official, model.state_dict(), args.T, prefix_map)
    print(report.summary())
    try:
        apply_conversion(model, report, allow_incomplete=args.allow_incomplete)
    except BadFileError:
        print("error: conversion incomplete (see above); nothing written", file=sys.stderr)
        return 1
    meta = {
        "converted_from": str(args.state_dict),
        "complete": report.complete,
        "conversion_report": report.summary(),
    }
    out = save_checkpoint(args.out, model, meta)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
