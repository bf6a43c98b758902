"""Memory intrinsics of the numba kernels: :func:`_load8` / :func:`_store8` (unaligned 8-byte words of a uint8
array), :func:`_lut64` (64 bytes through a 256-entry table: ``vpermi2b`` where the CPU has AVX-512 VBMI, scalar
lookups elsewhere; :data:`_lut64_scalar` is the fallback, for the tests), :func:`_select64`, :func:`_noise8`, and
the streaming stores :func:`_stream64` and :func:`_store_fence` (with :func:`_address`, for alignment).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .simd import _I64, _V8, _X86, _element_ptr, _host_has, _splat, _vconst


@intrinsic
def _load8(typingctx, arr, offset):
    """The 8 bytes of a uint8 array at ``offset`` (unaligned) as a uint64, byte j being ``arr[offset + j]``."""
    sig = types.uint64(arr, types.uint64)

    def codegen(context, builder, signature, args):
        return builder.load(_element_ptr(context, builder, signature.args[0], args[0], args[1], _I64), align=1)

    return sig, codegen


@intrinsic
def _store8(typingctx, arr, offset, value):
    """Store a uint64 as the 8 bytes of a uint8 array at ``offset`` (unaligned)."""
    sig = types.void(arr, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        builder.store(args[2], _element_ptr(context, builder, signature.args[0], args[0], args[1], _I64), align=1)
        return context.get_dummy_value()

    return sig, codegen


_V64 = ir.VectorType(ir.IntType(8), 64)


def _make_lut64(vbmi: bool):
    @intrinsic
    def lut64(typingctx, buf, offset, lut):
        """``buf[offset + i] = lut[buf[offset + i]]`` for i < 64 (a 256-entry uint8 table). With AVX-512 VBMI: two
        ``vpermi2b`` over the table's halves and a select on the top bit, 64 bytes in a few instructions; otherwise
        64 scalar lookups."""
        sig = types.void(buf, types.uint64, lut)

        def codegen(context, builder, signature, args):
            data = _element_ptr(context, builder, signature.args[0], args[0], args[1])
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


_HAVE_VBMI = _X86 and _host_has("avx512vbmi", "avx512bw")
_lut64 = _make_lut64(_HAVE_VBMI)
_lut64_scalar = _make_lut64(False)  # for the tests


# -- streaming stores ----------------------------------------------------------------------------------------------
# A frame composed in place in the output pays for every line twice: the store reads the line in before writing it
# (write-allocate) and writes it back later. Frames composed in a scratch buffer that stays in L1 and then streamed
# out with non-temporal stores write each line of the output once.


@intrinsic
def _address(typingctx, arr, offset):
    """The address of ``arr[offset]`` (a uint8 array), for alignment."""
    sig = types.uint64(arr, types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ptrtoint(_element_ptr(context, builder, signature.args[0], args[0], args[1]), _I64)

    return sig, codegen


@intrinsic
def _stream64(typingctx, dst, doff, src, soff):
    """Copy 64 bytes ``src[soff:]`` to ``dst[doff:]`` with a non-temporal store; ``dst[doff]`` must be 64-byte
    aligned."""
    sig = types.void(dst, types.uint64, src, types.uint64)

    def codegen(context, builder, signature, args):
        dst_, doff_, src_, soff_ = args
        a = signature.args
        sp = _element_ptr(context, builder, a[2], src_, soff_, _V64)
        dp = _element_ptr(context, builder, a[0], dst_, doff_, _V64)
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
            return _element_ptr(context, builder, a[i], args[i], args[i + 1], _V64)

        shape = builder.load(ptr(2), align=1)
        covered = builder.icmp_unsigned("!=", builder.load(ptr(4), align=1), ir.Constant(_V64, [0] * 64))
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
        builder.store(x, _element_ptr(context, builder, signature.args[0], words_, offset_, _V8), align=8)
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
