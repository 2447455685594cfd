"""Convert the CMU motion-capture clips to SMPL-layout pose clips for training (resumable).

    python tools/convert_cmu.py --mirror /path/to/IClone-CMU-Mocap/.git [--preview DIR]

`--mirror`: a git directory (bare or not) of the source repository that holds
`stdformer.data.cmu.SOURCE_COMMIT` (e.g. `git clone <SOURCE_REPO>`); files are read with
`git show`, nothing is downloaded or copied into this repository. Each clip of
`stdformer.data.cmu.CLIPS` is parsed, fitted to the default body and written at 30, 60 and 25 fps
to `--out` (default `~/.cache/stdformer/cmu/v<version>`); clips already there are skipped, so
an interrupted run continues. Prints the clip count, hours and the fit residual. `--preview DIR`
also renders a few frames of some clips to PNG (front and side) to check the conversion by eye.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np

PREVIEW = (("002_03", 0.4), ("005_05", 0.5), ("006_14", 0.6), ("001_08", 0.75), ("002_06", 0.4))


def read_source(mirror: Path, commit: str, path: str) -> str:
    out = subprocess.run(
        ["git", f"--git-dir={mirror}", "show", f"{commit}:{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise FileNotFoundError(f"{path} at {commit[:10]} not in {mirror}: {out.stderr.strip()}")
    return out.stdout


def preview(folder: Path, out_dir: Path, body) -> list[Path]:
    """Render frames of `PREVIEW` clips (30 fps) from the front and the side, to PNG."""
    import cv2
    import torch

    from stdformer.data import cmu
    from stdformer.data.scene import intrinsics_from_vfov, look_at
    from stdformer.render.renderer import OffscreenRenderer

    renderer = OffscreenRenderer(640, 480)
    K = intrinsics_from_vfov((640, 480), 55.0)
    written = []
    for name, u in PREVIEW:
        path = cmu.clip_file(folder, name, 30.0)
        if not path.exists():
            continue
        clip = cmu.load_cmu_clip(path)
        i = int(u * (clip.n_frames - 1))
        with torch.no_grad():
            verts = (
                body(
                    betas=torch.as_tensor(clip.betas[None]),
                    global_orient=torch.as_tensor(clip.global_orient[i : i + 1]),
                    body_pose=torch.as_tensor(clip.body_pose[i : i + 1]),
                    transl=torch.as_tensor(clip.transl[i : i + 1]),
                )
                .vertices[0]
                .numpy()
            )
        centre = verts.mean(0)
        views = []
        for az in (0.0, 90.0):  # degrees around +Y from +Z (the rig's forward)
            a = np.radians(az)
            eye = centre + np.array([3.2 * np.sin(a), 0.3, 3.2 * np.cos(a)])
            R = look_at(eye, centre)
            v_cam = (verts - eye) @ R.T
            img = renderer.render_overlay_bgr(
                np.full((480, 640, 3), 200, np.uint8), v_cam, body.faces, K, alpha=1.0
            )
            # the fitted target joints as dots (red), to compare with the mesh
            j_cam = (clip.joints_target[i] - eye) @ R.T
            uv = j_cam @ K.T
            for x, y in (uv[:, :2] / uv[:, 2:3]).astype(int):
                cv2.circle(img, (int(x), int(y)), 4, (0, 0, 255), -1)
            views.append(img)
        out = out_dir / f"cmu_{name}_f{i}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.putText(views[0], f"{name} {clip.description[:40]}", (8, 24), 0, 0.6, (0, 0, 0), 1)
        cv2.imwrite(str(out), np.concatenate(views, 1))
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    from stdformer.body.body_model import load_body_model
    from stdformer.body.fit import BodyFitter
    from stdformer.data import cmu
    from stdformer.data.bvh import BvhError, parse_bvh

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mirror", type=Path, required=True, help="git dir of the source repository")
    p.add_argument("--out", type=Path, default=cmu.cache_dir())
    p.add_argument("--preview", type=Path, help="also render a few frames to PNG here")
    args = p.parse_args(argv)
    body = load_body_model()
    fitter = BodyFitter(body)
    failed = []
    for k, name in enumerate(cmu.CLIPS):
        if all(cmu.clip_file(args.out, name, r).exists() for r in cmu.RATES):
            continue
        try:
            bvh = parse_bvh(read_source(args.mirror, cmu.SOURCE_COMMIT, cmu.source_path(name)))
        except (FileNotFoundError, BvhError) as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        for clip in cmu.convert(bvh, name, fitter):
            cmu.save_cmu_clip(clip, args.out)
        print(f"[{k + 1}/{len(cmu.CLIPS)}] {name}: {bvh.n_frames} frames at {bvh.fps:.0f} fps")
    summary = {}
    for fps in cmu.RATES:
        clips = [cmu.load_cmu_clip(cmu.clip_file(args.out, n, fps)) for n in cmu.CLIPS
                 if cmu.clip_file(args.out, n, fps).exists()]  # fmt: skip
        res = np.concatenate([c.residual_mm for c in clips]) if clips else np.zeros(1)
        summary[f"{fps:.0f}fps"] = {
            "clips": len(clips),
            "held_out": sum(c.name in cmu.HELD_OUT for c in clips),
            "hours": sum(c.n_frames / c.fps for c in clips) / 3600,
            "residual_mm_mean": float(res.mean()),
            "residual_mm_p95": float(np.percentile(res, 95)),
            "residual_mm_max": float(res.max()),
        }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    if args.preview:
        for path in preview(args.out, args.preview, body):
            print(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
