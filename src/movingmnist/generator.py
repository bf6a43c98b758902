"""Sequence i = f(spec, seed, i): the Generator renders any index range of a dataset into reusable buffers."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from . import warm
from ._threads import one_blas_thread
from .batch import SCHEMA, TRACK_ARRAYS, Batch
from .errors import SpecError, check_int, shown
from .latents.background import plan_background
from .latents.scene import GlyphSet, Scene, glyph_set
from .limits import check_memory, human_bytes, memory_bytes
from .render import make_renderer, resolve_kernel, use_general
from .sources import GlyphBank, load_source, resolve_source_name, source_name
from .spec import Spec
from .tracks import Tracks, finish_tracks, simulate_tracks, write_tracks

SourceLike = str | GlyphBank | tuple[np.ndarray, np.ndarray]
# Sequences per internal step: canvases of about this many bytes stay in the last-level cache between the
# clearing pass and the per-object gathers (measured: 2x faster than batches that spill).
CACHE_BYTES = 8 * 2**20
# Sequences whose latents are simulated per call (their cost is mostly per call, not per sequence).
LATENT_BLOCK = 2048
#: The largest sequence index + 1: indices are int64, and a range start..start+num must fit.
MAX_INDEX = 2**63 - 1
_INDICES = f"integer sequence indices in [0, 2**63-2] = [0, {MAX_INDEX - 1}]"


def resolve_spec(
    spec: Spec | str,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    *,
    source: SourceLike | None = None,
    split: str | None = None,
    plain_glyphs: str | None = None,
) -> Spec:
    """A Spec from a Spec or a preset name, with overrides, and ``source``/``split`` written into it.

    The source name is resolved to the version it means (plain ``glyphs`` -> the newest, ``glyphs@3``; or
    ``plain_glyphs`` when given: a resume of a dataset whose metadata says plain ``glyphs`` passes ``glyphs@1``), so
    that a dataset's metadata records the digits it was made with.
    """
    if isinstance(spec, str):
        spec = Spec.from_preset(spec, overrides)
    elif isinstance(spec, Spec):
        spec = spec.replace(overrides)
    else:
        raise SpecError("spec", type(spec).__name__, "a Spec or a preset name such as 'srivastava'")
    changes: dict[str, Any] = {}
    if source is not None:
        changes["source.name"] = source_name(source)
    if split is not None:
        changes["source.split"] = split
    name = changes.get("source.name", spec.source.name)
    resolved = plain_glyphs if name == "glyphs" and plain_glyphs is not None else resolve_source_name(name)
    if resolved != name:
        changes["source.name"] = resolved
    return spec.replace(changes)


class Generator:
    """Renders sequences of one dataset (spec + seed) by index, on CPU with numpy.

    >>> import movingmnist as mm
    >>> gen = mm.Generator("srivastava", seed=0, source="glyphs")
    >>> batch = gen.render(start=10, num=4)
    >>> batch.frames.shape
    (4, 20, 1, 64, 64)
    >>> bool((gen.render(start=12, num=1).frames[0] == batch.frames[2]).all())
    True

    Args:
        spec: a Spec or a preset name.
        seed: dataset seed (any integer in [0, 2**63); 0 is a seed like any other).
        source: overrides ``spec.source.name``: a name, a GlyphBank, or an (images, labels) pair.
        cache_dir: download cache for the MNIST family.
        batch_size: sequences rendered per internal step (bounds scratch memory); default: as many as keep the
            canvases of a step within a few MB of cache.
        kernel: the renderers' kernels: ``"auto"`` (numba when installed, else numpy), ``"numba"`` or ``"numpy"``.
            Both produce the same bytes.
        renderer: ``"auto"`` (the translation renderer for translation-only specs, the general renderer otherwise),
            ``"general"`` (the general renderer for any spec: a translation-only spec gives the same bytes either
            way) or ``"translation"`` (refused for specs that need the general renderer).
    """

    def __init__(
        self,
        spec: Spec | str,
        seed: int = 0,
        source: SourceLike | None = None,
        *,
        cache_dir: str | None = None,
        batch_size: int | None = None,
        kernel: str = "auto",
        renderer: str = "auto",
    ) -> None:
        self.spec = resolve_spec(spec, source=source)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= int(seed) < 2**63:
            raise SpecError("seed", seed, "an integer in [0, 2**63)")
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, 1)
        self.general = use_general(self.spec, renderer)
        resolved_kernel = resolve_kernel(kernel)
        self.seed = int(seed)
        src = source if source is not None and not isinstance(source, str) else self.spec.source.name
        self.bank: GlyphBank = load_source(
            src, self.spec.source.split, val_size=self.spec.source.val_size, cache_dir=cache_dir
        )
        self.glyphs: GlyphSet = glyph_set(self.bank, self.spec)
        self._check_fits()
        self.kernel = resolved_kernel
        self.renderer = make_renderer(self.spec, self.seed, self.glyphs, general=self.general, kernel=resolved_kernel)
        if batch_size is None:
            ann = self.spec.annotations
            canvases = self.spec.canvas.channels + int(ann.needs_ownership) + int(ann.semantic)
            per_sequence = canvases * self.spec.frames * self.spec.canvas.height * self.spec.canvas.width
            if not self.general:
                batch_size = int(np.clip(CACHE_BYTES // max(per_sequence, 1), 8, 512))
            elif self.kernel == "numpy":
                batch_size = int(np.clip(CACHE_BYTES // max(per_sequence, 1), 1, 64))
            elif self.spec.background.is_empty:
                # The fused kernels touch one frame at a time and stream it out: with no background plan to keep in
                # cache, a step as large as the latent block amortises the per-step numpy work best (affine: +8%).
                batch_size = int(np.clip(32 * CACHE_BYTES // max(per_sequence, 1), 1, LATENT_BLOCK))
            else:
                # Each step's background plan (static canvases, read every frame) should stay in cache.
                batch_size = int(np.clip(32 * CACHE_BYTES // max(per_sequence, 1), 1, 256))
            if ann.amodal_masks:
                batch_size = max(1, batch_size // max(1, spec_objects(self.spec)))
        self.batch_size = int(batch_size)

    # -- checks ---------------------------------------------------------------------------------------------------
    def _check_fits(self) -> None:
        spec = self.spec
        h, w = self.glyphs.glyph_hw
        if h > spec.canvas.height or w > spec.canvas.width:
            raise SpecError(
                "canvas",
                f"{spec.canvas.height}x{spec.canvas.width}",
                f"at least the glyph size {h}x{w} of source {self.bank.name!r} (or set objects.size)",
            )
        ann = spec.annotations
        if ann.semantic and ann.ignore_label < self.bank.num_classes:
            raise SpecError(
                "annotations.ignore_label",
                ann.ignore_label,
                f"a value that is not a class id of source {self.bank.name!r} (classes 0..{self.bank.num_classes - 1})",
            )

    # -- shapes ---------------------------------------------------------------------------------------------------
    @property
    def shapes(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Per-sequence shape and dtype of every array this generator produces."""
        spec = self.spec
        sizes = {
            "T": spec.frames,
            "C": spec.canvas.channels,
            "H": spec.canvas.height,
            "W": spec.canvas.width,
            "K": spec.objects.slots,
            "T-1": spec.frames - 1,
            "E": spec.annotations.max_events,
            "L": spec.annotations.caption_bytes,
        }
        wanted = self.array_names
        return {
            a.name: (tuple(sizes[d] if isinstance(d, str) else d for d in a.dims), np.dtype(a.dtype))
            for a in SCHEMA
            if a.name in wanted
        }

    @property
    def array_names(self) -> list[str]:
        ann = self.spec.annotations
        names = ["frames", "labels", "present", "occupied", "glyph_index"]
        for name in ("semantic", "instance", "boxes", "amodal_boxes", "visibility"):
            if getattr(ann, name):
                names.append(name)
        if ann.tracks:
            names.extend(TRACK_ARRAYS)
        for name in ("amodal_masks", "flow", "events"):
            if getattr(ann, name):
                names.append(name)
        if ann.captions != "none":
            names.append("captions")
        return [a.name for a in SCHEMA if a.name in names]

    @property
    def sequence_bytes(self) -> int:
        """Bytes of one sequence's arrays (all of :attr:`shapes`)."""
        return sum(math.prod(shape) * dtype.itemsize for shape, dtype in self.shapes.values())

    def check_memory(
        self, num: int, field: str = "num", lower: str | None = None, *, value: Any = None, what: str = "a batch"
    ) -> None:
        """Refuse (SpecError) ``num`` sequences in memory at once that the memory here cannot hold, naming the bytes
        they need and how to need fewer: ``field=value`` (default ``num``) is blamed, ``lower`` is the advice and
        ``what`` names the buffer. One sequence that does not fit blames the spec (frames, canvas, annotations)."""
        per = self.sequence_bytes
        spec = self.spec
        if per > memory_bytes():
            shapes = self.shapes.items()
            shapes = self.shapes.items()
            sizes = sorted(((math.prod(shape) * dt.itemsize, name) for name, (shape, dt) in shapes), reverse=True)
            largest = ", ".join(f"{name} {human_bytes(n)}" for n, name in sizes[:3])
            check_memory(
                "spec", f"{spec.frames} frames of {spec.canvas.height}x{spec.canvas.width}", per,
                f"one sequence ({largest}, ...)",
                "use fewer frames, a smaller canvas, or switch off the largest annotations "
                "(e.g. annotations.semantic=false, annotations.instance=false)",
            )
        check_memory(
            field, num if value is None else value, num * per, f"{what} of {num:,} sequences x {per:,} bytes",
            lower or "render fewer sequences per call (Generator.render(start, num) in parts), or write them with "
            "write_dataset, which renders a few at a time",
        )

    def allocate(self, num: int) -> Batch:
        """An output Batch for ``num`` sequences (reuse it across calls: fresh memory is slow to write).

        Raises:
            SpecError: when ``num`` is not an integer >= 0, or the batch would not fit in memory (naming the bytes).
        """
        num = check_int("num", num, 0)
        self.check_memory(num)
        # One piece of warm memory when the pool has one (movingmnist.warm): fresh pages cost far more to write.
        arrays = warm.carve({
            "index": ((num,), np.dtype(np.int64)),
            **{name: ((num, *shape), dtype) for name, (shape, dtype) in self.shapes.items()},
        })
        return Batch(**arrays)

    def metadata(self) -> dict[str, Any]:
        """Provenance recorded with every dataset."""
        from ._version import __version__

        return {
            "spec": self.spec.to_dict(),
            "fingerprint": self.spec.fingerprint,
            "seed": self.seed,
            "package": "movingmnist",
            "version": __version__,
            "source": {
                "name": self.bank.name,
                "split": self.bank.split,
                "num_glyphs": len(self.bank),
                "checksum": self.bank.checksum,
                "class_names": list(self.bank.class_names),
            },
        }

    # -- rendering ------------------------------------------------------------------------------------------------
    def render(self, start: int = 0, num: int = 1, out: Batch | None = None) -> Batch:
        """Sequences ``start .. start + num - 1``; written into ``out`` (allocated when None) and returned.

        Raises:
            SpecError: naming the argument, for a ``num`` or ``start`` that is not an integer in range (the last index
                must fit in 64 bits), a batch that would not fit in memory, or an ``out`` that does not fit.
        """
        num = check_int("num", num, 0, MAX_INDEX)
        start = check_int(
            "start", start, 0, MAX_INDEX - num,
            f"an integer in [0, 2**63-1-num] = [0, {MAX_INDEX - num}] (sequence indices start..start+num-1 are 64-bit)",
        )
        out = self.allocate(num) if out is None else self._check_out(out, num)
        block = self.latent_block
        with one_blas_thread():
            for lo in range(0, num, block):
                hi = min(num, lo + block)
                self._render_into(np.arange(start + lo, start + hi, dtype=np.int64), out, lo)
        if len(out) > num:
            out = out[:num]
        return out

    def render_indices(self, indices: Iterable[int], out: Batch | None = None) -> Batch:
        """Sequences at arbitrary indices (any order, repeats allowed).

        Raises:
            SpecError: for indices that are not a 1-D sequence of integers in [0, 2**63-2], a batch that would not
                fit in memory, or an ``out`` that does not fit.
        """
        indices = _index_array(indices)
        out = self.allocate(len(indices)) if out is None else self._check_out(out, len(indices))
        block = self.latent_block
        with one_blas_thread():
            for lo in range(0, len(indices), block):
                self._render_into(indices[lo : lo + block], out, lo)
        return out

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        """Sequence ``index`` as a dict of arrays without a batch axis."""
        index = check_int("index", index, 0, MAX_INDEX - 1, f"an integer sequence index in [0, {MAX_INDEX - 1}] "
                          "(render_indices renders several)")
        return self.render_indices([index]).sequence(0)

    def _check_out(self, out: Any, num: int) -> Batch:
        """``out`` when it is a Batch of at least ``num`` sequences with this generator's arrays, shapes and dtypes."""
        allowed = f"a Batch of at least {num} sequences from Generator.allocate(n) (shapes and dtypes as .shapes)"
        if not isinstance(out, Batch):
            raise SpecError("out", type(out).__name__, allowed)
        if len(out) < num:
            raise SpecError("out", f"a batch of {len(out)}", f"a batch of at least num={num} sequences")
        for name, (shape, dtype) in self.shapes.items():
            array = getattr(out, name)
            want = (len(out), *shape)
            if not isinstance(array, np.ndarray) or array.shape != want or array.dtype != dtype:
                found = "missing" if array is None else f"{getattr(array, 'dtype', type(array).__name__)} " \
                    f"{tuple(getattr(array, 'shape', ()))}"
                raise SpecError(f"out.{name}", found, f"{dtype} {want}",
                                message=f"out.{name} is {found}, not {dtype} {want}: out must be {allowed}")
        index = out.index
        if not isinstance(index, np.ndarray) or index.shape != (len(out),) or index.dtype != np.int64:
            raise SpecError("out.index", shown(index), f"int64 ({len(out)},) ({allowed})")
        return out

    def tracks(self, index: np.ndarray, num_frames: int | None = None) -> Tracks:
        """The tracks of sequences ``index (B,)`` over ``num_frames`` frames (default T), as the renderer draws
        them."""
        index = np.asarray(index, dtype=np.int64)
        return simulate_tracks(self.spec, self.seed, index, self.glyphs, num_frames or self.spec.frames, self.general)

    def scene(self, index: np.ndarray) -> Scene:
        """The latents of sequences ``index (B,)``."""
        return self.tracks(index, 1).scene

    def positions(self, index: np.ndarray, num_frames: int | None = None) -> np.ndarray:
        """Top-left (x, y) of each untransformed glyph box: ``(B, T, K, 2)`` int64 (translation-only specs; the
        general path has whole poses, :meth:`tracks`)."""
        tracks = simulate_tracks(
            self.spec, self.seed, np.asarray(index, dtype=np.int64), self.glyphs, num_frames or self.spec.frames, False
        )
        return tracks.topleft

    @property
    def latent_block(self) -> int:
        """Sequences whose tracks are simulated together: at least :data:`LATENT_BLOCK` (the latents' per-call
        cost is mostly fixed), drawn in steps of ``batch_size`` (canvases that stay in cache)."""
        return max(self.batch_size, LATENT_BLOCK)

    def _render_into(self, index: np.ndarray, out: Batch, offset: int) -> None:
        spec = self.spec
        views = {name: array[offset : offset + len(index)] for name, array in out.arrays().items()}
        views["index"] = out.index[offset : offset + len(index)]
        t1 = spec.simulated_frames
        tracks = simulate_tracks(spec, self.seed, index, self.glyphs, t1, self.general)
        write_tracks(tracks, spec, views)
        for lo in range(0, len(index), self.batch_size):
            hi = min(len(index), lo + self.batch_size)
            plan = None
            if self.general and not spec.background.is_empty:
                plan = plan_background(
                    spec, self.seed, index[lo:hi], t1, paint=self.renderer.paint_shapes,
                    masks=self.renderer.shape_masks, boxes=self.renderer.skimage_boxes,
                )
            self.renderer.draw(tracks.rows(lo, hi), plan, {name: view[lo:hi] for name, view in views.items()})
        finish_tracks(tracks, spec, views, self.bank.class_names)


