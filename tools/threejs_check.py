"""Play an exported skinned GLB in three.js (headless Chromium) and compare its bones with the
recording's joints.

    python tools/threejs_check.py REC.strec TAKE_skinned.glb THREE_DIR [--frames 0,60,179]

THREE_DIR is an installed `three` npm package (`npm install three` puts it in
node_modules/three). Needs `chromium` (Debian: apt-get install chromium). Prints the frame
count, the animation's duration, the largest joint distance in mm and the pixels the body
covers in a WebGL2 render; exit code 1 when a joint is more than 10 mm off or nothing is drawn.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    from stdformer.body.smpl_file import SMPL_JOINT_NAMES
    from stdformer.recording import open_recording
    from stdformer.recording.animation import YUP_FROM_CAM

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recording")
    p.add_argument("glb")
    p.add_argument("three_dir")
    p.add_argument("--frames", default="0,10,20")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        web = Path(tmp)
        shutil.copy(REPO / "tools" / "threejs_check.html", web / "check.html")
        shutil.copy(args.glb, web / "take.glb")
        (web / "three").symlink_to(Path(args.three_dir).resolve())
        handler = functools.partial(_QuietHandler, directory=str(web))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/check.html?frames={args.frames}"
        dom = subprocess.run(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--enable-unsafe-swiftshader", "--virtual-time-budget=30000", "--dump-dom", url],
            capture_output=True, text=True, timeout=300,
        ).stdout  # fmt: skip
        server.shutdown()
    text = html.unescape(re.search(r'<pre id="out">(.*?)</pre>', dom, re.S).group(1))
    if not text.startswith("{"):
        print(f"three.js: {text}")
        return 1
    got = json.loads(text)
    rec = open_recording(args.recording)
    frames = [int(f) for f in args.frames.split(",")]
    # skinned GLB frame k shows recording frame k from the first mesh frame on (no gaps here)
    pos = np.flatnonzero(rec.has_mesh)[frames]
    want = np.asarray(rec.joints[pos], np.float64) @ YUP_FROM_CAM.T  # (k, 24, 3)
    three = np.stack([np.array(got["joints"][n]) for n in SMPL_JOINT_NAMES], axis=1)
    err_mm = 1000 * np.linalg.norm(three - want, axis=-1)
    print(f"three.js: frame_count {got['frame_count']}, fps {got['fps']:.3f}, duration "
          f"{got['duration']:.3f} s, joints max {err_mm.max():.3f} mm mean {err_mm.mean():.3f} "
          f"mm at frames {frames}, body pixels {got['body_pixels']}")  # fmt: skip
    return 0 if err_mm.max() <= 10.0 and got["body_pixels"] > 100 else 1


if __name__ == "__main__":
    sys.exit(main())
