"""Fixtures for body-model tests: a synthetic SMPL-layout model built at test time.

CI has no licensed SMPL files, so the SMPL code path is exercised on a procedural stand-in with
SMPL's layout: 6890 vertices and 13776 faces (a closed UV sphere with 84 rings x 82 segments,
stretched into a 1.7 m body-sized ellipsoid), SMPL's 24-joint tree, skinning weights from the
distance to each joint's bone segment (3 nearest bones, so every vertex has local support),
10 smooth procedural shape directions and pose blend shapes that touch only the vertices a joint
skins. It is written both as `.npz` and as an official-style `.pkl` whose shape arrays are
chumpy-like objects and whose joint regressor is a scipy sparse matrix, so the restricted
unpickler is exercised exactly as with a real file. Nothing here is ever committed.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from stdformer.body.synthetic_smpl import make_synthetic_smpl


class _FakeCh:
    """Pickles like chumpy.ch.Ch: state is a dict whose 'x' holds the array."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __getstate__(self) -> dict:
        return {"x": self.x, "_dirty_vars": set(), "label": None}


class _Evil:
    """A payload the restricted unpickler must refuse (would call os.system)."""

    def __reduce__(self):
        import os

        return (os.system, ("echo should-never-run",))


def write_chumpy_pickle(data: dict[str, np.ndarray], path: Path) -> None:
    """Write `data` like an official SMPL pickle (protocol 2, chumpy arrays, sparse regressor)."""
    chumpy = types.ModuleType("chumpy")
    chumpy_ch = types.ModuleType("chumpy.ch")
    ch_cls = type("Ch", (_FakeCh,), {"__module__": "chumpy.ch", "__qualname__": "Ch"})
    chumpy_ch.Ch = ch_cls
    chumpy.ch = chumpy_ch
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules.update({"chumpy": chumpy, "chumpy.ch": chumpy_ch})
    try:
        out = dict(data)
        out["v_template"] = ch_cls(data["v_template"])
        out["shapedirs"] = ch_cls(data["shapedirs"])
        out["J_regressor"] = scipy.sparse.csc_matrix(data["J_regressor"])
        out["bs_style"] = "lbs"
        with open(path, "wb") as fh:
            pickle.dump(out, fh, protocol=2)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


@pytest.fixture(scope="session")
def synthetic_smpl_data() -> dict[str, np.ndarray]:
    return make_synthetic_smpl()


@pytest.fixture(scope="session")
def synthetic_smpl_npz(tmp_path_factory, synthetic_smpl_data) -> Path:
    path = tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.npz"
    np.savez(path, **synthetic_smpl_data)
    return path


@pytest.fixture(scope="session")
def synthetic_smpl_pkl(tmp_path_factory, synthetic_smpl_data) -> Path:
    path = tmp_path_factory.mktemp("smpl") / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    write_chumpy_pickle(synthetic_smpl_data, path)
    return path


@pytest.fixture(scope="session")
def malicious_pkl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("smpl") / "SMPL_EVIL.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"v_template": _Evil()}, fh, protocol=2)
    return path
