"""Explicit-SIMD and memory intrinsics of the numba kernel, written in LLVM IR with llvmlite.

:func:`_levels8` (eight bilinear levels in one masked gather), :func:`_load8` / :func:`_store8` (unaligned 8-byte
words of a uint8 array), and :func:`_lut64` (64 bytes through a 256-entry table: ``vpermi2b`` where the CPU has AVX-512
VBMI, which :func:`_host_has` detects, scalar lookups elsewhere; :data:`_lut64_scalar` is the fallback, for the
tests). Each gives the same result on every CPU.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from llvmlite.binding import get_host_cpu_features, llvm_version_info
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# -- explicit SIMD (LLVM vector IR) ------------------------------------------------------------------------------------
# LLVM does not vectorise a loop that gathers from one array and stores to another (it cannot prove they do not
# overlap), so eight bilinear samples are computed at once in vector IR: one masked gather of the packed 2x2
# neighbourhoods, then the same integer arithmetic lane by lane; the eight levels come back packed in a uint64 (lane j
# in byte j, the order of memory). LLVM lowers this to AVX-512/AVX2 gathers where they exist and to scalar code
# elsewhere, so the result is the same everywhere.
_I64 = ir.IntType(64)
_V8 = ir.VectorType(_I64, 8)


def _splat(builder, value):
    one = builder.insert_element(ir.Constant(_V8, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8)
    return builder.shuffle_vector(one, ir.Constant(_V8, ir.Undefined), zeros)


def _vconst(value):
    return ir.Constant(_V8, [value] * 8)


def _lanes(builder, start_, step_, n_):
    """The eight sample points ``(pu + j fa, pv + j fd)`` as two vectors, and which lanes are live (j < n)."""
    pu_, pv_ = cgutils.unpack_tuple(builder, start_, 2)
    fa_, fd_ = cgutils.unpack_tuple(builder, step_, 2)
    lane = ir.Constant(_V8, list(range(8)))
    u = builder.add(_splat(builder, pu_), builder.mul(_splat(builder, fa_), lane))
    v = builder.add(_splat(builder, pv_), builder.mul(_splat(builder, fd_), lane))
    return u, v, builder.icmp_signed("<", lane, _splat(builder, n_))


def _gather(builder, element, data, cell, live):
    """``data[cell[j]]`` for the live lanes j (0 elsewhere), zero-extended to int64."""
    vec = ir.VectorType(element, 8)
    ptr_v = ir.VectorType(element.as_pointer(), 8)
    width = element.width // 8
    addr = builder.add(_splat(builder, builder.ptrtoint(data, _I64)), builder.mul(cell, _vconst(width)))
    ptrs = builder.inttoptr(addr, ptr_v)
    # The intrinsic's name spells its pointer type: opaque pointers from LLVM 15 on.
    bits = element.width
    name = f"llvm.masked.gather.v8i{bits}.v8p0" + ("" if llvm_version_info >= (15,) else f"i{bits}")
    fnty = ir.FunctionType(vec, [ptr_v, ir.IntType(32), ir.VectorType(ir.IntType(1), 8), vec])
    gather = cgutils.get_or_insert_function(builder.module, fnty, name)
    got = builder.call(gather, [ptrs, ir.Constant(ir.IntType(32), width), live, ir.Constant(vec, [0] * 8)])
    return got if element.width == 64 else builder.zext(got, _V8)


def _packed_levels(builder, s, gn_):
    """``min(255, (S G + 2**31) >> 32)`` per lane, packed as byte j of a uint64."""
    c255 = _vconst(255)
    qq = builder.lshr(builder.add(builder.mul(s, _splat(builder, gn_)), _vconst(1 << 31)), _vconst(32))
    q = builder.select(builder.icmp_unsigned(">", qq, c255), c255, qq)
    return builder.bitcast(builder.trunc(q, ir.VectorType(ir.IntType(8), 8)), _I64)


@intrinsic
def _levels8(typingctx, tabs_f, toff, wp, start, step, gn, n):
    """Levels ``min(255, (S G + 2**31) >> 32)`` of the bilinear samples at ``(pu + j fa, pv + j fd)``, j < n <= 8
    (padded-glyph units, see :func:`_sample`), packed as byte j of the result; lanes j >= n are 0. The sample point
    and its step per pixel come as pairs: ``start = (pu, pv)``, ``step = (fa, fd)`` (int64)."""
    i64 = types.int64
    pair = types.UniTuple(i64, 2)
    sig = types.uint64(tabs_f, i64, i64, pair, pair, types.uint64, i64)

    def codegen(context, builder, signature, args):
        tab, toff_, wp_, start_, step_, gn_, n_ = args
        u, v, live = _lanes(builder, start_, step_, n_)
        data = context.make_array(signature.args[0])(context, builder, tab).data
        c16 = _vconst(16)
        cell = builder.add(builder.mul(builder.ashr(v, c16), _splat(builder, wp_)), builder.ashr(u, c16))
        quad = _gather(builder, _I64, data, builder.add(cell, _splat(builder, toff_)), live)
        c255, c256, m8 = _vconst(255), _vconst(256), _vconst(0x000000FF000000FF)
        fx = builder.and_(builder.lshr(u, _vconst(8)), c255)
        fy = builder.and_(builder.lshr(v, _vconst(8)), c255)
        pair = builder.add(
            builder.mul(builder.sub(c256, fx), builder.and_(quad, m8)),
            builder.mul(fx, builder.and_(builder.lshr(quad, c16), m8)),
        )
        s = builder.add(
            builder.mul(builder.sub(c256, fy), builder.and_(pair, _vconst(0xFFFFFFFF))),
            builder.mul(fy, builder.lshr(pair, _vconst(32))),
        )
        return _packed_levels(builder, s, gn_)

    return sig, codegen


@intrinsic
def _nearest8(typingctx, glyph_f, goff, wp, start, step, gn, n):
    """:func:`_levels8` for nearest-neighbour sampling: the levels of the glyph cells nearest to the eight points,
    ``glyph_f[goff + ((pv + 2**15) >> 16) wp + ((pu + 2**15) >> 16)]`` (S is the cell's value << 16, as
    :func:`~movingmnist.render.fused.objects._sample` with ``nearest``)."""
    i64 = types.int64
    pair = types.UniTuple(i64, 2)
    sig = types.uint64(glyph_f, i64, i64, pair, pair, types.uint64, i64)

    def codegen(context, builder, signature, args):
        glyph, goff_, wp_, start_, step_, gn_, n_ = args
        u, v, live = _lanes(builder, start_, step_, n_)
        data = context.make_array(signature.args[0])(context, builder, glyph).data
        c16, half = _vconst(16), _vconst(1 << 15)
        row = builder.ashr(builder.add(v, half), c16)
        col = builder.ashr(builder.add(u, half), c16)
        cell = builder.add(builder.add(builder.mul(row, _splat(builder, wp_)), col), _splat(builder, goff_))
        g = _gather(builder, ir.IntType(8), data, cell, live)
        return _packed_levels(builder, builder.shl(g, c16), gn_)

    return sig, codegen


@intrinsic
def _load8(typingctx, arr, offset):
    """The 8 bytes of a uint8 array at ``offset`` (unaligned) as a uint64, byte j being ``arr[offset + j]``."""
    sig = types.uint64(arr, types.uint64)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        ptr = builder.bitcast(builder.gep(data, [args[1]]), _I64.as_pointer())
        return builder.load(ptr, align=1)

    return sig, codegen


@intrinsic
def _store8(typingctx, arr, offset, value):
    """Store a uint64 as the 8 bytes of a uint8 array at ``offset`` (unaligned)."""
    sig = types.void(arr, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        ptr = builder.bitcast(builder.gep(data, [args[1]]), _I64.as_pointer())
        builder.store(args[2], ptr, align=1)
        return context.get_dummy_value()

    return sig, codegen


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


_V64 = ir.VectorType(ir.IntType(8), 64)


def _make_lut64(vbmi: bool):
    @intrinsic
    def lut64(typingctx, buf, offset, lut):
        """``buf[offset + i] = lut[buf[offset + i]]`` for i < 64 (a 256-entry uint8 table). With AVX-512 VBMI: two
        ``vpermi2b`` over the table's halves and a select on the top bit, 64 bytes in a few instructions; otherwise
        64 scalar lookups."""
        sig = types.void(buf, types.uint64, lut)

        def codegen(context, builder, signature, args):
            data = builder.gep(context.make_array(signature.args[0])(context, builder, args[0]).data, [args[1]])
            table = context.make_array(signature.args[2])(context, builder, args[2]).data
            if vbmi:
                vp = _V64.as_pointer()
                idx = builder.load(builder.bitcast(data, vp), align=1)
                parts = [
                    builder.load(builder.bitcast(builder.gep(table, [ir.Constant(_I64, 64 * i)]), vp), align=1)
                    for i in range(4)
                ]
                fnty = ir.FunctionType(_V64, [_V64, _V64, _V64])
                perm = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.vpermi2var.qi.512")
                low = builder.call(perm, [parts[0], idx, parts[1]])  # lut[idx & 127]
                high = builder.call(perm, [parts[2], idx, parts[3]])  # lut[128 + (idx & 127)]
                top = builder.icmp_signed("<", idx, ir.Constant(_V64, [0] * 64))
                builder.store(builder.select(top, high, low), builder.bitcast(data, vp), align=1)
            else:
                for i in range(64):
                    at = builder.gep(data, [ir.Constant(_I64, i)])
                    builder.store(builder.load(builder.gep(table, [builder.zext(builder.load(at), _I64)])), at)
            return context.get_dummy_value()

        return sig, codegen

    return lut64


_HAVE_VBMI = platform.machine().lower() in ("x86_64", "amd64") and _host_has("avx512vbmi", "avx512bw")
_lut64 = _make_lut64(_HAVE_VBMI)
_lut64_scalar = _make_lut64(False)  # for the tests
