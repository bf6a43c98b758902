"""movingmnist.lightning: the datamodule under a real Trainer (fresh training sequences each epoch, fixed validation,
disjoint splits, resume), its split across ranks and workers, datasets from disk, and the missing-extra error."""

from __future__ import annotations

import importlib
import math
import runpy
import sys
import time
from pathlib import Path

import pytest

import movingmnist as mm

try:
    import lightning.pytorch as pl
    import torch
except ImportError as exc:  # the lightning extra is not installed
    pl = torch = None
    WHY = f"needs the lightning extra (pip install 'movingmnist[lightning]'): {exc}"
else:
    from movingmnist.lightning import SPLIT_STARTS, MovingMNISTDataModule

    torch.set_num_threads(1)
    WHY = ""

needs_lightning = pytest.mark.skipif(pl is None, reason=WHY)
#: Tiny sequences: 4 frames of 32x32, two procedural digits (no download).
TINY = mm.Spec.from_preset("srivastava", ["frames=4", "canvas.height=32", "canvas.width=32"])
QUIET = {
    "accelerator": "cpu",
    "devices": 1,
    "enable_checkpointing": False,
    "logger": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def test_import_without_lightning_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)  # import lightning.pytorch now raises ImportError
    monkeypatch.delitem(sys.modules, "movingmnist.lightning", raising=False)
    with pytest.raises(mm.MissingDependencyError, match=r'pip install "movingmnist\[lightning\]"'):
        importlib.import_module("movingmnist.lightning")


def next_frame_model():
    """A one-layer conv that predicts frame t + 1 from frame t; records what it saw in each epoch."""

    class NextFrame(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)
            self.train_indices: dict[int, list[int]] = {}
            self.val_batches: dict[int, list[tuple[list[int], torch.Tensor]]] = {}
            self.losses: list[float] = []

        def loss(self, batch):
            x = batch["frames"].float() / 255
            return torch.nn.functional.mse_loss(self.conv(x[:, :-1].flatten(0, 1)), x[:, 1:].flatten(0, 1))

        def training_step(self, batch, batch_idx):
            self.train_indices.setdefault(self.current_epoch, []).extend(batch["index"].tolist())
            loss = self.loss(batch)
            self.losses.append(float(loss.detach()))
            return loss

        def validation_step(self, batch, batch_idx):
            if not self.trainer.sanity_checking:
                seen = self.val_batches.setdefault(self.current_epoch, [])
                seen.append((batch["index"].tolist(), batch["frames"].clone()))
            return self.loss(batch)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return NextFrame()


def loader_indices(loader) -> list[list[int]]:
    return [batch["index"].tolist() for batch in loader]


@needs_lightning
def test_two_epoch_fit_shows_new_training_sequences_and_fixed_validation():
    """Trainer.fit for 2 epochs with 2 workers: finite loss, disjoint training blocks per epoch, the same validation
    batches (indices and pixels) in both epochs, and train, val and test sequences that never meet."""
    dm = MovingMNISTDataModule(TINY, num_train=32, num_val=8, num_test=8, batch_size=8, num_workers=2, source="glyphs")
    model = next_frame_model()
    trainer = pl.Trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=1, **QUIET)
    began = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    print(f"2-epoch fit: {time.perf_counter() - began:.1f} s")

    assert model.losses and all(math.isfinite(x) for x in model.losses)
    first, second = (set(model.train_indices[e]) for e in (0, 1))
    assert len(first) == len(second) == 24 and not first & second  # 3 batches of 8, each epoch its own
    assert first <= set(range(32)) and second <= set(range(32, 64))  # epoch e = [e * num_train, (e + 1) * num_train)
    (val0, frames0), (val1, frames1) = model.val_batches[0][0], model.val_batches[1][0]
    assert val0 == val1 == list(range(SPLIT_STARTS["val"], SPLIT_STARTS["val"] + 8)) and torch.equal(frames0, frames1)
    test = {i for batch in loader_indices(dm.test_dataloader()) for i in batch}
    assert test == set(range(SPLIT_STARTS["test"], SPLIT_STARTS["test"] + 8))
    assert not (first | second) & set(val0) and not (first | second | set(val0)) & test
    assert dm.state_dict() == {"epoch": 2, "next_index": 64}
    # Each split draws its own digits: validation's are carved from the training digits (source.val_size None).
    assert [dm.specs[s].source.split for s in ("train", "val", "test")] == ["train", "val", "test"]
    assert all(dm.specs[s].source.val_size is None for s in dm.specs)


