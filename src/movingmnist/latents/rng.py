"""Counter-based random streams: every draw is a pure function of (seed, stream, sequence index, counter).

There is no generator state. A draw of ``shape`` for a batch of sequence indices ``(B,)`` returns ``(B, *shape)``
values; entry ``[b, i, j, ...]`` depends only on (seed, stream name, index[b], (i, j, ...)). Hence sequence i is the
same whatever the batch, chunking, worker or order that produces it.

The hash is splitmix64's finaliser over 64-bit counters. Only wrap-around multiply, xor, add and logical right
shift are used, and floats are built from the top 53 bits, so every backend with 64-bit integers gives the same
bits: each function takes the indices as a numpy array or a torch tensor (any device) and computes in that
namespace (:mod:`movingmnist.latents.xp`). :func:`sincos_turns` avoids libm for the same reason: polynomials of
correctly rounded IEEE operations give the same bits everywhere (no fused multiply-add).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import numpy as np

from . import xp as _xp

GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_AXIS_BITS = 20  # each axis of a draw's shape may have up to 2**20 entries; up to 3 axes
_TWO_POW_M53 = 2.0**-53


# The multipliers as each namespace's words (looked up once, not per call: mix runs on every draw).
_MIX_CONSTANTS = {False: (np.uint64(_MUL1), np.uint64(_MUL2)), True: (_xp.signed(_MUL1), _xp.signed(_MUL2))}


def mix(xp: Any, x: Any) -> Any:
    """splitmix64 finaliser, in place on 64-bit words (:func:`movingmnist.latents.xp.words`); returns ``x``."""
    mul1, mul2 = _MIX_CONSTANTS[_xp.is_torch(xp)]
    x ^= _xp.lsr(xp, x, 30)
    x *= mul1
    x ^= _xp.lsr(xp, x, 27)
    x *= mul2
    x ^= _xp.lsr(xp, x, 31)
    return x


def stream_key(seed: int, stream: str) -> int:
    """The 64-bit key of a named stream under a seed, as an unsigned int (seed 0 is a seed like any other)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed={seed!r} is not allowed: an integer in [0, 2**63)")
    return _stream_key(int(seed), stream)


@functools.lru_cache(maxsize=4096)
def _stream_key(seed: int, stream: str) -> int:
    # Cached: every draw asks for a key, and a SHA-256 and a numpy mix cost more than many small draws.
    name = int.from_bytes(hashlib.sha256(stream.encode()).digest()[:8], "little")
    with np.errstate(over="ignore"):
        value = mix(np, np.array([seed ^ name], dtype=np.uint64))
    return int(value[0])


def counters(shape: tuple[int, ...]) -> np.ndarray:
    """Counter per entry of ``shape`` (uint64): axis indices packed in 20-bit fields (so a counter never depends on
    the sizes of the other axes: object k's draws do not change when more objects are added)."""
    if len(shape) > 3 or any(n >= 2**_AXIS_BITS for n in shape):
        raise ValueError(f"draw shape {shape} is too large: at most 3 axes of fewer than 2**20 entries")
    counter = np.zeros(shape, dtype=np.uint64)
    for axis, n in enumerate(shape):
        bits = np.uint64(_AXIS_BITS * (len(shape) - 1 - axis))
        index_shape = [1] * len(shape)
        index_shape[axis] = n
        counter |= np.arange(n, dtype=np.uint64).reshape(index_shape) << bits
    return counter


@functools.lru_cache(maxsize=256)
def _counter_words_numpy(shape: tuple[int, ...]) -> np.ndarray:
    with np.errstate(over="ignore"):
        words = (counters(shape) + np.uint64(1)) * np.uint64(GOLDEN)
    words.setflags(write=False)
    return words


@functools.lru_cache(maxsize=256)
def _counter_words_device(shape: tuple[int, ...], device: Any) -> Any:
    import torch

    return torch.from_numpy(np.array(_counter_words_numpy(shape)).view(np.int64)).to(device)


def counter_words(xp: Any, shape: tuple[int, ...], device: Any) -> Any:
    """``(counter + 1) * GOLDEN`` for every entry of ``shape``, as words of ``xp`` on ``device`` (cached)."""
    shape = tuple(int(n) for n in shape)
    if _xp.is_torch(xp):
        return _counter_words_device(shape, device)
    return _counter_words_numpy(shape)


