"""Rows of up to 32 bytes in one step, with AVX-512 masked loads and stores (both kernels):
:func:`_paste_row_max` / ``_sum`` / ``_over`` and :func:`_match_row` (a glyph row composited, or measured),
:func:`_composite_row_max` / ``_over`` (the general kernel's sampled rows) and :func:`_fill_row`. The kernels use
them where :data:`_WIDE_ROWS` (AVX-512 BW/VL) and keep plain loops elsewhere.
"""

from __future__ import annotations

from llvmlite import ir
from llvmlite.binding import llvm_version_info
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .simd import _I64, _X86, _host_has, _splat_as

# -- rows of up to 32 bytes with AVX-512 masked loads and stores (both kernels) -------------------------------------
# A glyph row is 28 bytes: shorter than the 32-byte vectors LLVM picks for byte loops here, so LLVM's vectorised
# loop never runs and every row went through its scalar remainder. Masked loads and stores handle any n <= 32 in one
# step; without AVX-512 BW/VL (which makes them cheap) the kernel keeps its plain loops (see ``_WIDE_ROWS``).
_ROW = 32
_V32 = ir.VectorType(ir.IntType(8), _ROW)
_M32 = ir.VectorType(ir.IntType(1), _ROW)


def _row_mask(builder, n_):
    """Lanes j < n of a row (none for n <= 0, all for n >= 32), as the low n bits of an integer: one mask move,
    where comparing 32 lane numbers took four 512-bit compares and three mask merges."""
    zero, full = ir.Constant(_I64, 0), ir.Constant(_I64, _ROW)
    n = builder.select(builder.icmp_signed("<", n_, zero), zero, n_)
    n = builder.select(builder.icmp_signed(">", n, full), full, n)
    bits = builder.sub(builder.shl(ir.Constant(_I64, 1), n), ir.Constant(_I64, 1))
    return builder.bitcast(builder.trunc(bits, ir.IntType(_ROW)), _M32)


def _row_ptr(context, builder, arr_type, arr, offset):
    """The row of 32 bytes at byte ``offset`` of ``arr`` (of any dtype: the general kernel's levels are uint64)."""
    data = builder.bitcast(context.make_array(arr_type)(context, builder, arr).data, ir.IntType(8).as_pointer())
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
    return _splat_as(builder, _V32, builder.trunc(value, ir.IntType(8)))


def _store_where(builder, value, ptr, where):
    """``value`` (an integer) into the row's bytes at ``ptr`` where ``where``: an owner's code or label."""
    _masked_store(builder, _splat8(builder, value), ptr, where)


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
                _store_where(builder, code_, _row_ptr(context, builder, a[5], own_, odst_), where)
            with builder.if_then(_flag(builder, semantic_)):
                _store_where(builder, label_, _row_ptr(context, builder, a[8], sem_, dst_), where)
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


_WIDE_ROWS = _X86 and _host_has("avx512bw", "avx512vl")


@intrinsic
def _fill_row(typingctx, arr, offset, n, value):
    """``arr[offset : offset + n] = value`` (a uint8 array, n <= 32) in one masked store: the background painter's
    rows are a few to 84 bytes, where LLVM's vectorised fill spent most of its time in its scalar ends."""
    sig = types.void(arr, types.uint64, types.int64, types.uint8)

    def codegen(context, builder, signature, args):
        arr_, offset_, n_, value_ = args
        ptr = _row_ptr(context, builder, signature.args[0], arr_, offset_)
        _store_where(builder, value_, ptr, _row_mask(builder, n_))
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
            q = _masked_load(builder, _row_ptr(context, builder, a[6], levels_, src_), mask)
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
            _store_where(builder, code_, _row_ptr(context, builder, a[3], inst_, dst_), owned)
            _store_where(builder, label_, _row_ptr(context, builder, a[4], sem_, dst_), owned)
            return context.get_dummy_value()

        return sig, codegen

    return composite_row


_composite_row_max = _make_composite_row(0)
_composite_row_over = _make_composite_row(2)