@needs_lightning
def test_resumed_trainer_continues_the_epoch_schedule(tmp_path):
    """A Trainer resumed from a checkpoint (which holds the datamodule's state_dict) trains epoch 1 on the second
    block of sequences with a fresh datamodule, as an uninterrupted run would."""

    def datamodule():
        return MovingMNISTDataModule(TINY, num_train=16, num_val=0, batch_size=8, source="glyphs")

    first = next_frame_model()
    trainer = pl.Trainer(max_epochs=1, **QUIET)
    trainer.fit(first, datamodule=datamodule())
    trainer.save_checkpoint(tmp_path / "epoch0.ckpt")
    resumed = next_frame_model()
    fresh = datamodule()
    pl.Trainer(max_epochs=2, **QUIET).fit(resumed, datamodule=fresh, ckpt_path=tmp_path / "epoch0.ckpt")
    assert sorted(first.train_indices[0]) == list(range(16))
    assert list(resumed.train_indices) == [1] and sorted(resumed.train_indices[1]) == list(range(16, 32))
    assert fresh.state_dict() == {"epoch": 2, "next_index": 32}


@needs_lightning
@pytest.mark.parametrize("world_size", [1, 3])
def test_training_stream_is_split_across_ranks_and_workers(world_size):
    """One datamodule per rank (as under DDP), 2 workers each: every epoch the ranks share the epoch's block without
    overlap, report the batches they yield, and (with several ranks) run the same number of steps."""
    num, batch_size, workers = 22, 4, 2
    ranks = [
        MovingMNISTDataModule(TINY, num_train=num, batch_size=batch_size, num_workers=workers, source="glyphs")
        for _ in range(world_size)
    ]
    loaders = [dm.train_dataloader(rank=r, world_size=world_size) for r, dm in enumerate(ranks)]
    usable = num if world_size == 1 else num // (world_size * workers) * (world_size * workers)
    for epoch in range(2):
        batches = [loader_indices(loader) for loader in loaders]
        assert [len(b) for b in batches] == [len(loader) for loader in loaders]
        assert len({len(b) for b in batches}) == 1  # the same number of steps on every rank
        seen = [i for rank in batches for batch in rank for i in batch]
        assert sorted(seen) == list(range(epoch * num, epoch * num + usable))  # each index once, none repeated
    assert all(dm.state_dict() == {"epoch": 2, "next_index": 2 * num} for dm in ranks)


@needs_lightning
def test_datamodule_from_datasets_on_disk_fits(tmp_path):
    """Splits written with write_dataset are read back with the file-backed dataset and fit; num_* takes the
    first sequences of a file."""
    spec = TINY.replace({"source.val_size": None})  # the last sixth of the training digits make the val split
    for split, num in (("train", 12), ("val", 6)):
        mm.write_dataset(
            spec, seed=1, num=num, path=tmp_path / f"{split}.zarr", source="glyphs", split=split, progress=False
        )
    dm = MovingMNISTDataModule(
        None, train_path=tmp_path / "train.zarr", val_path=tmp_path / "val.zarr", num_val=4, batch_size=4
    )
    assert dm.splits == ("train", "val")
    model = next_frame_model()
    pl.Trainer(max_epochs=2, **QUIET).fit(model, datamodule=dm)
    assert model.losses and all(math.isfinite(x) for x in model.losses)
    assert all(sorted(model.train_indices[e]) == list(range(12)) for e in (0, 1))  # a file: shuffled, not renewed
    assert model.val_batches[0][0][0] == model.val_batches[1][0][0] == [0, 1, 2, 3]
    with mm.open(tmp_path / "val.zarr") as ds:
        assert torch.equal(model.val_batches[0][0][1], torch.from_numpy(ds[0:4].frames))


@needs_lightning
def test_transform_dtype_and_returns_apply_to_every_split():
    stats = mm.torch.dataset_stats(TINY, seed=0, num_samples=16, source="glyphs")
    dm = MovingMNISTDataModule(
        TINY,
        num_train=8,
        num_val=4,
        num_test=4,
        batch_size=4,
        source="glyphs",
        returns="frames",
        transform=stats.normalize(),
    )
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        frames = next(iter(loader))
        assert frames.shape == (4, 4, 1, 32, 32) and frames.dtype == torch.float32


@needs_lightning
def test_datamodule_errors_name_the_value():
    with pytest.raises(mm.SpecError, match="num_workers=0"):
        MovingMNISTDataModule(TINY, device="meta", num_workers=2)
    with pytest.raises(mm.SpecError, match="num_val=-1"):
        MovingMNISTDataModule(TINY, num_val=-1)
    with pytest.raises(mm.SpecError, match="batch_size=0"):
        MovingMNISTDataModule(TINY, batch_size=0)
    dm = MovingMNISTDataModule(TINY, num_val=0, num_test=0, source="glyphs")
    assert dm.splits == ("train",) and dm.val_dataloader() == []
    with pytest.raises(mm.SpecError, match="test_path"):
        dm.test_dataloader()
    with pytest.raises(mm.SpecError, match="next_index"):
        dm.load_state_dict({"epoch": 1, "next_index": -5})
    assert dm.specs["train"].source.val_size == 0  # no generated validation: the preset's training digits, all


@needs_lightning
def test_example_trains():
    """examples/lightning_train.py runs (one short epoch, no workers) and returns finite test metrics."""
    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "lightning_train.py"))
    metrics = example["main"](epochs=1, workers=0, num_train=64, batch_size=32)
    assert math.isfinite(metrics["test_loss"]) and math.isfinite(metrics["copy_loss"])
