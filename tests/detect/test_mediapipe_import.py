"""Creating the landmarker imports mediapipe without loading its drawing helpers (they import
matplotlib's pyplot, ~0.5 s of start-up) nor its audio recorder's sounddevice, and they still
work for whoever uses them."""

from __future__ import annotations

import subprocess
import sys

from stdformer.paths import REPO_ROOT

SCRIPT = """
import sys
from stdformer.detect.localize import PersonLocalizer
localizer = PersonLocalizer()
lazy = "matplotlib" not in sys.modules and all(
    type(sys.modules[name]).__name__ == "_LazyModule"
    for name in ("mediapipe.tasks.python.vision.drawing_utils", "sounddevice")
)
from mediapipe.tasks.python.vision import drawing_utils
import matplotlib
import matplotlib.pyplot as plt
spec = drawing_utils.DrawingSpec(color=(0, 0, 255))
figure = plt.figure()
print("lazy", lazy, "works", type(figure).__name__, drawing_utils.plt is plt, spec.color)
localizer.close()
"""


def test_landmarker_leaves_pyplot_unloaded_and_usable() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "lazy True works Figure True (0, 0, 255)" in proc.stdout
