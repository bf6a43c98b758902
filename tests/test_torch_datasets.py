"""movingmnist.torch: get_batch, the three datasets with DataLoader workers, statistics and Normalize."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

import movingmnist as mm  # noqa: E402
import movingmnist.torch as mmt  # noqa: E402

torch.set_num_threads(1)
rng = np.random.default_rng(1)
IMAGES = (rng.random((80, 28, 28)) ** 4 * 255).astype(np.uint8)
LABELS = np.arange(80) % 10
SOURCE = (IMAGES, LABELS)


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(torch.equal(a.nan_to_num(-9), b.nan_to_num(-9)))


# -- get_batch ------------------------------------------------------------------------------------------------------
def test_get_batch_matches_numpy_generate():
    batch = mmt.get_batch("srivastava", 6, device="cpu", start=40, seed=3, source=SOURCE)
    reference = mm.generate("srivastava", num=6, seed=3, source=SOURCE, start=40)
    assert batch["frames"].shape == (6, 20, 1, 64, 64) and batch["frames"].dtype == torch.uint8
    for name, array in reference.arrays().items():
        assert same(batch[name], torch.from_numpy(array)), name
    assert batch["index"].tolist() == list(range(40, 46))


def test_get_batch_frames_float_and_indices():
    frames = mmt.get_batch("stochastic", 5, device="cpu", seed=1, source=SOURCE, returns="frames", dtype=torch.float32)
    ref = mmt.get_batch("stochastic", 5, device="cpu", seed=1, source=SOURCE)["frames"]
    assert frames.dtype == torch.float32 and torch.equal(frames, ref.float() / 255)
    picked = mmt.get_batch("stochastic", 0, device="cpu", seed=1, source=SOURCE, indices=[4, 0, 2], returns="frames")
    assert torch.equal(picked, ref[[4, 0, 2]])
    with pytest.raises(mm.SpecError, match="returns"):
        mmt.get_batch("stochastic", 2, device="cpu", source=SOURCE, returns="video")
    with pytest.raises(mm.SpecError, match="dtype"):
        mmt.get_batch("stochastic", 2, device="cpu", source=SOURCE, dtype=torch.int32)


@pytest.mark.parametrize(
    ("spec", "kernels"), [("srivastava", "torch"), ("srivastava", "numpy"), ("segmentation", "torch")]
)
def test_get_batch_inside_and_outside_inference_mode(spec, kernels):
    """A generator first used under torch.inference_mode() (Lightning's validation without workers) renders
    outside it afterwards: its kept scratch buffers are ordinary tensors, and the bytes are the same."""
    spec = mm.Spec.from_preset(spec, ["frames=3"])
    with torch.inference_mode():
        inside = mmt.get_batch(spec, 3, device="cpu", source=SOURCE, kernels=kernels, start=7)
    outside = mmt.get_batch(spec, 3, device="cpu", source=SOURCE, kernels=kernels, start=7)
    assert not outside["frames"].is_inference()
    for name, tensor in inside.items():
        assert same(tensor, outside[name]), name


def test_get_batch_reuses_output_buffers():
    first = mmt.get_batch("srivastava", 4, device="cpu", source=SOURCE, returns="dict")
    second = mmt.get_batch("srivastava", 4, device="cpu", start=4, source=SOURCE, out=first)
    assert second["frames"].data_ptr() == first["frames"].data_ptr()
    assert second["index"].tolist() == [4, 5, 6, 7]


# -- map-style ------------------------------------------------------------------------------------------------------
def test_map_dataset_items_and_epochs():
    ds = mmt.MovingMNISTDataset("srivastava", num=10, seed=2, source=SOURCE, start=100)
    assert len(ds) == 10
    item = ds[3]
    assert int(item["index"]) == 103 and item["frames"].shape == (20, 1, 64, 64)
    reference = mm.generate("srivastava", num=1, seed=2, source=SOURCE, start=103)
    assert same(item["frames"], torch.from_numpy(reference.frames[0]))
    assert same(ds[-1]["frames"], ds[9]["frames"])
    ds.set_epoch(2)
    assert int(ds[3]["index"]) == 100 + 2 * 10 + 3
    ds.epoch = 0
    batch = ds.__getitems__([3, 1, 3])
    assert [int(b["index"]) for b in batch] == [103, 101, 103]
    assert same(batch[0]["frames"], item["frames"]) and same(batch[2]["boxes"], item["boxes"])
    with pytest.raises(IndexError):
        ds[10]


def test_map_dataset_frames_float_and_transform():
    norm = mmt.Normalize(0.1, 0.2)
    ds = mmt.MovingMNISTDataset("srvp", num=4, source=SOURCE, returns="frames", transform=norm)
    plain = mmt.MovingMNISTDataset("srvp", num=4, source=SOURCE, returns="frames", dtype=torch.float64)
    x = ds[1]
    assert x.dtype == torch.float32 and x.shape == (15, 1, 64, 64)
    assert torch.allclose(x.double(), (plain[1] - 0.1) / 0.2, atol=1e-6)


def test_dataloader_workers_reproducible_and_equal_to_indexing():
    ds = mmt.MovingMNISTDataset("srivastava", num=24, seed=4, source=SOURCE)

    def run():
        loader = DataLoader(ds, batch_size=8, num_workers=2, shuffle=True, generator=torch.Generator().manual_seed(0))
        return list(loader)

    first, second = run(), run()
    assert len(first) == 3
    for a, b in zip(first, second, strict=True):
        for name in a:
            assert same(a[name], b[name]), name
    for batch in first:
        for position, index in enumerate(batch["index"].tolist()):
            direct = ds[index]
            for name in direct:
                assert same(batch[name][position], direct[name]), name


def test_iterable_two_workers_two_ranks_each_index_once():
    seen = []
    for rank in (0, 1):
        ds = mmt.MovingMNISTIterableDataset(
            "srivastava", seed=1, source=SOURCE, start=5, stop=42, rank=rank, world_size=2, chunk=4, returns="dict"
        )
        for item in DataLoader(ds, batch_size=None, num_workers=2):
            seen.append(int(item["index"]))
    assert sorted(seen) == list(range(5, 42))


def test_iterable_batches_equal_map_items():
    ds = mmt.MovingMNISTIterableDataset("stochastic", seed=6, source=SOURCE, stop=10, batch_size=4, returns="frames")
    assert len(ds) == 3
    batches = list(ds)
    assert [b.shape[0] for b in batches] == [4, 4, 2]
    reference = mmt.MovingMNISTDataset("stochastic", num=10, seed=6, source=SOURCE, returns="frames")
    assert torch.equal(torch.cat(batches), torch.stack([reference[i] for i in range(10)]))
    endless = mmt.MovingMNISTIterableDataset("stochastic", seed=6, source=SOURCE, returns="frames")
    it = iter(endless)
    assert torch.equal(next(it), reference[0]) and torch.equal(next(it), reference[1])
    with pytest.raises(TypeError):
        len(endless)


def test_shard_info_errors():
    with pytest.raises(mm.SpecError, match="rank"):
        mmt.shard_info(2, 2)
    assert mmt.shard_info(1, 3) == (1, 3)


# -- file-backed ------------------------------------------------------------------------------------------------------
class NpyReader:
    """A tiny stand-in with the documented interface of ``movingmnist.open``: ``len``, ``[i]`` -> dict of arrays,
    ``[a:b]`` -> Batch. Arrays are memory-mapped read-only, as a real reader's may be."""

    opened: list[int] = []

    def __init__(self, path: str) -> None:
        folder = Path(path)
        self.arrays = {p.stem: np.load(p, mmap_mode="r") for p in sorted(folder.glob("*.npy"))}

    def __len__(self) -> int:
        return len(self.arrays["index"])

    def __getitem__(self, item):
        if isinstance(item, slice):
            return mm.Batch(**{name: np.asarray(a[item]) for name, a in self.arrays.items()})
        return {name: a[item] for name, a in self.arrays.items() if name != "index"}


def write_npy(folder: Path, batch: mm.Batch) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "index.npy", batch.index)
    for name, array in batch.arrays().items():
        np.save(folder / f"{name}.npy", array)


