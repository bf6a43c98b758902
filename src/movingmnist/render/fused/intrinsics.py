"""Explicit-SIMD and memory intrinsics of the numba kernel, written in LLVM IR with llvmlite.

:func:`_levels8` (eight bilinear levels in one masked gather), :func:`_nearest16` (sixteen nearest-neighbour levels),
:func:`_paste_row_max` / ``_sum`` / ``_over`` and :func:`_match_row` (a glyph row of up to 32 bytes composited, or
measured, with AVX-512 masked vectors), :func:`_composite_row_max` / ``_over`` (the same for the general kernel's
sampled rows), :func:`_load8` / :func:`_store8` (unaligned 8-byte words of a uint8 array),
:func:`_lut64` (64 bytes through a 256-entry table: ``vpermi2b`` where the CPU has AVX-512 VBMI, which
:func:`_host_has` detects, scalar lookups elsewhere; :data:`_lut64_scalar` is the fallback, for the tests), and the
streaming stores :func:`_stream64` and :func:`_store_fence` (with :func:`_address`, for alignment). Each gives the
same result on every CPU.
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


_I32 = ir.IntType(32)
_V16 = ir.VectorType(_I32, 16)


def _splat16(builder, value):
    one = builder.insert_element(ir.Constant(_V16, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, ir.Constant(_V16, ir.Undefined), ir.Constant(_V16, [0] * 16))


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
        pu_, pv_ = cgutils.unpack_tuple(builder, start_, 2)
        fa_, fd_ = cgutils.unpack_tuple(builder, step_, 2)
        lane = ir.Constant(_V16, list(range(16)))

        def low(value):
            return builder.trunc(value, _I32)

        u = builder.add(_splat16(builder, low(pu_)), builder.mul(_splat16(builder, low(fa_)), lane))
        v = builder.add(_splat16(builder, low(pv_)), builder.mul(_splat16(builder, low(fd_)), lane))
        live = builder.icmp_signed("<", lane, _splat16(builder, low(builder.select(
            builder.icmp_signed("<", n_, ir.Constant(_I64, 16)), n_, ir.Constant(_I64, 16)))))
        half, c16 = ir.Constant(_V16, [1 << 15] * 16), ir.Constant(_V16, [16] * 16)
        row = builder.ashr(builder.add(v, half), c16)
        col = builder.ashr(builder.add(u, half), c16)
        cell = builder.add(builder.mul(row, _splat16(builder, low(wp_))), col)
        data8 = builder.gep(context.make_array(a[2])(context, builder, glyphs_).data, [goff_])
        if _GATHER_DPI:  # one vpgatherdd of 32-bit offsets (from 64-bit pointers, LLVM makes two vpgatherqd)
            fnty = ir.FunctionType(_V16, [_V16, data8.type, _V16, ir.VectorType(ir.IntType(1), 16), _I32])
            gather = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.mask.gather.dpi.512")
            got = builder.call(gather, [ir.Constant(_V16, [0] * 16), data8, cell, live, ir.Constant(_I32, 1)])
        else:
            base = builder.ptrtoint(data8, _I64)
            v16i64 = ir.VectorType(_I64, 16)
            splat = builder.insert_element(ir.Constant(v16i64, ir.Undefined), base, ir.Constant(_I32, 0))
            splat = builder.shuffle_vector(splat, ir.Constant(v16i64, ir.Undefined), ir.Constant(_V16, [0] * 16))
            i32p = _I32.as_pointer()
            ptrs = builder.inttoptr(builder.add(splat, builder.sext(cell, v16i64)), ir.VectorType(i32p, 16))
            name = "llvm.masked.gather.v16i32.v16p0" + ("" if llvm_version_info >= (15,) else "i32")
            fnty = ir.FunctionType(_V16, [ir.VectorType(i32p, 16), _I32, ir.VectorType(ir.IntType(1), 16), _V16])
            gather = cgutils.get_or_insert_function(builder.module, fnty, name)
            got = builder.call(gather, [ptrs, ir.Constant(_I32, 1), live, ir.Constant(_V16, [0] * 16)])
        g = builder.and_(got, ir.Constant(_V16, [255] * 16))
        cap = ir.Constant(_I64, 1 << 24)
        gain = low(builder.select(builder.icmp_unsigned("<", gn_, cap), gn_, cap))
        level = builder.lshr(builder.add(builder.mul(g, _splat16(builder, gain)), half), c16)
        c255 = ir.Constant(_V16, [255] * 16)
        level = builder.select(builder.icmp_unsigned(">", level, c255), c255, level)
        data = builder.gep(context.make_array(a[0])(context, builder, out_).data, [at_])
        v16i8 = ir.VectorType(ir.IntType(8), 16)
        builder.store(builder.trunc(level, v16i8), builder.bitcast(data, v16i8.as_pointer()), align=1)
        return context.get_dummy_value()

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


_GATHER_DPI = platform.machine().lower() in ("x86_64", "amd64") and _host_has("avx512f")
_HAVE_VBMI = platform.machine().lower() in ("x86_64", "amd64") and _host_has("avx512vbmi", "avx512bw")
_lut64 = _make_lut64(_HAVE_VBMI)
_lut64_scalar = _make_lut64(False)  # for the tests


# -- rows of up to 32 bytes with AVX-512 masked loads and stores (both kernels) -------------------------------------
# A glyph row is 28 bytes: shorter than the 32-byte vectors LLVM picks for byte loops here, so LLVM's vectorised
# loop never runs and every row went through its scalar remainder. Masked loads and stores handle any n <= 32 in one
# step; without AVX-512 BW/VL (which makes them cheap) the kernel keeps its plain loops (see ``_WIDE_ROWS``).
_ROW = 32
_V32 = ir.VectorType(ir.IntType(8), _ROW)
_M32 = ir.VectorType(ir.IntType(1), _ROW)


def _broadcast(builder, vec_type, value):
    one = builder.insert_element(ir.Constant(vec_type, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), _ROW), [0] * _ROW)
    return builder.shuffle_vector(one, ir.Constant(vec_type, ir.Undefined), zeros)


def _row_mask(builder, n_):
    """Lanes j < n of a row (none for n <= 0, all for n >= 32), as the low n bits of an integer: one mask move,
    where comparing 32 lane numbers took four 512-bit compares and three mask merges."""
    zero, full = ir.Constant(_I64, 0), ir.Constant(_I64, _ROW)
    n = builder.select(builder.icmp_signed("<", n_, zero), zero, n_)
    n = builder.select(builder.icmp_signed(">", n, full), full, n)
    bits = builder.sub(builder.shl(ir.Constant(_I64, 1), n), ir.Constant(_I64, 1))
    return builder.bitcast(builder.trunc(bits, ir.IntType(_ROW)), _M32)


def _row_ptr(context, builder, arr_type, arr, offset):
    data = context.make_array(arr_type)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [offset]), _V32.as_pointer())


def _masked_load(builder, ptr, mask):
    suffix = "" if llvm_version_info >= (15,) else "v32i8"
    fnty = ir.FunctionType(_V32, [_V32.as_pointer(), ir.IntType(32), _M32, _V32])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.masked.load.v32i8.p0" + suffix)
    return builder.call(fn, [ptr, ir.Constant(ir.IntType(32), 1), mask, ir.Constant(_V32, [0] * _ROW)])


def _masked_store(builder, value, ptr, mask):
    suffix = "" if llvm_version_info >= (15,) else "v32i8"
    fnty = ir.FunctionType(ir.VoidType(), [_V32, _V32.as_pointer(), ir.IntType(32), _M32])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.masked.store.v32i8.p0" + suffix)
    builder.call(fn, [value, ptr, ir.Constant(ir.IntType(32), 1), mask])


def _splat8(builder, value):
    return _broadcast(builder, _V32, builder.trunc(value, ir.IntType(8)))


def _flag(builder, value):
    """A numba boolean as an i1."""
    return value if value.type == ir.IntType(1) else builder.trunc(value, ir.IntType(1))


def _vector_call(builder, name, *args):
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V32, [_V32] * len(args)), name)
    return builder.call(fn, list(args))


def _make_paste_row(mode: int):
    @intrinsic
    def paste_row(typingctx, out, dst, img, src, n, own, odst, code, sem, label, thr, owner, semantic):
        """Composite ``img[src : src + n]`` onto ``out[dst : dst + n]`` (n <= 32) under the mode (0 max, 1 saturating
        sum, 2 over) and, where ``owner``, write ``code`` into ``own[odst + j]`` where the pixel is owned (and, where
        ``semantic``, ``label`` into ``sem[dst + j]``): owned where the glyph's level exceeds ``thr`` and, under max,
        is at least what was there."""
        u64, i64 = types.uint64, types.int64
        sig = types.void(out, u64, img, u64, i64, own, u64, i64, sem, i64, i64, types.boolean, types.boolean)

        def codegen(context, builder, signature, args):
            out_, dst_, img_, src_, n_, own_, odst_, code_, sem_, label_, thr_, owner_, semantic_ = args
            a = signature.args
            mask = _row_mask(builder, n_)
            out_ptr = _row_ptr(context, builder, a[0], out_, dst_)
            v = _masked_load(builder, _row_ptr(context, builder, a[2], img_, src_), mask)
            p = _masked_load(builder, out_ptr, mask)
            inked = builder.icmp_unsigned(">", v, _splat8(builder, thr_))
            if mode == 0:
                new = _vector_call(builder, "llvm.umax.v32i8", v, p)
                owned = builder.and_(inked, builder.icmp_unsigned(">=", v, p))
            elif mode == 1:
                new = _vector_call(builder, "llvm.uadd.sat.v32i8", p, v)
                owned = inked
            else:
                new = builder.select(builder.icmp_unsigned(">", v, ir.Constant(_V32, [0] * _ROW)), v, p)
                owned = inked
            _masked_store(builder, new, out_ptr, mask)
            where = builder.and_(mask, owned)
            with builder.if_then(_flag(builder, owner_)):
                _masked_store(builder, _splat8(builder, code_), _row_ptr(context, builder, a[5], own_, odst_), where)
            with builder.if_then(_flag(builder, semantic_)):
                _masked_store(builder, _splat8(builder, label_), _row_ptr(context, builder, a[8], sem_, dst_), where)
            return context.get_dummy_value()

        return sig, codegen

    return paste_row


_paste_row_max = _make_paste_row(0)
_paste_row_sum = _make_paste_row(1)
_paste_row_over = _make_paste_row(2)


@intrinsic
def _match_row(typingctx, own, odst, img, src, n, code, thr):
    """Of the n <= 32 pixels ``own[odst + j] == code``: bit j set for each, packed in the low 32 bits, and the sum of
    their levels ``img[src + j]`` above ``thr`` in the bits above."""
    u64, i64 = types.uint64, types.int64
    sig = types.uint64(own, u64, img, u64, i64, i64, i64)

    def codegen(context, builder, signature, args):
        own_, odst_, img_, src_, n_, code_, thr_ = args
        a = signature.args
        mask = _row_mask(builder, n_)
        o = _masked_load(builder, _row_ptr(context, builder, a[0], own_, odst_), mask)
        v = _masked_load(builder, _row_ptr(context, builder, a[2], img_, src_), mask)
        mine = builder.and_(mask, builder.icmp_unsigned("==", o, _splat8(builder, code_)))
        counted = builder.and_(mine, builder.icmp_unsigned(">", v, _splat8(builder, thr_)))
        v16 = ir.VectorType(ir.IntType(16), _ROW)
        levels = builder.select(counted, builder.zext(v, v16), ir.Constant(v16, [0] * _ROW))
        fnty = ir.FunctionType(ir.IntType(16), [v16])
        reduce_add = cgutils.get_or_insert_function(builder.module, fnty, "llvm.vector.reduce.add.v32i16")
        total = builder.call(reduce_add, [levels])
        bits = builder.zext(builder.bitcast(mine, ir.IntType(32)), _I64)
        return builder.or_(bits, builder.shl(builder.zext(total, _I64), ir.Constant(_I64, 32)))

    return sig, codegen


_WIDE_ROWS = platform.machine().lower() in ("x86_64", "amd64") and _host_has("avx512bw", "avx512vl")


def _byte_ptr(context, builder, arr_type, arr, offset):
    """``&arr[0]`` as bytes, advanced by ``offset`` bytes (any dtype), as a pointer to a row vector."""
    data = builder.bitcast(context.make_array(arr_type)(context, builder, arr).data, ir.IntType(8).as_pointer())
    return builder.bitcast(builder.gep(data, [offset]), _V32.as_pointer())


@intrinsic
def _fill_row(typingctx, arr, offset, n, value):
    """``arr[offset : offset + n] = value`` (a uint8 array, n <= 32) in one masked store: the background painter's
    rows are a few to 84 bytes, where LLVM's vectorised fill spent most of its time in its scalar ends."""
    sig = types.void(arr, types.uint64, types.int64, types.uint8)

    def codegen(context, builder, signature, args):
        arr_, offset_, n_, value_ = args
        ptr = _row_ptr(context, builder, signature.args[0], arr_, offset_)
        _masked_store(builder, _splat8(builder, value_), ptr, _row_mask(builder, n_))
        return context.get_dummy_value()

    return sig, codegen


