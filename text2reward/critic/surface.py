"""The vetted surface handed to reward programs: a numpy without I/O, and safe builtins.

Real numpy is an escape (``np.save``, ``np.load``, ``np.fromfile``, ``np.ctypeslib``, ...),
so programs get a module object that carries only the pure array functions listed here.
"""

from __future__ import annotations

import builtins
import math
import sys
import types

import numpy as np

NUMPY_FUNCTIONS = frozenset(
    """
    abs absolute add all allclose amax amin any arange arccos arccosh arcsin arcsinh arctan
    arctan2 arctanh argmax argmin around array asarray atleast_1d average broadcast_to ceil
    clip concatenate copysign cos cosh cross cumprod cumsum deg2rad degrees diff divide dot
    einsum empty_like equal exp exp2 expm1 eye floor floor_divide fmax fmin full full_like
    greater greater_equal heaviside hypot inner isclose isfinite isinf isnan linspace log
    log10 log1p log2 logaddexp logical_and logical_not logical_or logical_xor matmul maximum
    mean median minimum mod multiply nan_to_num nanmax nanmean nanmin negative not_equal ones
    ones_like outer power prod rad2deg radians reciprocal remainder round rint sign sin sinh
    sqrt square squeeze stack std subtract sum take tan tanh tile trace transpose trunc unwrap
    var vstack hstack where zeros zeros_like expand_dims reshape sort argsort cbrt
    count_nonzero interp fabs max min ravel isscalar ndim shape size
    take_along_axis select flip roll nansum ptp digitize searchsorted isin percentile quantile
    float_power signbit sinc diag diagonal column_stack array_equal tril triu
    """.split()
)
NUMPY_CONSTANTS = frozenset(
    "pi e inf nan newaxis float32 float64 int32 int64 bool_ ndarray".split()
)
LINALG_FUNCTIONS = frozenset("norm det inv".split())
# Names usable only as types (isinstance); calling the real np.ndarray wraps arbitrary buffers.
TYPE_ONLY = frozenset({"ndarray"})

SAFE_BUILTINS = frozenset(
    """
    abs all any bool dict divmod enumerate float int isinstance len list map max min pow
    range reversed round set sorted sum tuple zip filter True False None
    ValueError ZeroDivisionError ArithmeticError
    """.split()
)
ALLOWED_MODULES = ("numpy", "math")


def _namespace(name: str, source: object, names: frozenset[str]) -> types.ModuleType:
    module = types.ModuleType(name)
    for attr in sorted(names):
        if hasattr(source, attr):
            setattr(module, attr, getattr(source, attr))
    return module


class _ArrayTypeMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, np.ndarray)

    def __subclasscheck__(cls, sub: type) -> bool:
        return isinstance(sub, type) and issubclass(sub, np.ndarray)


class _ArrayType(metaclass=_ArrayTypeMeta):
    """Stands in for np.ndarray: ``isinstance(x, np.ndarray)`` works, constructing does not."""

    def __new__(cls, *args, **kwargs):
        raise TypeError("np.ndarray(...) is not available to reward programs; use np.array, "
                        "np.zeros or np.asarray")


_ArrayType.__name__ = _ArrayType.__qualname__ = "ndarray"


def vetted_numpy() -> types.ModuleType:
    """A fresh module object exposing only the vetted numpy functions and constants."""
    module = _namespace("numpy", np, (NUMPY_FUNCTIONS | NUMPY_CONSTANTS) - TYPE_ONLY)
    module.ndarray = _ArrayType
    module.linalg = _namespace("numpy.linalg", np.linalg, LINALG_FUNCTIONS)
    return module


def vetted_math() -> types.ModuleType:
    """The math module's pure functions (math has no I/O; a copy keeps the real one untouched)."""
    names = frozenset(n for n in dir(math) if not n.startswith("_"))
    return _namespace("math", math, names)


def safe_builtins() -> dict[str, object]:
    """Builtins for program execution, with an importer limited to numpy and math."""
    table = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    future = types.ModuleType("__future__")
    future.annotations = None  # `from __future__ import annotations` binds a name; its value
    # (the compiler flag's description) is of no use to a program
    modules = {"numpy": vetted_numpy(), "math": vetted_math(), "__future__": future}

    def restricted_import(name, globals=None, locals=None, fromlist=(), level=0):
        if not level and name in modules:
            return modules[name]
        # numpy's C code imports helpers lazily (ndarray.mean imports numpy._core._methods)
        # through the builtins of the calling frame, which is the program's. Such imports pass
        # a list as fromlist, never written by an import statement (None or a tuple), and the
        # module they get back is used by C code, never handed to the program. Only modules
        # already loaded are returned: nothing new is imported.
        if not level and isinstance(fromlist, list) and name in sys.modules:
            return sys.modules[name]
        raise ImportError(f"reward programs may import only {', '.join(ALLOWED_MODULES)}")

    table["__import__"] = restricted_import
    return table
