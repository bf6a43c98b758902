"""Random shapes on a background, written once over the array namespace of the indices (numpy, or torch on any
device: the same bits): their latents (kind, box size, triangle apex, top-left, grey level or colour), their
geometry (:func:`shape_covers`, tested at pixel centres) and the painter of the static ones (:func:`paint_shapes`;
the numba kernel of the general renderer has its own, with the same bytes).

Two placement rules for the static shapes (``background.shapes.placement``): ``uniform`` (sizes in a range,
top-left uniform where the box fits) and ``skimage`` (as ``skimage.draw.random_shapes`` places them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..spec import Spec
from . import rng
from . import xp as _xp

SHAPE_CODES = {"rectangle": 0, "ellipse": 1, "circle": 1, "triangle": 2}


@dataclass(frozen=True)
class Shapes:
    """Static shapes of a batch (N slots), ``(B, N, ...)``: present bool; kind int64 (0 rectangle, 1 ellipse,
    2 triangle); size ``(B, N, 2)`` int64 width, height; apex float64 triangle apex in [0, 1); topleft ``(B, N, 2)``
    int64 (x, y); value ``(B, N, C)`` uint8."""

    present: Any
    kind: Any
    size: Any
    apex: Any
    topleft: Any
    value: Any


def levels(seed, stream, index, shape, bounds, c, per_channel) -> Any:
    """Grey or per-channel levels ``(B, *shape, C)`` uint8 in bounds (inclusive)."""
    xp = _xp.namespace(index)
    low, high = bounds
    if per_channel:
        return xp.astype(rng.integers(seed, stream, index, (*shape, c), low, high), xp.uint8)
    grey = xp.astype(rng.integers(seed, stream, index, shape, low, high), xp.uint8)
    return _xp.broadcast_copy(xp, grey[..., None], (*grey.shape, c))


def sample_shapes(
    spec: Spec, seed: int, index: Any, big_h: int, big_w: int, boxes: Callable[..., Any] | None = None
) -> Shapes:
    """Latents of the static shapes. ``boxes``: what computes the ``skimage`` placement's boxes from its draws (see
    :func:`skimage_boxes`; the numba kernel has its own, with the same bits), default :func:`skimage_boxes`."""
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    sh = spec.background.shapes
    n = sh.count[1]
    count = rng.integers(seed, "background.shapes.count", index, (), *sh.count)
    present = xp.arange(n, device=dev)[None, :] < count[:, None]
    if sh.placement == "skimage":
        kind, size, apex, topleft = _skimage_geometry(seed, index, n, sh.kinds, sh.size, big_h, big_w, boxes)
        value = levels(
            seed, "background.shapes.intensity", index, (n,), sh.intensity, spec.canvas.channels,
            spec.background.colour,
        )
        return Shapes(present=present, kind=kind, size=size, apex=apex, topleft=topleft, value=value)
    kind, size, apex = shape_geometry(seed, "background.shapes", index, n, sh.kinds, sh.size)
    u = rng.uniform(seed, "background.shapes.position", index, (n, 2))
    room = xp.asarray([big_w, big_h], dtype=xp.int64, device=dev) - size + 1  # top-left in 0 .. big - size
    topleft = xp.astype(xp.floor(u * _xp.f64(xp, room)), xp.int64)
    value = levels(
        seed, "background.shapes.intensity", index, (n,), sh.intensity, spec.canvas.channels, spec.background.colour
    )
    return Shapes(present=present, kind=kind, size=size, apex=apex, topleft=topleft, value=value)


def _skimage_geometry(seed, index, n, kinds, size_range, big_h, big_w, boxes=None):
    """``placement="skimage"``: kind, box size ``(B, N, 2)`` (w, h), apex and top-left ``(B, N, 2)`` (x, y) of each
    shape as ``skimage.draw.random_shapes`` draws them (overlap allowed), in this package's shape geometry.

    Start point (row, col) uniform in ``0 .. dim - low - 1``; circles and ellipses, which do not fit on row or
    column 0, take it uniform in ``1 .. dim - low - 1`` (what redrawing until it fits amounts to). Then, with
    ``k ~ U{0..max(1, m) - 1}`` for each bound ``m``:

    - rectangle: from the point, ``low + k`` pixels right and down, ``m = min(dim - point, high) - low`` per axis;
    - circle: radius ``floor(low / 2) + k``, ``m = min(col, W - col, row, H - row, floor(high / 2)) - floor(low / 2)``,
      centred on the point (box ``2 radius - 1``);
    - triangle: side ``s = low - 1 + k``, ``m = min(W - col, row, high) - low``, height ``ceil(sqrt(3/4) s)``: base
      from the point ``s`` pixels right, apex above its middle (box ``s + 1`` by ``height + 1``);
    - ellipse: radii ``U(low / 2, a + 1)`` per axis, ``a = min(col, W - col, row, H - row, high / 2)``, centred on
      the point (axis-aligned: skimage turns them by a uniform angle; the area is the same).
    """
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    names = list(kinds)
    which = rng.integers(seed, "background.shapes.kind", index, (n,), 0, len(names) - 1)
    u = rng.uniform(seed, "background.shapes.point", index, (n, 2))
    k = rng.uniform(seed, "background.shapes.extent", index, (n, 2))
    table = xp.asarray([SHAPE_TABLE[name] for name in names], dtype=xp.int64, device=dev)
    return (boxes or skimage_boxes)(table[which], u, k, tuple(float(v) for v in size_range), big_h, big_w)


#: What ``skimage_boxes`` takes for each kind name: 0 rectangle, 1 circle, 2 triangle, 3 ellipse.
SHAPE_TABLE = {"rectangle": 0, "circle": 1, "triangle": 2, "ellipse": 3}


def skimage_boxes(shape: Any, u: Any, k: Any, size_range: tuple[float, float], big_h: int, big_w: int) -> Any:
    """The ``skimage`` placement's kind codes ``(B, N)`` (:data:`SHAPE_CODES`), box sizes ``(B, N, 2)``, apexes and
    top-lefts ``(B, N, 2)`` from its draws: ``shape (B, N)`` (:data:`SHAPE_TABLE`), the start point's and the extents'
    uniforms ``u`` and ``k`` ``(B, N, 2)``; the rules are :func:`_skimage_geometry`'s."""
    xp = _xp.namespace(u)
    dev = _xp.device_of(u)
    low, high = size_range
    rect, circle, tri, ell = (shape == code for code in range(4))
    dims = xp.asarray([float(big_w), float(big_h)], dtype=xp.float64, device=dev)  # (x, y)
    span = xp.maximum(dims - low, 1.0)  # points 0 .. span - 1
    first = xp.where(circle | ell, 1.0, 0.0)[..., None]
    first = xp.minimum(first, span - 1.0)
    point = first + xp.floor(u * (span - first))  # (B, N, 2): col, row
    col, row = point[..., 0], point[..., 1]

    def pick(m: Any, j: int) -> Any:  # U{0 .. max(1, m) - 1}
        return xp.floor(k[..., j] * xp.maximum(xp.floor(m), 1.0))

    # rectangles
    rect_w = low + pick(xp.minimum(dims[0] - col, high) - low, 0)
    rect_h = low + pick(xp.minimum(dims[1] - row, high) - low, 1)
    # circles
    lo_r = math.floor(low / 2.0)
    room = xp.minimum(xp.minimum(col, dims[0] - col), xp.minimum(row, dims[1] - row))
    radius = lo_r + pick(xp.minimum(room, math.floor(high / 2.0)) - lo_r, 0)
    disk = xp.maximum(2.0 * radius - 1.0, 1.0)
    # triangles
    side = low - 1.0 + pick(xp.minimum(xp.minimum(dims[0] - col, row), high) - low, 0)
    tri_h = xp.ceil(math.sqrt(0.75) * side)
    # ellipses
    avail = xp.minimum(room, high / 2.0)
    radii = low / 2.0 + k * (avail[..., None] + 1.0 - low / 2.0)  # (B, N, 2): x, y radii
    ell_wh = xp.maximum(xp.floor(2.0 * radii - 1.0 + 0.5), 1.0)

    w = xp.where(rect, rect_w, xp.where(circle, disk, xp.where(tri, side + 1.0, ell_wh[..., 0])))
    h = xp.where(rect, rect_h, xp.where(circle, disk, xp.where(tri, tri_h + 1.0, ell_wh[..., 1])))
    x0 = xp.where(rect | tri, col, col - xp.floor((w - 1.0) / 2.0))
    y0 = xp.where(rect, row, xp.where(tri, row - tri_h, row - xp.floor((h - 1.0) / 2.0)))
    # A one-pixel triangle on row 0 has its apex above the canvas (skimage clips it): cut the box to the canvas.
    h = h - xp.maximum(-y0, 0.0)
    y0 = xp.maximum(y0, 0.0)
    apex = xp.where(tri, (xp.floor(side / 2.0) + 0.5) / (side + 1.0), 0.5)
    codes = xp.asarray([0, 1, 2, 1], dtype=xp.int64, device=dev)  # SHAPE_CODES of SHAPE_TABLE's kinds
    size = xp.astype(xp.stack([w, h], axis=-1), xp.int64)
    topleft = xp.astype(xp.stack([x0, y0], axis=-1), xp.int64)
    return codes[shape], size, apex, topleft