def _index_array(indices: Any) -> np.ndarray:
    """``indices`` as a 1-D int64 array, or a SpecError naming what is wrong with them."""
    if isinstance(indices, np.ndarray):
        if indices.ndim != 1 or (indices.dtype.kind not in "iu" and indices.size):
            raise SpecError("indices", f"an array of {indices.dtype} {indices.shape}", f"a 1-D array of {_INDICES}")
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) > MAX_INDEX - 1):
            bad = int(indices.min()) if int(indices.min()) < 0 else int(indices.max())
            raise SpecError("indices", bad, _INDICES)
        return indices.astype(np.int64, copy=False)
    if isinstance(indices, (str, bytes)) or not isinstance(indices, Iterable):
        raise SpecError("indices", indices, f"a sequence of {_INDICES} (gen[i] renders one)")
    values = list(indices)
    for value in values:
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not 0 <= value <= MAX_INDEX - 1:
            raise SpecError("indices", value, _INDICES)
    return np.asarray(values, dtype=np.int64).reshape(len(values))


def spec_objects(spec: Spec) -> int:
    return spec.objects.slots


def generate(
    spec: Spec | str,
    num: int,
    seed: int = 0,
    *,
    source: SourceLike | None = None,
    split: str | None = None,
    start: int = 0,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    **fields: Any,
) -> Batch:
    """Sequences ``start .. start + num - 1`` of a dataset, in memory.

    >>> import movingmnist as mm
    >>> b = mm.generate("stochastic", num=8, seed=3, source="glyphs")
    >>> b.frames.shape, b.labels.shape
    ((8, 15, 1, 64, 64), (8, 2))

    Args:
        spec: a preset name (``"srivastava"``, ``"srivastava@1"``) or a Spec.
        num: number of sequences. seed: dataset seed.
        source: a source name (``"glyphs"`` works offline), a GlyphBank or an (images, labels) pair.
        split: ``train``, ``val`` or ``test`` (default: the spec's).
        start: index of the first sequence.
        overrides: dotted overrides, ``{"motion.speed": "2..6"}`` or ``["objects.count=1..3"]``.
        **fields: more overrides as keywords; ``__`` stands for a dot (``objects__count="1..3"``, ``frames=30``).
    """
    merged: dict[str, Any] = {}
    if overrides:
        from .spec import parse_overrides

        merged.update(parse_overrides(overrides))
    merged.update({key.replace("__", "."): value for key, value in fields.items()})
    num = check_int("num", num, 1, MAX_INDEX)
    start = check_int(
        "start", start, 0, MAX_INDEX - num,
        f"an integer in [0, 2**63-1-num] = [0, {MAX_INDEX - num}] (sequence indices start..start+num-1 are 64-bit)",
    )
    resolved = resolve_spec(spec, merged, source=source, split=split)
    generator = Generator(resolved, seed=seed, source=source)
    return generator.render(start=start, num=num)
