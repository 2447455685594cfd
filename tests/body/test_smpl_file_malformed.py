"""malformed SMPL files fail with BadFileError naming the path and the field."""

from __future__ import annotations

import copyreg
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from stdformer.body.smpl_file import read_smpl_file
from stdformer.paths import BadFileError


class _Reduce:
    """Pickles as `func(*args)`; used to craft payloads and sparse-matrix states."""

    def __init__(self, func, args, state=None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args, self.state)


_FAKE_MODULES = {"fake_scipy_sparse_csc": "csc_matrix", "fake_chumpy_ch": "Ch"}
_REAL_NAMES = {
    b"fake_scipy_sparse_csc\ncsc_matrix": b"scipy.sparse._csc\ncsc_matrix",
    b"fake_chumpy_ch\nCh": b"chumpy.ch\nCh",
}


def _object_with_state(module: str, state: dict) -> _Reduce:
    """Pickles like a scipy sparse matrix / chumpy Ch: _reconstructor(cls, object, None) + state."""
    cls = getattr(sys.modules[module], _FAKE_MODULES[module])
    return _Reduce(copyreg._reconstructor, (cls, object, None), state)


@pytest.fixture(autouse=True)
def _fake_modules(monkeypatch):
    for mod, name in _FAKE_MODULES.items():
        m = types.ModuleType(mod)
        setattr(m, name, type(name, (), {"__module__": mod, "__qualname__": name}))
        monkeypatch.setitem(sys.modules, mod, m)


def _write(path: Path, data: dict) -> Path:
    raw = pickle.dumps(data, protocol=2)
    for fake, real in _REAL_NAMES.items():  # same length prefix: GLOBAL opcode is text
        raw = raw.replace(fake, real)
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize(
    "state",
    [
        # indptr not monotone: would crash np.repeat with a bare ValueError
        {"_shape": (6890, 24), "data": np.ones(3), "indices": np.zeros(3, np.int64),
         "indptr": np.r_[0, 5, np.zeros(23, np.int64)]},
        # no 'data': the message must still name the path and the field
        {"_shape": (6890, 24)},
        # negative shape
        {"_shape": (-1, 24), "data": np.ones(1), "indices": np.zeros(1, np.int64),
         "indptr": np.zeros(25, np.int64)},
    ],
)  # fmt: skip
def test_malformed_sparse_regressor_names_path_and_field(tmp_path, synthetic_smpl_data, state):
    data = dict(synthetic_smpl_data)
    data["J_regressor"] = _object_with_state("fake_scipy_sparse_csc", state)
    path = _write(tmp_path / "SMPL_NEUTRAL.pkl", data)
    with pytest.raises(BadFileError) as err:
        read_smpl_file(path)
    assert str(path) in str(err.value) and "J_regressor" in str(err.value)


def test_malformed_chumpy_value_names_path_and_field(tmp_path, synthetic_smpl_data):
    data = dict(synthetic_smpl_data)
    data["shapedirs"] = _object_with_state("fake_chumpy_ch", {"y": 1})
    path = _write(tmp_path / "SMPL_NEUTRAL.pkl", data)
    with pytest.raises(BadFileError) as err:
        read_smpl_file(path)
    assert str(path) in str(err.value) and "shapedirs" in str(err.value)


def test_protocol2_pickle_with_an_empty_array_loads(tmp_path, synthetic_smpl_data):
    # Python 3 writes an empty numpy buffer under protocol 2 as `__builtin__.bytes()`.
    data = dict(synthetic_smpl_data, vert_sym_idxs=np.zeros(0, np.int64))
    path = _write(tmp_path / "SMPL_NEUTRAL.pkl", data)
    arrays = read_smpl_file(path)
    np.testing.assert_array_equal(arrays.v_template, synthetic_smpl_data["v_template"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("f", np.full((13776, 3), "a")),
        ("f", np.zeros((13776, 3)) + 0.5),
        ("kintree_table", np.full((2, 24), "x")),
        ("stdformer_body_kind", np.array(["default", "smpl"])),
        ("gender", np.array(["male", "female"])),
    ],
)
def test_bad_index_and_text_fields_are_named(tmp_path, synthetic_smpl_data, field, value):
    data = dict(synthetic_smpl_data)
    data[field] = value
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, **data)
    with pytest.raises(BadFileError) as err:
        read_smpl_file(path)
    assert str(path) in str(err.value) and field in str(err.value)


@pytest.mark.parametrize(
    ("module", "name"),
    [("builtins", "eval"), ("numpy", "load"), ("numpy.testing", "assert_"),
     ("builtins", "getattr"), ("os", "system"), ("subprocess", "Popen"),
     ("numpy.lib.format", "read_array"), ("scipy.sparse", "load_npz")],
)  # fmt: skip
def test_restricted_unpickler_refuses_code_paths(tmp_path, module, name):
    raw = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\x01\x00\x00\x00x\x85R."
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(raw)
    with pytest.raises(BadFileError, match="refusing to load"):
        read_smpl_file(path)
