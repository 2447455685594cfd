"""`restricted_load`: numpy arrays and the caller's stand-ins come back, code never runs."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest

from stdformer.paths import BadFileError
from stdformer.safe_pickle import StandIn, restricted_load


class _Record(StandIn):
    def __setstate__(self, state: dict) -> None:
        self.state = state


def _stand_in(module: str, name: str) -> type[StandIn] | None:
    return _Record if (module, name) == ("fake", "Record") else None


def _python2_pickle(cls_global: bytes) -> io.BytesIO:
    """Protocol 0, as Python 2 writes a new-style object: copy_reg._reconstructor + BUILD."""
    return io.BytesIO(
        b"ccopy_reg\n_reconstructor\n(" + cls_global + b"c__builtin__\nobject\nNtR(dVa\nI7\nsb."
    )


def test_arrays_and_python2_stand_ins_load() -> None:
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    for protocol in (0, 2):
        out = restricted_load(io.BytesIO(pickle.dumps(arr, protocol)), _stand_in, "test")
        np.testing.assert_array_equal(out, arr)
    rec = restricted_load(_python2_pickle(b"cfake\nRecord\n"), _stand_in, "test")
    assert isinstance(rec, _Record) and rec.state == {"a": 7}


def test_code_and_unknown_classes_are_refused() -> None:
    evil = pickle.dumps(np.array([os.getcwd], dtype=object), protocol=2)
    with pytest.raises(BadFileError, match=r"refusing to load '(posix|os)\.getcwd' .*: only"):
        restricted_load(io.BytesIO(evil), _stand_in, "only arrays")
    with pytest.raises(BadFileError, match=r"refusing to load 'other\.Record'"):
        restricted_load(_python2_pickle(b"cother\nRecord\n"), _stand_in, "test")
    with pytest.raises(BadFileError, match="refusing to reconstruct"):
        restricted_load(_python2_pickle(b"c__builtin__\nobject\n"), _stand_in, "test")
