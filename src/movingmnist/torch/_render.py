"""Batches on a device in one call, and the shared plumbing of the datasets (generator cache, item formats)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from ..errors import SpecError
from ..generator import SourceLike, resolve_spec
from ..sources import GlyphBank
from ..spec import Spec
from .generator import TorchGenerator, default_device

RETURNS = ("dict", "frames")


def frames_only(spec: Spec) -> Spec:
    """``spec`` with every annotation switched off: the same frames, rendered faster."""
    return spec.frames_only()


def build_spec(
    spec: Spec | str,
    *,
    source: SourceLike | None = None,
    split: str | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    returns: str = "dict",
) -> Spec:
    """The resolved Spec a dataset or batch call renders (annotations off when only frames are returned)."""
    if returns not in RETURNS:
        raise SpecError("returns", returns, "one of 'dict' (frames and annotations) or 'frames'")
    resolved = resolve_spec(spec, overrides, source=source, split=split)
    return frames_only(resolved) if returns == "frames" else resolved


def check_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype != torch.uint8 and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise SpecError("dtype", dtype, "torch.uint8 (frames as stored) or a floating dtype (frames / 255)")
    return dtype


def convert_frames(frames: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """uint8 frames as ``dtype``: unchanged for uint8, ``frames / 255`` for a floating dtype."""
    if dtype == torch.uint8:
        return frames
    return frames.to(dtype).div_(255.0)


def split_items(batch: dict[str, torch.Tensor], returns: str, transform=None) -> list[Any]:
    """Per-sequence items (views into the batch) in the dataset's item format, each passed through ``transform``."""
    num = int(batch["index"].shape[0])
    if returns == "frames":
        items: list[Any] = list(batch["frames"].unbind(0))
    else:
        names = list(batch)
        columns = [batch[name].unbind(0) for name in names]
        items = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)] if num else []
    if transform is not None:
        items = [transform(item) for item in items]
    return items


def source_key(source: SourceLike | None) -> object:
    """A hashable key for a source: its name, a bank's checksum, or the identity of an (images, labels) pair."""
    if source is None or isinstance(source, str):
        return source
    if isinstance(source, GlyphBank):
        return ("bank", source.checksum, source.split)
    images, labels = source
    return ("arrays", id(images), id(labels))


_CACHE: OrderedDict[tuple, tuple[object, TorchGenerator]] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def cached_generator(
    spec: Spec,
    seed: int,
    source: SourceLike | None,
    device: torch.device,
    kernels: str = "auto",
    cache_dir: str | None = None,
    compile: bool = False,
) -> TorchGenerator:
    """A TorchGenerator per (spec, seed, source, device, kernels, compile), kept in a small LRU cache (the glyph
    bank is loaded and uploaded once)."""
    key = (spec.to_json(), int(seed), source_key(source), str(device), kernels, cache_dir, bool(compile))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit[1]
    src = source if source is not None and not isinstance(source, str) else None
    gen = TorchGenerator(
        spec, seed=seed, source=src, device=device, kernels=kernels, cache_dir=cache_dir, compile=compile
    )
    with _CACHE_LOCK:
        _CACHE[key] = (source, gen)  # the source reference keeps id()-based keys valid
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return gen


def get_batch(
    spec: Spec | str,
    batch_size: int,
    device: torch.device | str | None = None,
    start: int = 0,
    seed: int = 0,
    source: SourceLike | None = None,
    *,
    split: str | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    indices: torch.Tensor | Iterable[int] | None = None,
    returns: str = "dict",
    dtype: torch.dtype = torch.uint8,
    kernels: str = "auto",
    out: dict[str, torch.Tensor] | None = None,
    cache_dir: str | None = None,
    compile: bool = False,
) -> dict[str, torch.Tensor] | torch.Tensor:
    """Sequences ``start .. start + batch_size - 1`` of a dataset rendered on ``device`` in one call.

    >>> import numpy as np, torch
    >>> import movingmnist.torch as mmt
    >>> images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    >>> b = mmt.get_batch("srivastava", 8, device="cpu", source=(images, np.arange(50) % 10))
    >>> tuple(b["frames"].shape), b["frames"].dtype, tuple(b["labels"].shape)
    ((8, 20, 1, 64, 64), torch.uint8, (8, 2))

    Args:
        spec: a preset name or a Spec. batch_size: number of sequences.
        device: torch device (default: cuda when available, else cpu).
        start: index of the first sequence (ignored when ``indices`` is given). seed: dataset seed.
        source: a source name, a GlyphBank or an (images, labels) pair (overrides the spec's source).
        split, overrides: as :func:`movingmnist.generate`.
        indices: explicit sequence indices (a tensor stays on its device).
        returns: ``dict`` (frames and every annotation, plus ``index``) or ``frames`` (only the frames tensor,
            rendered without annotations).
        dtype: frames dtype: ``torch.uint8`` or a floating dtype (frames / 255).
        kernels: ``auto``, ``torch`` or ``numpy`` (see :class:`~movingmnist.torch.TorchGenerator`).
        out: output tensors from a previous call with the same spec and size, reused (fresh memory is slow to
            write on CPU).
        compile: fuse the general renderer's patch sampling with ``torch.compile`` (specs with rotation, scale,
            backgrounds...; the first call compiles for tens of seconds, later calls reuse it; same bytes). Worth
            it on a GPU; no effect on translation-only specs or with ``kernels="numpy"``.

    Returns:
        A dict of tensors with a leading batch axis: frames ``(B, T, C, H, W)``, labels ``(B, K)``, boxes
        ``(B, T, K, 4)``, ... (the schema of :data:`movingmnist.SCHEMA`), or the frames tensor alone.
    """
    check_dtype(dtype)
    resolved = build_spec(spec, source=source, split=split, overrides=overrides, returns=returns)
    dev = torch.device(device) if device is not None else default_device()
    gen = cached_generator(resolved, seed, source, dev, kernels, cache_dir, compile)
    if indices is None:
        if batch_size < 0 or start < 0:
            raise SpecError("start/batch_size", (start, batch_size), "non-negative integers")
        indices = torch.arange(start, start + batch_size, dtype=torch.int64, device=dev)
    elif not isinstance(indices, torch.Tensor):
        indices = np.asarray(list(indices), dtype=np.int64)
    batch = gen.render_indices(indices, out=out)
    batch["frames"] = convert_frames(batch["frames"], dtype)
    return batch["frames"] if returns == "frames" else batch
