"""What the live path loads before its first mesh: not pyrender's on-screen viewer (pyglet,
X11, tkinter: ~0.1-0.2 s of start-up), and the embedded body's 34 MB of pose blend shapes stay
float32 (converting them to float64 and back cost ~0.1 s)."""

from __future__ import annotations

import json
import subprocess
import sys

from stdformer.paths import REPO_ROOT

PROBE = """
import json, sys
import numpy as np
from stdformer.body.body_model import load_body_model
from stdformer.body.smpl_file import read_smpl_file
from stdformer.render.gl_platform import RenderError, import_pyrender
from stdformer.render.renderer import OffscreenRenderer

body = load_body_model()
renderer = OffscreenRenderer(64, 48)
K = np.array([[60.0, 0, 32], [0, 60, 24], [0, 0, 1]])
frame = renderer.render_overlay_rgba(body.v_template + [0, 0, 3], body.faces, K, (64, 48))
try:
    import_pyrender().Viewer()
    viewer = "opened"
except RenderError as exc:
    viewer = str(exc)
renderer.close()
print(json.dumps({
    "pyglet": "pyglet" in sys.modules,
    "posedirs": str(read_smpl_file(body.source_path).posedirs.dtype),
    "drawn": int((frame[..., 3] > 0).sum()),
    "viewer": viewer,
}))
"""


def test_first_frame_path_skips_unused_heavy_modules() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["pyglet"] is False
    assert report["posedirs"] == "float32"
    assert report["drawn"] > 50  # the body still renders with the viewer left out
    assert "Viewer is not loaded" in report["viewer"]
