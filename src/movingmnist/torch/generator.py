"""TorchGenerator: sequences of one dataset (spec + seed) by index on a torch device, the numpy Generator's bytes.

The latents run on the device (:mod:`movingmnist.latents`, written once for numpy and torch); a torch renderer
(:mod:`movingmnist.render`) draws the tracks, or the numpy Generator renders into the tensors' memory on CPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..batch import Batch
from ..errors import SpecError, require
from ..generator import Generator, SourceLike
from ..latents.background import plan_background
from ..latents.scene import GlyphSet
from ..render import make_renderer
from ..spec import Spec
from ..tracks import Tracks, finish_tracks, simulate_tracks, write_tracks

torch = require("torch", "torch", "the torch backend")

# Sequences whose latents are drawn per internal step (bounds scratch memory; the pixels of a step are then
# composited in cache-sized sub-steps on CPU, all at once on accelerators).
CPU_STEP = 1024
DEVICE_STEP = 65536

TORCH_DTYPES = {
    np.dtype("uint8"): torch.uint8,
    np.dtype("int8"): torch.int8,
    np.dtype("int16"): torch.int16,
    np.dtype("int32"): torch.int32,
    np.dtype("int64"): torch.int64,
    np.dtype("float16"): torch.float16,
    np.dtype("float32"): torch.float32,
    np.dtype("bool"): torch.bool,
}


def unsupported_reason(spec: Spec) -> str | None:
    """Why the torch backend cannot render ``spec`` exactly, or None when it can.

    Always None: the latent stages are shared with numpy and the torch renderers draw every rule of the Spec (the
    conformance suite checks them against the numpy reference). Kept for code written against versions whose torch
    backend lagged behind.
    """
    del spec
    return None


def default_device() -> torch.device:
    """``cuda`` when available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class TorchGenerator:
    """Renders sequences of one dataset (spec + seed) by index on a torch device; same bytes as :class:`Generator`.

    >>> import numpy as np, movingmnist as mm
    >>> images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    >>> gen = TorchGenerator("srivastava", seed=0, source=(images, np.arange(50) % 10), device="cpu")
    >>> out = gen.render(start=10, num=4)
    >>> tuple(out["frames"].shape), out["frames"].dtype
    ((4, 20, 1, 64, 64), torch.uint8)

    Args:
        spec, seed, source, cache_dir, renderer: as :class:`movingmnist.Generator`.
        device: torch device (default: cuda when available, else cpu).
        kernels: ``torch`` (latents and pixels in torch ops on the device: the translation renderer for
            translation-only specs, :mod:`movingmnist.render.torch_general` for the others), ``numpy`` (the numpy
            Generator renders on CPU into the output tensors' memory, copied to the device if it is not the CPU),
            or ``auto``: ``torch`` on accelerators; on CPU ``torch`` for translation-only frames-only specs and
            ``numpy`` otherwise (the numpy and numba kernels work on glyph windows and are faster there on CPU;
            see benchmarks/bench_torch.py). Latents are shared (the same functions run on the device), and frames
            and annotations are byte-identical whatever the choice.
        batch_size: sequences per internal step (default 1024 on CPU, 65536 on accelerators).
        generator: an existing numpy :class:`Generator` to share (its spec, seed and glyph bank are used).
        compile: ``torch.compile`` the general renderer's patch sampling (one fused kernel instead of ~40
            element-wise passes; compiled once per process, tens of seconds; fused multiply-adds are disabled so the
            arithmetic stays the reference's). Off by default.

    """

    def __init__(
        self,
        spec: Spec | str | None = None,
        seed: int = 0,
        source: SourceLike | None = None,
        *,
        device: torch.device | str | None = None,
        kernels: str = "auto",
        cache_dir: str | None = None,
        batch_size: int | None = None,
        generator: Generator | None = None,
        compile: bool = False,
        renderer: str = "auto",
    ) -> None:
        if generator is None:
            if spec is None:
                raise SpecError("spec", None, "a Spec or a preset name such as 'srivastava'")
            generator = Generator(spec, seed=seed, source=source, cache_dir=cache_dir, renderer=renderer)
        if kernels not in ("auto", "torch", "numpy"):
            raise SpecError("kernels", kernels, "one of 'auto', 'torch', 'numpy'")
        self.generator = generator
        self.spec: Spec = generator.spec
        self.seed: int = generator.seed
        self.glyphs: GlyphSet = generator.glyphs
        self.device = torch.device(device) if device is not None else default_device()
        self.general: bool = generator.general
        if kernels == "auto":
            if self.device.type != "cpu":
                kernels = "torch"
            elif self.general:
                # On CPU the numba kernels beat torch's element-wise passes several times; the numpy reference
                # is slower than torch (benchmarks/bench_torch.py).
                kernels = "numpy" if generator.kernel == "numba" else "torch"
            else:
                kernels = "numpy" if self.spec.annotations.needs_ownership else "torch"
        self.kernels: str = kernels
        self.compile = bool(compile)
        self.renderer = None
        if kernels == "torch":
            self.renderer = make_renderer(
                self.spec, self.seed, self.glyphs, general=self.general, device=self.device, compile=self.compile
            )
        if batch_size is not None and batch_size < 1:
            raise SpecError("batch_size", batch_size, "an integer >= 1")
        if batch_size is None:
            batch_size = CPU_STEP if self.device.type == "cpu" else DEVICE_STEP
        self.batch_size = int(batch_size)

    # -- shapes ---------------------------------------------------------------------------------------------------
    @property
    def bank(self):
        return self.generator.bank

    @property
    def array_names(self) -> list[str]:
        return self.generator.array_names

    @property
    def shapes(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Per-sequence shape and torch dtype of every array this generator produces."""
        return {name: (shape, TORCH_DTYPES[dtype]) for name, (shape, dtype) in self.generator.shapes.items()}

    def metadata(self) -> dict[str, Any]:
        return self.generator.metadata()

    def allocate(self, num: int) -> dict[str, torch.Tensor]:
        """Output tensors for ``num`` sequences on the device. On the CPU they are carved from one buffer of warm
        memory (:mod:`movingmnist.warm`: a buffer whose tensors are all gone is reused), since fresh memory is slow
        to write; reusing ``out`` across calls is faster still."""
        if self.device.type == "cpu":
            from .. import warm

            arrays = warm.carve({
                "index": ((num,), np.dtype(np.int64)),
                **{name: ((num, *shape), dtype) for name, (shape, dtype) in self.generator.shapes.items()},
            })
            return {name: torch.from_numpy(array) for name, array in arrays.items()}
        out = {
            name: torch.empty((num, *shape), dtype=dtype, device=self.device)
            for name, (shape, dtype) in self.shapes.items()
        }
        out["index"] = torch.empty(num, dtype=torch.int64, device=self.device)
        return out

    # -- rendering ------------------------------------------------------------------------------------------------
    def render(
        self, start: int = 0, num: int = 1, out: dict[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Sequences ``start .. start + num - 1``: a dict of tensors with a leading batch axis (plus ``index``)."""
        if num < 0 or start < 0:
            raise SpecError("start/num", (start, num), "non-negative integers")
        index = torch.arange(start, start + num, dtype=torch.int64, device=self.device)
        return self.render_indices(index, out=out)

    def render_indices(
        self, indices: torch.Tensor | Iterable[int], out: dict[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Sequences at arbitrary indices (any order, repeats allowed). A tensor of indices stays on its device;
        negative indices are rejected, except in a tensor on an accelerator (checking would synchronise).

        Rendering always runs outside inference mode (also when called under ``torch.inference_mode()``, as in
        Lightning's validation), so that the scratch buffers kept between calls are ordinary tensors: an inference
        tensor cannot be updated in place by a later call outside inference mode."""
        with torch.inference_mode(False):
            return self._render_indices(indices, out)

    def _render_indices(
        self, indices: torch.Tensor | Iterable[int], out: dict[str, torch.Tensor] | None
    ) -> dict[str, torch.Tensor]:
        if isinstance(indices, torch.Tensor):
            if indices.device.type == "cpu" and indices.numel() and int(indices.min()) < 0:
                raise SpecError("indices", int(indices.min()), "non-negative sequence indices")
            index = indices.to(device=self.device, dtype=torch.int64).reshape(-1)
        else:
            array = np.asarray(indices if isinstance(indices, np.ndarray) else list(indices), dtype=np.int64)
            if array.size and array.min() < 0:
                raise SpecError("indices", int(array.min()), "non-negative sequence indices")
            index = torch.from_numpy(array.reshape(-1)).to(self.device)
        num = int(index.shape[0])
        if out is None:
            out = self.allocate(num)
        elif any(out[name].shape[0] < num for name in out):
            raise SpecError("out", "a smaller batch", f"output tensors for at least num={num} sequences")
        if self.kernels == "numpy":
            self._render_numpy(index, out)
        else:
            for lo in range(0, num, self.batch_size):
                hi = min(num, lo + self.batch_size)
                self._render_into(index[lo:hi], {name: tensor[lo:hi] for name, tensor in out.items()})
        return {name: tensor[:num] for name, tensor in out.items()}

    def _render_numpy(self, index: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
        """The numpy Generator renders into CPU tensors' memory (``out`` itself on CPU), then copies to the device."""
        num = int(index.shape[0])
        on_cpu = self.device.type == "cpu"
        target = out if on_cpu else {name: torch.empty_like(t[:num], device="cpu") for name, t in out.items()}
        views = {name: tensor[:num].numpy() for name, tensor in target.items()}
        batch = Batch(**views)
        self.generator.render_indices(index.cpu().numpy(), out=batch)
        if not on_cpu:
            for name, tensor in target.items():
                out[name][:num].copy_(tensor)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Sequence ``index`` as a dict of tensors without a batch axis."""
        return {name: tensor[0] for name, tensor in self.render_indices([index]).items()}

    def tracks(self, index: torch.Tensor, num_frames: int | None = None) -> Tracks:
        """The tracks of sequences ``index (B,)`` computed on the device (the numpy Generator's bits)."""
        index = torch.as_tensor(index, dtype=torch.int64, device=self.device)
        return simulate_tracks(self.spec, self.seed, index, self.glyphs, num_frames or self.spec.frames, self.general)

    def _render_into(self, index: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
        """Tracks and background plan of the step on the device, then the renderer's pixels."""
        spec = self.spec
        if int(index.shape[0]) == 0:
            return
        t1 = spec.simulated_frames
        tracks = simulate_tracks(spec, self.seed, index, self.glyphs, t1, self.general)
        plan = None
        if self.general and not spec.background.is_empty:
            plan = plan_background(
                spec, self.seed, index, t1, paint=self.renderer.paint_shapes, mix=self.renderer.mix_words
            )
        self.renderer.draw(tracks, plan, out)
        write_tracks(tracks, spec, out)
        finish_tracks(tracks, spec, out, self.bank.class_names)
