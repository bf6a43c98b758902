"""PyTorch datasets: map-style (index = sequence), iterable (endless, sharded), and file-backed.

All three render or read whole batches at once: the map-style and file-backed datasets implement
``__getitems__``, which torch's DataLoader calls with the indices of a batch, so a batch is one vectorised call
rather than one call per sequence.

Items are a dict of tensors per sequence (``returns="dict"``: frames ``(T, C, H, W)`` and every annotation, plus
``index``, the sequence index) or the frames tensor alone (``returns="frames"``; annotations are then not
rendered at all). Frames are uint8 unless ``dtype`` is a floating dtype (then frames / 255).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from ..errors import SpecError
from ..generator import SourceLike
from ..spec import Spec
from ._render import RETURNS, build_spec, check_dtype, convert_frames, split_items
from .generator import TorchGenerator

Transform = Callable[[Any], Any]


class _Rendering:
    """What the generating datasets share: the resolved spec, a lazily built generator, item formatting."""

    def __init__(
        self,
        spec: Spec | str,
        seed: int,
        *,
        source: SourceLike | None,
        split: str | None,
        overrides: Mapping[str, Any] | Iterable[str] | None,
        returns: str,
        transform: Transform | None,
        dtype: torch.dtype,
        device: torch.device | str,
        kernels: str,
        cache_dir: str | None,
        compile: bool = False,
    ) -> None:
        self.spec = build_spec(spec, source=source, split=split, overrides=overrides, returns=returns)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= int(seed) < 2**63:
            raise SpecError("seed", seed, "an integer in [0, 2**63)")
        self.seed = int(seed)
        self.source = source if source is not None and not isinstance(source, str) else None
        self.returns = returns
        self.transform = transform
        self.dtype = check_dtype(dtype)
        self.device = torch.device(device)
        self.kernels = kernels
        self.cache_dir = cache_dir
        self.compile = bool(compile)
        self._generator: TorchGenerator | None = None
        self._pid = os.getpid()

    @property
    def generator(self) -> TorchGenerator:
        """The renderer, built on first use in each process (worker processes build their own)."""
        if self._generator is None or self._pid != os.getpid():
            self._generator = TorchGenerator(
                self.spec,
                seed=self.seed,
                source=self.source,
                device=self.device,
                kernels=self.kernels,
                cache_dir=self.cache_dir,
                compile=self.compile,
            )
            self._pid = os.getpid()
        return self._generator

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_generator"] = None  # rebuilt in the worker: sources reload from their cache, buffers are per process
        return state

    def _render_items(self, sequence_indices: Sequence[int] | np.ndarray) -> list[Any]:
        batch = self.generator.render_indices(np.asarray(sequence_indices, dtype=np.int64))
        batch["frames"] = convert_frames(batch["frames"], self.dtype)
        return split_items(batch, self.returns, self.transform)

    def _render_batch(self, sequence_indices: np.ndarray) -> Any:
        batch = self.generator.render_indices(sequence_indices)
        batch["frames"] = convert_frames(batch["frames"], self.dtype)
        if self.returns == "frames":
            batch = batch["frames"]
        return self.transform(batch) if self.transform is not None else batch


class MovingMNISTDataset(_Rendering, Dataset):
    """A map-style dataset of ``num`` sequences: item ``i`` is sequence ``start + epoch * num + i``.

    Deterministic: the same (spec, seed, epoch, i) gives the same bytes in any process, worker or batch.
    :meth:`set_epoch` moves to a fresh, equally reproducible block of sequences (call it before each epoch, as
    with ``DistributedSampler``; with ``persistent_workers=True`` the workers keep the epoch they started with).

    >>> import numpy as np, torch
    >>> from movingmnist.torch import MovingMNISTDataset
    >>> images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    >>> ds = MovingMNISTDataset("srivastava", num=100, source=(images, np.arange(50) % 10), device="cpu")
    >>> len(ds), tuple(ds[3]["frames"].shape), int(ds[3]["index"])
    (100, (20, 1, 64, 64), 3)
    >>> loader = torch.utils.data.DataLoader(ds, batch_size=16)
    >>> tuple(next(iter(loader))["frames"].shape)
    (16, 20, 1, 64, 64)

    Args:
        spec: a preset name or a Spec. num: number of sequences per epoch. seed: dataset seed.
        source: a source name, a GlyphBank or an (images, labels) pair. split, overrides: as
            :func:`movingmnist.generate`.
        returns: ``dict`` or ``frames``. transform: applied to each item. dtype: frames dtype.
        start: index of the first sequence of epoch 0 (e.g. keep a validation set apart from training).
        device: where items are rendered (the default CPU suits DataLoader workers; for a GPU prefer
            :func:`movingmnist.torch.get_batch` or ``num_workers=0``).
        kernels: ``auto``, ``torch`` or ``numpy`` (see :class:`~movingmnist.torch.TorchGenerator`).
        compile: ``torch.compile`` the general renderer's sampling (see :func:`movingmnist.torch.get_batch`).
    """

    def __init__(
        self,
        spec: Spec | str,
        num: int,
        seed: int = 0,
        source: SourceLike | None = None,
        returns: str = "dict",
        transform: Transform | None = None,
        dtype: torch.dtype = torch.uint8,
        *,
        split: str | None = None,
        overrides: Mapping[str, Any] | Iterable[str] | None = None,
        start: int = 0,
        device: torch.device | str = "cpu",
        kernels: str = "auto",
        cache_dir: str | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(
            spec,
            seed,
            source=source,
            split=split,
            overrides=overrides,
            returns=returns,
            transform=transform,
            dtype=dtype,
            device=device,
            kernels=kernels,
            cache_dir=cache_dir,
            compile=compile,
        )
        if not isinstance(num, (int, np.integer)) or num < 0:
            raise SpecError("num", num, "a non-negative integer")
        if start < 0:
            raise SpecError("start", start, "a non-negative integer")
        self.num = int(num)
        self.start = int(start)
        self._epoch = 0

    @property
    def epoch(self) -> int:
        return self._epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise SpecError("epoch", value, "a non-negative integer")
        self._epoch = int(value)

    def set_epoch(self, epoch: int) -> None:
        """Item ``i`` becomes sequence ``start + epoch * num + i``."""
        self.epoch = epoch

    def sequence_index(self, i: int) -> int:
        """The sequence index behind item ``i`` in the current epoch."""
        if not -self.num <= i < self.num:
            raise IndexError(f"index {i} is out of range for a dataset of {self.num} sequences")
        return self.start + self._epoch * self.num + (i % self.num)

    def __len__(self) -> int:
        return self.num

    def __getitem__(self, i: int) -> Any:
        return self._render_items([self.sequence_index(int(i))])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """The items of a whole batch, rendered in one vectorised call (used by torch's DataLoader)."""
        return self._render_items([self.sequence_index(int(i)) for i in indices])

    def __repr__(self) -> str:
        return (
            f"MovingMNISTDataset(spec={self.spec.preset or self.spec.fingerprint!r}, num={self.num}, seed={self.seed}, "
            f"epoch={self._epoch}, returns={self.returns!r}, device={str(self.device)!r})"
        )


def shard_info(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """``(shard, num_shards)`` of the calling process: distributed rank x DataLoader worker.

    ``rank``/``world_size`` default to torch.distributed's when it is initialised, else 0 and 1.
    """
    if rank is None or world_size is None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            rank = dist.get_rank() if rank is None else rank
            world_size = dist.get_world_size() if world_size is None else world_size
        else:
            rank = 0 if rank is None else rank
            world_size = 1 if world_size is None else world_size
    if not 0 <= rank < world_size:
        raise SpecError("rank", rank, f"an integer in [0, world_size={world_size})")
    info = get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    return rank * workers + worker, world_size * workers


class MovingMNISTIterableDataset(_Rendering, IterableDataset):
    """A stream of sequences ``start, start + 1, ...`` (endless unless ``stop``), split across DataLoader workers and
    distributed ranks without overlap: shard ``s`` of ``S`` (S = world_size x num_workers, s = rank x num_workers
    + worker id) takes indices ``start + s, start + s + S, ...``. Every index in ``[start, stop)`` is produced
    exactly once over all shards.

    Sequences are rendered ``chunk`` at a time per shard (one vectorised call). With ``batch_size`` the stream
    yields whole batches (use ``DataLoader(ds, batch_size=None)``), otherwise single items.

    Args:
        spec, seed, source, split, overrides, returns, transform, dtype, device, kernels, compile: as
            :class:`MovingMNISTDataset` (``transform`` is applied to batches when ``batch_size`` is set).
        start, stop: index range (``stop=None``: endless).
        rank, world_size: this process's place in a distributed job (default: torch.distributed's, else 0 of 1).
    """

    def __init__(
        self,
        spec: Spec | str,
        seed: int = 0,
        source: SourceLike | None = None,
        returns: str = "dict",
        transform: Transform | None = None,
        dtype: torch.dtype = torch.uint8,
        *,
        start: int = 0,
        stop: int | None = None,
        batch_size: int | None = None,
        chunk: int = 64,
        rank: int | None = None,
        world_size: int | None = None,
        split: str | None = None,
        overrides: Mapping[str, Any] | Iterable[str] | None = None,
        device: torch.device | str = "cpu",
        kernels: str = "auto",
        cache_dir: str | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(
            spec,
            seed,
            source=source,
            split=split,
            overrides=overrides,
            returns=returns,
            transform=transform,
            dtype=dtype,
            device=device,
            kernels=kernels,
            cache_dir=cache_dir,
            compile=compile,
        )
        if start < 0 or (stop is not None and stop < start):
            raise SpecError("start/stop", (start, stop), "0 <= start <= stop (stop=None: endless)")
        if batch_size is not None and batch_size < 1:
            raise SpecError("batch_size", batch_size, "None (single items) or an integer >= 1")
        if chunk < 1:
            raise SpecError("chunk", chunk, "an integer >= 1")
        self.start, self.stop = int(start), None if stop is None else int(stop)
        self.batch_size = batch_size
        self.chunk = int(chunk)
        self.rank, self.world_size = rank, world_size

    def shard_indices(self) -> Iterator[np.ndarray]:
        """This shard's sequence indices, in blocks (``batch_size`` or ``chunk`` long; the last may be shorter)."""
        shard, shards = shard_info(self.rank, self.world_size)
        block = self.batch_size or self.chunk
        first = self.start + shard
        while self.stop is None or first < self.stop:
            indices = first + shards * np.arange(block, dtype=np.int64)
            if self.stop is not None:
                indices = indices[indices < self.stop]
            yield indices
            first += shards * block

    def __iter__(self) -> Iterator[Any]:
        for indices in self.shard_indices():
            if self.batch_size is not None:
                yield self._render_batch(indices)
            else:
                yield from self._render_items(indices)

    def __len__(self) -> int:
        """Items (or batches) this shard yields; only for a finite stream."""
        if self.stop is None:
            raise TypeError("an endless MovingMNISTIterableDataset (stop=None) has no length")
        shard, shards = shard_info(self.rank, self.world_size)
        items = max(0, -(-(self.stop - self.start - shard) // shards))
        return items if self.batch_size is None else -(-items // self.batch_size)


def _open_default(path: str, storage_options: Mapping[str, Any] | None = None) -> Any:
    import movingmnist

    opener = getattr(movingmnist, "open", None)
    if opener is None:
        raise SpecError("path", path, "a dataset readable by movingmnist.open, which this installation lacks")
    return opener(path) if storage_options is None else opener(path, storage_options=storage_options)


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    array = np.asarray(array)
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.ascontiguousarray(array).copy()
    return torch.from_numpy(array)


class MovingMNISTFileDataset(Dataset):
    """A dataset written to disk (anything :func:`movingmnist.open` reads), as a map-style torch Dataset.

    The file is opened lazily in each process that reads it (on first access, and again after a fork), so it is
    safe with DataLoader worker processes; the length is read once in the parent and the handle dropped before
    the dataset is pickled. A batch of consecutive indices is read as one slice.

    Args:
        path: what :func:`movingmnist.open` accepts (a zarr dataset's URL on object storage too, e.g.
            ``s3://bucket/train.zarr``). returns: ``dict`` (every stored array, plus ``index``) or ``frames``.
            transform: applied to each item. dtype: frames dtype.
        keys: the arrays to return (default: all).
        opener: the function that opens ``path`` (default :func:`movingmnist.open`).
        storage_options: for a URL, passed to :func:`movingmnist.open` (endpoint, credentials; default: fsspec's
            configuration and environment). They are pickled with the dataset into DataLoader workers.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        returns: str = "dict",
        transform: Transform | None = None,
        dtype: torch.dtype = torch.uint8,
        *,
        keys: Sequence[str] | None = None,
        opener: Callable[[str], Any] | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if returns not in RETURNS:
            raise SpecError("returns", returns, "one of 'dict' or 'frames'")
        self.path = os.fspath(path)
        self.returns = returns
        self.transform = transform
        self.dtype = check_dtype(dtype)
        self.keys = None if keys is None else tuple(keys)
        self.opener = opener
        if storage_options is not None and opener is not None:
            raise SpecError("storage_options", storage_options, "None with an opener (pass them to the opener)")
        self.storage_options = None if storage_options is None else dict(storage_options)
        self._reader: Any = None
        self._pid: int | None = None
        reader = self._open()
        self._len = len(reader)
        self._close()

    def _open(self) -> Any:
        if self._reader is None or self._pid != os.getpid():
            if self.opener is not None:
                self._reader = self.opener(self.path)
            else:
                self._reader = _open_default(self.path, self.storage_options)
            self._pid = os.getpid()
        return self._reader

    def _close(self) -> None:
        reader, self._reader = self._reader, None
        close = getattr(reader, "close", None)
        if callable(close) and self._pid == os.getpid():
            close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_reader"] = None
        state["_pid"] = None
        return state

    def __len__(self) -> int:
        return self._len

    def _item(self, arrays: Mapping[str, Any], index: int) -> Any:
        tensors = {
            name: _to_tensor(value)
            for name, value in arrays.items()
            if value is not None and (self.keys is None or name in self.keys or name == "frames")
        }
        tensors["frames"] = convert_frames(tensors["frames"], self.dtype)
        if self.returns == "frames":
            item: Any = tensors["frames"]
        else:
            tensors["index"] = torch.tensor(index, dtype=torch.int64)
            item = tensors
        return self.transform(item) if self.transform is not None else item

    def __getitem__(self, i: int) -> Any:
        i = int(i)
        if not -self._len <= i < self._len:
            raise IndexError(f"index {i} is out of range for a dataset of {self._len} sequences")
        i %= self._len
        return self._item(self._open()[i], i)

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """A batch of items; consecutive ascending indices are read as one slice."""
        idx = [int(i) % self._len if -self._len <= int(i) < self._len else None for i in indices]
        if any(i is None for i in idx):
            raise IndexError(f"an index of {list(indices)} is out of range for a dataset of {self._len} sequences")
        if not idx:
            return []
        first, last = idx[0], idx[-1]
        if idx == list(range(first, last + 1)):
            batch = self._open()[first : last + 1]
            arrays = batch.arrays() if hasattr(batch, "arrays") else dict(batch)
            return [self._item({n: a[j] for n, a in arrays.items()}, first + j) for j in range(len(idx))]
        return [self[i] for i in idx]
