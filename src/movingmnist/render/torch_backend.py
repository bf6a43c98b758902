"""Torch renderer: the numpy backend's Scene, Tracks and Batch on any torch device, byte for byte.

Latents are drawn on the device with :mod:`movingmnist.rng_torch` and :mod:`movingmnist.motion_torch` (the same
bits as numpy). Translation-only glyphs are composited by *pulling* whole canvas rows: every glyph of a batch is
copied once into a zero-padded row buffer ``(B, K, h + 1, 2W + w)``, so that canvas row ``Y`` of object ``k`` is the
``W``-byte window of that buffer starting at ``(row Y - y) * L + (W - x)`` (the zero row when the glyph does not
cover ``Y``). One ``index_select`` over an overlapping ``(N, W)`` view of the buffer then yields object k's
layer of every frame of the batch, ``(B, T, H, W)``, as contiguous row copies: memcpy speed on CPU, coalesced
reads on GPU, and no scatter, so no write conflicts and no dependence on the order of execution. The layers are
combined in object order by the same rules as :func:`movingmnist.render.numpy_backend.composite`, and boxes and
visibility are measured from the final ownership map. There is no Python loop over sequences or frames; loops run
over objects only, and the glyph bank is uploaded once per device.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import motion_torch, rng_torch
from ..batch import Batch
from ..errors import SpecError, require
from ..generator import Generator, SourceLike
from ..scene import GlyphSet
from ..spec import Spec

torch = require("torch", "torch", "the torch backend")

# Bytes of scratch canvases per composite sub-step on CPU (measured best between 8 and 128 MiB on 2 cores).
CPU_CACHE_BYTES = 32 * 2**20
# Sequences whose latents are drawn per internal step (bounds scratch memory; the pixels of a step are then
# composited in cache-sized sub-steps on CPU, all at once on accelerators).
CPU_STEP = 1024
DEVICE_STEP = 65536
# Bytes of one (B, T, H, W) uint8 canvas per composite sub-step on accelerators (bounds device scratch memory; each
# kernel still covers about a GiB, so launch overheads stay negligible).
DEVICE_CANVAS_BYTES = 2**30

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


# -- what this backend renders ------------------------------------------------------------------------------------
def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# Spec fields this backend renders exactly: the translation renderer's, and those of the general renderer
# (:mod:`movingmnist.render.torch_general`). A field added to Spec later is supported only while it keeps its
# default value; otherwise the numpy backend renders that spec.
_KNOWN_FIELDS = frozenset(
    {
        "preset",
        "canvas.height",
        "canvas.width",
        "canvas.channels",
        "frames",
        "objects.count",
        "objects.size",
        "source.name",
        "source.split",
        "source.val_size",
        "motion.model",
        "motion.speed",
        "motion.speed_unit",
        "motion.integer_speed",
        "motion.direction",
        "motion.max_step",
        "motion.deterministic",
        "motion.bounce_on",
        "motion.wrap",
        "motion.margin",
        "motion.boundary",
        "motion.affine.angle",
        "motion.affine.translate",
        "motion.affine.scale",
        "motion.affine.shear",
        "compositing",
        "appearance.rotation.angle",
        "appearance.rotation.velocity",
        "appearance.rotation.integer",
        "appearance.rotation.hint",
        "appearance.rotation.hint_scale",
        "appearance.scale.mode",
        "appearance.scale.start",
        "appearance.scale.end",
        "appearance.scale.period",
        "appearance.scale.random_phase",
        "appearance.shear",
        "appearance.brightness.mode",
        "appearance.brightness.start",
        "appearance.brightness.end",
        "appearance.brightness.rate",
        "appearance.brightness.duty",
        "appearance.colour.mode",
        "appearance.colour.saturation",
        "appearance.colour.value",
        "appearance.colour.palette",
        "appearance.interpolation",
        "appearance.subpixel",
        "background.kind",
        "background.level",
        "background.noise.mean",
        "background.noise.std",
        "background.noise.dynamic",
        "background.image_folder",
        "background.extent",
        "background.pan",
        "background.colour",
        "background.shapes.count",
        "background.shapes.size",
        "background.shapes.kinds",
        "background.shapes.intensity",
        "background.distractors.count",
        "background.distractors.size",
        "background.distractors.kinds",
        "background.distractors.intensity",
        "background.distractors.speed",
        "background.distractors.occlude",
        "annotations.semantic",
        "annotations.instance",
        "annotations.boxes",
        "annotations.amodal_boxes",
        "annotations.visibility",
        "annotations.tracks",
        "annotations.ignore_label",
        "annotations.mask_threshold",
        "annotations.amodal_masks",
        "annotations.flow",
    }
)
_MOTION_MODELS = frozenset({"srivastava", "reflect", "free", "stochastic", "srvp", "flip", "affine"})
_COMPOSITING = frozenset({"max", "sum", "over"})


def unsupported_reason(spec: Spec) -> str | None:
    """Why the torch backend cannot render ``spec`` exactly, or None when it can.

    Every field of today's Spec is rendered (translation-only specs by the translation renderer, everything else by
    :mod:`movingmnist.render.torch_general`); a reason names a field this version does not know (or a value of a
    known field it does not handle), and such specs are rendered by the numpy kernels.
    """
    fields = _flatten(spec.to_dict())
    defaults = _flatten(Spec().to_dict())
    if spec.motion.model not in _MOTION_MODELS:
        return f"motion.model={spec.motion.model!r} (not ported to torch yet)"
    if fields.get("compositing") not in _COMPOSITING:
        return f"compositing={fields.get('compositing')!r}"
    for name, value in fields.items():
        if name in _KNOWN_FIELDS:
            continue
        if name not in defaults or defaults[name] != value:
            return f"{name}={value!r} (not rendered by the torch backend yet)"
    return None


# -- glyphs on the device ------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DeviceGlyphs:
    """A :class:`~movingmnist.scene.GlyphSet` on one device: images ``(M, h, w)`` uint8, labels ``(M,)`` int64,
    ink_box ``(M, 4)`` int64, ink_sum ``(M,)`` int64."""

    images: torch.Tensor
    labels: torch.Tensor
    ink_box: torch.Tensor
    ink_sum: torch.Tensor


_DEVICE_GLYPHS: weakref.WeakKeyDictionary[GlyphSet, dict[str, DeviceGlyphs]] = weakref.WeakKeyDictionary()


def device_glyphs(glyphs: GlyphSet, device: torch.device | str) -> DeviceGlyphs:
    """``glyphs`` on ``device``, uploaded once per (glyph set, device) and cached while the glyph set lives."""
    device = torch.device(device)
    per_device = _DEVICE_GLYPHS.setdefault(glyphs, {})
    key = str(device)
    if key not in per_device:

        def upload(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.from_numpy(np.array(array, copy=True)).to(device=device, dtype=dtype)

        per_device[key] = DeviceGlyphs(
            images=upload(glyphs.images, torch.uint8),
            labels=upload(glyphs.labels, torch.int64),
            ink_box=upload(glyphs.ink_box, torch.int64),
            ink_sum=upload(glyphs.ink_sum, torch.int64),
        )
    return per_device[key]


@dataclass(frozen=True)
class TorchScene:
    """:class:`~movingmnist.scene.Scene` as tensors on the device: index ``(B,)`` int64, count ``(B,)`` int64,
    present ``(B, K)`` bool, glyph_index ``(B, K)`` int32, labels ``(B, K)`` int16."""

    index: torch.Tensor
    count: torch.Tensor
    present: torch.Tensor
    glyph_index: torch.Tensor
    labels: torch.Tensor


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
        spec, seed, source, cache_dir: as :class:`movingmnist.Generator`.
        device: torch device (default: cuda when available, else cpu).
        kernels: ``torch`` (latents and pixels in torch ops on the device: the translation renderer for
            translation-only specs, :mod:`movingmnist.render.torch_general` for the others), ``numpy`` (the numpy
            Generator renders on CPU into the output tensors' memory, copied to the device if it is not the CPU),
            or ``auto``: ``torch`` on accelerators; on CPU ``torch`` for translation-only frames-only specs and
            ``numpy`` otherwise (the numpy and numba kernels work on glyph windows and are faster there on CPU;
            see benchmarks/bench_torch.py); ``numpy`` whenever :func:`unsupported_reason` names a reason.
            Latents are equal bit for bit whatever the choice; translation-only frames and annotations are
            byte-identical; warped frames are within 1 grey level of numpy's (today identical).
        batch_size: sequences per internal step (default 1024 on CPU, 65536 on accelerators).
        generator: an existing numpy :class:`Generator` to share (its spec, seed and glyph bank are used).
        compile: ``torch.compile`` the general renderer's patch sampling (one fused kernel instead of ~40
            element-wise passes; compiled once per process, tens of seconds; fused multiply-adds are disabled so the
            arithmetic stays the reference's). Off by default.

    Raises:
        SpecError: ``kernels="torch"`` with a spec that :func:`unsupported_reason` rejects.
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
    ) -> None:
        if generator is None:
            if spec is None:
                raise SpecError("spec", None, "a Spec or a preset name such as 'srivastava'")
            generator = Generator(spec, seed=seed, source=source, cache_dir=cache_dir)
        if kernels not in ("auto", "torch", "numpy"):
            raise SpecError("kernels", kernels, "one of 'auto', 'torch', 'numpy'")
        self.generator = generator
        self.spec: Spec = generator.spec
        self.seed: int = generator.seed
        self.glyphs: GlyphSet = generator.glyphs
        self.device = torch.device(device) if device is not None else default_device()
        reason = unsupported_reason(self.spec)
        if kernels == "torch" and reason is not None:
            raise SpecError(
                "kernels", "torch", f"a spec the torch backend renders; this spec has {reason}",
                "use kernels='auto' or 'numpy'",
            )
        self.general: bool = generator.general
        if kernels == "auto":
            if reason is not None:
                kernels = "numpy"
            elif self.device.type != "cpu":
                kernels = "torch"
            elif self.general:
                # On CPU the numba kernels beat torch's element-wise passes several times; the numpy reference
                # is slower than torch (benchmarks/bench_torch.py).
                kernels = "numpy" if generator.kernel == "numba" else "torch"
            else:
                kernels = "numpy" if self.spec.annotations.needs_ownership else "torch"
        self.kernels: str = kernels
        self.unsupported: str | None = reason
        self.compile = bool(compile)
        self.dglyphs = device_glyphs(self.glyphs, self.device) if kernels == "torch" else None
        self._general = None
        if kernels == "torch" and self.general:
            from .torch_general import TorchGeneralRenderer

            self._general = TorchGeneralRenderer(self)
        if batch_size is not None and batch_size < 1:
            raise SpecError("batch_size", batch_size, "an integer >= 1")
        if batch_size is None:
            batch_size = CPU_STEP if self.device.type == "cpu" else DEVICE_STEP
        self.batch_size = int(batch_size)
        self._buffers: dict[str, torch.Tensor] = {}

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
        """Output tensors for ``num`` sequences on the device (reuse them: fresh memory is slow to write on CPU)."""
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
        negative indices are rejected, except in a tensor on an accelerator (checking would synchronise)."""
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

    def scene(self, index: torch.Tensor) -> TorchScene:
        """The latents of sequences ``index (B,)``, computed on the device."""
        self._require_torch_kernels()
        spec = self.spec
        k = spec.objects.count[1]
        low, high = spec.objects.count
        count = rng_torch.integers(self.seed, "objects.count", index, (), low, high)
        present = torch.arange(k, device=index.device)[None, :] < count[:, None]
        m = int(self.dglyphs.images.shape[0])
        chosen = rng_torch.integers(self.seed, "objects.glyph", index, (k,), 0, m - 1)
        glyph_index = torch.where(present, chosen, -1).to(torch.int32)
        labels = torch.where(present, self.dglyphs.labels[chosen], -1).to(torch.int16)
        return TorchScene(index=index, count=count, present=present, glyph_index=glyph_index, labels=labels)

    def positions(self, scene: TorchScene, num_frames: int | None = None) -> torch.Tensor:
        """Top-left (x, y) of each glyph box: ``(B, T, K, 2)`` int64 on the device."""
        self._require_torch_kernels()
        spec = self.spec
        h, w = self.glyphs.glyph_hw
        big_h, big_w = spec.canvas.height, spec.canvas.width
        b, k = scene.present.shape
        dev = scene.index.device
        if spec.motion.bounce_on == "ink":
            box = self.dglyphs.ink_box[scene.glyph_index.clamp_min(0).to(torch.int64)].to(torch.float64)
            lo = -box[..., 0:2]
            hi = torch.tensor([big_w, big_h], dtype=torch.float64, device=dev) - box[..., 2:4]
        else:
            lo = torch.zeros((b, k, 2), dtype=torch.float64, device=dev)
            hi = torch.tensor([big_w - w, big_h - h], dtype=torch.float64, device=dev).expand(b, k, 2).clone()
        return motion_torch.simulate(
            spec.motion, self.seed, scene.index, num_frames or spec.frames, lo, hi, (h, w), (big_h, big_w)
        )

    def _require_torch_kernels(self) -> None:
        if self.dglyphs is None:
            self.dglyphs = device_glyphs(self.glyphs, self.device)

    # -- rendering internals --------------------------------------------------------------------------------------
    def _buffer(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, zero: bool = False) -> torch.Tensor:
        """A reused scratch tensor (a prefix of a larger one when the batch shrinks). ``zero``: zero-filled when
        (re)allocated; callers keep the parts they rely on zero."""
        need = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < need or buf.dtype != dtype:
            buf = (torch.zeros if zero else torch.empty)(max(need, 1), dtype=dtype, device=self.device)
            self._buffers[name] = buf
        return buf[:need].view(shape)

    def _const(self, name: str, values: torch.Tensor) -> torch.Tensor:
        """Small constant tensors on the device, built once."""
        buf = self._buffers.get("const:" + name)
        if buf is None:
            buf = values.to(self.device)
            self._buffers["const:" + name] = buf
        return buf

    def _render_into(self, index: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
        """Latents of the whole step, then pixels in cache-sized sub-steps (``composite_step``)."""
        spec = self.spec
        ann = spec.annotations
        t = spec.frames
        h, w = self.glyphs.glyph_hw
        b = int(index.shape[0])
        if b == 0:
            return
        if self._general is not None:
            self._general.render(index, out)
            return
        dev = self.device
        scene = self.scene(index)
        k_slots = int(scene.present.shape[1])
        track = self.positions(scene, t + 1 if ann.tracks else t)  # (B, T(+1), K, 2)
        topleft = track[:, :t]

        out["index"].copy_(index)
        out["labels"].copy_(scene.labels)
        out["present"].copy_(scene.present)
        out["glyph_index"].copy_(scene.glyph_index)
        absent = ~scene.present[:, None, :]  # (B, 1, K)
        nan = torch.tensor(float("nan"), dtype=torch.float32, device=dev)
        safe_gi = scene.glyph_index.clamp_min(0).to(torch.int64)  # (B, K)
        if ann.amodal_boxes:
            ink_box = self.dglyphs.ink_box[safe_gi]  # (B, K, 4)
            amodal = (topleft.repeat(1, 1, 1, 2) + ink_box[:, None]).to(torch.float32)
            out["amodal_boxes"].copy_(torch.where(absent[..., None], nan, amodal))
        if ann.tracks:
            half = torch.tensor([w / 2, h / 2], dtype=torch.float32, device=dev)
            centers = track.to(torch.float32) + half
            velocities = centers[:, 1:] - centers[:, :t]
            out["centers"].copy_(torch.where(absent[..., None], nan, centers[:, :t]))
            out["velocities"].copy_(torch.where(absent[..., None], nan, velocities))
            shape = (b, t, k_slots)
            out["angles"].copy_(torch.where(absent, nan, torch.zeros((), device=dev)).expand(shape))
            out["scales"].copy_(torch.where(absent, nan, torch.ones((), device=dev)).expand(shape))
            out["brightness"].copy_(torch.where(absent, nan, torch.ones((), device=dev)).expand(shape))
            order = torch.arange(k_slots, device=dev).to(torch.int8).view(1, 1, k_slots)
            minus_one = torch.tensor(-1, dtype=torch.int8, device=dev)
            out["depth"].copy_(torch.where(absent, minus_one, order).expand(shape))

        ink_sum = None
        if ann.visibility:
            ink_sum = torch.where(scene.present, self.dglyphs.ink_sum[safe_gi], 0)  # (B, K) int64
        step = self.composite_step
        for lo in range(0, b, step):
            hi = min(b, lo + step)
            self._composite(
                glyph_index=safe_gi[lo:hi],
                present=scene.present[lo:hi],
                labels=scene.labels[lo:hi],
                topleft=topleft[lo:hi],
                ink_sum=None if ink_sum is None else ink_sum[lo:hi],
                out={name: tensor[lo:hi] for name, tensor in out.items()},
            )

    def _composite(
        self,
        glyph_index: torch.Tensor,
        present: torch.Tensor,
        labels: torch.Tensor,
        topleft: torch.Tensor,
        ink_sum: torch.Tensor | None,
        out: dict[str, torch.Tensor],
    ) -> None:
        """Frames, ownership maps, modal boxes and visibility of ``B`` sequences, by the rules of the numpy
        backend's ``composite`` and ``measure_objects``.

        Only operations that run at memory speed on CPU as well as GPU are used on whole canvases: row gathers,
        elementwise uint8 arithmetic and bit operations, comparisons between full tensors or against a
        ``(W,)`` row (torch's CPU comparison with a broadcast scalar is ~8x slower), and bit-sliced reductions
        (:func:`_fold`, :func:`_byte_sums`) instead of integer ``sum``/``any`` over canvases.
        """
        spec = self.spec
        ann = spec.annotations
        b, t, k_slots = topleft.shape[:3]
        big_h, big_w = spec.canvas.height, spec.canvas.width
        h, w = self.glyphs.glyph_hw
        dev = self.device
        u8 = torch.uint8

        # Glyph slabs: (h + 2) rows of L bytes per (b, k); the glyph sits at rows 1..h, columns W..W+w-1;
        # rows 0 and h + 1 and the margins are zero and stay zero (only the glyph region is rewritten).
        row_len = 2 * big_w + w
        slab = (h + 2) * row_len
        padded = self._buffer("padded", (b, k_slots, h + 2, row_len), u8, zero=True)
        pixels = self.dglyphs.images[glyph_index]  # (B, K, h, w)
        pixels.mul_(present[:, :, None, None].to(u8))  # absent slots draw nothing
        padded[:, :, 1 : h + 1, big_w : big_w + w] = pixels
        flat = padded.view(-1)
        rows_view = flat.as_strided((flat.numel() - big_w + 1, big_w), (1, 1))
        index_dtype = torch.int32 if flat.numel() < 2**31 else torch.int64
        canvas_rows = torch.arange(big_h, device=dev, dtype=index_dtype).view(1, 1, big_h)
        slab_start = torch.arange(b * k_slots, device=dev, dtype=index_dtype).view(b, k_slots) * slab

        starts = self._buffer("starts", (b, t, big_h), index_dtype)

        def pull(k: int, into: torch.Tensor) -> torch.Tensor:
            """Object k's layer of every frame, ``(B, T, H, W)`` uint8, written into ``into`` (one row gather)."""
            x = topleft[:, :, k, 0].clamp(-w, big_w).to(index_dtype)
            y = topleft[:, :, k, 1].to(index_dtype)
            # Canvas row Y shows slab row clamp(Y - y, -1, h) + 1: a glyph row or one of the two zero rows.
            start = torch.sub(canvas_rows, y[:, :, None], out=starts)
            start.clamp_(-1, h).add_(1).mul_(row_len)
            start += (slab_start[:, k].view(b, 1) + (big_w - x))[:, :, None]
            torch.index_select(rows_view, 0, start.view(-1), out=into.view(b * t * big_h, big_w))
            return into

        def row_of(value: int, dtype: torch.dtype = u8) -> torch.Tensor:
            return self._const(f"row:{value}:{dtype}", torch.full((big_w,), value, dtype=dtype))

        need_owner = ann.needs_ownership
        threshold = row_of(ann.mask_threshold)
        mode = spec.compositing
        shape = (b, t, big_h, big_w)
        frames = out["frames"].view(shape)
        layer = self._buffer("layer", shape, u8)
        instance = semantic = owned = code = None
        if need_owner:
            instance = out["instance"] if ann.instance else self._buffer("instance", shape, u8)
            owned = self._buffer("owned", shape, torch.bool)
            code = self._buffer("code", shape, u8)  # scratch bytes
            scratch = self._buffer("scratch", shape, torch.bool)
        if ann.semantic:
            semantic = out["semantic"]
            label_bytes = labels.to(u8).view(b, k_slots, 1, 1, 1)
            ignore = ann.ignore_label

        for k in range(k_slots):
            if k == 0:
                g = pull(0, frames)  # the canvas is empty: the first layer is the composite
                if need_owner:
                    torch.gt(g, threshold, out=owned)
            else:
                g = pull(k, layer)
                if mode == "max":
                    if need_owner:
                        torch.ge(g, frames, out=owned)
                        owned &= torch.gt(g, threshold, out=scratch)
                    torch.maximum(frames, g, out=frames)
                elif mode == "sum":
                    if need_owner:
                        torch.gt(g, threshold, out=owned)
                    room = torch.sub(row_of(255), frames, out=code)
                    torch.minimum(room, g, out=room)
                    frames += room
                else:  # over: inked pixels replace what is below
                    if need_owner:
                        torch.gt(g, threshold, out=owned)
                    inked = torch.gt(g, row_of(0), out=scratch) if need_owner else torch.gt(g, row_of(0))
                    select = torch.neg(inked.view(u8), out=code) if need_owner else torch.neg(inked.view(u8))
                    flip = torch.bitwise_xor(frames, g)
                    flip &= select
                    frames ^= flip
            if not need_owner:
                continue
            owned_bytes = owned.view(u8)
            if k == 0:
                instance.copy_(owned_bytes)
            else:  # codes grow with k: "k + 1 where owned" is a maximum
                torch.maximum(instance, torch.mul(owned_bytes, k + 1, out=code), out=instance)
            if semantic is not None:
                select = torch.neg(owned_bytes, out=code)  # 0xFF where owned
                if k == 0:
                    torch.bitwise_and(select, label_bytes[:, 0] ^ ignore, out=semantic)
                    semantic ^= ignore
                else:
                    select &= torch.bitwise_xor(semantic, label_bytes[:, k], out=layer)  # layer is free now
                    semantic ^= select

        if not (ann.boxes or ann.visibility):
            return
        # Measurement from the final ownership map. Where object k owns a pixel, a max composite shows exactly its
        # layer (so does ``over`` with threshold 0); other modes pull the layer again.
        frames_show_owner = mode == "max" or (mode == "over" and ann.mask_threshold == 0)
        wide = _round_up(big_w, 8)  # rows padded to whole 64-bit words (the padding stays zero)
        mine_pad = self._buffer("mine", (b, t, big_h, wide), torch.bool, zero=True)
        mine = mine_pad[..., :big_w]
        masked_pad = self._buffer("masked", (b, t, big_h, wide), u8, zero=True) if ann.visibility else None
        index_type = u8 if big_w < 256 and big_h < 256 else torch.int32
        up_w = self._const(f"up:{big_w}", torch.arange(1, big_w + 1).to(index_type))  # 1..W
        down_w = self._const(f"down:{big_w}", torch.arange(big_w, 0, -1).to(index_type))  # W..1
        up_h = self._const(f"up:{big_h}", torch.arange(1, big_h + 1).to(index_type))
        down_h = self._const(f"down:{big_h}", torch.arange(big_h, 0, -1).to(index_type))
        nan = torch.tensor(float("nan"), dtype=torch.float32, device=dev)
        for k in range(k_slots):
            torch.eq(instance, row_of(k + 1), out=mine)
            if ann.visibility:
                src = frames if frames_show_owner else pull(k, layer)
                torch.bitwise_and(src, torch.neg(mine.view(u8), out=code), out=masked_pad[..., :big_w])
                words = masked_pad.view(torch.int64).view(b * t, -1)
                scratch_words = self._buffer("swar", (2, *words.shape), torch.int64)
                seen = _byte_sums(words, self.reduction, scratch_words).view(b, t)
                total = ink_sum[:, k][:, None].to(torch.float64)
                vis = torch.where(total > 0, seen.to(torch.float64) / torch.clamp_min(total, 1.0), 0.0)
                out["visibility"][:, :, k] = vis.to(torch.float32)
            if ann.boxes:
                if self.reduction == "fold":
                    words = mine_pad.view(torch.int64)  # (B, T, H, wide / 8): 8 pixels per word
                    fold_scratch = self._buffer("fold", words.shape, torch.int64)
                    rows = _fold(words, 3, fold_scratch) != 0  # (B, T, H): any pixel of the row
                    cols = _fold(words, 2, fold_scratch).view(torch.bool)[..., :big_w]  # (B, T, W)
                else:
                    rows, cols = mine.any(dim=3), mine.any(dim=2)
                rows_b, cols_b = rows.to(index_type), cols.view(u8).to(index_type)
                x1 = (cols_b * up_w).amax(dim=2).to(torch.float32)
                x0 = big_w - (cols_b * down_w).amax(dim=2).to(torch.float32)
                y1 = (rows_b * up_h).amax(dim=2).to(torch.float32)
                y0 = big_h - (rows_b * down_h).amax(dim=2).to(torch.float32)
                box = torch.stack([x0, y0, x1, y1], dim=-1)
                out["boxes"][:, :, k] = torch.where((y1 > 0)[..., None], box, nan)

    @property
    def composite_step(self) -> int:
        """Sequences composited per sub-step: cache-sized on CPU (``CPU_CACHE_BYTES`` of canvases); on accelerators
        as many as keep one canvas buffer within ``DEVICE_CANVAS_BYTES`` (a dozen such buffers are live)."""
        spec = self.spec
        canvas = spec.frames * spec.canvas.height * spec.canvas.width
        if self.device.type != "cpu":
            return int(np.clip(DEVICE_CANVAS_BYTES // max(canvas, 1), 1, self.batch_size))
        return int(np.clip(CPU_CACHE_BYTES // max(8 * canvas, 1), 4, self.batch_size))

    @property
    def reduction(self) -> str:
        """How canvases are reduced: ``fold`` (bit-sliced halving, fast on CPU) or ``direct`` (torch reductions,
        fewer kernel launches on accelerators). Both give the same integers; set ``_reduction`` to force one."""
        forced = getattr(self, "_reduction", None)
        if forced:
            return forced
        return "fold" if self.device.type == "cpu" else "direct"


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _fold(words: torch.Tensor, dim: int, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Bitwise OR of int64 ``words`` over ``dim`` by halving (the dim is removed): one elementwise op per step,
    written in place into ``scratch`` (shaped as ``words``; allocated when None; torch on CPU is much slower when
    it allocates the output of an op over dtype-reinterpreted views)."""
    n = words.shape[dim]
    if n == 1:
        return words.squeeze(dim)
    if scratch is None:
        scratch = torch.empty_like(words)
    half = n // 2
    x = scratch.narrow(dim, 0, half)
    torch.bitwise_or(words.narrow(dim, 0, half), words.narrow(dim, half, half), out=x)
    if n % 2:
        x.narrow(dim, 0, 1).bitwise_or_(words.narrow(dim, 2 * half, 1))
    while x.shape[dim] > 1:
        n = x.shape[dim]
        half = n // 2
        x.narrow(dim, 0, half).bitwise_or_(x.narrow(dim, half, half))
        if n % 2:
            x.narrow(dim, 0, 1).bitwise_or_(x.narrow(dim, 2 * half, 1))
        x = x.narrow(dim, 0, half)
    return x.squeeze(dim)


_LOW_BYTES = 0x00FF00FF00FF00FF
_LOW_HALVES = 0x0000FFFF0000FFFF
_LOW_WORD = 0xFFFFFFFF
_MASKS: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _masks(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The SWAR lane masks as 0-dim int64 tensors on ``device`` (torch's CPU bitwise ops with a large Python int
    operand are ~15x slower than with a tensor)."""
    key = str(device)
    if key not in _MASKS:
        masks = (_LOW_BYTES, _LOW_HALVES, _LOW_WORD)
        _MASKS[key] = tuple(torch.tensor(m, dtype=torch.int64, device=device) for m in masks)
    return _MASKS[key]


def _byte_sums(words: torch.Tensor, how: str, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of all bytes of each row of ``words (N, n)`` int64 (the bytes of uint8 canvases), exact, ``(N,)`` int64.

    ``fold``: SWAR in 64-bit words, every step an elementwise op written in place into ``scratch`` (``(2, N, n)``
    int64; allocated when None): bytes are added pairwise into four 16-bit lanes and folded while a lane holds at
    most 128 pairs (510 * 128 < 2**16), then into two 32-bit lanes for the rest. ``direct``: a uint8 sum (one
    reduction kernel, for accelerators).
    """
    if how == "direct":
        return words.view(torch.uint8).sum(dim=1, dtype=torch.int64)
    low_bytes, low_halves, low_word = _masks(words.device)
    if scratch is None:
        scratch = torch.empty((2, *words.shape), dtype=torch.int64, device=words.device)
    x, tmp = scratch[0], scratch[1]
    torch.bitwise_and(words, low_bytes, out=x)
    torch.bitwise_right_shift(words, 8, out=tmp)
    x += tmp.bitwise_and_(low_bytes)  # 4 lanes, each <= 510
    pairs = 1
    wide = False

    def widen(x: torch.Tensor, tmp: torch.Tensor) -> None:
        torch.bitwise_right_shift(x, 16, out=tmp)
        x.bitwise_and_(low_halves)
        x += tmp.bitwise_and_(low_halves)  # 2 lanes of 32 bits

    while x.shape[1] > 1:
        n = x.shape[1]
        half = n // 2
        step = 3 if n % 2 else 2  # worst case: the first word also takes the odd one
        if not wide and pairs * step > 128:
            widen(x, tmp[:, :n])
            wide = True
        x[:, :half] += x[:, half : 2 * half]
        if n % 2:
            x[:, :1] += x[:, 2 * half :]
        x = x[:, :half]
        pairs *= step
    if not wide:
        widen(x, tmp[:, :1])
    torch.bitwise_right_shift(x, 32, out=tmp[:, :1])
    x.bitwise_and_(low_word)
    x += tmp[:, :1].bitwise_and_(low_word)
    return x[:, 0]
