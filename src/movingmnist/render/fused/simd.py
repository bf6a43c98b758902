"""Shared pieces of the numba kernels' LLVM-IR intrinsics (:mod:`.gathers`, :mod:`.rows`, :mod:`.memory`): vector
types and splats, element pointers, and the CPU features numba compiles for (:func:`_host_has`), which choose
between an explicit-vector path and its plain fallback. Every intrinsic gives the same result on every CPU.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from llvmlite.binding import get_host_cpu_features

_X86 = platform.machine().lower() in ("x86_64", "amd64")
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V8 = ir.VectorType(_I64, 8)
_V16 = ir.VectorType(_I32, 16)


def _splat_as(builder, vec_type, value):
    """``value`` in every lane of ``vec_type``."""
    one = builder.insert_element(ir.Constant(vec_type, ir.Undefined), value, ir.Constant(_I32, 0))
    zeros = ir.Constant(ir.VectorType(_I32, vec_type.count), [0] * vec_type.count)
    return builder.shuffle_vector(one, ir.Constant(vec_type, ir.Undefined), zeros)


def _splat(builder, value):
    """An int64 in the 8 lanes of a ``<8 x i64>``."""
    return _splat_as(builder, _V8, value)


def _vconst(value):
    return ir.Constant(_V8, [value] * 8)


def _element_ptr(context, builder, arr_type, arr, offset, as_type=None):
    """``&arr[offset]`` (numba array ``arr`` of ``arr_type``), as a pointer to ``as_type`` when given."""
    ptr = builder.gep(context.make_array(arr_type)(context, builder, arr).data, [offset])
    return ptr if as_type is None else builder.bitcast(ptr, as_type.as_pointer())


def _host_has(*features: str) -> bool:
    """Whether numba compiles for a CPU with these LLVM features (the host's unless NUMBA_CPU_NAME says else)."""
    from numba.core import config

    if config.CPU_NAME not in (None, "host"):
        have = set((config.CPU_FEATURES or "").split(","))
    else:
        try:
            have = set(get_host_cpu_features().flatten().split(","))
        except RuntimeError:  # llvmlite cannot tell on some platforms: assume none
            return False
    return all("+" + f in have for f in features)
