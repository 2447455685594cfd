"""Read METRO/FastMETRO's SMPL mesh-level files into our `MeshLevels`, without running pickles.

The released STDFormer weights predict vertex tokens on METRO's 431-vertex coarse SMPL mesh and
upsample with a map learned for its 1723-vertex mesh, so they only work with those meshes:

- `mesh_downsampling.npz` (GraphCMR/METRO): object arrays `A` (adjacency of the 6890 / 1723 /
  431 meshes), `U` (up: 6890x1723, 1723x431) and `D` (down: 1723x6890, 431x1723), each entry a
  pickled scipy sparse matrix (written by Python 2).
- `smpl_1723_faces.npy` (FastMETRO): the (F, 3) faces of the 1723-vertex mesh.

`np.load(allow_pickle=True)` would execute whatever the pickle says. `read_metro_levels` parses
the npz members itself and unpickles with `stdformer.safe_pickle.restricted_load` (numpy array
reconstruction; scipy sparse classes replaced by a plain record), then rebuilds the matrices from
their arrays.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np
import scipy.sparse as sp

from stdformer.body.levels import MeshLevels
from stdformer.paths import BadFileError, MissingFileError
from stdformer.safe_pickle import StandIn, restricted_load


class _SparseRecord(StandIn):
    """Stand-in for a pickled scipy sparse matrix: keeps its state dict, runs nothing."""

    kind = ""

    def __init__(self, *args: Any) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


_RECORDS = {
    name: type(name, (_SparseRecord,), {"kind": name})
    for name in ("csr_matrix", "csc_matrix", "coo_matrix")
}
_WHAT = "mesh files contain only numpy arrays and scipy sparse matrices"


def _stand_in(module: str, name: str) -> type[StandIn] | None:
    if module.startswith("scipy.sparse") and name in _RECORDS:
        return _RECORDS[name]
    return None


def _to_sparse(rec: Any, where: str) -> sp.csr_matrix:
    if not isinstance(rec, _SparseRecord):
        raise BadFileError(f"{where}: expected a sparse matrix, found {type(rec).__name__}")
    st = rec.state
    shape = tuple(int(v) for v in st.get("_shape", st.get("shape", ())))
    kind = rec.kind
    try:
        if kind == "coo_matrix":
            m = sp.coo_matrix((st["data"], (st["row"], st["col"])), shape=shape)
        else:
            cls = sp.csr_matrix if kind == "csr_matrix" else sp.csc_matrix
            m = cls((st["data"], st["indices"], st["indptr"]), shape=shape)
    except (KeyError, ValueError, TypeError) as exc:
        raise BadFileError(f"{where}: malformed {kind} ({exc})") from exc
    return m.tocsr()


def _read_object_member(zf: zipfile.ZipFile, name: str, path: str) -> list[Any]:
    """One `.npy` member holding a 1-D object array, unpickled with the whitelist."""
    try:
        raw = zf.read(name + ".npy")
    except KeyError as exc:
        raise BadFileError(f"{path}: no array '{name}' (expected A, U, D)") from exc
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    if dtype.hasobject:
        try:
            arr = restricted_load(fp, _stand_in, _WHAT)
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
            raise BadFileError(f"{path}: cannot read '{name}' safely ({exc})") from exc
    else:
        arr = np.frombuffer(fp.read(), dtype=dtype).reshape(shape)
    return list(np.asarray(arr, dtype=object).reshape(-1))


def read_metro_levels(
    sampling_npz: str | os.PathLike[str], mid_faces_npy: str | os.PathLike[str]
) -> MeshLevels:
    """METRO's 6890 / 1723 / 431 SMPL mesh levels as `MeshLevels` (dense float32).

    The coarse mesh has no published faces: `coarse_faces` is empty (it is used for display
    and losses only; the network needs the adjacency, which is there).
    """
    paths = [os.fspath(sampling_npz), os.fspath(mid_faces_npy)]
    for p in paths:
        if not os.path.isfile(p):
            raise MissingFileError(
                f"METRO mesh file not found: {p}. `mesh_downsampling.npz` ships with METRO / "
                "FastMETRO's data download and `smpl_1723_faces.npy` with FastMETRO's source "
                "(src/modeling/data/)."
            )
    try:
        with zipfile.ZipFile(paths[0]) as zf:
            a = [_to_sparse(m, f"{paths[0]}:A") for m in _read_object_member(zf, "A", paths[0])]
            u = [_to_sparse(m, f"{paths[0]}:U") for m in _read_object_member(zf, "U", paths[0])]
            d = [_to_sparse(m, f"{paths[0]}:D") for m in _read_object_member(zf, "D", paths[0])]
    except zipfile.BadZipFile as exc:
        raise BadFileError(f"{paths[0]}: not an .npz archive ({exc})") from exc
    if len(a) < 3 or len(u) < 2 or len(d) < 2:
        raise BadFileError(f"{paths[0]}: expected 3 adjacency and 2 up/down matrices")
    vf, vm, vc = a[0].shape[0], a[1].shape[0], a[2].shape[0]
    expect = {"U[0]": (u[0], (vf, vm)), "U[1]": (u[1], (vm, vc)),
              "D[0]": (d[0], (vm, vf)), "D[1]": (d[1], (vc, vm))}  # fmt: skip
    for key, (m, shape) in expect.items():
        if m.shape != shape:
            raise BadFileError(f"{paths[0]}: {key} has shape {m.shape}, expected {shape}")
    try:
        mid_faces = np.load(paths[1], allow_pickle=False).astype(np.int64)
    except ValueError as exc:
        raise BadFileError(f"{paths[1]}: not a plain integer .npy array ({exc})") from exc
    if mid_faces.ndim != 2 or mid_faces.shape[1] != 3 or mid_faces.max(initial=0) >= vm:
        raise BadFileError(f"{paths[1]}: expected (F, 3) faces indexing {vm} vertices")
    adjacency = a[2].toarray() != 0
    adjacency |= adjacency.T
    np.fill_diagonal(adjacency, True)
    return MeshLevels(
        down_full_to_mid=d[0].toarray().astype(np.float32),
        down_mid_to_coarse=d[1].toarray().astype(np.float32),
        up_coarse_to_mid=u[1].toarray().astype(np.float32),
        up_mid_to_full=u[0].toarray().astype(np.float32),
        coarse_adjacency=adjacency,
        coarse_faces=np.zeros((0, 3), np.int64),
        mid_faces=mid_faces,
    )