def shape_geometry(seed, stream, index, n, kinds, size_range):
    xp = _xp.namespace(index)
    dev = _xp.device_of(index)
    codes = xp.asarray([SHAPE_CODES[k] for k in kinds], dtype=xp.int64, device=dev)
    circle = xp.asarray([k == "circle" for k in kinds], dtype=xp.bool, device=dev)
    which = rng.integers(seed, stream + ".kind", index, (n,), 0, len(kinds) - 1)
    kind = codes[which]
    size = rng.integers(seed, stream + ".size", index, (n, 2), *size_range)
    size[..., 1] = xp.where(circle[which], size[..., 0], size[..., 1])
    apex = rng.uniform(seed, stream + ".apex", index, (n,))
    return kind, size, apex


def shape_covers(kind: Any, sw: Any, sh: Any, apex: Any, pixel: tuple[Any, Any]) -> Any:
    """Whether pixel ``(rx, ry)`` of a shape's box (integer offsets from its top-left) is inside the shape.

    Rectangle: the box. Ellipse: the inscribed ellipse, tested at the pixel centre. Triangle: apex on the top edge
    at ``apex * width``, base along the bottom edge; edge functions at the pixel centre. Arrays broadcast; integers
    are converted to float64 first, so every backend does the same IEEE operations on the same operands.
    """
    rx, ry = pixel
    xp = _xp.namespace(rx, sw)
    swf, shf, rxf, ryf = (_xp.f64(xp, v) for v in (sw, sh, rx, ry))
    inbox = ((rx >= 0) & (rx < sw)) & ((ry >= 0) & (ry < sh))
    dx = (2.0 * rxf + 1.0 - swf) / swf
    dy = (2.0 * ryf + 1.0 - shf) / shf
    ellipse = dx * dx + dy * dy <= 1.0
    px = rxf + 0.5
    py = ryf + 0.5
    ax = apex * swf
    # Edges A -> B (apex to bottom-left) and C -> A (bottom-right to apex); the base is the box's bottom edge.
    e1 = (0.0 - ax) * (py - 0.0) - (shf - 0.0) * (px - ax)
    e2 = (ax - swf) * (py - shf) - (0.0 - shf) * (px - swf)
    triangle = (e1 <= 0.0) & (e2 <= 0.0)
    inside = xp.where(kind == 0, True, xp.where(kind == 1, ellipse, triangle))
    return inbox & inside