def test_file_dataset_with_workers_reads_what_was_written(tmp_path):
    written = mm.generate("srivastava", num=12, seed=9, source=SOURCE)
    write_npy(tmp_path / "data", written)
    ds = mmt.MovingMNISTFileDataset(tmp_path / "data", opener=NpyReader)
    assert len(ds) == 12 and ds._reader is None
    assert same(ds[5]["frames"], torch.from_numpy(written.frames[5])) and int(ds[5]["index"]) == 5
    seen = 0
    for batch in DataLoader(ds, batch_size=5, num_workers=2):
        for position, index in enumerate(batch["index"].tolist()):
            for name, array in written.arrays().items():
                assert same(batch[name][position], torch.from_numpy(array[index])), name
            seen += 1
    assert seen == 12
    frames = mmt.MovingMNISTFileDataset(tmp_path / "data", returns="frames", dtype=torch.float32, opener=NpyReader)
    picked = frames.__getitems__([7, 2])
    assert torch.equal(picked[0], torch.from_numpy(written.frames[7]).float() / 255)


def test_file_dataset_over_movingmnist_open(tmp_path):
    path = tmp_path / "ds.zarr"
    mm.write_dataset("srivastava", seed=2, num=10, path=path, source=SOURCE, progress=False)
    written = mm.generate("srivastava", num=10, seed=2, source=SOURCE)
    ds = mmt.MovingMNISTFileDataset(path)
    assert len(ds) == 10
    for batch in DataLoader(ds, batch_size=4, num_workers=2):
        for position, index in enumerate(batch["index"].tolist()):
            assert same(batch["frames"][position], torch.from_numpy(written.frames[index]))