def sequence_keys(seed: int, stream: str, index: Any) -> Any:
    """``mix(index * GOLDEN + key)``: the base word of each sequence ``(B,)`` in a stream."""
    xp = _xp.namespace(index)
    with _xp.quiet(xp):
        base = _xp.words(xp, index) * _xp.word(xp, GOLDEN)
        base += _xp.word(xp, stream_key(seed, stream))
        return mix(xp, base)


def random_bits(seed: int, stream: str, index: Any, shape: tuple[int, ...] = ()) -> Any:
    """Uniform 64-bit words ``(B, *shape)`` for sequence indices ``index (B,)`` (uint64 for numpy, the same bits in
    int64 for torch)."""
    xp = _xp.namespace(index)
    shape = tuple(int(n) for n in shape)
    base = sequence_keys(seed, stream, index)
    with _xp.quiet(xp):
        words = xp.reshape(base, (-1,) + (1,) * len(shape)) ^ counter_words(xp, shape, _xp.device_of(index))
        return mix(xp, words)


def uniform(seed: int, stream: str, index: Any, shape: tuple[int, ...] = (), low: float = 0.0, high: float = 1.0):
    """Uniform floats in ``[low, high)``, ``(B, *shape)`` float64."""
    xp = _xp.namespace(index)
    u = _xp.f64(xp, _xp.lsr(xp, random_bits(seed, stream, index, shape), 11)) * _TWO_POW_M53
    if low == 0.0 and high == 1.0:
        return u
    return low + u * (high - low)


def integers(seed: int, stream: str, index: Any, shape: tuple[int, ...], low: int, high: int) -> Any:
    """Uniform integers in ``[low, high]`` (both ends included), ``(B, *shape)`` int64."""
    xp = _xp.namespace(index)
    n = int(high) - int(low) + 1
    u = uniform(seed, stream, index, shape)
    return xp.astype(xp.floor(u * n), xp.int64) + int(low)


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


def sincos_turns(turns: Any) -> tuple[Any, Any]:
    """``(sin, cos)`` of an angle given in turns (1 turn = 2 pi), float64, accurate to ~1e-16.

    Range-reduced to an eighth of a turn and evaluated with fixed polynomials so that every backend that rounds
    +, -, * correctly (numpy, torch on CPU and CUDA) returns identical bits. Intermediates are updated in place (each
    fresh temporary of a large batch costs page faults), which changes no bit: the operations and their order are
    the same. Angles that are all zero (unrotated, unsheared glyphs) skip the polynomials: their sine is +0.0 and their
    cosine 1.0, what the polynomials give for either zero.
    """
    xp = _xp.namespace(turns)
    turns = _xp.f64(xp, turns)
    if not _xp.is_torch(xp) and not xp.any(turns):  # a host check: numpy only (torch would synchronise)
        return xp.zeros_like(turns), xp.ones_like(turns)
    quadrant = turns * 4.0
    quadrant += 0.5
    quadrant = xp.floor(quadrant)
    r = quadrant * 0.25
    r = turns - r
    r *= _TWO_PI  # in [-pi/4, pi/4]
    r2 = r * r
    s = _horner(r2, _SIN_COEF)
    s *= r2
    s *= r
    s += r  # r + r (r2 s)
    c = _horner(r2, _COS_COEF)
    c *= r2
    c += 1.0  # 1 + r2 c
    q = quadrant * 0.25
    q = xp.floor(q)
    q *= 4.0
    q = quadrant - q  # mod 4 of a whole float, exactly (np.mod is 5x slower)
    # Quadrants 0..3 give (s, c), (c, -s), (-s, -c), (-c, s); anything else (NaN) takes the last.
    first, second, third = q == 0.0, q == 1.0, q == 2.0
    swap = ~(first | third)
    sin = xp.where(swap, c, s)
    cos = xp.where(swap, s, c)
    sin = xp.where(first | second, sin, -sin)
    cos = xp.where(second | third, -cos, cos)
    return sin, cos


def _horner(x: Any, coef: tuple[float, ...]) -> Any:
    """``((c[-1] x + c[-2]) x + ...) x + c[0]``, in place on one array."""
    acc = x * coef[-1]
    acc += coef[-2]
    for c in coef[-3::-1]:
        acc *= x
        acc += c
    return acc
