"""Renderers: draw :class:`~movingmnist.tracks.Tracks` into output buffers.

Every renderer has the same two-method interface, knows nothing of the Generator, and is chosen in one place,
:func:`make_renderer`:

- ``general`` (bool): whether it draws affine tracks (``Tracks.matrix`` with appearance and a background plan) or
  whole-pixel translation tracks (``Tracks.topleft``);
- ``draw(tracks, background, out)``: render into ``out``, a mapping of output views (``frames (B, T, C, H, W)`` and
  the annotations the spec asks for), numpy arrays or torch tensors;
- general renderers also have ``paint_shapes(val, cov, shapes)``, the painter the background plan is drawn with.

==========================  =========================================  ======================================
renderer                    draws                                      module
==========================  =========================================  ======================================
TranslationRenderer         translation-only specs, numpy              :mod:`movingmnist.render.translation`
GeneralRenderer             every spec, numpy reference or numba       :mod:`movingmnist.render.general_renderer`
TorchTranslationRenderer    translation-only specs, torch (any device) :mod:`movingmnist.render.torch_translation`
TorchGeneralRenderer        every spec, torch (any device)             :mod:`movingmnist.render.torch_general`
==========================  =========================================  ======================================

All of them give the same bytes (the conformance suite checks it).
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError, require
from ..latents.scene import GlyphSet
from ..spec import Spec

RENDERERS = ("auto", "general", "translation")
KERNELS = ("auto", "numba", "numpy")


def use_general(spec: Spec, renderer: str = "auto") -> bool:
    """Whether ``spec`` is drawn by a general renderer: ``renderer="auto"`` picks the translation renderer for
    translation-only specs; ``"general"`` forces the general renderer (the same bytes); ``"translation"`` is
    refused for specs that need the general renderer."""
    if renderer not in RENDERERS:
        raise SpecError("renderer", renderer, "one of 'auto', 'general', 'translation'")
    if renderer == "translation" and spec.general_renderer:
        raise SpecError(
            "renderer", renderer, "'auto' or 'general' for this spec (it rotates, scales, colours or draws a "
            "background, which only the general renderer does)"
        )
    return spec.general_renderer if renderer == "auto" else renderer == "general"


def resolve_kernel(kernel: str, needed: bool = True) -> str:
    """``auto`` -> ``numba`` when it imports, else ``numpy``; ``numba`` without numba installed names the extra.
    ``needed=False`` (no general renderer will run): only the value is checked, and ``numpy`` returned."""
    if kernel not in KERNELS:
        raise SpecError("kernel", kernel, "one of 'auto', 'numba', 'numpy'")
    if kernel == "numpy" or not needed:
        return "numpy"
    try:
        import numba  # noqa: F401
    except ImportError:
        if kernel == "numba":
            require("numba", "fast", "kernel='numba'")
        return "numpy"
    return "numba"


def make_renderer(
    spec: Spec,
    seed: int,
    glyphs: GlyphSet,
    *,
    general: bool,
    kernel: str = "numpy",
    device: Any = None,
    compile: bool = False,
) -> Any:
    """The renderer of ``spec``: with ``device`` None a numpy renderer (``kernel`` ``"numpy"`` or ``"numba"`` for
    the general one), else a torch renderer on that device (``compile``: ``torch.compile`` the general renderer's
    patch sampling)."""
    if device is None:
        if general:
            from .general_renderer import GeneralRenderer

            return GeneralRenderer(spec, seed, glyphs, kernel=kernel)
        from .translation import TranslationRenderer

        return TranslationRenderer(spec, glyphs, kernel=kernel)
    if general:
        from .torch_general import TorchGeneralRenderer

        return TorchGeneralRenderer(spec, seed, glyphs, device=device, compile=compile)
    from .torch_translation import TorchTranslationRenderer

    return TorchTranslationRenderer(spec, glyphs, device=device)
