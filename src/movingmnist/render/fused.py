"""Accelerated kernels of the general renderer (numba): the same bytes as :mod:`movingmnist.render.general`.

The sampling arithmetic is integer (fixed-point poses, 8-bit weights, integer gains; see the rules in
:mod:`movingmnist.render.general`), so the kernels may step, reorder and vectorise it freely and still give the
reference's bytes; the floating-point parts (static shapes, flow) perform the reference's operations in the same order
(numba does not reassociate or fuse multiply-adds without ``fastmath``). Tests compare the two bit for bit.

``render`` draws one frame at a time: background, objects, occluding distractors, then what each object owns. Where
the reference evaluates every pixel of a patch, it visits only the exact span of each row where the sample point
lies in the glyph's support, eight pixels per step in explicit vector code (:func:`_levels8`), and composites
straight into the frame. Hot loops index flat arrays with unsigned offsets: a view made inside a loop costs two
atomic reference-count updates, and a signed index needs wraparound code.

Imported by :mod:`movingmnist.render.pipeline` only when the numba kernel is selected (numba is optional).
"""

from __future__ import annotations

import platform

import numpy as np
from llvmlite import ir
from llvmlite.binding import get_host_cpu_features, llvm_version_info
from numba import njit, types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros
from numba.extending import intrinsic

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


# -- explicit SIMD (LLVM vector IR) ------------------------------------------------------------------------------------
# LLVM does not vectorise a loop that gathers from one array and stores to another (it cannot prove they do not
# overlap), so eight bilinear samples are computed at once in vector IR: one masked gather of the packed 2x2
# neighbourhoods, then the same integer arithmetic lane by lane; the eight levels come back packed in a uint64 (lane j
# in byte j, the order of memory). LLVM lowers this to AVX-512/AVX2 gathers where they exist and to scalar code
# elsewhere, so the result is the same everywhere.
_I64 = ir.IntType(64)
_V8 = ir.VectorType(_I64, 8)
# The intrinsic's name spells its pointer type: opaque pointers from LLVM 15 on.
_GATHER = "llvm.masked.gather.v8i64.v8p0" if llvm_version_info >= (15,) else "llvm.masked.gather.v8i64.v8p0i64"