def _make_composite_row(mode: int):
    @intrinsic
    def composite_row(typingctx, frame, layer, ownq, inst, sem, dst, levels, src, n, code, label):
        """The general kernel's word-wise compositing (``objects._draw_words``) of n <= 32 pixels at once: levels
        q, the bytes of ``levels`` (a uint64 array) from byte ``src``, onto ``frame[dst : dst + n]`` under max (mode
        0: also the objects' max ``layer``) or over (mode 2). A pixel with q > 0 is owned (under max: where q is at
        least the layer), and then takes ``code`` in ``inst``, ``label`` in ``sem`` and q in ``ownq``."""
        u64, i64 = types.uint64, types.int64
        sig = types.void(frame, layer, ownq, inst, sem, u64, levels, u64, i64, i64, i64)

        def codegen(context, builder, signature, args):
            frame_, layer_, ownq_, inst_, sem_, dst_, levels_, src_, n_, code_, label_ = args
            a = signature.args
            mask = _row_mask(builder, n_)
            q = _masked_load(builder, _byte_ptr(context, builder, a[6], levels_, src_), mask)
            inked = builder.and_(mask, builder.icmp_unsigned("!=", q, ir.Constant(_V32, [0] * _ROW)))
            frame_ptr = _row_ptr(context, builder, a[0], frame_, dst_)
            if mode == 0:
                layer_ptr = _row_ptr(context, builder, a[1], layer_, dst_)
                cur = _masked_load(builder, layer_ptr, mask)
                below = _masked_load(builder, frame_ptr, mask)
                owned = builder.and_(inked, builder.icmp_unsigned(">=", q, cur))
                _masked_store(builder, _vector_call(builder, "llvm.umax.v32i8", q, cur), layer_ptr, mask)
                _masked_store(builder, _vector_call(builder, "llvm.umax.v32i8", q, below), frame_ptr, mask)
            else:
                owned = inked
                _masked_store(builder, q, frame_ptr, inked)
            _masked_store(builder, q, _row_ptr(context, builder, a[2], ownq_, dst_), owned)
            _masked_store(builder, _splat8(builder, code_), _row_ptr(context, builder, a[3], inst_, dst_), owned)
            _masked_store(builder, _splat8(builder, label_), _row_ptr(context, builder, a[4], sem_, dst_), owned)
            return context.get_dummy_value()

        return sig, codegen

    return composite_row


