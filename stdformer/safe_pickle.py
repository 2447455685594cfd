"""Restricted unpickling of user files: numpy arrays and passive stand-ins, never code.

Some files we must read are pickles (official SMPL `.pkl` with chumpy arrays and a scipy sparse
regressor; METRO's `mesh_downsampling.npz` with pickled sparse matrices). The stock `pickle`
module would run whatever such a file says. `restricted_load` resolves only:

- the globals numpy needs to rebuild arrays and dtypes, `_codecs.encode` (how protocol-2 pickles
  spell bytes) and a few plain builtins (`object`, `bytes`, `set`, `frozenset`);
- classes the caller maps to a `StandIn` subclass (e.g. chumpy `Ch`, scipy `csc_matrix`): these
  only receive the pickled state, the caller turns them into arrays afterwards;
- `copy_reg._reconstructor` (Python 2 pickles), for those stand-ins only.

Anything else raises `BadFileError` ("refusing to load 'module.name' ...").
"""

from __future__ import annotations

import codecs
import pickle
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from stdformer.paths import BadFileError


class StandIn:
    """Base of the passive classes that replace pickled classes; they run no code of the file."""


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """copy_reg._reconstructor (Python 2 pickles), for `StandIn` classes only."""
    if not (isinstance(cls, type) and issubclass(cls, StandIn)):
        raise BadFileError(f"refusing to reconstruct {cls!r} from the pickle")
    return object.__new__(cls)


def _safe_globals() -> dict[tuple[str, str], Any]:
    from numpy._core import multiarray

    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = multiarray._reconstruct
        allowed[(mod, "scalar")] = multiarray.scalar
    for mod in ("numpy", "numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "ndarray")] = np.ndarray
        allowed[(mod, "dtype")] = np.dtype
    for mod in ("copyreg", "copy_reg"):
        allowed[(mod, "_reconstructor")] = _reconstructor
    allowed[("_codecs", "encode")] = codecs.encode
    for mod in ("builtins", "__builtin__"):  # plain containers inside pickled object state
        allowed[(mod, "object")] = object
        allowed[(mod, "bytes")] = bytes  # protocol 2 spells an empty numpy buffer as bytes()
        allowed[(mod, "set")] = set
        allowed[(mod, "frozenset")] = frozenset
    return allowed


_SAFE_GLOBALS = _safe_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(
        self, file: IO[bytes], stand_in: Callable[[str, str], type[StandIn] | None], what: str
    ) -> None:
        super().__init__(file, encoding="latin1")  # Python 2 pickles hold latin-1 str buffers
        self._stand_in = stand_in
        self._what = what

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        cls = self._stand_in(module, name)
        if cls is not None:
            return cls
        raise BadFileError(f"refusing to load '{module}.{name}' from the pickle: {self._what}")


def restricted_load(
    file: IO[bytes], stand_in: Callable[[str, str], type[StandIn] | None], what: str
) -> Any:
    """Unpickle `file` allowing only numpy arrays and the stand-ins `stand_in` names.

    `stand_in(module, name)` returns the `StandIn` subclass that replaces that pickled class, or
    None to refuse it. `what` ends the refusal message (which content the file may hold).
    """
    return _RestrictedUnpickler(file, stand_in, what).load()
