"""Scalar helpers of the numba kernel: 64-bit constants, byte-wise word operations (eight uint8 lanes in a uint64),
the counter-based mixer of the noise, word-wise fills, unsigned indices and exact integer spans.

All are inlined (``inline="always"``) into the kernels that use them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .memory import _address, _stream64

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S8 = np.uint64(8)
_S20 = np.uint64(20)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S40 = np.uint64(40)
_ONE = np.uint64(1)
_FF = np.uint64(0xFF)
_L7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_H8 = np.uint64(0x8080808080808080)
_B01 = np.uint64(0x0101010101010101)
_W16 = np.uint64(0x00FF00FF00FF00FF)
_W01 = np.uint64(0x0001000100010001)
_S7 = np.uint64(7)
_S3 = np.uint64(3)
_M8 = np.uint64(0x000000FF000000FF)
_LO32 = np.uint64(0xFFFFFFFF)
_S16 = np.uint64(16)
_S32 = np.uint64(32)
_S48 = np.uint64(48)
_HALF32 = np.uint64(1 << 31)
_U256 = np.uint64(256)
_U255 = np.uint64(255)
_ZERO = np.uint64(0)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(inline="always")
def _nonzero_bytes(q8):
    """0xFF in each nonzero byte of q8, 0 elsewhere."""
    high = (((q8 & _L7) + _L7) | q8) & _H8
    return (high >> _S7) * _FF


@njit(inline="always")
def _ge_bytes(a, b):
    """0xFF in each byte where a >= b (unsigned), 0 elsewhere."""
    low = (a | _H8) - (b & _L7)  # per byte: high bit set where a's low 7 bits >= b's, no borrow across bytes
    high = ((a & ~b) | (~(a ^ b) & low)) & _H8
    return (high >> _S7) * _FF


@njit(inline="always")
def _byte_sum(q8):
    pairs = (q8 & _W16) + ((q8 >> _S8) & _W16)
    return np.int64((pairs * _W01) >> _S48)


@njit(inline="always")
def _mix(x):
    x ^= x >> _S30
    x *= _MUL1
    x ^= x >> _S27
    x *= _MUL2
    x ^= x >> _S31
    return x


@njit(inline="always")
def _fill_u8(a, value):
    """Fill a contiguous 1-d uint8 array, eight bytes at a time (numba's ``a[:] = v`` stores byte by byte)."""
    n = a.size
    n8 = n // 8
    if n8:
        words = a[: n8 * 8].view(np.uint64)
        pattern = np.uint64(value) * np.uint64(0x0101010101010101)
        for i in range(n8):
            words[i] = pattern
    for i in range(n8 * 8, n):
        a[i] = value


# Hot loops index whole (or once-reshaped, flat) arrays with unsigned offsets: an unsigned index needs no
# negative-index wraparound (so loops vectorise), and a flat offset no view per row.
@njit(inline="always")
def _u(i):
    return np.uint64(i)


@njit(inline="always")
def _span(a, c, lo, hi, xa, xb):
    """Integers x in [xa, xb) with lo < a x + c < hi (int64, exact); an empty span has xb == xa."""
    if a > 0:
        first = (lo - c) // a + 1
        end = -((c - hi) // a)
    elif a < 0:
        first = (hi - c) // a + 1
        end = -((c - lo) // a)
    else:
        if lo < c < hi:
            return xa, xb
        return xa, xa
    if first > xa:
        xa = first
    if end < xb:
        xb = end
    if xb < xa:
        xb = xa
    return xa, xb


@njit(inline="always")
def _stream_out(dst, doff, src, soff, n):
    """Copy n bytes ``src[soff:]`` to ``dst[doff:]``: non-temporal stores over the 64-byte-aligned lines of the
    destination, plain ones at its ragged ends (call :func:`~movingmnist.render.fused.memory._store_fence` once
    the last has been issued)."""
    head = min(n, (np.int64(64) - np.int64(_address(dst, _u(doff)) & np.uint64(63))) & 63)
    for i in range(head):
        dst[_u(doff + i)] = src[_u(soff + i)]
    body = head + (n - head) // 64 * 64
    for i in range(head, body, 64):
        _stream64(dst, _u(doff + i), src, _u(soff + i))
    for i in range(body, n):
        dst[_u(doff + i)] = src[_u(soff + i)]
