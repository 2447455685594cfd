"""Look at predictions next to the truth on held-out clips: a PNG contact sheet.

    python tools/render_predictions.py --weights W --out sheet.png [--clips 6] [--frame 45]

For each held-out corpus clip: the re-rendered input frame with the predicted mesh drawn over it
through the predicted camera, and a 3D side-by-side of the truth (grey, left) and the
prediction (blue, right), pelvis-centred, seen from the camera's side. The predictions come
from the clip's stored MediaPipe detections streamed through the app's Predictor (causal).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import cv2
import numpy as np

from stdformer.body.mesh_levels import default_cache_dir


def main(argv: list[str] | None = None) -> int:
    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import mesh_levels_for_body
    from stdformer.data import appearance
    from stdformer.data.corpus import load_corpus, make_clip
    from stdformer.eval import evaluate as ev
    from stdformer.model.checkpoint import load_model
    from stdformer.render.geometry import frame_box
    from stdformer.render.renderer import OffscreenRenderer, yup_from_opencv
    from stdformer.session.pipeline import choose_weights

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights")
    p.add_argument("--heldout", type=Path, default=default_cache_dir() / "corpus" / "heldout")
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--frame", type=int, default=45)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    body = load_body_model()
    model = load_model(mesh_levels_for_body(body), choose_weights(args.weights))
    clips = [c for c in load_corpus(args.heldout) if c.detected[args.frame]]
    step = max(1, len(clips) // args.clips)
    rows = []
    with OffscreenRenderer(480, 480) as r:
        for clip in clips[::step][: args.clips]:
            spec = make_clip(body, clip.seed)
            rng = np.random.default_rng(clip.seed + 7)  # render_clip's appearance draws
            colors = appearance.clothing_colors(body, rng)
            photos = sorted((default_cache_dir() / "backgrounds").glob("*"))
            bg = appearance.background_bgr(
                clip.camera.size_wh,
                clip.background,
                rng,
                appearance.photo_split(photos, held_out=True),
            )
            i = args.frame
            v_cam = clip.camera.to_cam(spec.vertices_world[i])
            img = r.render_overlay_bgr(bg, v_cam, body.faces, clip.K, 1.0, colors)
            out = ev.run_network(model, body, ev.observations(clip), 0, static=False)
            gt_v, _, _ = ev.truth(body, clip)
            over = r.render_overlay_bgr(img, out.verts_cam[i], body.faces, out.K, 0.6)
            both = np.concatenate([gt_v[i] - [0.5, 0, 0], out.verts[i] + [0.5, 0, 0]])
            faces2 = np.concatenate([body.faces, body.faces + body.num_vertices])
            col = np.concatenate(
                [
                    np.tile([0.75, 0.75, 0.75], (body.num_vertices, 1)),
                    np.tile([0.45, 0.6, 0.95], (body.num_vertices, 1)),
                ]
            )
            world = yup_from_opencv(both)
            cam = frame_box(world.min(0), world.max(0), (r.width, r.height))
            view = r.render_view_rgb(cam, world, faces2, col)[..., ::-1]
            h = 360
            tiles = [
                cv2.resize(over, (round(over.shape[1] * h / over.shape[0]), h)),
                cv2.resize(view, (h, h)),
            ]
            label = f"{clip.activity} / {clip.framing}"
            cv2.putText(tiles[0], label, (8, 24), 0, 0.7, (0, 0, 255), 2)
            rows.append(np.hstack(tiles))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    cv2.imwrite(str(args.out), np.vstack(rows))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