def _splat(builder, value):
    one = builder.insert_element(ir.Constant(_V8, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8)
    return builder.shuffle_vector(one, ir.Constant(_V8, ir.Undefined), zeros)


def _vconst(value):
    return ir.Constant(_V8, [value] * 8)


@intrinsic
def _levels8(typingctx, tabs_f, toff, wp, pu, pv, fa, fd, gn, n):
    """Levels ``min(255, (S G + 2**31) >> 32)`` of the bilinear samples at ``(pu + j fa, pv + j fd)``, j < n <= 8
    (padded-glyph units, see :func:`_sample`), packed as byte j of the result; lanes j >= n are 0."""
    i64 = types.int64
    sig = types.uint64(tabs_f, i64, i64, i64, i64, i64, i64, types.uint64, i64)

    def codegen(context, builder, signature, args):
        tab, toff_, wp_, pu_, pv_, fa_, fd_, gn_, n_ = args
        data = context.make_array(signature.args[0])(context, builder, tab).data
        lane = ir.Constant(_V8, list(range(8)))
        u = builder.add(_splat(builder, pu_), builder.mul(_splat(builder, fa_), lane))
        v = builder.add(_splat(builder, pv_), builder.mul(_splat(builder, fd_), lane))
        c16 = _vconst(16)
        cell = builder.add(builder.mul(builder.ashr(v, c16), _splat(builder, wp_)), builder.ashr(u, c16))
        cell = builder.add(cell, _splat(builder, toff_))
        live = builder.icmp_signed("<", lane, _splat(builder, n_))
        ptr_v = ir.VectorType(_I64.as_pointer(), 8)
        addr = builder.add(_splat(builder, builder.ptrtoint(data, _I64)), builder.shl(cell, _vconst(3)))
        ptrs = builder.inttoptr(addr, ptr_v)
        fnty = ir.FunctionType(_V8, [ptr_v, ir.IntType(32), ir.VectorType(ir.IntType(1), 8), _V8])
        gather = cgutils.get_or_insert_function(builder.module, fnty, _GATHER)
        quad = builder.call(gather, [ptrs, ir.Constant(ir.IntType(32), 8), live, _vconst(0)])
        c255, c256, m8 = _vconst(255), _vconst(256), _vconst(0x000000FF000000FF)
        fx = builder.and_(builder.lshr(u, _vconst(8)), c255)
        fy = builder.and_(builder.lshr(v, _vconst(8)), c255)
        pair = builder.add(
            builder.mul(builder.sub(c256, fx), builder.and_(quad, m8)),
            builder.mul(fx, builder.and_(builder.lshr(quad, c16), m8)),
        )
        c32 = _vconst(32)
        s = builder.add(
            builder.mul(builder.sub(c256, fy), builder.and_(pair, _vconst(0xFFFFFFFF))),
            builder.mul(fy, builder.lshr(pair, c32)),
        )
        qq = builder.lshr(builder.add(builder.mul(s, _splat(builder, gn_)), _vconst(1 << 31)), c32)
        q = builder.select(builder.icmp_unsigned(">", qq, c255), c255, qq)
        return builder.bitcast(builder.trunc(q, ir.VectorType(ir.IntType(8), 8)), _I64)

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


_L7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_H8 = np.uint64(0x8080808080808080)
_B01 = np.uint64(0x0101010101010101)
_W16 = np.uint64(0x00FF00FF00FF00FF)
_W01 = np.uint64(0x0001000100010001)
_S7 = np.uint64(7)
_S3 = np.uint64(3)


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


# Hot loops index whole (or once-reshaped, flat) arrays with unsigned offsets: a view made inside a loop costs two
# atomic reference-count updates, and an unsigned index needs no negative-index wraparound (so loops vectorise).
@njit(inline="always")
def _u(i):
    return np.uint64(i)


@njit(cache=True, nogil=True)
def paint_shapes(val, cov, present, kind, size, apex, topleft, value):
    """Static shapes over the background canvas; see ``backgrounds.paint_shapes_numpy`` (the same floating-point
    tests: rectangles fill their box, ellipses and triangles test each pixel centre), row by row, branch-free."""
    b_n, c_n, hb, wb = val.shape
    hwb = hb * wb
    n_slots = present.shape[1]
    for b in range(b_n):
        cov_f = cov[b].reshape(-1)
        val_f = val[b].reshape(-1)
        for j in range(n_slots):
            if not present[b, j]:
                continue
            sw = size[b, j, 0]
            sh = size[b, j, 1]
            x0 = topleft[b, j, 0]  # in 0 .. big - size
            y0 = topleft[b, j, 1]
            nx = min(sw, wb - x0)
            kd = kind[b, j]
            ax = apex[b, j] * sw
            for ry in range(min(sh, hb - y0)):
                base = _u((y0 + ry) * wb + x0)
                dy = (2.0 * ry + 1.0 - sh) / sh
                dy2 = dy * dy
                py = ry + 0.5
                for ch in range(c_n):
                    v = value[b, j, ch]
                    vb = base + _u(ch * hwb)
                    if kd == 0:
                        for rx in range(nx):
                            val_f[vb + _u(rx)] = v
                    elif kd == 1:
                        for rx in range(nx):
                            dx = (2.0 * rx + 1.0 - sw) / sw
                            inside = dx * dx + dy2 <= 1.0
                            val_f[vb + _u(rx)] = v if inside else val_f[vb + _u(rx)]
                    else:
                        for rx in range(nx):
                            px = rx + 0.5
                            e1 = (0.0 - ax) * (py - 0.0) - (sh - 0.0) * (px - ax)
                            e2 = (ax - sw) * (py - sh) - (0.0 - sh) * (px - sw)
                            inside = e1 <= 0.0 and e2 <= 0.0
                            val_f[vb + _u(rx)] = v if inside else val_f[vb + _u(rx)]
                if kd == 0:
                    for rx in range(nx):
                        cov_f[base + _u(rx)] = 1
                elif kd == 1:
                    for rx in range(nx):
                        dx = (2.0 * rx + 1.0 - sw) / sw
                        inside = dx * dx + dy2 <= 1.0
                        cov_f[base + _u(rx)] = 1 if inside else cov_f[base + _u(rx)]
                else:
                    for rx in range(nx):
                        px = rx + 0.5
                        e1 = (0.0 - ax) * (py - 0.0) - (sh - 0.0) * (px - ax)
                        e2 = (ax - sw) * (py - sh) - (0.0 - sh) * (px - sw)
                        inside = e1 <= 0.0 and e2 <= 0.0
                        cov_f[base + _u(rx)] = 1 if inside else cov_f[base + _u(rx)]


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
def _background_frame(
    frame_f, cov_f, val_f, hb, wb, ox, oy, t, c_n, h, w, has_static, dynamic, base, lut, noise, noise_words
):
    """The background of frame t (view offset ox, oy) into ``frame_f (C * H * W)``; see
    ``render_background_numpy``. ``cov_f``, ``val_f``: this sequence's static canvas, flat."""
    n_words = (w + 7) // 8
    frame_t = np.uint64(t) << _S40
    for c in range(c_n):
        for y in range(h):
            ro = _u((c * h + y) * w)
            so = _u((oy + y) * wb + ox)
            vo = _u((c * hb + oy + y) * wb + ox)
            if dynamic:
                # Row y's words are at counters (t, c h + y, 0 .. n_words - 1), as ``noise_bytes``.
                r = (frame_t | (np.uint64(c * h + y) << _S20)) + _ONE
                for wi in range(n_words):
                    noise_words[wi] = _mix(base ^ ((r + np.uint64(wi)) * _GOLDEN))
                for block in range(0, w, 64):
                    _lut64(noise, _u(block), lut)  # the noise bytes through the table, in place
                if has_static:
                    for x in range(w):
                        xi = _u(x)
                        shape = val_f[vo + xi]  # both loads unconditional: a select of values vectorises
                        grain = noise[xi]
                        frame_f[ro + xi] = shape if cov_f[so + xi] != 0 else grain
                else:
                    for x in range(w):
                        xi = _u(x)
                        frame_f[ro + xi] = noise[xi]
            elif has_static:
                for x in range(w):
                    xi = _u(x)
                    frame_f[ro + xi] = val_f[vo + xi] if cov_f[so + xi] != 0 else 0
            else:
                for x in range(w):
                    frame_f[ro + _u(x)] = 0


@njit(inline="always")
def _glyph_table(tabs_f, toff, glyph_f, goff, nx0, ny0, nx1, ny1, wp):
    """Cell (j, i) of a padded glyph (rows ``ny0 .. ny1``, columns ``nx0 .. nx1``) packs its 2x2 neighbourhood as
    ``g00 | g01 << 16 | g10 << 32 | g11 << 48`` at ``tabs_f[toff + j wp + i]`` (one load per bilinear sample)."""
    for j in range(ny0, ny1 + 1):
        r0 = goff + j * wp
        r1 = r0 + wp
        for i in range(nx0, nx1 + 1):
            tabs_f[toff + j * wp + i] = (
                np.uint64(glyph_f[r0 + i])
                | (np.uint64(glyph_f[r0 + i + 1]) << _S16)
                | (np.uint64(glyph_f[r1 + i]) << _S32)
                | (np.uint64(glyph_f[r1 + i + 1]) << _S48)
            )


@njit(inline="always")
def _sample(tabs_f, toff, glyph_f, goff, wp, uu, vv, nearest):
    """S at the fixed-point point (uu, vv) given in padded-glyph units (the cell is ``(vv >> 16, uu >> 16)``)."""
    if nearest:
        half = np.int64(1) << 15
        return np.uint64(glyph_f[_u(goff + ((vv + half) >> 16) * wp + ((uu + half) >> 16))]) << _S16
    quad = tabs_f[_u(toff + (vv >> 16) * wp + (uu >> 16))]
    fx = np.uint64((uu >> 8) & 255)
    fy = np.uint64((vv >> 8) & 255)
    pair = (_U256 - fx) * (quad & _M8) + fx * ((quad >> _S16) & _M8)
    return (_U256 - fy) * (pair & _LO32) + fy * (pair >> _S32)


@njit(inline="always")
def _level(s, gn):
    """``min(255, (S G + 2**31) >> 32)`` as int64."""
    qq = (s * gn + _HALF32) >> _S32
    return np.int64(255) if qq > _U255 else np.int64(qq)


_NEAREST, _NEED_TOTAL, _COLOUR, _OWNER, _SEMANTIC, _AMODAL = 1, 2, 4, 8, 16, 32
_FAST = _OWNER | _SEMANTIC  # bilinear, grey, masks: the flags the kernel is specialised for


@njit(inline="always")
def _draw_object(
    tabs_f, toff, glyph_f, goff, wp, fix, nzbox, gain, gain_c, region, b, t, k, flags, mode, h, w,
    frame_f, layer, threshold, inst_f, sem_f, label, ownq, amask_f, abox,
):
    """Object k of sequence b in frame t, straight into the frame (and the max layer): sample, composite, take
    ownership; the box of its pixels above the threshold goes to ``abox[b, t, k]``. Returns the total ink.

    Rows are visited over the exact span where the fixed-point sample point lies in the glyph's support (integer
    bounds, no per-pixel test), 8 pixels at a time (bilinear: :func:`_levels8`), composited pixel by pixel (the
    general case; see :func:`_draw_words` for the presets'). ``flags``, ``mode`` and ``threshold`` may be constants
    at a call site, so that the branches on them fold away. (All per-pixel code is in this body: an inlined helper
    taking arrays would update reference counts at every call.)"""
    nearest = (flags & _NEAREST) != 0
    need_total = (flags & _NEED_TOTAL) != 0
    colour_on = (flags & _COLOUR) != 0
    track_owner = (flags & _OWNER) != 0
    sem_on = (flags & _SEMANTIC) != 0
    amask_on = (flags & _AMODAL) != 0
    hw = h * w
    c_n = frame_f.size // hw
    code = np.uint8(k + 1)
    fa, fb, fc = fix[b, t, k, 0], fix[b, t, k, 1], fix[b, t, k, 2]
    fd, fe, ff = fix[b, t, k, 3], fix[b, t, k, 4], fix[b, t, k, 5]
    one = np.int64(1) << 16
    half = np.int64(1) << 15
    if nearest:
        lo_u, hi_u = (nzbox[b, k, 0] << 16) - half - 1, (nzbox[b, k, 2] << 16) - half
        lo_v, hi_v = (nzbox[b, k, 1] << 16) - half - 1, (nzbox[b, k, 3] << 16) - half
    else:
        lo_u, hi_u = (nzbox[b, k, 0] - 1) << 16, nzbox[b, k, 2] << 16
        lo_v, hi_v = (nzbox[b, k, 1] - 1) << 16, nzbox[b, k, 3] << 16
    x0, y0, x1, y1 = region[b, t, k, 0], region[b, t, k, 1], region[b, t, k, 2], region[b, t, k, 3]
    gn = np.uint64(gain[b, t, k])
    if need_total:
        ry0, ry1, rx0, rx1 = y0, y1, x0, x1
    else:
        ry0, ry1, rx0, rx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    tot = 0
    bx0 = 1 << 40
    by0 = 1 << 40
    bx1 = -(1 << 40)
    by1 = -(1 << 40)
    for y in range(ry0, ry1):
        cu = fb * y + fc
        cv = fe * y + ff
        xa, xb = _span(fa, cu, lo_u, hi_u, rx0, rx1)
        xa, xb = _span(fd, cv, lo_v, hi_v, xa, xb)
        if xb <= xa:
            continue
        cu += one  # sample points in padded-glyph units from here on
        cv += one
        # Pixels off the canvas only count towards the total and the amodal box: segments 0 and 2.
        if 0 <= y < h:
            ca = min(max(xa, 0), xb)
            cb = max(min(xb, w), ca)
        else:
            ca = xb
            cb = xb
        row_base = y * w
        row_lo = 1 << 40
        row_hi = -(1 << 40)
        for seg in range(3):
            if seg == 0:
                sa, sb = xa, ca
            elif seg == 1:
                sa, sb = ca, cb
            else:
                sa, sb = cb, xb
            on = seg == 1
            for xc in range(sa, sb, 8):
                n = min(8, sb - xc)
                q8 = _ZERO
                if not nearest:
                    q8 = _levels8(tabs_f, toff, wp, fa * xc + cu, fd * xc + cv, fa, fd, gn, n)
                    if q8 == _ZERO:
                        continue
                p = _u(row_base + xc)
                for j in range(n):
                    x = xc + j
                    s = _ZERO
                    if nearest or (on and colour_on):
                        s = _sample(tabs_f, toff, glyph_f, goff, wp, fa * x + cu, fd * x + cv, nearest)
                    if nearest:
                        q = _level(s, gn)
                    else:
                        q = np.int64((q8 >> _u(8 * j)) & _FF)
                    if q == 0:
                        continue
                    if q > threshold:
                        tot += q
                        row_lo = min(row_lo, x)
                        row_hi = x
                    if not on:
                        continue
                    pj = p + _u(j)
                    if mode == 0:
                        cur = np.int64(layer[pj])
                        owned = q >= cur and q > threshold
                        if q > cur:
                            layer[pj] = q
                    else:
                        owned = q > threshold
                    if colour_on:
                        for ch in range(c_n):
                            qc = _level(s, np.uint64(gain_c[b, t, k, ch]))
                            pc = pj + _u(ch * hw)
                            below = np.int64(frame_f[pc])
                            if mode == 0:
                                frame_f[pc] = qc if qc > below else below
                            elif mode == 1:
                                frame_f[pc] = min(below + qc, 255)
                            else:
                                frame_f[pc] = qc
                    elif mode == 0:
                        below = np.int64(frame_f[pj])
                        frame_f[pj] = q if q > below else below
                    elif mode == 1:
                        frame_f[pj] = min(np.int64(frame_f[pj]) + q, 255)
                    else:
                        frame_f[pj] = q
                    if track_owner and owned:
                        inst_f[pj] = code
                        ownq[pj] = q
                        if sem_on:
                            sem_f[pj] = label
                    if amask_on and q > threshold:
                        amask_f[pj + _u(k * hw)] = True
        if row_hi >= row_lo:
            bx0 = min(bx0, row_lo)
            bx1 = max(bx1, row_hi + 1)
            by0 = min(by0, y)
            by1 = y + 1
    if bx1 > bx0:
        abox[b, t, k, 0] = bx0
        abox[b, t, k, 1] = by0
        abox[b, t, k, 2] = bx1
        abox[b, t, k, 3] = by1
    return tot


@njit(inline="always")
def _draw_words(
    tabs_f, toff, wp, fix, nzbox, gain, region, b, t, k, need_total, mode, h, w,
    frame_f, layer, inst_f, sem_f, label, ownq, abox, qbuf, pbuf,
):
    """:func:`_draw_object` for bilinear sampling on a grey canvas with instance and semantic masks, threshold 0,
    under ``over`` (mode 2) or ``max`` (mode 0): segmentation@1 and affine@1.

    Two passes: every chunk of 8 pixels of every row is sampled and counted first (total, amodal box), its on-canvas
    part kept in ``qbuf``/``pbuf`` (no branch waits for a sample, so the chunks' latencies overlap); then the kept
    chunks are composited with word operations (byte masks over 8-byte loads and stores; owned where q > 0, under max
    also where q >= the layer)."""
    hw = h * w
    code = np.uint8(k + 1)
    code8 = _B01 * np.uint64(k + 1)
    label8 = _B01 * np.uint64(label)
    fa, fb, fc = fix[b, t, k, 0], fix[b, t, k, 1], fix[b, t, k, 2]
    fd, fe, ff = fix[b, t, k, 3], fix[b, t, k, 4], fix[b, t, k, 5]
    one = np.int64(1) << 16
    lo_u, hi_u = (nzbox[b, k, 0] - 1) << 16, nzbox[b, k, 2] << 16
    lo_v, hi_v = (nzbox[b, k, 1] - 1) << 16, nzbox[b, k, 3] << 16
    x0, y0, x1, y1 = region[b, t, k, 0], region[b, t, k, 1], region[b, t, k, 2], region[b, t, k, 3]
    gn = np.uint64(gain[b, t, k])
    if need_total:
        ry0, ry1, rx0, rx1 = y0, y1, x0, x1
    else:
        ry0, ry1, rx0, rx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    tot = 0
    bx0 = 1 << 40
    by0 = 1 << 40
    bx1 = -(1 << 40)
    by1 = -(1 << 40)
    nq = 0
    for y in range(ry0, ry1):
        cu = fb * y + fc
        cv = fe * y + ff
        xa, xb = _span(fa, cu, lo_u, hi_u, rx0, rx1)
        xa, xb = _span(fd, cv, lo_v, hi_v, xa, xb)
        if xb <= xa:
            continue
        cu += one
        cv += one
        on_row = 0 <= y < h
        row_lo = 1 << 40
        row_hi = -(1 << 40)
        for xc in range(xa, xb, 8):
            n = min(8, xb - xc)
            q8 = _levels8(tabs_f, toff, wp, fa * xc + cu, fd * xc + cv, fa, fd, gn, n)
            # Off-canvas pixels of the chunk count towards the total and the box, not the frame.
            lo_x = max(0, -xc) if on_row else 8
            hi_x = min(8, w - xc) if on_row else 0
            keep_on = _ZERO
            if hi_x > lo_x:
                keep_on = (_ALL >> _u(64 - 8 * (hi_x - lo_x))) << _u(8 * lo_x)
            qbuf[nq] = q8 & keep_on
            pbuf[nq] = y * w + xc
            nq += 1 if keep_on != _ZERO else 0
            nz = _nonzero_bytes(q8)
            tot += _byte_sum(q8)
            # The chunk's first and last ink, pushed out of reach when it has none (arithmetic, not a select: the
            # backend turns a select on a late value into a branch).
            empty = np.int64(nz == _ZERO) << 40
            row_lo = min(row_lo, xc + np.int64(trailing_zeros(nz) >> _S3) + empty)
            row_hi = max(row_hi, xc + 7 - np.int64(leading_zeros(nz) >> _S3) - empty)
        if row_hi >= row_lo:
            bx0 = min(bx0, row_lo)
            bx1 = max(bx1, row_hi + 1)
            by0 = min(by0, y)
            by1 = y + 1
    for i in range(nq):
        q8 = qbuf[i]
        if q8 == _ZERO:
            continue
        p = _u(pbuf[i])
        if p + _u(8) <= _u(hw):
            nz = _nonzero_bytes(q8)
            below = _load8(frame_f, p)
            own8 = _load8(ownq, p)
            inst8 = _load8(inst_f, p)
            sem8 = _load8(sem_f, p)
            if mode == 0:
                cur = _load8(layer, p)
                ge = _ge_bytes(q8, cur)
                ge_f = _ge_bytes(q8, below)
                owned = nz & ge
                _store8(layer, p, (q8 & ge) | (cur & ~ge))
                _store8(frame_f, p, (q8 & ge_f) | (below & ~ge_f))
            else:
                owned = nz
                _store8(frame_f, p, (below & ~nz) | q8)
            keep = ~owned
            _store8(ownq, p, (own8 & keep) | (q8 & owned))
            _store8(inst_f, p, (inst8 & keep) | (code8 & owned))
            _store8(sem_f, p, (sem8 & keep) | (label8 & owned))
            continue
        for j in range(8):
            q = np.int64((q8 >> _u(8 * j)) & _FF)
            if q == 0:
                continue
            pj = p + _u(j)
            if mode == 0:
                cur_j = np.int64(layer[pj])
                if q < cur_j:
                    continue
                layer[pj] = q
                frame_f[pj] = max(np.int64(frame_f[pj]), q)
            else:
                frame_f[pj] = q
            inst_f[pj] = code
            ownq[pj] = q
            sem_f[pj] = label
    if bx1 > bx0:
        abox[b, t, k, 0] = bx0
        abox[b, t, k, 1] = by0
        abox[b, t, k, 2] = bx1
        abox[b, t, k, 3] = by1
    return tot


@njit(inline="always")
def _measure(inst_f, ownq, code, xa, xb, ya, yb, w, seen, mbox, b, t, k):
    """Sum of ``ownq`` and box of the pixels of ``inst_f`` equal to ``code`` in rows ``ya .. yb - 1``, columns
    ``xa .. xb - 1`` into ``seen[b, t, k]`` and ``mbox[b, t, k]`` (left alone when there are none)."""
    n = xb - xa
    sx = 0
    bx0 = xb
    by0 = yb
    bx1 = -1
    by1 = -1
    for y in range(ya, yb):
        rb = _u(y * w + xa)
        lo = n
        hi = -1
        acc = 0
        for i in range(n):  # branch-free: vectorised
            mine = inst_f[rb + _u(i)] == code
            acc += np.int64(ownq[rb + _u(i)]) if mine else 0
            lo = min(lo, i if mine else n)
            hi = max(hi, i if mine else -1)
        sx += acc
        if hi >= 0:
            bx0 = min(bx0, lo + xa)
            bx1 = max(bx1, hi + xa + 1)
            by0 = min(by0, y)
            by1 = y + 1
    seen[b, t, k] = sx
    if bx1 > 0:
        mbox[b, t, k, 0] = bx0
        mbox[b, t, k, 1] = by0
        mbox[b, t, k, 2] = bx1
        mbox[b, t, k, 3] = by1


@njit(cache=True, nogil=True)
def render(
    static_val, static_cov, has_static, pan, dynamic, key, index, lut, bg_on,
    d_on, d_occlude, d_present, d_mask, d_value, d_grey, d_pos,
    glyph_pad, gidx, nzbox, fix, region, gain, gain_c, labels,
    mode, threshold, ignore_label, nearest, need_total, track_owner, measure,
    frames, inst, sem, sem_on, total, seen, mbox, amask, amask_on, dmap, dmap_on, abox,
):
    """Background, objects, occluding distractors and measurements of every frame, one frame at a time (the frame
    and its masks stay in cache); the same bytes as ``render_background_numpy`` followed by
    ``render_objects_numpy``.

    Objects are composited straight into the frame: max, saturating sum and over applied one object after another
    over the background give what compositing into a layer and combining it with the background gives; under max
    the layer is kept as well, for ownership. ``seen`` and the modal box are measured over each object's amodal box
    once the frame's ownership is final."""
    b_n, t_n, c_n, h, w = frames.shape
    k_n = gidx.shape[1]
    n_dist = d_present.shape[1]
    hw = h * w
    hp = glyph_pad.shape[1]
    wp = glyph_pad.shape[2]
    hb = static_cov.shape[1]
    wb = static_cov.shape[2]
    glyph_f = glyph_pad.reshape(-1)
    noise = np.zeros((w + 63) // 64 * 64, dtype=np.uint8)  # whole 64-byte blocks for _lut64
    noise_words = noise.view(np.uint64)  # little-endian: byte j of word i is pixel 8 i + j, as the reference
    layer = np.zeros(hw, dtype=np.uint8)
    ownq = np.zeros(hw, dtype=np.uint8)
    qbuf = np.zeros(h * ((w + 7) // 8 + 1) + 1, dtype=np.uint64)  # an object's chunks on the canvas
    pbuf = np.zeros(qbuf.size, dtype=np.int64)
    tsize = hp * wp
    tabs_f = np.zeros(max(k_n, 1) * tsize, dtype=np.uint64)
    colour_on = c_n > 1
    flags = (
        (_NEAREST if nearest else 0)
        | (_NEED_TOTAL if need_total else 0)
        | (_COLOUR if colour_on else 0)
        | (_OWNER if track_owner else 0)
        | (_SEMANTIC if sem_on else 0)
        | (_AMODAL if amask_on else 0)
    )
    words = (flags & ~_NEED_TOTAL) == _FAST and threshold == 0
    dummy = np.zeros(hw, dtype=np.uint8)
    amask_dummy = np.zeros(1, dtype=np.bool_)
    side = d_mask.shape[2]
    for b in range(b_n):
        base = _mix(np.uint64(index[b]) * _GOLDEN + key)
        cov_f = static_cov[b].reshape(-1)
        val_f = static_val[b].reshape(-1)
        if not nearest:
            for k in range(k_n):
                g = gidx[b, k]
                if g >= 0 and nzbox[b, k, 2] > nzbox[b, k, 0] and nzbox[b, k, 3] > nzbox[b, k, 1]:
                    _glyph_table(tabs_f, k * tsize, glyph_f, g * tsize, nzbox[b, k, 0], nzbox[b, k, 1],
                                 nzbox[b, k, 2], nzbox[b, k, 3], wp)
        for t in range(t_n):
            frame_f = frames[b, t].reshape(-1)
            # Background, and the distractors that do not occlude.
            if bg_on:
                _background_frame(frame_f, cov_f, val_f, hb, wb, pan[b, t, 0], pan[b, t, 1], t, c_n, h, w,
                                  has_static, dynamic, base, lut, noise, noise_words)
            else:
                _fill_u8(frame_f, 0)
            if dmap_on:
                _fill_u8(dmap[b, t].reshape(hw).view(np.uint8), 255)  # int16 -1
            if d_on and not d_occlude:
                for n in range(n_dist):
                    if not d_present[b, n]:
                        continue
                    px0 = d_pos[b, t, n, 0]
                    py0 = d_pos[b, t, n, 1]
                    for ry in range(max(0, -py0), min(side, h - py0)):
                        y = py0 + ry
                        for rx in range(max(0, -px0), min(side, w - px0)):
                            if d_mask[b, n, ry, rx]:
                                x = px0 + rx
                                for c in range(c_n):
                                    frame_f[_u(c * hw + y * w + x)] = d_value[b, n, c]
                                if dmap_on:
                                    dmap[b, t, y, x] = n
            # Objects.
            if track_owner:
                inst_f = inst[b, t].reshape(hw)
                _fill_u8(inst_f, 0)
            else:
                inst_f = dummy
            if sem_on:
                sem_f = sem[b, t].reshape(hw)
                _fill_u8(sem_f, ignore_label)
            else:
                sem_f = dummy
            if amask_on:
                amask_f = amask[b, t].reshape(k_n * hw)
                _fill_u8(amask_f.view(np.uint8), 0)
            else:
                amask_f = amask_dummy
            if mode == 0:
                _fill_u8(layer, 0)
            for k in range(k_n):
                total[b, t, k] = 0
                seen[b, t, k] = 0
                mbox[b, t, k, 0] = 0
                mbox[b, t, k, 1] = 0
                mbox[b, t, k, 2] = -1
                mbox[b, t, k, 3] = -1
                abox[b, t, k, 0] = 0
                abox[b, t, k, 1] = 0
                abox[b, t, k, 2] = -1
                abox[b, t, k, 3] = -1
                g = gidx[b, k]
                if g < 0 or region[b, t, k, 2] <= region[b, t, k, 0] or region[b, t, k, 3] <= region[b, t, k, 1]:
                    continue
                label = labels[b, k]
                toff = k * tsize
                goff = g * tsize
                # Specialised copies for the presets' flags (constants fold the per-pixel branches away).
                if words and mode == 2:
                    tot = _draw_words(
                        tabs_f, toff, wp, fix, nzbox, gain, region, b, t, k, need_total, 2, h, w,
                        frame_f, layer, inst_f, sem_f, label, ownq, abox, qbuf, pbuf,
                    )
                elif words and mode == 0:
                    tot = _draw_words(
                        tabs_f, toff, wp, fix, nzbox, gain, region, b, t, k, need_total, 0, h, w,
                        frame_f, layer, inst_f, sem_f, label, ownq, abox, qbuf, pbuf,
                    )
                else:
                    tot = _draw_object(
                        tabs_f, toff, glyph_f, goff, wp, fix, nzbox, gain, gain_c, region, b, t, k,
                        flags, mode, h, w, frame_f, layer, threshold, inst_f, sem_f, label, ownq, amask_f, abox,
                    )
                total[b, t, k] = tot
            # Distractors that occlude: composited like objects, taking ownership away.
            if d_on and d_occlude:
                for n in range(n_dist):
                    if not d_present[b, n]:
                        continue
                    px0 = d_pos[b, t, n, 0]
                    py0 = d_pos[b, t, n, 1]
                    q = np.int64(d_grey[b, n])
                    for ry in range(max(0, -py0), min(side, h - py0)):
                        y = py0 + ry
                        for rx in range(max(0, -px0), min(side, w - px0)):
                            if not d_mask[b, n, ry, rx]:
                                continue
                            x = px0 + rx
                            p = _u(y * w + x)
                            if mode == 0:
                                cur = np.int64(layer[p])
                                owned = q >= cur and q > threshold
                                if q > cur:
                                    layer[p] = q
                            else:
                                owned = q > threshold
                            for c in range(c_n):
                                qc = np.int64(d_value[b, n, c])
                                pc = p + _u(c * hw)
                                below = np.int64(frame_f[pc])
                                if mode == 0:
                                    frame_f[pc] = qc if qc > below else below
                                elif mode == 1:
                                    frame_f[pc] = min(below + qc, 255)
                                else:
                                    frame_f[pc] = qc
                            if owned and track_owner:
                                inst_f[p] = 0
                                if sem_on:
                                    sem_f[p] = ignore_label
                            if dmap_on:
                                dmap[b, t, y, x] = n
            # What each object owns once the frame is final (inside its amodal box on the canvas).
            if measure:
                for k in range(k_n):
                    if abox[b, t, k, 2] > abox[b, t, k, 0]:
                        _measure(inst_f, ownq, np.uint8(k + 1), max(abox[b, t, k, 0], 0), min(abox[b, t, k, 2], w),
                                 max(abox[b, t, k, 1], 0), min(abox[b, t, k, 3], h), w, seen, mbox, b, t, k)


@njit(cache=True, nogil=True)
def flow(inst, dmap, dmap_on, inv, fwd, d_pos, pan, out):
    """Forward flow into ``out (B, T - 1, H, W, 2)`` float32; see ``flow_numpy``."""
    b_n, tm1, h, w = out.shape[:4]
    for b in range(b_n):
        for t in range(tm1):
            pdx = -float(pan[b, t + 1, 0] - pan[b, t, 0])
            pdy = -float(pan[b, t + 1, 1] - pan[b, t, 1])
            for y in range(h):
                yf = float(y)
                for x in range(w):
                    xf = float(x)
                    o = inst[b, t, y, x]
                    if o > 0:
                        k = o - 1
                        u = inv[b, t, k, 0] * xf + inv[b, t, k, 1] * yf + inv[b, t, k, 2]
                        v = inv[b, t, k, 3] * xf + inv[b, t, k, 4] * yf + inv[b, t, k, 5]
                        nx = fwd[b, t + 1, k, 0, 0] * u + fwd[b, t + 1, k, 0, 1] * v + fwd[b, t + 1, k, 0, 2]
                        ny = fwd[b, t + 1, k, 1, 0] * u + fwd[b, t + 1, k, 1, 1] * v + fwd[b, t + 1, k, 1, 2]
                        out[b, t, y, x, 0] = nx - xf
                        out[b, t, y, x, 1] = ny - yf
                    elif dmap_on and dmap[b, t, y, x] >= 0:
                        n = dmap[b, t, y, x]
                        out[b, t, y, x, 0] = float(d_pos[b, t + 1, n, 0] - d_pos[b, t, n, 0])
                        out[b, t, y, x, 1] = float(d_pos[b, t + 1, n, 1] - d_pos[b, t, n, 1])
                    else:
                        out[b, t, y, x, 0] = pdx
                        out[b, t, y, x, 1] = pdy