# -- statistics -------------------------------------------------------------------------------------------------------
def test_dataset_stats_exact():
    stats = mmt.dataset_stats("srivastava", seed=3, num_samples=20, source=SOURCE, start=7, batch_size=6)
    frames = mm.generate("srivastava", num=20, seed=3, source=SOURCE, start=7).frames.astype(np.int64)
    n = frames.size
    s1, s2 = int(frames.sum()), int((frames * frames).sum())
    assert stats.num_pixels == n and stats.num_sequences == 20 and stats.start == 7
    assert stats.mean == float(Fraction(s1, 255 * n))
    assert stats.std == math.sqrt(Fraction(n * s2 - s1 * s1, (255 * n) ** 2))
    assert stats.std == pytest.approx(float(np.std(frames / 255.0)), rel=1e-12)
    norm = stats.normalize()
    x = norm(torch.from_numpy(frames.astype(np.uint8)))
    assert abs(float(x.double().mean())) < 1e-5 and abs(float(x.double().std(unbiased=False)) - 1) < 1e-5


def test_normalize_on_dicts_and_errors():
    norm = mmt.Normalize(0.5, 0.25)
    item = {"frames": torch.tensor([0, 255], dtype=torch.uint8), "labels": torch.tensor([1])}
    out = norm(item)
    assert out["frames"].tolist() == [-2.0, 2.0] and out["labels"] is item["labels"]
    with pytest.raises(mm.SpecError):
        mmt.Normalize(0.5, 0.0)


# -- packaging --------------------------------------------------------------------------------------------------------
def test_import_movingmnist_does_not_import_torch():
    code = "import sys, movingmnist; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


def test_missing_torch_names_the_extra():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import movingmnist\n"
        "try:\n"
        "    import movingmnist.torch\n"
        "except movingmnist.MissingDependencyError as e:\n"
        "    print('OK', e)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.startswith("OK") and 'movingmnist[torch]' in out.stdout


def test_shard_info_reads_torch_distributed(tmp_path):
    dist = torch.distributed
    if not dist.is_available() or dist.is_initialized():
        pytest.skip("torch.distributed unavailable or already initialised")
    dist.init_process_group("gloo", rank=0, world_size=1, init_method=f"file://{tmp_path / 'pg'}")
    try:
        assert mmt.shard_info() == (0, 1)
        ds = mmt.MovingMNISTIterableDataset("srivastava", source=SOURCE, stop=3, returns="frames")
        assert len(list(ds)) == 3
    finally:
        dist.destroy_process_group()
