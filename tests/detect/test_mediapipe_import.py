"""Creating the landmarker imports mediapipe without loading matplotlib's pyplot (mediapipe's
drawing helpers import it; ~0.4 s of start-up) nor sounddevice (its audio recorder), and pyplot
still works for whoever uses it."""

from __future__ import annotations

import subprocess
import sys

from stdformer.paths import REPO_ROOT

SCRIPT = """
import sys
from stdformer.detect.localize import PersonLocalizer
localizer = PersonLocalizer()
lazy = all(
    type(sys.modules[name]).__name__ == "_LazyModule"
    for name in ("matplotlib.pyplot", "sounddevice")
)
import matplotlib
import matplotlib.pyplot as plt
figure = plt.figure()
print("lazy", lazy, "works", type(figure).__name__, matplotlib.pyplot is plt)
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
    assert "lazy True works Figure True" in proc.stdout
