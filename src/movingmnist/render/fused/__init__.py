"""Accelerated kernels of the general renderer (numba): the same bytes as :mod:`movingmnist.render.general`.

The sampling arithmetic is integer (fixed-point poses, 8-bit weights, integer gains; see the rules in
:mod:`movingmnist.render.general`), so the kernels may step, reorder and vectorise it freely and still give the
reference's bytes; the floating-point parts (static shapes, flow) perform the reference's operations in the same order
(numba does not reassociate or fuse multiply-adds without ``fastmath``). Tests compare the two bit for bit.

``render`` draws one frame at a time: background, objects, occluding distractors, then what each object owns. Where the
reference evaluates every pixel of a patch, it visits only the exact span of each row where the sample point lies in the
glyph's support, in explicit vector code (eight bilinear samples per step, :func:`gathers._levels8`; sixteen nearest
ones, :func:`gathers._nearest16`), and composites straight into the frame. Hot loops index flat arrays with unsigned
offsets (a signed index needs wraparound code). Both frame kernels are compiled without numba's runtime
(``_nrt=False``): their Python entries allocate the scratch, so the compiled bodies allocate nothing and update no
reference counts (with the runtime, every array handed to an inlined helper cost two atomic updates).

Entries: :func:`render` (``render(background, distractors, objects, options, outputs)``, the named tuples of
:mod:`.args`), :func:`flow`, :func:`paint_shapes`, :func:`shape_masks`, :func:`skimage_boxes` and
:func:`poses`. Modules:

- :mod:`.args`: the named tuples the arguments are grouped in;
- :mod:`.kernel`: :func:`render`, the loop over sequences and frames;
- :mod:`.background`: the static shapes and each frame's background;
- :mod:`.distractors`: distractor patches under or over the objects;
- :mod:`.objects`: glyph tables, sampling, and each object drawn into the frame;
- :mod:`.measure`: what each object owns, and the flow;
- :mod:`.poses`: inverse and fixed-point poses and pixel regions, in one pass;
- :mod:`.words`: scalar constants and byte-wise word helpers;
- :mod:`.gathers`, :mod:`.rows`, :mod:`.memory`: LLVM-IR intrinsics (the sampling gathers; rows of up to 32 bytes in
  masked vectors; unaligned words, the 64-byte table lookup, streaming stores), on the shared :mod:`.simd`.

numba's on-disk cache (``cache=True``) checks only the source file of each entry (``kernel.py`` for :func:`render`),
not the modules its inlined helpers come from: after editing another module here, delete the cached kernels
(``*.nbi`` and ``*.nbc`` under ``__pycache__``, or under ``NUMBA_CACHE_DIR``), or the old kernel is loaded again.

Imported by :mod:`movingmnist.render.general_renderer` only when the numba kernel is selected (numba is optional).
"""

from __future__ import annotations

from .args import Background, Distractors, Objects, Options, Outputs
from .background import paint_shapes, shape_masks, skimage_boxes
from .kernel import render
from .measure import flow
from .poses import poses

__all__ = [
    "Background", "Distractors", "Objects", "Options", "Outputs", "flow", "paint_shapes", "poses", "render",
    "shape_masks", "skimage_boxes",
]
