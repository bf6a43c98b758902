"""A Lightning ``LightningDataModule`` over the torch datasets.

Needs the ``lightning`` extra (``pip install "movingmnist[lightning]"``)::

    from movingmnist.lightning import MovingMNISTDataModule
    dm = MovingMNISTDataModule("srivastava", num_train=10_000, batch_size=32, num_workers=4)
    trainer.fit(model, datamodule=dm)

Generated splits are rendered on the fly under one seed, each from its own block of sequence indices
(:data:`SPLIT_STARTS`) and its own split of the digit source (``source.split`` train, val, test), so no two splits
share a sequence or a digit image. Training epoch ``e`` shows sequences ``e * num_train .. (e + 1) * num_train - 1``:
new sequences every epoch, while validation and test stay fixed. Splits written to disk are read with
:class:`~movingmnist.torch.MovingMNISTFileDataset`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import SpecError, require

_pl = require("lightning.pytorch", "lightning", "movingmnist.lightning")

import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset, Subset  # noqa: E402

from .generator import SourceLike, resolve_spec  # noqa: E402
from .sources import load_source  # noqa: E402
from .spec import Spec  # noqa: E402
from .torch import MovingMNISTDataset, MovingMNISTFileDataset, MovingMNISTIterableDataset  # noqa: E402
from .torch.datasets import Transform  # noqa: E402

SPLITS = ("train", "val", "test")
#: First sequence index of each generated split. One seed, three blocks that never meet: training epoch ``e`` is
#: ``[e * num_train, (e + 1) * num_train)``, below ``2**62`` for any feasible run; validation and test are fixed
#: blocks of up to ``2**61`` sequences. (A seed offset per split would not do: seed 1's training split would be seed
#: 0's validation split.)
SPLIT_STARTS = {"train": 0, "val": 2**62, "test": 3 * 2**61}
#: Sizes of the generated splits when ``num_train`` / ``num_val`` / ``num_test`` are not given.
DEFAULT_SIZES = {"train": 10_000, "val": 1_000, "test": 1_000}


class _TrainStream(MovingMNISTIterableDataset):
    """The generated training split of one process: the stream of :class:`MovingMNISTIterableDataset` over one
    epoch's block of ``num`` sequences, split across this rank's ``num_workers`` DataLoader workers and the
    ``world_size`` ranks by the stream's own sharding (shard ``rank * workers + worker`` of ``world_size * workers``).

    With more than one rank, each block is cut to a multiple of ``world_size * workers`` sequences (the remainder,
    fewer than that, is skipped), so every shard holds as many sequences and every rank runs as many steps.
    """

    def __init__(self, *args: Any, num: int, num_workers: int, rank: int, world_size: int, **kwargs: Any) -> None:
        super().__init__(*args, start=0, stop=0, rank=rank, world_size=world_size, **kwargs)
        self.num = num
        self.workers = max(1, num_workers)

    @property
    def usable(self) -> int:
        """Sequences of a block this job serves (all ``num``, or a multiple of ``world_size * workers`` below it)."""
        shards = self.world_size * self.workers
        return self.num if self.world_size == 1 else self.num // shards * shards

    def set_block(self, first: int) -> None:
        """Serve sequences ``first .. first + num - 1`` (this process's share of them) from the next iteration on."""
        if first + self.usable > SPLIT_STARTS["val"]:
            raise SpecError(
                "epoch", first // max(1, self.num), f"an epoch whose sequences lie below 2**62 (first {first})"
            )
        self.start, self.stop = first, first + self.usable

    def num_batches(self, batch_size: int) -> int:
        """Batches a DataLoader with this process's ``num_workers`` yields per block (each worker batches its own
        share; the same for every block, also before the first)."""
        shards = self.world_size * self.workers
        total = 0
        for worker in range(self.workers):
            shard = self.rank * self.workers + worker
            items = max(0, -(-(self.usable - shard) // shards))
            total += -(-items // batch_size)
        return total


class _EpochLoader(DataLoader):
    """A DataLoader over a :class:`_TrainStream` that moves the stream to the next epoch's block each time it is
    iterated, before its worker processes start (they take a copy of the stream as it is then)."""

    def __init__(self, dataset: _TrainStream, *, next_block: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self._next_block = next_block

    def __iter__(self):
        self.dataset.set_block(self._next_block())
        return super().__iter__()

    def __len__(self) -> int:
        return self.dataset.num_batches(self.batch_size)


class MovingMNISTDataModule(_pl.LightningDataModule):
    """Training, validation and test data for a Lightning ``Trainer``: generated on the fly, or read from disk.

    A split is read from disk when its path is given, else generated from its spec when its size is not 0
    (without a spec, a split that has no path is absent). Generated splits share ``seed`` and never share a
    sequence: each renders its own block of indices (:data:`SPLIT_STARTS`) with its own ``source.split``. When
    validation is generated from a spec that keeps no validation digits (``source.val_size=0``, as the classic
    presets do), ``source.val_size`` becomes ``None`` in every generated split: the last sixth of the training
    digits (MNIST's last 10,000) are held out for validation, and never drawn in training.

    The generated training split shows new sequences in every epoch: each iteration of its DataLoader (one per
    epoch) serves the next ``num_train`` sequences, so epoch ``e`` is ``[e * num_train, (e + 1) * num_train)``.
    :meth:`state_dict` keeps that schedule (Lightning stores it in checkpoints, so a resumed Trainer continues with
    the next block). Validation and test are the same sequences every time. Training sequences are split across
    DataLoader workers and distributed ranks without overlap (rank and world size from the Trainer); under DDP
    validation and test use Lightning's distributed sampler. A training split read from disk is shuffled each epoch.

    >>> from movingmnist.lightning import MovingMNISTDataModule
    >>> dm = MovingMNISTDataModule("srivastava", num_train=8, num_val=4, batch_size=4, source="glyphs")
    >>> train = dm.train_dataloader()
    >>> [batch["index"].tolist() for batch in train]  # epoch 0
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    >>> [batch["index"].tolist() for batch in train]  # epoch 1: new sequences
    [[8, 9, 10, 11], [12, 13, 14, 15]]
    >>> [batch["index"].tolist() for batch in dm.val_dataloader()] == [[2**62, 2**62 + 1, 2**62 + 2, 2**62 + 3]]
    True
    >>> dm.state_dict()
    {'epoch': 2, 'next_index': 16}

    Args:
        spec: a preset name or a Spec, for every generated split (``None``: only splits with a path).
        val_spec, test_spec: the spec of validation / test when it differs from ``spec``.
        train_path, val_path, test_path: a dataset written to disk (anything :func:`movingmnist.open` reads).
        num_train, num_val, num_test: sequences per epoch of each split. Generated: default 10,000, 1,000 and
            1,000 (``0``: no such split). Read from disk: the first ``num`` sequences (default all).
        batch_size, num_workers, pin_memory: as ``torch.utils.data.DataLoader``, for every split.
        seed: the seed of every generated split. source, overrides, cache_dir: as :func:`movingmnist.generate`.
        returns: ``dict`` (frames, every annotation and ``index``) or ``frames``. transform: applied to each
            item of every split (e.g. ``dataset_stats(...).normalize()``). dtype: frames dtype.
        device: where generated splits are rendered (a GPU needs ``num_workers=0`` and ``pin_memory=False``).
        kernels, compile: as :class:`~movingmnist.torch.MovingMNISTDataset`.
    """

    def __init__(
        self,
        spec: Spec | str | None = "srivastava",
        *,
        val_spec: Spec | str | None = None,
        test_spec: Spec | str | None = None,
        train_path: str | os.PathLike[str] | None = None,
        val_path: str | os.PathLike[str] | None = None,
        test_path: str | os.PathLike[str] | None = None,
        num_train: int | None = None,
        num_val: int | None = None,
        num_test: int | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
        source: SourceLike | None = None,
        overrides: Mapping[str, Any] | Iterable[str] | None = None,
        returns: str = "dict",
        transform: Transform | None = None,
        dtype: torch.dtype = torch.uint8,
        device: torch.device | str = "cpu",
        kernels: str = "auto",
        cache_dir: str | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__()
        for name, value, low in (("batch_size", batch_size, 1), ("num_workers", num_workers, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise SpecError(name, value, f"an integer >= {low}")
        self.device = torch.device(device)
        if self.device.type != "cpu" and (num_workers or pin_memory):
            raise SpecError(
                "device",
                str(self.device),
                "'cpu' with num_workers > 0 or pin_memory=True (render on a GPU in the main process: num_workers=0, "
                "pin_memory=False)",
            )
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, bool(pin_memory)
        self.seed, self.source, self.returns, self.transform, self.dtype = seed, source, returns, transform, dtype
        self.kernels, self.cache_dir, self.compile = kernels, cache_dir, compile
        paths = {"train": train_path, "val": val_path, "test": test_path}
        sizes = {"train": num_train, "val": num_val, "test": num_test}
        for split, size in sizes.items():
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise SpecError(f"num_{split}", size, "None (the default size) or an integer >= 0")
        self.paths = {split: os.fspath(path) for split, path in paths.items() if path is not None}
        specs = {
            "train": spec,
            "val": spec if val_spec is None else val_spec,
            "test": spec if test_spec is None else test_spec,
        }
        generated = [s for s in SPLITS if s not in self.paths and specs[s] is not None and sizes[s] != 0]
        self.specs = {s: resolve_spec(specs[s], overrides, source=source, split=s) for s in generated}
        if "val" in self.specs:
            self.specs = {
                s: spec.replace({"source.val_size": None}) if spec.source.val_size == 0 else spec
                for s, spec in self.specs.items()
            }
        self.sizes = {s: DEFAULT_SIZES[s] if sizes[s] is None else sizes[s] for s in self.specs}
        self.sizes.update({s: sizes[s] for s in self.paths})
        for split in ("val", "test"):
            if self.sizes.get(split) is not None and split in self.specs and self.sizes[split] > 2**61:
                raise SpecError(f"num_{split}", self.sizes[split], "at most 2**61 sequences")
        self.epoch = 0  # training epochs served so far
        self.next_index = 0  # offset of the next training epoch's first sequence within the training block
        self._datasets: dict[str, Dataset] = {}

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this datamodule provides, generated or read from disk."""
        return tuple(s for s in SPLITS if s in self.specs or s in self.paths)

    # -- datasets ------------------------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Download the digit source of each generated split (Lightning calls this once per node)."""
        for split, spec in self.specs.items():
            load_source(
                self.source if self.source is not None else spec.source.name,
                split,
                val_size=spec.source.val_size,
                cache_dir=self.cache_dir,
            )

    def setup(self, stage: str | None = None) -> None:
        """Build the datasets the stage needs (``fit``: train and val; ``validate``; ``test``; None: all)."""
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage or "", SPLITS)
        for split in wanted:
            if split in self.splits and split not in self._datasets and not (split == "train" and split in self.specs):
                self._datasets[split] = self.dataset(split)

    def dataset(self, split: str) -> Dataset:
        """The map-style dataset of ``split`` (not of the generated training split: a stream, see
        :meth:`train_dataloader`)."""
        if split not in self.splits:
            raise SpecError("split", split, f"one of this datamodule's splits: {', '.join(self.splits) or 'none'}")
        if split in self.paths:
            ds: Dataset = MovingMNISTFileDataset(self.paths[split], self.returns, self.transform, self.dtype)
            num = self.sizes[split]
            if num is not None:
                if num > len(ds):
                    raise SpecError(f"num_{split}", num, f"at most the {len(ds)} sequences of {self.paths[split]}")
                ds = Subset(ds, range(num))
            return ds
        if split == "train":
            raise SpecError("split", split, "'val' or 'test': the generated training split is a stream")
        return MovingMNISTDataset(
            self.specs[split],
            self.sizes[split],
            self.seed,
            self.source,
            self.returns,
            self.transform,
            self.dtype,
            split=split,
            start=SPLIT_STARTS[split],
            **self._render_options(),
        )

    def _render_options(self) -> dict[str, Any]:
        return {"device": self.device, "kernels": self.kernels, "cache_dir": self.cache_dir, "compile": self.compile}

    def _rank(self, rank: int | None, world_size: int | None) -> tuple[int, int]:
        if rank is not None and world_size is not None:
            return rank, world_size
        trainer = self.trainer
        if trainer is not None:
            return trainer.global_rank, trainer.world_size
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _next_block(self) -> int:
        """First sequence of the next training epoch; advances the schedule."""
        first = SPLIT_STARTS["train"] + self.next_index
        self.epoch += 1
        self.next_index += self.sizes["train"]
        return first

    # -- loaders -------------------------------------------------------------------------------------------------
    def train_dataloader(self, *, rank: int | None = None, world_size: int | None = None) -> DataLoader:
        """The training loader. Generated: a stream that moves to the next ``num_train`` sequences on each
        iteration, this process's share of them only. ``rank``/``world_size`` default to the Trainer's (else
        torch.distributed's, else 0 of 1); give them to look at one rank's share outside a distributed job."""
        if "train" in self.paths:
            ds = self._datasets["train"] if "train" in self._datasets else self.dataset("train")
            generator = torch.Generator().manual_seed(self.seed)
            return self._loader(ds, shuffle=True, generator=generator)
        if "train" not in self.specs:
            raise SpecError("train", None, "a spec with num_train > 0, or train_path")
        rank, world_size = self._rank(rank, world_size)
        stream = _TrainStream(
            self.specs["train"],
            self.seed,
            self.source,
            self.returns,
            self.transform,
            self.dtype,
            chunk=self.batch_size,
            split="train",
            num=self.sizes["train"],
            num_workers=self.num_workers,
            rank=rank,
            world_size=world_size,
            **self._render_options(),
        )
        return self._loader(stream, next_block=self._next_block, loader=_EpochLoader)

    def val_dataloader(self) -> DataLoader | list:
        """The validation loader (the same sequences every time), or ``[]`` without validation."""
        return self._fixed_loader("val") if "val" in self.splits else []

    def test_dataloader(self) -> DataLoader:
        """The test loader (the same sequences every time)."""
        if "test" not in self.splits:
            raise SpecError("test", None, "a spec with num_test > 0, or test_path")
        return self._fixed_loader("test")

    def _fixed_loader(self, split: str) -> DataLoader:
        if split not in self._datasets:
            self._datasets[split] = self.dataset(split)
        return self._loader(self._datasets[split], shuffle=False)

    def _loader(self, dataset: Dataset, *, loader: type[DataLoader] = DataLoader, **kwargs: Any) -> DataLoader:
        return loader(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            **kwargs,
        )

    # -- schedule ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, int]:
        """The training schedule: epochs served and the first sequence of the next one (relative to the block)."""
        return {"epoch": self.epoch, "next_index": self.next_index}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue the training schedule of :meth:`state_dict` (called by Lightning when a Trainer resumes)."""
        for key in ("epoch", "next_index"):
            value = state_dict.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SpecError(
                    f"state_dict[{key!r}]", value, "a non-negative integer (from MovingMNISTDataModule.state_dict)"
                )
        self.epoch, self.next_index = state_dict["epoch"], state_dict["next_index"]

    def __repr__(self) -> str:
        parts = [
            f"{s}={self.paths[s]!r}"
            if s in self.paths
            else f"{s}={self.specs[s].preset or self.specs[s].fingerprint!r}"
            for s in self.splits
        ]
        sizes = ", ".join(f"num_{s}={self.sizes[s]}" for s in self.splits)
        return f"MovingMNISTDataModule({', '.join(parts)}, {sizes}, seed={self.seed}, epoch={self.epoch})"

    __str__ = __repr__  # Lightning's __str__ builds every loader


__all__ = ["DEFAULT_SIZES", "SPLITS", "SPLIT_STARTS", "MovingMNISTDataModule"]