@dataclass(frozen=True)
class ShapeSlot:
    """One shape slot of every sequence, each array ``(B, 1, 1)`` (broadcast over the box's rows and columns)."""

    kind: Any
    width: Any
    height: Any
    apex: Any
    present: Any
    x0: Any
    y0: Any


def shape_pixels(slot: ShapeSlot, r: Any, canvas_hw: tuple[int, int], plane: Any, trash: int) -> tuple[Any, Any]:
    """Coverage ``(B, S, S)`` of one shape slot of every sequence on its background canvas (box at ``x0, y0``,
    clipped to the canvas) and the flat canvas index of each covered pixel (``trash`` elsewhere); ``r = arange(S)``,
    ``plane (B, 1, 1)`` the offset of each sequence's canvas. Pure array code (torch may compile it)."""
    xp = _xp.namespace(r)
    big_h, big_w = canvas_hw
    s = r.shape[0]
    rows, cols = xp.reshape(r, (1, s, 1)), xp.reshape(r, (1, 1, s))
    inside = shape_covers(slot.kind, slot.width, slot.height, slot.apex, (cols, rows)) & slot.present
    ys = slot.y0 + rows
    xs = slot.x0 + cols
    inside = inside & ((ys < big_h) & (xs < big_w))
    return inside, xp.where(inside, plane + ys * big_w + xs, trash)


def paint_shapes(val: Any, cov: Any, shapes: Shapes, kernel: Callable = shape_pixels) -> None:
    """Paint ``shapes`` in slot order over ``val (B, C, Hb, Wb)`` and mark them in ``cov (B, Hb, Wb)``, in place:
    each shape's box is scattered into flat canvases, pixels outside it go to a trash element."""
    xp = _xp.namespace(val)
    dev = _xp.device_of(val)
    b, c, big_h, big_w = val.shape
    n = shapes.present.shape[1]
    if n == 0:
        return
    s = int(xp.max(shapes.size)) if b else 0
    r = xp.arange(s, device=dev)
    hw = big_h * big_w
    trash = b * hw
    cov_flat = xp.zeros(trash + 1, dtype=xp.uint8, device=dev)
    cov_flat[:trash] = xp.reshape(cov, (-1,))
    val_flat = xp.zeros(c * trash + 1, dtype=xp.uint8, device=dev)
    val_flat[: c * trash] = xp.reshape(xp.permute_dims(val, (1, 0, 2, 3)), (-1,))  # channel-major: (C, B, Hb, Wb)
    plane = xp.reshape(xp.arange(b, device=dev), (b, 1, 1)) * hw

    def column(a: Any, j: int) -> Any:
        return xp.reshape(a[:, j], (b, 1, 1))

    for j in range(n):
        slot = ShapeSlot(
            kind=column(shapes.kind, j), width=column(shapes.size[..., 0], j), height=column(shapes.size[..., 1], j),
            apex=column(shapes.apex, j), present=column(shapes.present, j), x0=column(shapes.topleft[..., 0], j),
            y0=column(shapes.topleft[..., 1], j),
        )
        inside, idx = kernel(slot, r, (big_h, big_w), plane, trash)
        cov_flat[idx] = 1
        for ch in range(c):
            target = xp.where(inside, idx + ch * trash, c * trash)
            val_flat[target] = xp.broadcast_to(column(shapes.value[..., ch], j), (b, s, s))
    cov[...] = xp.reshape(cov_flat[:trash], (b, big_h, big_w))
    val[...] = xp.permute_dims(xp.reshape(val_flat[: c * trash], (c, b, big_h, big_w)), (1, 0, 2, 3))
