"""The general renderer, reference implementation in numpy: affine glyphs, brightness, colour, backgrounds,
distractors, exact masks, boxes, visibility, amodal masks and flow.

Rules (shared bit for bit with the numba kernel; the sampling arithmetic is integer, so any backend
reproduces it exactly):

- Each object k in each frame has a forward pose ``A`` (glyph index -> canvas index) and its inverse ``(a..f)``,
  held in 16.16 fixed point: ``(A..F) = floor((a..f) * 2**16 + 0.5)`` (int64, see
  :func:`movingmnist.render.poses.fixed_poses`). Canvas
  pixel (x, y) samples the pristine glyph at ``U = A x + B y + C``, ``V = D x + E y + F`` (glyph index units of
  2**-16). Bilinear: zero outside the glyph's nonzero box ``[nx0, nx1) x [ny0, ny1)``, so a sample counts only when
  ``(nx0 - 1) 2**16 < U < nx1 2**16`` and ``(ny0 - 1) 2**16 < V < ny1 2**16``; with ``iu = U >> 16`` and the
  8-bit weight ``fx = (U >> 8) & 255`` (same for v), ``S = (256 - fy)((256 - fx) g00 + fx g01) + fy((256 - fx)
  g10 + fx g11)`` (an integer in units of 2**-16 grey levels). Nearest: ``S = g[(V + 2**15) >> 16, (U + 2**15)
  >> 16] * 2**16`` when ``nx0 2**16 - 2**15 <= U < nx1 2**16 - 2**15`` (same for V).
- Rendered intensity ``q = min(255, (S G + 2**31) >> 32)`` with the gain ``G = floor(brightness * 2**16 + 0.5)``;
  colour channel: the same with ``G = floor((brightness * colour) * 2**16 + 0.5)`` (gains clipped to [0, 2**15]
  before scaling, see :func:`movingmnist.render.poses.fixed_gains`). ``q = 0`` changes nothing.
- Objects are composited in slot order into an object layer (max, saturating sum, or over: replace where q > 0);
  object k owns a pixel where ``q > threshold`` (max: and ``q >=`` the layer below); occluding distractors are drawn
  after the objects with the same rules and take ownership away. The layer is then combined with the background by
  the same mode (over: where the layer's grey value is > 0). Backgrounds never own pixels.
- ``total`` = sum of q > threshold over the whole transformed glyph (also off the canvas, within a window of one
  canvas around it); ``seen`` = the same over the pixels the object owns; visibility = seen / total. The amodal
  box is the box of the pixels with q > threshold (same window), the modal box that of the owned pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..latents.background import BackgroundPlan, Distractors, NoiseRows, noise_bytes
from .poses import FRAC_BITS

MODES = {"max": 0, "sum": 1, "over": 2}
_CHUNK_ELEMENTS = 1 << 21


# -- background -----------------------------------------------------------------------------------------------------
def _views(canvas: np.ndarray, h: int, w: int) -> np.ndarray:
    """``(B, Hb - h + 1, Wb - w + 1, *lead, h, w)`` windows of ``canvas (B, *lead, Hb, Wb)``."""
    b = canvas.shape[0]
    lead = canvas.shape[1:-2]
    hb, wb = canvas.shape[-2:]
    s = canvas.strides
    return as_strided(
        canvas,
        (b, hb - h + 1, wb - w + 1, *lead, h, w),
        (s[0], s[-2], s[-1], *s[1:-2], s[-2], s[-1]),
    )


def render_background_numpy(
    plan: BackgroundPlan, seed: int, index: np.ndarray, frames: np.ndarray, dmap: np.ndarray | None = None
) -> None:
    """Write the background of every frame into ``frames (B, T, C, H, W)``; moving distractors that do not occlude
    are painted over it (their slot numbers go to ``dmap (B, T, H, W)`` int16 when given)."""
    b, t, c, h, w = frames.shape
    bi = np.arange(b)[:, None]
    ox, oy = plan.pan[:, :t, 0], plan.pan[:, :t, 1]
    if plan.dynamic_noise:
        raw = noise_bytes(seed, "background.noise", index, NoiseRows(t, c * h, w)).reshape(b, t, c, h, w)
        base = plan.lut[raw]
    else:
        base = np.zeros((b, t, c, h, w), dtype=np.uint8)
    if plan.static_val is not None:
        val = _views(plan.static_val, h, w)[bi, oy, ox]  # (B, T, C, H, W)
        cov = _views(plan.static_cov, h, w)[bi, oy, ox]  # (B, T, H, W)
        frames[...] = np.where(cov[:, :, None] != 0, val, base)
    else:
        frames[...] = base
    if dmap is not None:
        dmap.fill(-1)
    dist = plan.distractors
    if dist is not None and not dist.occlude:
        for n in range(dist.count):
            inside, yy, xx = _distractor_pixels(dist, n, t, h, w)
            ii = np.nonzero(inside)
            ys, xs = yy[ii], xx[ii]
            for ch in range(c):
                frames[ii[0], ii[1], ch, ys, xs] = dist.value[ii[0], n, ch]
            if dmap is not None:
                dmap[ii[0], ii[1], ys, xs] = n


def _distractor_pixels(dist: Distractors, n: int, t: int, h: int, w: int):
    """Coverage ``(B, T, S, S)`` of distractor slot n on the canvas and the pixel coordinates ``(B, T, S, S)``."""
    s = dist.mask.shape[-1]
    r = np.arange(s)
    x0 = dist.position[:, :t, n, 0][:, :, None, None]
    y0 = dist.position[:, :t, n, 1][:, :, None, None]
    xx = x0 + r[None, None, None, :]
    yy = y0 + r[None, None, :, None]
    inside = dist.mask[:, n][:, None] & (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
    return inside, np.broadcast_to(yy, inside.shape), np.broadcast_to(xx, inside.shape)


# -- objects --------------------------------------------------------------------------------------------------------
def _sample(glyph_flat, goff, wp, nz, u, v, nearest):
    """Samples S (int64, units of 2**-16 grey levels) of the pristine glyphs at the fixed-point points (u, v); zero
    outside the support."""
    nx0, ny0, nx1, ny1 = (nz[..., i] << FRAC_BITS for i in range(4))
    if nearest:
        half = 1 << (FRAC_BITS - 1)
        inside = (u >= nx0 - half) & (u < nx1 - half) & (v >= ny0 - half) & (v < ny1 - half)
        iu = np.where(inside, (u + half) >> FRAC_BITS, 0)
        iv = np.where(inside, (v + half) >> FRAC_BITS, 0)
        s = glyph_flat[goff + (iv + 1) * wp + (iu + 1)].astype(np.int64) << FRAC_BITS
        return np.where(inside, s, 0)
    one = 1 << FRAC_BITS
    inside = (u > nx0 - one) & (u < nx1) & (v > ny0 - one) & (v < ny1)
    iu = np.where(inside, u >> FRAC_BITS, 0)
    iv = np.where(inside, v >> FRAC_BITS, 0)
    fx = (u >> (FRAC_BITS - 8)) & 255
    fy = (v >> (FRAC_BITS - 8)) & 255
    base = goff + (iv + 1) * wp + (iu + 1)
    g00 = glyph_flat[base].astype(np.int64)
    g01 = glyph_flat[base + 1].astype(np.int64)
    g10 = glyph_flat[base + wp].astype(np.int64)
    g11 = glyph_flat[base + wp + 1].astype(np.int64)
    s = (256 - fy) * ((256 - fx) * g00 + fx * g01) + fy * ((256 - fx) * g10 + fx * g11)
    return np.where(inside, s, 0)


def _quantise(s: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``min(255, (S G + 2**31) >> 32)``: a sample times a gain, rounded to a grey level."""
    return np.minimum((s * gain + (1 << 31)) >> 32, 255)


