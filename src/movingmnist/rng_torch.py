"""The counter-based random streams of :mod:`movingmnist.rng`, bit for bit, with torch int64/float64 ops on any device.

torch has no general unsigned 64-bit arithmetic, so the uint64 words live in int64 tensors: two's-complement
wrap-around multiply, add and xor give the same bits as on uint64, and a logical right shift is an arithmetic shift
followed by a mask of the bits that were shifted in. Floats are built from the top 53 bits exactly as numpy does,
and :func:`sincos_turns` uses the same polynomials with the same operation order. Every op is a separate,
correctly rounded IEEE operation (no fused multiply-add), so CPU and CUDA give numpy's bits.

Every function takes the sequence indices as an int64 tensor ``(B,)`` and returns tensors on its device.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import rng as _rng
from .errors import require

torch = require("torch", "torch", "the torch backend")

_MASK64 = (1 << 64) - 1


def _signed(value: int) -> int:
    """A uint64 constant as the int64 with the same bits."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


GOLDEN = _signed(int(_rng.GOLDEN))
_MUL1 = _signed(int(_rng._MUL1))
_MUL2 = _signed(int(_rng._MUL2))
_TWO_POW_M53 = 2.0**-53


def _lsr(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Logical right shift of int64 words (as if they were uint64)."""
    return (x >> shift) & ((1 << (64 - shift)) - 1)


def _mix(x: torch.Tensor) -> torch.Tensor:
    """splitmix64 finaliser on int64 words, in place (returns ``x``)."""
    x ^= _lsr(x, 30)
    x *= _MUL1
    x ^= _lsr(x, 27)
    x *= _MUL2
    x ^= _lsr(x, 31)
    return x


def stream_key(seed: int, stream: str) -> int:
    """The 64-bit key of a named stream under a seed, as a signed int (same bits as :func:`rng.stream_key`)."""
    return _signed(int(_rng.stream_key(seed, stream)))


@functools.lru_cache(maxsize=256)
def _counter_words(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``(counter + 1) * GOLDEN`` for every entry of ``shape`` (computed once per shape and device)."""
    with np.errstate(over="ignore"):
        words = (_rng._counters(shape) + np.uint64(1)) * _rng.GOLDEN
    return torch.from_numpy(np.ascontiguousarray(words).view(np.int64)).to(device)


def random_bits(seed: int, stream: str, index: torch.Tensor, shape: tuple[int, ...] = ()) -> torch.Tensor:
    """Uniform 64-bit words, ``(B, *shape)`` int64 (the bits of :func:`rng.random_bits`)."""
    shape = tuple(int(n) for n in shape)
    index = index.to(torch.int64)
    base = index * GOLDEN
    base += stream_key(seed, stream)
    base = _mix(base)
    counters = _counter_words(shape, index.device)
    words = base.reshape((-1,) + (1,) * len(shape)) ^ counters
    return _mix(words)


def uniform(
    seed: int,
    stream: str,
    index: torch.Tensor,
    shape: tuple[int, ...] = (),
    low: float = 0.0,
    high: float = 1.0,
) -> torch.Tensor:
    """Uniform floats in ``[low, high)``, ``(B, *shape)`` float64 (the values of :func:`rng.uniform`)."""
    u = _lsr(random_bits(seed, stream, index, shape), 11).to(torch.float64) * _TWO_POW_M53
    if low == 0.0 and high == 1.0:
        return u
    return low + u * (high - low)


def integers(seed: int, stream: str, index: torch.Tensor, shape: tuple[int, ...], low: int, high: int) -> torch.Tensor:
    """Uniform integers in ``[low, high]``, ``(B, *shape)`` int64 (the values of :func:`rng.integers`)."""
    n = int(high) - int(low) + 1
    u = uniform(seed, stream, index, shape)
    return torch.floor(u * n).to(torch.int64) + int(low)


def sincos_turns(turns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sin, cos)`` of an angle in turns, float64: the bits of :func:`rng.sincos_turns`."""
    turns = turns.to(torch.float64)
    quadrant = torch.floor(turns * 4.0 + 0.5)
    r = (turns - quadrant * 0.25) * _rng._TWO_PI
    r2 = r * r
    s = _horner(r2, _rng._SIN_COEF)
    s = r + r * (r2 * s)
    c = _horner(r2, _rng._COS_COEF)
    c = 1.0 + r2 * c
    q = fmod_floor(quadrant, 4.0)
    sin = torch.where(q == 0, s, torch.where(q == 1, c, torch.where(q == 2, -s, -c)))
    cos = torch.where(q == 0, c, torch.where(q == 1, -s, torch.where(q == 2, -c, s)))
    return sin, cos


def _horner(x: torch.Tensor, coef: tuple[float, ...]) -> torch.Tensor:
    acc = torch.full_like(x, coef[-1])
    for c in coef[-2::-1]:
        acc = acc * x + c
    return acc


def fmod_floor(a: torch.Tensor, b: float | torch.Tensor) -> torch.Tensor:
    """``np.mod`` for floats, bit for bit: the remainder with the sign of ``b`` from the exact ``fmod``, and a zero
    remainder carries the sign of ``b`` (numpy's rule)."""
    m = torch.fmod(a, b)
    if isinstance(b, torch.Tensor):
        b_neg = b < 0
        zero = torch.copysign(torch.zeros((), dtype=m.dtype, device=m.device), b)
    else:
        b_neg = bool(b < 0)
        zero = torch.tensor(math.copysign(0.0, b), dtype=m.dtype, device=m.device)
    return torch.where(m == 0, zero, torch.where((m < 0) != b_neg, m + b, m))
