"""Puts the repository root on `sys.path`: `python benchmarks/x.py` then imports `stdformer`.

Scripts here run as plain files from a checkout (nothing is installed); each one starts its
first-party imports with `import _bootstrap  # noqa: F401` (this folder is `sys.path[0]` then).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[1])
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
