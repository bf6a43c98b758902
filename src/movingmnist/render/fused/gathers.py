"""Sampling intrinsics of the general kernel, in LLVM vector IR: :func:`_levels8` (eight bilinear levels from one
masked gather of the packed 2x2 table) and :func:`_nearest16` (sixteen nearest-neighbour levels from one gather of
the glyph's bytes).
"""

from __future__ import annotations

from llvmlite import ir
from llvmlite.binding import llvm_version_info
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .simd import _I32, _I64, _V8, _V16, _X86, _element_ptr, _host_has, _splat, _splat_as, _vconst

# LLVM does not vectorise a loop that gathers from one array and stores to another (it cannot prove they do not
# overlap), so eight bilinear samples are computed at once in vector IR: one masked gather of the packed 2x2
# neighbourhoods, then the same integer arithmetic lane by lane; the eight levels come back packed in a uint64 (lane j
# in byte j, the order of memory). LLVM lowers this to AVX-512/AVX2 gathers where they exist and to scalar code
# elsewhere, so the result is the same everywhere.


def _lanes(builder, start_, step_, n_, vec=_V8):
    """The sample points ``(pu + j fa, pv + j fd)`` of the lanes of ``vec`` (``<8 x i64>``, or ``<16 x i32>`` with
    the points' low 32 bits) as two vectors, and which lanes are live (j < n)."""
    lanes = vec.count

    def fit(value):
        return value if vec.element.width == 64 else builder.trunc(value, vec.element)

    pu_, pv_ = cgutils.unpack_tuple(builder, start_, 2)
    fa_, fd_ = cgutils.unpack_tuple(builder, step_, 2)
    lane = ir.Constant(vec, list(range(lanes)))
    u = builder.add(_splat_as(builder, vec, fit(pu_)), builder.mul(_splat_as(builder, vec, fit(fa_)), lane))
    v = builder.add(_splat_as(builder, vec, fit(pv_)), builder.mul(_splat_as(builder, vec, fit(fd_)), lane))
    count = ir.Constant(_I64, lanes)
    n = builder.select(builder.icmp_signed("<", n_, count), n_, count)
    return u, v, builder.icmp_signed("<", lane, _splat_as(builder, vec, fit(n)))


def _masked_gather(builder, element, base, offsets, live, align):
    """``*(element *)(base + offsets[j])`` for the live lanes j, 0 elsewhere: ``base`` a pointer, ``offsets`` a
    vector of int64 byte offsets (LLVM's generic masked gather: AVX-512/AVX2 gathers where they exist, scalar loads
    elsewhere)."""
    lanes = offsets.type.count
    vec = ir.VectorType(element, lanes)
    ptr_v = ir.VectorType(element.as_pointer(), lanes)
    start = _splat_as(builder, ir.VectorType(_I64, lanes), builder.ptrtoint(base, _I64))
    ptrs = builder.inttoptr(builder.add(start, offsets), ptr_v)
    # The intrinsic's name spells its pointer type: opaque pointers from LLVM 15 on.
    bits = element.width
    name = f"llvm.masked.gather.v{lanes}i{bits}.v{lanes}p0" + ("" if llvm_version_info >= (15,) else f"i{bits}")
    fnty = ir.FunctionType(vec, [ptr_v, _I32, ir.VectorType(ir.IntType(1), lanes), vec])
    gather = cgutils.get_or_insert_function(builder.module, fnty, name)
    return builder.call(gather, [ptrs, ir.Constant(_I32, align), live, ir.Constant(vec, [0] * lanes)])


def _gather(builder, element, data, cell, live):
    """``data[cell[j]]`` for the live lanes j of 8 (0 elsewhere), zero-extended to int64."""
    width = element.width // 8
    got = _masked_gather(builder, element, data, builder.mul(cell, _vconst(width)), live, width)
    return got if element.width == 64 else builder.zext(got, _V8)


def _low32(builder, value):
    """The low 32 bits of each lane: a product of two such lanes is one ``vpmuludq`` (``vpmullq``, a full 64-bit
    product, is three micro-ops on the one port that multiplies)."""
    return builder.and_(value, _vconst(0xFFFFFFFF))


def _mul32(builder, a, b):
    """``a * b`` per lane for lanes below 2**32 (callers know they are), as :func:`_low32` explains."""
    return builder.mul(_low32(builder, a), _low32(builder, b))