def render_objects_numpy(
    glyph_pad: np.ndarray,
    gidx: np.ndarray,
    nzbox: np.ndarray,
    fix: np.ndarray,
    region: np.ndarray,
    gain: np.ndarray,
    gain_c: np.ndarray,
    labels: np.ndarray,
    *,
    mode: str,
    threshold: int,
    ignore_label: int,
    nearest: bool,
    need_total: bool,
    distractors: Distractors | None,
    frames: np.ndarray,
    instance: np.ndarray | None,
    semantic: np.ndarray | None,
    total: np.ndarray | None,
    seen: np.ndarray | None,
    mbox: np.ndarray | None,
    amask: np.ndarray | None,
    dmap: np.ndarray | None,
    abox: np.ndarray | None = None,
) -> None:
    """Composite objects (and occluding distractors) over the background already in ``frames (B, T, C, H, W)``.

    Args:
        glyph_pad: ``(M, h + 2, w + 2)`` uint8 glyphs with one pixel of zero padding.
        gidx: ``(B, K)`` glyph index per slot (-1 absent). nzbox: ``(B, K, 4)`` nonzero box of each slot's glyph.
        fix: ``(B, T, K, 6)`` int64 fixed-point inverse poses (:func:`~movingmnist.render.poses.fixed_poses`).
            region: ``(B, T, K, 4)`` from :func:`~movingmnist.render.poses.regions` (empty where the pose is
            unusable).
        gain, gain_c: ``(B, T, K)`` and ``(B, T, K, C)`` int64 from :func:`~movingmnist.render.poses.fixed_gains`.
            labels: ``(B, K)`` uint8 semantic codes.
        instance, semantic: ``(B, T, H, W)`` uint8 outputs or None (ownership is tracked when any of instance,
            semantic, seen, mbox, dmap is given). total, seen: ``(B, T, K)`` int64 outputs. mbox: ``(B, T, K, 4)``
            int64 owned-pixel box (x1 <= x0 when none). amask: ``(B, T, K, H, W)`` bool. dmap: ``(B, T, H, W)`` int16
            distractor map (already holding the background distractors). abox: ``(B, T, K, 4)`` int64 box of the
            pixels with q > threshold, on the canvas or not (the amodal box; x1 <= x0 when none).
    """
    b, t_all, c, h, w = frames.shape
    k_slots = gidx.shape[1]
    hw = h * w
    code = MODES[mode]
    wp = glyph_pad.shape[2]
    glyph_flat = glyph_pad.reshape(-1)
    goff = np.maximum(gidx, 0) * glyph_pad.shape[1] * wp  # (B, K)
    track_owner = any(x is not None for x in (instance, semantic, seen, mbox, dmap))
    ph = int((region[..., 3] - region[..., 1]).max(initial=0))
    pw = int((region[..., 2] - region[..., 0]).max(initial=0))
    chunk = max(1, min(t_all, _CHUNK_ELEMENTS // max(1, b * max(ph * pw, 1))))
    if total is not None:
        total.fill(0)
    if seen is not None:
        seen.fill(0)
    if mbox is not None:
        mbox[...] = np.array([0, 0, -1, -1])
    if amask is not None:
        amask.fill(False)
    if abox is not None:
        abox[...] = np.array([0, 0, -1, -1])
    for t0 in range(0, t_all, chunk):
        t1 = min(t_all, t0 + chunk)
        tc = t1 - t0
        n_px = b * tc * hw
        trash = n_px
        obj = np.zeros(n_px + 1, dtype=np.int64)
        objc = np.zeros((c, n_px + 1), dtype=np.int64) if c > 1 else None
        inst = np.zeros(n_px + 1, dtype=np.int64) if track_owner else None
        sem = np.full(n_px + 1, ignore_label, dtype=np.int64) if semantic is not None else None
        dm = np.full(n_px + 1, -1, dtype=np.int64) if dmap is not None else None
        if dm is not None:
            dm[:n_px] = dmap[:, t0:t1].reshape(-1)
        frame_base = ((np.arange(b)[:, None] * tc + np.arange(tc)[None, :]) * hw)[:, :, None, None]  # (B, Tc, 1, 1)
        patches = []
        for k in range(k_slots):
            reg = region[:, t0:t1, k]  # (B, Tc, 4)
            kh = int((reg[..., 3] - reg[..., 1]).max(initial=0))
            kw = int((reg[..., 2] - reg[..., 0]).max(initial=0))
            if kh <= 0 or kw <= 0:
                patches.append(None)
                continue
            xs = (reg[..., 0][:, :, None, None] + np.arange(kw)[None, None, None, :]).astype(np.int64)
            ys = (reg[..., 1][:, :, None, None] + np.arange(kh)[None, None, :, None]).astype(np.int64)
            m = fix[:, t0:t1, k][:, :, None, None, :]
            u = m[..., 0] * xs + m[..., 1] * ys + m[..., 2]
            v = m[..., 3] * xs + m[..., 4] * ys + m[..., 5]
            s = _sample(glyph_flat, goff[:, k][:, None, None, None], wp, nzbox[:, k][:, None, None, None], u, v,
                        nearest)
            # Patch pixels beyond this frame's own region (smaller or capped regions, absent slots) are not drawn.
            s = np.where((xs < reg[..., 2][:, :, None, None]) & (ys < reg[..., 3][:, :, None, None]), s, 0)
            q = _quantise(s, gain[:, t0:t1, k][:, :, None, None])  # (B, Tc, kh, kw)
            on = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
            idx = np.where(on, frame_base + ys * w + xs, trash)
            idx = np.broadcast_to(idx, q.shape)
            if total is not None:
                total[:, t0:t1, k] = np.where(q > threshold, q, 0).sum(axis=(2, 3))
            if abox is not None:
                _box_of(q > threshold, xs, ys, abox[:, t0:t1, k])
            if amask is not None:
                mask = (q > threshold) & on
                bb, tt, yy, xx = np.nonzero(mask)
                amask[bb, t0 + tt, k, ys[bb, tt, yy, 0], xs[bb, tt, 0, xx]] = True
            cols = None
            if objc is not None:
                cols = [_quantise(s, gain_c[:, t0:t1, k, ch][:, :, None, None]) for ch in range(c)]
            owned = _composite(obj, objc, idx, q, cols, code, threshold)
            if inst is not None:
                cur = inst[idx]
                inst[idx] = np.where(owned, k + 1, cur)
            if sem is not None:
                cur = sem[idx]
                sem[idx] = np.where(owned, labels[:, k][:, None, None, None], cur)
            patches.append((q, idx, xs, ys))
        if distractors is not None and distractors.occlude:
            for n in range(distractors.count):
                inside, yy, xx = _distractor_pixels(distractors, n, t_all, h, w)
                inside, yy, xx = inside[:, t0:t1], yy[:, t0:t1], xx[:, t0:t1]
                idx = np.where(inside, frame_base + yy * w + xx, trash)
                q = np.where(inside, distractors.grey[:, n][:, None, None, None].astype(np.int64), 0)
                cols = None
                if objc is not None:
                    cols = [np.where(inside, distractors.value[:, n, ch][:, None, None, None].astype(np.int64), 0)
                            for ch in range(c)]
                owned = _composite(obj, objc, idx, q, cols, code, threshold)
                if inst is not None:
                    inst[idx] = np.where(owned, 0, inst[idx])
                if sem is not None:
                    sem[idx] = np.where(owned, ignore_label, sem[idx])
                if dm is not None:
                    dm[idx] = np.where(inside, n, dm[idx])
        # Combine the object layer with the background.
        view = frames[:, t0:t1]  # (B, Tc, C, H, W)
        layer_grey = obj[:n_px].reshape(b, tc, h, w)
        for ch in range(c):
            layer = (objc[ch] if objc is not None else obj)[:n_px].reshape(b, tc, h, w)
            below = view[:, :, ch].astype(np.int64)
            if code == 0:
                res = np.maximum(below, layer)
            elif code == 1:
                res = np.minimum(below + layer, 255)
            else:
                res = np.where(layer_grey > 0, layer, below)
            view[:, :, ch] = res
        if inst is not None:
            inst[trash] = 0
            if instance is not None:
                instance[:, t0:t1] = inst[:n_px].reshape(b, tc, h, w)
        if sem is not None:
            semantic[:, t0:t1] = sem[:n_px].reshape(b, tc, h, w)
        if dm is not None:
            dmap[:, t0:t1] = dm[:n_px].reshape(b, tc, h, w)
        # Measure what each object owns.
        for k, patch in enumerate(patches):
            if patch is None or (seen is None and mbox is None):
                continue
            q, idx, xs, ys = patch
            owned = inst[idx] == k + 1
            if seen is not None:
                seen[:, t0:t1, k] = np.where(owned, q, 0).sum(axis=(2, 3))
            if mbox is not None:
                _box_of(owned, xs, ys, mbox[:, t0:t1, k])


def _box_of(mask, xs, ys, out):
    """Pixel-edge box (x0, y0, x1, y1) of the True pixels of ``mask (B, T, h, w)`` at coordinates ``xs, ys`` into
    ``out (B, T, 4)``; (0, 0, -1, -1) where there are none."""
    big = np.iinfo(np.int64).max
    xb = np.broadcast_to(xs, mask.shape)
    yb = np.broadcast_to(ys, mask.shape)
    out[..., 0] = np.where(mask, xb, big).min(axis=(2, 3))
    out[..., 1] = np.where(mask, yb, big).min(axis=(2, 3))
    out[..., 2] = np.where(mask, xb + 1, -big).max(axis=(2, 3))
    out[..., 3] = np.where(mask, yb + 1, -big).max(axis=(2, 3))
    out[~mask.any(axis=(2, 3))] = np.array([0, 0, -1, -1])


def _composite(obj, objc, idx, q, cols, code, threshold):
    """Composite one object's patch into the flat layer; returns where it takes ownership."""
    cur = obj[idx]
    if code == 0:
        owned = (q >= cur) & (q > threshold)
        obj[idx] = np.maximum(cur, q)
    elif code == 1:
        owned = q > threshold
        obj[idx] = np.minimum(cur + q, 255)
    else:
        owned = q > threshold
        obj[idx] = np.where(q > 0, q, cur)
    if objc is not None:
        for ch, qc in enumerate(cols):
            cur_c = objc[ch][idx]
            if code == 0:
                objc[ch][idx] = np.maximum(cur_c, qc)
            elif code == 1:
                objc[ch][idx] = np.minimum(cur_c + qc, 255)
            else:
                objc[ch][idx] = np.where(q > 0, qc, cur_c)
    return owned


# -- flow -----------------------------------------------------------------------------------------------------------
def flow_numpy(
    instance: np.ndarray,
    dmap: np.ndarray | None,
    inv: np.ndarray,
    forward: np.ndarray,
    distractors: Distractors | None,
    pan: np.ndarray,
    out: np.ndarray,
) -> None:
    """Forward flow ``out (B, T - 1, H, W, 2)`` float16: an owned pixel moves with its object
    (``A_{t+1} A_t^-1``), else with the distractor seen there, else with the background pan (``-(pan_{t+1} -
    pan_t)``). Computed in float64, rounded to float32, then float16.

    Args:
        instance: ``(B, T, H, W)`` ownership. dmap: ``(B, T, H, W)`` distractor map or None.
        inv: ``(B, T, K, 6)`` inverse poses. forward: ``(B, T1, K, 2, 3)`` forward poses (T1 >= T).
    """
    b, tm1, h, w = out.shape[:4]
    if tm1 <= 0:
        return
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    bi = np.arange(b)[:, None, None, None]
    ti = np.arange(tm1)[None, :, None, None]
    owner = instance[:, :tm1].astype(np.int64)  # (B, T-1, H, W)
    k = np.maximum(owner - 1, 0)
    m = inv[bi, ti, k]  # (B, T-1, H, W, 6)
    f = forward[bi, ti + 1, k]  # (B, T-1, H, W, 2, 3)
    u = m[..., 0] * xs + m[..., 1] * ys + m[..., 2]
    v = m[..., 3] * xs + m[..., 4] * ys + m[..., 5]
    nx = f[..., 0, 0] * u + f[..., 0, 1] * v + f[..., 0, 2]
    ny = f[..., 1, 0] * u + f[..., 1, 1] * v + f[..., 1, 2]
    pan_d = -(pan[:, 1 : tm1 + 1] - pan[:, :tm1]).astype(np.float64)  # (B, T-1, 2)
    fx = np.broadcast_to(pan_d[:, :, None, None, 0], owner.shape).copy()
    fy = np.broadcast_to(pan_d[:, :, None, None, 1], owner.shape).copy()
    if dmap is not None and distractors is not None:
        d = dmap[:, :tm1].astype(np.int64)
        has = d >= 0
        dd = np.maximum(d, 0)
        step = (distractors.position[:, 1 : tm1 + 1] - distractors.position[:, :tm1]).astype(np.float64)
        sx = step[bi, ti, dd, 0]
        sy = step[bi, ti, dd, 1]
        fx = np.where(has, sx, fx)
        fy = np.where(has, sy, fy)
    own = owner > 0
    fx = np.where(own, nx - xs, fx)
    fy = np.where(own, ny - ys, fy)
    out[..., 0] = fx.astype(np.float32)
    out[..., 1] = fy.astype(np.float32)