_composite_row_max = _make_composite_row(0)
_composite_row_over = _make_composite_row(2)


# -- streaming stores ----------------------------------------------------------------------------------------------
# A frame composed in place in the output pays for every line twice: the store reads the line in before writing it
# (write-allocate) and writes it back later. Frames composed in a scratch buffer that stays in L1 and then streamed
# out with non-temporal stores write each line of the output once.
_V64B = ir.VectorType(ir.IntType(8), 64)
_X86 = platform.machine().lower() in ("x86_64", "amd64")


@intrinsic
def _address(typingctx, arr, offset):
    """The address of ``arr[offset]`` (a uint8 array), for alignment."""
    sig = types.uint64(arr, types.uint64)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.ptrtoint(builder.gep(data, [args[1]]), _I64)

    return sig, codegen


@intrinsic
def _stream64(typingctx, dst, doff, src, soff):
    """Copy 64 bytes ``src[soff:]`` to ``dst[doff:]`` with a non-temporal store; ``dst[doff]`` must be 64-byte
    aligned."""
    sig = types.void(dst, types.uint64, src, types.uint64)

    def codegen(context, builder, signature, args):
        dst_, doff_, src_, soff_ = args
        a = signature.args
        sp = builder.bitcast(builder.gep(context.make_array(a[2])(context, builder, src_).data, [soff_]),
                             _V64B.as_pointer())
        dp = builder.bitcast(builder.gep(context.make_array(a[0])(context, builder, dst_).data, [doff_]),
                             _V64B.as_pointer())
        store = builder.store(builder.load(sp, align=1), dp, align=64)
        store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _select64(typingctx, dst, doff, val, voff, cov, coff, other, ooff):
    """``dst[doff + j] = val[voff + j] if cov[coff + j] else other[ooff + j]`` for j < 64 (uint8 arrays), in one
    64-byte step: the background's static shapes over its noise (LLVM's loop over a 64-pixel row ran 8 bytes at a
    time)."""
    u64 = types.uint64
    sig = types.void(dst, u64, val, u64, cov, u64, other, u64)

    def codegen(context, builder, signature, args):
        a = signature.args

        def ptr(i):
            data = context.make_array(a[i])(context, builder, args[i]).data
            return builder.bitcast(builder.gep(data, [args[i + 1]]), _V64B.as_pointer())

        shape = builder.load(ptr(2), align=1)
        covered = builder.icmp_unsigned("!=", builder.load(ptr(4), align=1), ir.Constant(_V64B, [0] * 64))
        builder.store(builder.select(covered, shape, builder.load(ptr(6), align=1)), ptr(0), align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _noise8(typingctx, words, offset, key, counter):
    """``words[offset + i] = mix(key ^ ((counter + i) * GOLDEN))`` for i < 8 (uint64 words; ``mix`` the splitmix64
    finaliser of :func:`~movingmnist.render.fused.words._mix`), as one 8-lane vector: LLVM vectorised the scalar
    loop 4 lanes wide, and each of its 64-bit multiplies costs the same micro-ops at either width."""
    u64 = types.uint64
    sig = types.void(words, u64, u64, u64)

    def codegen(context, builder, signature, args):
        words_, offset_, key_, counter_ = args
        lanes = builder.add(_splat(builder, counter_), ir.Constant(_V8, list(range(8))))
        x = builder.xor(_splat(builder, key_), builder.mul(lanes, _vconst(0x9E3779B97F4A7C15)))
        for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            x = builder.mul(builder.xor(x, builder.lshr(x, _vconst(shift))), _vconst(mult))
        x = builder.xor(x, builder.lshr(x, _vconst(31)))
        data = context.make_array(signature.args[0])(context, builder, words_).data
        builder.store(x, builder.bitcast(builder.gep(data, [offset_]), _V8.as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _store_fence(typingctx):
    """Order the streaming stores before whatever follows (``sfence``; a full fence off x86)."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if _X86:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                "llvm.x86.sse.sfence")
            builder.call(fn, [])
        else:
            builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen
