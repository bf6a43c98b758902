"""One array namespace for numpy and torch, and the few operations it lacks.

Every latent stage takes its arrays from the caller and gets their namespace with :func:`namespace` (the
`array-api-compat <https://data-apis.org/array-api-compat/>`_ wrapper of numpy or torch), so one function body
runs on numpy and on torch tensors of any device. The operations below are the ones where the two libraries differ
in a way that would change bits:

- 64-bit random words: numpy has ``uint64``; torch has no general unsigned 64-bit arithmetic, so there the words
  live in ``int64`` tensors (two's-complement multiply, add and xor give the same bits) and a logical right shift
  is an arithmetic shift followed by a mask (:func:`lsr`). :func:`word` turns a 64-bit constant into the right
  scalar for each.
- ``mod``: numpy's floating remainder (sign of the divisor, ``-0.0`` rules) bit for bit on torch (:func:`mod`).
- Floating-point warnings: numpy warns on 0/0 and overflow where torch is silent (:func:`quiet`).

Integer tensors times Python floats are float32 in torch and float64 in numpy: the latents always cast integers
to float64 explicitly (:func:`f64`) before mixing them with floats.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_torch_namespace
from array_api_compat import device as device_of

__all__ = [
    "as_bytes",
    "device_of",
    "f64",
    "is_torch",
    "lookup",
    "lsr",
    "mod",
    "namespace",
    "on_device",
    "quiet",
    "signed",
    "word",
    "words",
]

_MASK64 = (1 << 64) - 1


def namespace(*arrays: Any) -> Any:
    """The array-api-compat namespace of ``arrays`` (numpy or torch)."""
    return array_namespace(*arrays)


def is_torch(xp: Any) -> bool:
    return is_torch_namespace(xp)


def word(xp: Any, value: int) -> Any:
    """A 64-bit constant as the scalar that mixes with :func:`words`: ``np.uint64`` for numpy, the ``int64`` with
    the same bits (a Python int) for torch."""
    if is_torch(xp):
        return signed(value)
    return np.uint64(int(value) & _MASK64)


def signed(value: int) -> int:
    """The int64 with the bits of the 64-bit word ``value`` (how torch holds it)."""
    value = int(value) & _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def words(xp: Any, integers: Any) -> Any:
    """Non-negative integers as 64-bit words (``uint64`` for numpy, ``int64`` for torch)."""
    return xp.astype(integers, xp.int64 if is_torch(xp) else xp.uint64)


def lsr(xp: Any, x: Any, shift: int) -> Any:
    """Logical right shift of 64-bit words (as if they were unsigned)."""
    if is_torch(xp):
        return (x >> shift) & ((1 << (64 - shift)) - 1)
    return x >> np.uint64(shift)


def mod(xp: Any, a: Any, b: Any) -> Any:
    """``numpy.mod`` of floats, bit for bit: the exact ``fmod`` remainder moved to the sign of ``b`` (a float or an
    array); a zero remainder carries the sign of ``b``."""
    if not is_torch(xp):
        return np.mod(a, b)
    import torch

    m = torch.fmod(a, b)
    if isinstance(b, torch.Tensor):
        b_negative = b < 0
        zero = torch.copysign(torch.zeros((), dtype=m.dtype, device=m.device), b)
    else:
        b_negative = bool(b < 0)
        zero = torch.tensor(math.copysign(0.0, b), dtype=m.dtype, device=m.device)
    return torch.where(m == 0, zero, torch.where((m < 0) != b_negative, m + b, m))


def f64(xp: Any, x: Any) -> Any:
    """``x`` as float64 (integers are converted exactly below 2**53)."""
    return xp.astype(x, xp.float64)


def broadcast_copy(xp: Any, x: Any, shape: tuple[int, ...]) -> Any:
    """``x`` broadcast to ``shape`` as a new C-contiguous array (a plain copy keeps the broadcast axes' stride order,
    which the numba kernel's flat views cannot take)."""
    if is_torch(xp):
        return x.expand(shape).contiguous()
    return np.array(np.broadcast_to(x, shape), order="C")


def quiet(xp: Any) -> contextlib.AbstractContextManager:
    """A context in which numpy does not warn about 0/0, x/0 and overflow (torch never does)."""
    if is_torch(xp):
        return contextlib.nullcontext()
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def as_bytes(xp: Any, words_: Any) -> Any:
    """The little-endian bytes of 64-bit words ``(..., W)`` as ``(..., 8 W)`` uint8."""
    if is_torch(xp):
        import torch

        return words_.contiguous().view(torch.uint8)  # every torch device is little-endian
    return np.ascontiguousarray(words_).astype("<u8", copy=False).view(np.uint8)


def lookup(xp: Any, table: Any, indices: Any) -> Any:
    """``table[indices]`` for integer (also uint8) indices, same shape as ``indices`` (torch reads uint8 indices as
    masks, so they are widened first)."""
    if is_torch(xp):
        import torch

        return table.index_select(0, indices.reshape(-1).to(torch.int32)).view(indices.shape)
    return table[indices]


_ON_DEVICE: dict[tuple[int, str], tuple[Any, Any]] = {}


def on_device(xp: Any, array: np.ndarray, device: Any) -> Any:
    """A read-only numpy ``array`` (a table: glyphs, lookup tables, image banks) in ``xp`` on ``device``, copied once
    per (array, device) while the array lives."""
    if not is_torch(xp):
        return array
    import torch

    key = (id(array), str(device))
    hit = _ON_DEVICE.get(key)
    if hit is None or hit[0] is not array:
        hit = (array, torch.from_numpy(np.array(array, copy=True)).to(device))
        _ON_DEVICE[key] = hit
    return hit[1]