def _packed_levels(builder, s, gn_):
    """``min(255, (S G + 2**31) >> 32)`` per lane, packed as byte j of a uint64 (S < 2**25; G < 2**31, the renderer's
    gain limit)."""
    c255 = _vconst(255)
    qq = builder.lshr(builder.add(_mul32(builder, s, _splat(builder, gn_)), _vconst(1 << 31)), _vconst(32))
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
        # Live lanes sample inside the glyph (u, v >= 0, below 2**32): 32-bit products suffice.
        cell = builder.add(_mul32(builder, builder.ashr(v, c16), _splat(builder, wp_)), builder.ashr(u, c16))
        quad = _gather(builder, _I64, data, builder.add(cell, _splat(builder, toff_)), live)
        c255, c256 = _vconst(255), _vconst(256)
        fx = builder.and_(builder.lshr(u, _vconst(8)), c255)
        fy = builder.and_(builder.lshr(v, _vconst(8)), c255)
        gx = builder.sub(c256, fx)

        def cell_value(shift):  # g00, g01, g10, g11: the 16-bit fields of the packed neighbourhood
            return builder.and_(builder.lshr(quad, _vconst(shift)), c255) if shift else builder.and_(quad, c255)

        top = builder.add(_mul32(builder, gx, cell_value(0)), _mul32(builder, fx, cell_value(16)))
        bottom = builder.add(_mul32(builder, gx, cell_value(32)), _mul32(builder, fx, cell_value(48)))
        s = builder.add(_mul32(builder, builder.sub(c256, fy), top), _mul32(builder, fy, bottom))
        return _packed_levels(builder, s, gn_)

    return sig, codegen


@intrinsic
def _nearest16(typingctx, out, at, glyphs, goff, wp, start, step, gn, n):
    """Nearest-neighbour levels of the 16 points ``(pu + j fa, pv + j fd)``, j < min(n, 16) (padded-glyph units):
    the value g of cell ``((pv + 2**15) >> 16) wp + ((pu + 2**15) >> 16)`` of the glyph's bytes ``glyphs[goff:]``,
    S = g << 16 as :func:`~movingmnist.render.fused.objects._sample` with ``nearest``, stored as bytes into
    ``out[at : at + 2]`` (uint64 words, byte j being point j); lanes j >= n are 0. One 16-lane gather of 32-bit
    words (a live lane reads at most 3 bytes past its cell, inside the padded glyph), where a gather of 64-bit
    words from a packed table took 8 points.

    Everything is 32-bit: the sample points of live lanes are small (inside the glyph), and 32-bit sums and
    products of their wrapped parts are exact; the level ``min(255, (S G + 2**31) >> 32)`` is
    ``min(255, (g G + 2**15) >> 16)``, with the gain capped at 2**24 (from there every inked level is 255 anyway)
    so that ``g G`` fits."""
    i64 = types.int64
    pair = types.UniTuple(i64, 2)
    sig = types.void(out, types.uint64, glyphs, i64, i64, pair, pair, types.uint64, i64)

    def codegen(context, builder, signature, args):
        out_, at_, glyphs_, goff_, wp_, start_, step_, gn_, n_ = args
        a = signature.args
        u, v, live = _lanes(builder, start_, step_, n_, _V16)

        def low(value):
            return builder.trunc(value, _I32)

        half, c16 = ir.Constant(_V16, [1 << 15] * 16), ir.Constant(_V16, [16] * 16)
        row = builder.ashr(builder.add(v, half), c16)
        col = builder.ashr(builder.add(u, half), c16)
        cell = builder.add(builder.mul(row, _splat_as(builder, _V16, low(wp_))), col)
        data8 = _element_ptr(context, builder, a[2], glyphs_, goff_)
        if _GATHER_DPI:  # one vpgatherdd of 32-bit offsets (from 64-bit pointers, LLVM makes two vpgatherqd)
            fnty = ir.FunctionType(_V16, [_V16, data8.type, _V16, ir.VectorType(ir.IntType(1), 16), _I32])
            gather = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.mask.gather.dpi.512")
            got = builder.call(gather, [ir.Constant(_V16, [0] * 16), data8, cell, live, ir.Constant(_I32, 1)])
        else:
            got = _masked_gather(builder, _I32, data8, builder.sext(cell, ir.VectorType(_I64, 16)), live, 1)
        g = builder.and_(got, ir.Constant(_V16, [255] * 16))
        cap = ir.Constant(_I64, 1 << 24)
        gain = low(builder.select(builder.icmp_unsigned("<", gn_, cap), gn_, cap))
        level = builder.lshr(builder.add(builder.mul(g, _splat_as(builder, _V16, gain)), half), c16)
        c255 = ir.Constant(_V16, [255] * 16)
        level = builder.select(builder.icmp_unsigned(">", level, c255), c255, level)
        v16i8 = ir.VectorType(ir.IntType(8), 16)
        builder.store(builder.trunc(level, v16i8), _element_ptr(context, builder, a[0], out_, at_, v16i8), align=1)
        return context.get_dummy_value()

    return sig, codegen


_GATHER_DPI = _X86 and _host_has("avx512f")
