"""Counter-based random streams: every draw is a pure function of (seed, stream, sequence index, counter).

There is no generator state. A draw of ``shape`` for a batch of sequence indices ``(B,)`` returns ``(B, *shape)``
values; entry ``[b, i, j, ...]`` depends only on (seed, stream name, index[b], (i, j, ...)). Hence sequence i is the
same whatever the batch, chunking, worker or order that produces it.

The hash is splitmix64's finaliser over uint64 counters. Only wrap-around multiply, xor, add and logical right
shift are used, and floats are built from the top 53 bits, so a backend with 64-bit integers (torch int64 on CPU or
GPU) reproduces every value bit for bit. :func:`sincos_turns` avoids libm for the same reason: polynomials of
correctly rounded IEEE operations give the same bits everywhere.
"""

from __future__ import annotations

import hashlib

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
_AXIS_BITS = 20  # each axis of a draw's shape may have up to 2**20 entries; up to 3 axes
_TWO_POW_M53 = 2.0**-53


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on a uint64 array (returns it)."""
    x ^= x >> _S30
    x *= _MUL1
    x ^= x >> _S27
    x *= _MUL2
    x ^= x >> _S31
    return x


def stream_key(seed: int, stream: str) -> np.uint64:
    """The 64-bit key of a named stream under a seed (seed 0 is a seed like any other)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed={seed!r} is not allowed: an integer in [0, 2**63)")
    name = int.from_bytes(hashlib.sha256(stream.encode()).digest()[:8], "little")
    with np.errstate(over="ignore"):
        value = _mix(np.array([int(seed) ^ name], dtype=np.uint64))
    return value[0]


def _counters(shape: tuple[int, ...]) -> np.ndarray:
    """Counter per entry of ``shape``: axis indices packed in 20-bit fields (so a counter never depends on the
    sizes of the other axes: object k's draws do not change when more objects are added)."""
    if len(shape) > 3 or any(n >= 2**_AXIS_BITS for n in shape):
        raise ValueError(f"draw shape {shape} is too large: at most 3 axes of fewer than 2**20 entries")
    counter = np.zeros(shape, dtype=np.uint64)
    for axis, n in enumerate(shape):
        bits = np.uint64(_AXIS_BITS * (len(shape) - 1 - axis))
        index_shape = [1] * len(shape)
        index_shape[axis] = n
        counter |= np.arange(n, dtype=np.uint64).reshape(index_shape) << bits
    return counter


def random_bits(seed: int, stream: str, index: np.ndarray, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Uniform 64-bit words, ``(B, *shape)`` uint64, for sequence indices ``index (B,)``."""
    key = stream_key(seed, stream)
    index = np.asarray(index, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        base = _mix(index * GOLDEN + key)  # (B,)
        counters = (_counters(tuple(shape)) + np.uint64(1)) * GOLDEN
        words = base.reshape((-1,) + (1,) * len(shape)) ^ counters
        return _mix(words)


def uniform(
    seed: int, stream: str, index: np.ndarray, shape: tuple[int, ...] = (), low: float = 0.0, high: float = 1.0
) -> np.ndarray:
    """Uniform floats in ``[low, high)``, ``(B, *shape)`` float64."""
    u = (random_bits(seed, stream, index, shape) >> _S11).astype(np.float64) * _TWO_POW_M53
    if low == 0.0 and high == 1.0:
        return u
    return low + u * (high - low)


def integers(seed: int, stream: str, index: np.ndarray, shape: tuple[int, ...], low: int, high: int) -> np.ndarray:
    """Uniform integers in ``[low, high]`` (both ends included), ``(B, *shape)`` int64."""
    n = int(high) - int(low) + 1
    u = uniform(seed, stream, index, shape)
    return np.floor(u * n).astype(np.int64) + int(low)


# -- deterministic sin/cos from basic IEEE operations ---------------------------------------------------------------
_TWO_PI = 6.283185307179586
_SIN_COEF = (
    -1.0 / 6,
    1.0 / 120,
    -1.0 / 5040,
    1.0 / 362880,
    -1.0 / 39916800,
    1.0 / 6227020800,
    -1.0 / 1307674368000,
)
_COS_COEF = (
    -1.0 / 2,
    1.0 / 24,
    -1.0 / 720,
    1.0 / 40320,
    -1.0 / 3628800,
    1.0 / 479001600,
    -1.0 / 87178291200,
)


def sincos_turns(turns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sin, cos)`` of an angle given in turns (1 turn = 2 pi), float64, accurate to ~1e-16.

    Range-reduced to an eighth of a turn and evaluated with fixed polynomials so that every backend that rounds
    +, -, * correctly (numpy, torch on CPU and CUDA) returns identical bits.
    """
    turns = np.asarray(turns, dtype=np.float64)
    quadrant = np.floor(turns * 4.0 + 0.5)
    r = (turns - quadrant * 0.25) * _TWO_PI  # in [-pi/4, pi/4]
    r2 = r * r
    s = _horner(r2, _SIN_COEF)
    s = r + r * (r2 * s)
    c = _horner(r2, _COS_COEF)
    c = 1.0 + r2 * c
    q = np.mod(quadrant, 4.0)
    sin = np.where(q == 0, s, np.where(q == 1, c, np.where(q == 2, -s, -c)))
    cos = np.where(q == 0, c, np.where(q == 1, -s, np.where(q == 2, -c, s)))
    return sin, cos


def _horner(x: np.ndarray, coef: tuple[float, ...]) -> np.ndarray:
    acc = np.full_like(x, coef[-1])
    for c in coef[-2::-1]:
        acc = acc * x + c
    return acc
