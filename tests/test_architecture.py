"""House rules that are easy to break silently: the library never imports Qt, and importing it
has no side effects of its own (environment, logging configuration, torch thread settings)."""

from __future__ import annotations

import json
import subprocess
import sys

from stdformer.paths import REPO_ROOT

PROBE = """
import json, logging, os, pkgutil, importlib, sys
import cv2  # third party: OpenCV's wheel sets QT_QPA_* and LD_LIBRARY_PATH when imported
import torch
env_before = dict(os.environ)
threads_before = torch.get_num_threads()
import stdformer
names = [m.name for m in pkgutil.walk_packages(stdformer.__path__, "stdformer.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({
    "modules": len(names),
    "qt": sorted(m for m in sys.modules if m.startswith(("PyQt", "PySide"))),
    "env_changed": sorted(k for k in set(env_before) | set(os.environ)
                          if env_before.get(k) != os.environ.get(k)),
    "root_handlers": len(logging.getLogger().handlers),
    "threads_changed": torch.get_num_threads() != threads_before,
    "pyrender_loaded": "pyrender" in sys.modules,
}))
"""


def test_library_imports_without_qt_or_side_effects() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["modules"] > 30
    assert report["qt"] == []
    assert report["env_changed"] == []
    assert report["root_handlers"] == 0
    assert report["threads_changed"] is False
    assert report["pyrender_loaded"] is False  # GL is set up on first use, not at import
